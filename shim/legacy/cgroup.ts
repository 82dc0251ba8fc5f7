// Where systemd's cgroup namespace is rooted. On a cgroup v1 (or hybrid)
// layout, systemd in a nested PID namespace only starts from a sub-cgroup of
// the name=systemd hierarchy with a cgroup namespace rooted there ("Failed to
// allocate manager object" otherwise); on a pure cgroup v2 layout the same
// holds for the unified hierarchy. Without either, systemd mounts its own.
//
// The sub-cgroup also marks what legacy mode started: unshare stays in it for
// good (systemd itself moves on to the hierarchy's init.scope once it runs).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, posix } from "node:path";
import { type MountEntry, readMountInfo } from "../../src/mountInfo.ts";
import { readProcFile } from "./state.ts";

export const SUBGROUP = "nixos-wsl-init";

export interface LegacyCgroup {
  /** The sub-cgroup systemd's namespace is rooted at, as a directory. */
  readonly directory: string;
  /** The hierarchy's name in /proc/PID/cgroup: "name=systemd" (v1), "" (v2). */
  readonly hierarchy: string;
  /** The sub-cgroup as /proc/PID/cgroup names it (the mount's root joined with SUBGROUP). */
  readonly path: string;
  /**
   * On a hybrid layout (name=systemd beside cgroup2 at /sys/fs/cgroup/unified,
   * as old WSL 2 has it), the same sub-cgroup in the unified hierarchy, which
   * systemd uses too: its namespace is rooted there as well. Null otherwise.
   */
  readonly unifiedDirectory: string | null;
}

/** The hierarchy to use, from the mount table: name=systemd (v1), else cgroup2 mounted at /sys/fs/cgroup. */
export function chooseLegacyCgroup(mounts: readonly MountEntry[]): LegacyCgroup | null {
  const named = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes("name=systemd"));
  const unified = mounts.find((m) => m.fsType === "cgroup2" && m.mountPoint === "/sys/fs/cgroup");
  const mount = named ?? unified;
  if (!mount) return null;
  const hybrid = named ? mounts.find((m) => m.fsType === "cgroup2" && m.mountPoint === "/sys/fs/cgroup/unified") : undefined;
  return {
    directory: `${mount.mountPoint}/${SUBGROUP}`,
    hierarchy: named ? "name=systemd" : "",
    path: posix.join(mount.root, SUBGROUP),
    unifiedDirectory: hybrid ? `${hybrid.mountPoint}/${SUBGROUP}` : null,
  };
}

function subCgroups(cgroup: LegacyCgroup): string[] {
  return cgroup.unifiedDirectory === null ? [cgroup.directory] : [cgroup.directory, cgroup.unifiedDirectory];
}

export function currentLegacyCgroup(): LegacyCgroup | null {
  return chooseLegacyCgroup(readMountInfo());
}

/**
 * Move this process (all its threads) into legacy mode's cgroup, in each
 * hierarchy systemd uses. The unified one on a hybrid layout is a bonus
 * (systemd starts without it, as before it was joined): when it cannot be
 * joined, the cgroup returned leaves it out.
 */
export function joinCgroup(cgroup: LegacyCgroup): LegacyCgroup {
  const join = (directory: string) => {
    mkdirSync(directory, { recursive: true });
    writeFileSync(`${directory}/cgroup.procs`, `${process.pid}\n`);
  };
  join(cgroup.directory);
  if (cgroup.unifiedDirectory === null) return cgroup;
  try {
    join(cgroup.unifiedDirectory);
    return cgroup;
  } catch {
    return { ...cgroup, unifiedDirectory: null };
  }
}

/** Move this process back to the parent of legacy mode's cgroup, out of systemd's tree. */
export function leaveCgroup(cgroup: LegacyCgroup): void {
  for (const directory of subCgroups(cgroup)) writeFileSync(`${dirname(directory)}/cgroup.procs`, `${process.pid}\n`);
}

/** Whether a /proc/PID/cgroup text puts the process in legacy mode's sub-cgroup (or below it). */
export function cgroupTextIsUnder(text: string, cgroup: LegacyCgroup): boolean {
  return text.split("\n").some((line) => {
    const [, hierarchy, path] = line.split(/:(.*?):/s);
    if (hierarchy === undefined || path === undefined) return false;
    // v1 lines name their controllers (comma-separated); v2's is empty.
    const matches = cgroup.hierarchy === "" ? line.startsWith("0::") : hierarchy.split(",").includes(cgroup.hierarchy);
    return matches && (path === cgroup.path || path.startsWith(`${cgroup.path}/`));
  });
}

/** Whether a process is in legacy mode's sub-cgroup; false when it is gone. */
export function isUnderLegacyCgroup(pid: number, cgroup: LegacyCgroup): boolean {
  const text = readProcFile(`/proc/${pid}/cgroup`);
  return text !== null && cgroupTextIsUnder(text, cgroup);
}

/** A bind of a sub-cgroup over its hierarchy's mount point, made inside systemd's mount namespace. */
export interface CgroupBind {
  readonly source: string;
  readonly target: string;
}

/**
 * What systemd must see at its hierarchies' mount points. The mount made outside
 * shows the whole hierarchy, while /proc/self/cgroup in the new cgroup
 * namespace starts at the sub-cgroup; bound over it inside, the sub-cgroup is
 * where both start (otherwise systemd puts its units beside the sub-cgroup,
 * and a user manager, finding itself at "/../user.slice/…", cannot start).
 */
export function cgroupBinds(cgroup: LegacyCgroup): CgroupBind[] {
  return subCgroups(cgroup).map((directory) => ({ source: directory, target: dirname(directory) }));
}
