// What a chroot into the distro needs, set up inside the recovery's private
// mount namespace: a writable distro, /dev, /sys, a fresh /proc, a tmpfs /run
// and the system distro's resolv.conf. Nothing here is seen by the caller.
import { existsSync, lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, mount } from "../src/libc.ts";
import { mountContaining, readMountInfo } from "../src/mountInfo.ts";
import { hostPath, resolveInRoot, RootPathError } from "../src/rootPath.ts";
import { errorCode, inStep } from "../src/stepError.ts";

/** What makeWritable did, and how to undo what the caller's namespace would otherwise keep. */
export interface WritableRoot {
  /** What was done, for the user; null when the root was writable already. */
  readonly done: string | null;
  /** Undo what outlives this namespace (a filesystem made writable); returns a warning when it could not. */
  restore(): string | null;
}

const NOTHING_TO_RESTORE = () => null;

/**
 * WSL mounts the distro read-only in the system distro. Clear the read-only
 * flag of the mount holding it, in this private namespace only. When the
 * filesystem itself is read-only, making it writable reaches every mount of
 * it, so restore() makes it read-only again when the work is done.
 */
export function makeWritable(root: string): WritableRoot {
  const holder = mountContaining(readMountInfo(), root);
  // Read-only either way: the mount (as WSL makes it), or the filesystem (as the kernel makes it after disk errors).
  if (!holder || (!holder.options.includes("ro") && !holder.superOptions.includes("ro"))) return { done: null, restore: NOTHING_TO_RESTORE };
  const point = holder.mountPoint;
  if (!holder.superOptions.includes("ro")) {
    inStep(`making the read-only mount ${point} writable`, () => mount(null, point, null, MS_REMOUNT | MS_BIND));
    return { done: `made the read-only mount ${point} writable (in this namespace only)`, restore: NOTHING_TO_RESTORE };
  }
  inStep(`making the read-only filesystem under ${point} writable`, () => mount(null, point, null, MS_REMOUNT), readOnlyDeviceAdvice);
  return {
    done: `remounted the read-only filesystem under ${point} read-write; it is made read-only again at the end`,
    restore: () => {
      try {
        mount(null, point, null, MS_REMOUNT | MS_RDONLY);
        return null;
      } catch (error) {
        return `could not make the filesystem under ${point} read-only again (${(error as Error).message}); it stays writable until the distro's disk is mounted anew (wsl --shutdown)`;
      }
    },
  };
}

function readOnlyDeviceAdvice(cause: unknown): string | null {
  if (errorCode(cause) !== "EACCES" && errorCode(cause) !== "EROFS") return null;
  return (
    "The disk itself is read-only (the kernel may have made it so after disk errors: see dmesg). Nothing was changed.\n" +
    "--list still works; to repair the disk, run e2fsck on it from the system distribution while the distro is stopped."
  );
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
  inStep("binding /dev into the root", () => mount("/dev", directoryInRoot(root, "/dev"), null, MS_BIND | MS_REC));
  inStep("binding /sys into the root", () => mount("/sys", directoryInRoot(root, "/sys"), null, MS_BIND | MS_REC));
  inStep("mounting /proc in the root", () => mount("proc", directoryInRoot(root, "/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  inStep("mounting a tmpfs on the root's /run", () => mount("tmpfs", directoryInRoot(root, "/run"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755"));
  try {
    bindResolvConf(root);
  } catch (error) {
    warnings.push(`no DNS inside: could not bind /etc/resolv.conf (${(error as Error).message})`);
  }
  return warnings;
}

/** Where this executable is reachable inside the root, on its fresh /run (the system distro's path is not). */
export const EXECUTABLE_INSIDE = "/run/nixos-wsl-init";

/** Bind this executable into the root's /run, so the chroot can start it again. Returns its path inside. */
export function bindExecutableInside(root: string, executable: string): string {
  const target = `${directoryInRoot(root, "/run")}/nixos-wsl-init`;
  inStep(`binding ${executable} into the root`, () => {
    writeFileSync(target, "", { mode: 0o755 });
    mount(executable, target, null, MS_BIND);
  });
  return EXECUTABLE_INSIDE;
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
