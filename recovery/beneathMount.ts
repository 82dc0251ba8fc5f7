// When the recovery entry's directory is a mount of its own (envfs binds a
// FUSE filesystem over /bin once systemd is up), writing there would fail, and
// the system distribution would not see it anyway: it reads the distro's disk,
// where /bin is the directory beneath that mount. The entry is written there,
// through a bind of the mount beneath, in a mount namespace of its own.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readlinkSync, realpathSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { exitCodeFor } from "../src/exitStatus.ts";
import { mountAt, mountContaining, readMountInfo } from "../src/mountInfo.ts";
import { findTool, toolDirectories } from "../shim/legacy/tools.ts";

/** The hidden option that runs install-recovery beneath a mount: --beneath MOUNT_POINT:BIND_DIR. */
export const BENEATH_OPTION = "--beneath";

export interface Covered {
  /** The directory DEST is in, which a mount covers. */
  readonly directory: string;
  /** The mount point of the mount beneath it (the one that holds the directory itself). */
  readonly beneath: string;
}

/** Whether DEST's directory is covered by a mount, and which mount holds what lies beneath; null when it is not. */
export function coveredDirectory(destination: string): Covered | null {
  let directory: string;
  try {
    directory = realpathSync(dirname(destination));
  } catch {
    return null; // a missing directory is said by the write itself
  }
  if (directory === "/") return null;
  const mounts = readMountInfo();
  if (!mountAt(mounts, directory)) return null;
  // The mounts visible without the one (or ones) on the directory itself.
  const beneath = mountContaining(mounts.filter((mount) => mount.mountPoint !== directory), directory);
  return beneath ? { directory, beneath: beneath.mountPoint } : null;
}

/** Where DEST lies beneath the covering mount, once `beneath` is bound at `bindDir`. */
export function pathBeneath(destination: string, covered: Covered, bindDir: string): string {
  return join(bindDir, relative(covered.beneath, covered.directory), destination.slice(destination.lastIndexOf("/") + 1));
}

/**
 * Run install-recovery again in a private mount namespace (util-linux
 * unshare), with --beneath, and wait for it; its output is this one's.
 * Returns its exit code.
 */
export function installBeneath(covered: Covered, args: readonly string[]): number {
  const unshare = findTool("unshare");
  if (unshare === null) {
    process.stderr.write(
      `nixos-wsl-init install-recovery: ${covered.directory} is a mount of its own, so the entry must be written beneath it, ` +
        `which needs util-linux's unshare; it is not in ${toolDirectories().join(", ")}. Install util-linux, or unmount ${covered.directory} and run again.\n`,
    );
    return 1;
  }
  const bindDir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-beneath-"));
  try {
    const child = spawnSync(
      unshare,
      ["--mount", "--propagation", "private", process.execPath, "install-recovery", BENEATH_OPTION, `${covered.beneath}:${bindDir}`, ...args],
      { stdio: "inherit" },
    );
    if (child.error) throw child.error;
    return child.signal !== null ? exitCodeFor(child.signal) : (child.status ?? 1);
  } finally {
    try {
      rmdirSync(bindDir);
    } catch (error) {
      process.stderr.write(`nixos-wsl-init install-recovery: could not remove the empty directory ${bindDir} (${(error as Error).message}); remove it by hand\n`);
    }
  }
}

/**
 * Whether this process has a mount namespace of its own, not its parent's
 * (installBeneath's run: unshare made it, then exec'd this), so a bind it
 * makes dies with it.
 */
export function inOwnMountNamespace(): boolean {
  try {
    return readlinkSync("/proc/self/ns/mnt") !== readlinkSync(`/proc/${process.ppid}/ns/mnt`);
  } catch {
    return false; // cannot tell: as if not
  }
}
