// What a chroot into the distro needs, set up inside the recovery's private
// mount namespace: a writable distro, /dev, /sys, a fresh /proc, a tmpfs /run
// and the system distro's resolv.conf. Nothing here is seen by the caller.
import { existsSync, lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_REC, MS_REMOUNT, mount } from "../src/libc.ts";
import { mountContaining, readMountInfo } from "../src/mountInfo.ts";
import { hostPath, resolveInRoot, RootPathError } from "../src/rootPath.ts";

/**
 * WSL mounts the distro read-only in the system distro. Clear the read-only
 * flag of the mount holding it (and of the filesystem, when that is read-only too).
 * Returns what was done, for the user.
 */
export function makeWritable(root: string): string | null {
  const mount_ = mountContaining(readMountInfo(), root);
  if (!mount_ || !mount_.options.includes("ro")) return null;
  if (mount_.superOptions.includes("ro")) {
    mount(null, mount_.mountPoint, null, MS_REMOUNT);
    return `remounted ${mount_.mountPoint} read-write`;
  }
  mount(null, mount_.mountPoint, null, MS_REMOUNT | MS_BIND);
  return `made the read-only mount ${mount_.mountPoint} writable`;
}

/** A directory inside the root, resolved there (a symlink must not lead the mount out of it), created when missing. */
function directoryInRoot(root: string, path: string): string {
  try {
    return hostPath(root, resolveInRoot(root, path));
  } catch (error) {
    if (!(error instanceof RootPathError) || error.problem !== "missing") throw error;
    const target = hostPath(root, path);
    mkdirSync(target, { recursive: true, mode: 0o755 });
    return target;
  }
}

/** Mount the kernel filesystems into the root. Returns warnings for what could be skipped. */
export function mountApiFilesystems(root: string): string[] {
  const warnings: string[] = [];
  mount("/dev", directoryInRoot(root, "/dev"), null, MS_BIND | MS_REC);
  mount("/sys", directoryInRoot(root, "/sys"), null, MS_BIND | MS_REC);
  mount("proc", directoryInRoot(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  mount("tmpfs", directoryInRoot(root, "/run"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755");
  try {
    bindResolvConf(root);
  } catch (error) {
    warnings.push(`no DNS inside: could not bind /etc/resolv.conf (${(error as Error).message})`);
  }
  return warnings;
}

/** The system distro's resolv.conf over the root's, wherever the root's link leads inside it. */
function bindResolvConf(root: string): void {
  if (!existsSync("/etc/resolv.conf")) return;
  const etc = directoryInRoot(root, "/etc");
  // No resolv.conf at all (not even a dangling link): give the bind a file to land on, as nixos-enter does.
  if (!lstatExists(`${etc}/resolv.conf`)) writeFileSync(`${etc}/resolv.conf`, "", { mode: 0o644 });
  const target = hostPath(root, resolveInRoot(root, "/etc/resolv.conf"));
  if (!lstatSync(target).isFile()) throw new Error(`${target} is not a file`);
  mount("/etc/resolv.conf", target, null, MS_BIND);
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
