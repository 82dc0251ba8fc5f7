// Cgroups of a container's own. nspawn puts its container under the cgroup it
// starts in, and the systemds inside create their trees there: started from
// the test runner's cgroup, every container would share one tree, and the
// empty directories they leave would stay on the host. So each container
// starts in a fresh cgroup, in each hierarchy nspawn uses, removed after it.
import { mkdirSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./proc.ts";

/** The parent of every container's cgroup, in each hierarchy. */
const TESTS_CGROUP = "nixos-wsl-init-tests";

export interface TestCgroup {
  /** One directory per hierarchy: the process that becomes nspawn writes its PID into each one's cgroup.procs. */
  readonly directories: readonly string[];
  /** Remove them, deepest first, once nothing runs in them any more. */
  remove(): Promise<void>;
}

/** The mount points of the hierarchies nspawn places containers in: cgroup2, and cgroup v1's name=systemd. */
function containerHierarchies(): string[] {
  const found: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [before, after] = line.split(" - ");
    if (!before || !after) continue;
    const mountPoint = before.split(" ")[4]!;
    const [fsType, , superOptions = ""] = after.split(" ");
    if (fsType === "cgroup2" || (fsType === "cgroup" && superOptions.split(",").includes("name=systemd"))) found.push(mountPoint);
  }
  return found;
}

export function makeTestCgroup(name: string): TestCgroup {
  const directories = containerHierarchies().map((hierarchy) => join(hierarchy, TESTS_CGROUP, name));
  for (const directory of directories) mkdirSync(directory, { recursive: true });
  return {
    directories,
    async remove() {
      for (const directory of directories) {
        await removeTree(directory);
        try {
          rmdirSync(join(directory, ".."));
        } catch {
          // another container's cgroup is still in it
        }
      }
    },
  };
}

/** rmdir, children first; a cgroup whose last processes are still exiting is busy for a moment. */
async function removeTree(directory: string): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(directory, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch {
    return; // already gone
  }
  for (const child of entries) await removeTree(join(directory, child));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(directory);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EBUSY" || attempt >= 100) {
        throw new Error(`removing the test cgroup ${directory}: ${(error as Error).message} (processes left: ${readFileSync(join(directory, "cgroup.procs"), "utf8").trim() || "none"})`);
      }
      await sleep(20);
    }
  }
}
