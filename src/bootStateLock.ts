// The lock every writer of the boot state takes around its read, change and
// write: the shim counting a start (native and legacy), `bless`, `boot-once`
// and recovery's --boot-once from the system distribution. flock(2) on a file
// beside the state file: it works across PID namespaces (recovery runs in
// another one) because it belongs to the file, and the kernel lets go of it
// when its holder dies, so a killed writer never leaves a stale lock. Only a
// holder that is alive but stuck can keep it: every waiter waits a bounded time.
import { closeSync, constants, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { BOOT_STATE, readBootState, writeBootState } from "./bootState.ts";
import type { BootState } from "./bootAssessment.ts";
import { tryLockExclusive } from "./libc.ts";
import { hostPathToCreate } from "./rootPath.ts";
import { errorCode } from "./stepError.ts";

export const BOOT_STATE_LOCK = "/var/lib/nixos-wsl-init/boot-state.lock";

/** How long a command (bless, boot-once, recovery) waits for another writer. */
export const COMMAND_WAIT_MS = 10_000;
/** How long a start waits: nothing in the distro writes then, and the boot must go on. */
export const BOOT_WAIT_MS = 2_000;

const POLL_MS = 5;
const pause = new Int32Array(new SharedArrayBuffer(4));

export type BootStateLock = { readonly held: true; release(): void } | { readonly held: false; readonly problem: string };

/**
 * Take the lock on `root`'s boot state, waiting at most `waitMs` for another
 * writer. Not held, with the reason, when it cannot be taken: then nothing may
 * be written (a read-only /var cannot be written anyway).
 */
export function lockBootState(root: string, waitMs: number): BootStateLock {
  let fd: number;
  try {
    const path = hostPathToCreate(root, BOOT_STATE_LOCK);
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (error) {
      if (errorCode(error) !== "EROFS") throw error;
      try {
        // A read-only /var may still hold the lock file: a lock on it keeps readers consistent.
        fd = openSync(path, constants.O_RDONLY);
      } catch {
        return { held: false, problem: `${BOOT_STATE} cannot be written (${(error as Error).message})` };
      }
    }
  } catch (error) {
    return { held: false, problem: `cannot open the lock ${BOOT_STATE_LOCK} (${(error as Error).message})` };
  }
  const deadline = Date.now() + waitMs;
  try {
    while (!tryLockExclusive(fd, BOOT_STATE_LOCK)) {
      if (Date.now() >= deadline) {
        closeSync(fd);
        return {
          held: false,
          problem:
            `another process has held the lock ${BOOT_STATE_LOCK} for more than ${(waitMs / 1000).toFixed(0)} s ` +
            `(find it with: grep ":$(stat -c %i ${BOOT_STATE_LOCK}) " /proc/locks, the PID is the 5th field)`,
        };
      }
      Atomics.wait(pause, 0, 0, POLL_MS);
    }
  } catch (error) {
    closeSync(fd);
    return { held: false, problem: `cannot lock ${BOOT_STATE_LOCK} (${(error as Error).message})` };
  }
  let open = true;
  return {
    held: true,
    release: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

export type BootStateUpdate =
  | { readonly kind: "written"; readonly state: BootState; readonly warning: string | null }
  | { readonly kind: "unchanged"; readonly state: BootState; readonly warning: string | null }
  | { readonly kind: "failed"; readonly problem: string };

/**
 * Read, change and write `root`'s boot state under the lock: a change is
 * either in the file when this returns "written", or reported as "failed",
 * never lost to another writer. `change` returns the state unchanged (the
 * same object) when there is nothing to write.
 */
export function updateBootState(root: string, change: (state: BootState) => BootState, waitMs = COMMAND_WAIT_MS): BootStateUpdate {
  const lock = lockBootState(root, waitMs);
  if (!lock.held) return { kind: "failed", problem: lock.problem };
  try {
    const { state, warning } = readBootState(root);
    const changed = change(state);
    if (changed === state) return { kind: "unchanged", state, warning };
    try {
      writeBootState(root, changed);
    } catch (error) {
      return { kind: "failed", problem: `cannot write it (${(error as Error).message}): is the disk full, or /var read-only?` };
    }
    return { kind: "written", state: changed, warning };
  } finally {
    lock.release();
  }
}
