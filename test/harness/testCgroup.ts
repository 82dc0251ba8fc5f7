// Cgroups of a container's own. nspawn puts its container under the cgroup it
// starts in, and the systemds inside create their trees there: started from
// the test runner's cgroup, every container would share one tree, and the
// empty directories they leave would stay on the host. So each container
// starts in a fresh cgroup below the runner's own (so that whatever limits or
// stops the runner's unit still covers it), in each hierarchy nspawn uses,
// and that cgroup is removed after it.
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { errorCode } from "../../src/stepError.ts";
import { mountsOf, sleep } from "./proc.ts";

/** The parent of the containers' cgroups, below the runner's cgroup in each hierarchy. */
const TESTS_CGROUP = "nixos-wsl-init-tests";

export interface TestCgroup {
  /** One directory per hierarchy: the process that becomes nspawn writes its PID into each one's cgroup.procs. */
  readonly directories: readonly string[];
  /** Remove them, deepest first, once nothing runs in them any more; throws, after trying all, if one stays. */
  remove(): Promise<void>;
}

/** This process's cgroup in each hierarchy, by the hierarchy's /proc/self/cgroup key ("0::" for cgroup2, "name=systemd"). */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
    const [id, controllers, ...path] = line.split(":");
    own.set(id === "0" && controllers === "" ? "cgroup2" : controllers!, path.join(":"));
  }
  return own;
}

/** Where the runner's cgroup is, in each hierarchy nspawn places containers in: cgroup2, and cgroup v1's name=systemd. */
function runnerCgroupDirectories(): string[] {
  const own = ownCgroups();
  const seen = new Set<string>();
  const found: string[] = [];
  for (const mount of mountsOf("self")) {
    // Whole hierarchies only (a bind of a subtree has another root), each once.
    if (mount.root !== "/" || seen.has(mount.device)) continue;
    const key = mount.fsType === "cgroup2" ? "cgroup2" : mount.fsType === "cgroup" && mount.superOptions.includes("name=systemd") ? "name=systemd" : null;
    const path = key === null ? undefined : own.get(key);
    if (path === undefined) continue;
    seen.add(mount.device);
    found.push(join(mount.mountPoint, path));
  }
  return found;
}

export function makeTestCgroup(name: string): TestCgroup {
  const directories = runnerCgroupDirectories().map((runner) => join(runner, TESTS_CGROUP, name));
  const remove = async () => {
    const problems: string[] = [];
    for (const directory of directories) {
      try {
        await removeTree(directory);
      } catch (error) {
        problems.push((error as Error).message);
        continue;
      }
      try {
        rmdirSync(join(directory, ".."));
      } catch {
        // another container's cgroup is still in it
      }
    }
    if (problems.length > 0) throw new Error(problems.join("; "));
  };
  try {
    for (const directory of directories) mkdirSync(directory, { recursive: true });
  } catch (error) {
    void remove().catch(() => {}); // what was made before the failure
    throw new Error(`making the container's cgroups (${directories.join(", ")}): ${(error as Error).message}`);
  }
  return { directories, remove };
}

/** rmdir, children first; a cgroup whose last processes are still exiting is busy for a moment. */
async function removeTree(directory: string): Promise<void> {
  let children: string[];
  try {
    children = readdirSync(directory, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  for (const child of children) await removeTree(join(directory, child));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(directory);
      return;
    } catch (error) {
      if (errorCode(error) === "ENOENT") return;
      if (errorCode(error) !== "EBUSY" || attempt >= 500) {
        throw new Error(`removing the test cgroup ${directory}: ${(error as Error).message} (processes left in it: ${processesIn(directory)})`);
      }
      await sleep(20);
    }
  }
}

function processesIn(directory: string): string {
  try {
    return readFileSync(join(directory, "cgroup.procs"), "utf8").trim().split("\n").join(" ") || "none";
  } catch {
    return "unknown";
  }
}
