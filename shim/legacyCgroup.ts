// Where systemd's cgroup namespace is rooted. On a cgroup v1 (or hybrid)
// layout, systemd in a nested PID namespace only starts from a sub-cgroup of
// the name=systemd hierarchy with a cgroup namespace rooted there ("Failed to
// allocate manager object" otherwise); on a pure cgroup v2 layout the same
// holds for the unified hierarchy. Without either, systemd mounts its own.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type MountEntry, readMountInfo } from "../src/mountInfo.ts";

const SUBGROUP = "nixos-wsl-init";

export interface CgroupPlan {
  /** The sub-cgroup systemd's namespace is rooted at. */
  readonly directory: string;
}

/** The hierarchy to use, from the mount table: name=systemd (v1), else cgroup2 mounted at /sys/fs/cgroup. */
export function planCgroup(mounts: readonly MountEntry[]): CgroupPlan | null {
  const named = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.includes("name=systemd"));
  if (named) return { directory: `${named.mountPoint}/${SUBGROUP}` };
  const unified = mounts.find((m) => m.fsType === "cgroup2" && m.mountPoint === "/sys/fs/cgroup");
  if (unified) return { directory: `${unified.mountPoint}/${SUBGROUP}` };
  return null;
}

export function currentCgroupPlan(): CgroupPlan | null {
  return planCgroup(readMountInfo());
}

/** Move this process (all its threads) into the plan's cgroup. */
export function joinCgroup(plan: CgroupPlan): void {
  mkdirSync(plan.directory, { recursive: true });
  writeFileSync(`${plan.directory}/cgroup.procs`, `${process.pid}\n`);
}

/** Move this process back to the parent of the plan's cgroup, out of systemd's tree. */
export function leaveCgroup(plan: CgroupPlan): void {
  writeFileSync(`${dirname(plan.directory)}/cgroup.procs`, `${process.pid}\n`);
}
