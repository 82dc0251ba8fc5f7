// /dev/shm as WSL leaves it (a symlink to /run/shm), made what programs expect.
import { lstatSync, mkdirSync, readlinkSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";
import { mount, MS_BIND, MS_MOVE, MS_NODEV, MS_NOSUID, SyscallError } from "../../src/libc.ts";
import type { Logger } from "../../src/log.ts";

/**
 * WSL makes /dev/shm a symlink to /run/shm; programs expect a directory with
 * the tmpfs on it. Move the mount to /dev/shm and bind it back for whoever
 * uses the old path.
 */
export function repairDevShm(log: Logger): void {
  const shm = "/dev/shm";
  if (!lstatSync(shm).isSymbolicLink()) return;
  const target = resolve("/dev", readlinkSync(shm));
  unlinkSync(shm);
  mkdirSync(shm, { mode: 0o1777 });
  try {
    mount(target, shm, null, MS_MOVE);
  } catch (error) {
    // Not a mount point (or not movable): give /dev/shm a tmpfs of its own.
    if (!(error instanceof SyscallError)) throw error;
    log.warn(`could not move the ${target} mount (${error.message}); mounting a new tmpfs on ${shm}`);
    mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  }
  mount(shm, target, null, MS_BIND);
  log.info(`${shm} is now a directory with its tmpfs, bound back to ${target}`);
}
