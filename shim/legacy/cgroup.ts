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
}

/** The hierarchy to use, from the mount table: name=systemd (v1), else cgroup2 mounted at /sys/fs/cgroup. */
export function chooseLegacyCgroup(mounts: readonly MountEntry[]): LegacyCgroup | null {
  const named = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes("name=systemd"));
  const unified = mounts.find((m) => m.fsType === "cgroup2" && m.mountPoint === "/sys/fs/cgroup");
  const mount = named ?? unified;
  if (!mount) return null;
  return { directory: `${mount.mountPoint}/${SUBGROUP}`, hierarchy: named ? "name=systemd" : "", path: posix.join(mount.root, SUBGROUP) };
}

export function currentLegacyCgroup(): LegacyCgroup | null {
  return chooseLegacyCgroup(readMountInfo());
}

/** Move this process (all its threads) into legacy mode's cgroup. */
export function joinCgroup(cgroup: LegacyCgroup): void {
  mkdirSync(cgroup.directory, { recursive: true });
  writeFileSync(`${cgroup.directory}/cgroup.procs`, `${process.pid}\n`);
}

/** Move this process back to the parent of legacy mode's cgroup, out of systemd's tree. */
export function leaveCgroup(cgroup: LegacyCgroup): void {
  writeFileSync(`${dirname(cgroup.directory)}/cgroup.procs`, `${process.pid}\n`);
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
