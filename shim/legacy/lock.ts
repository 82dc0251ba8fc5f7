// The lock that makes legacy shells started together share one systemd:
// the first takes it and starts systemd, the others queue, and one queued
// for longer than a quick look says once what it waits for.
import { constants, openSync } from "node:fs";
import { lockExclusive, tryLockExclusive } from "../../src/libc.ts";
import { STATE_DIR } from "../../src/paths.ts";
import { inStep } from "../../src/stepError.ts";
import { ensureStateDir, LEGACY_LOCK, readActivity } from "./state.ts";

/** A queued shell says what it waits for only when the wait is more than a holder's quick look at the record. */
const QUIET_WAIT_MS = 250;

/**
 * Take the lock that makes shells share one systemd (its fd; closing it lets go).
 * A shell queued behind another says once what it waits for.
 */
export async function takeLock(say: (message: string) => void): Promise<number> {
  inStep(`preparing ${STATE_DIR}`, ensureStateDir, () => "/run must be a writable tmpfs, as WSL mounts it.");
  const lockStep = `taking the lock ${LEGACY_LOCK}`;
  const lockFd = inStep(lockStep, () => openSync(LEGACY_LOCK, constants.O_RDWR | constants.O_CREAT, 0o600));
  if (inStep(lockStep, () => tryLockExclusive(lockFd, LEGACY_LOCK))) return lockFd;
  const quietUntil = Date.now() + QUIET_WAIT_MS;
  while (Date.now() < quietUntil) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (inStep(lockStep, () => tryLockExclusive(lockFd, LEGACY_LOCK))) return lockFd;
  }
  const holder = readActivity();
  say(holder ? `waiting for another shell (PID ${holder.pid}) that is ${holder.activity} ...` : `waiting for another shell that holds ${LEGACY_LOCK} ...`);
  // Blocking, with the default signal actions: a queued shell holds nothing, so a signal may simply end it.
  inStep(lockStep, () => lockExclusive(lockFd, LEGACY_LOCK));
  return lockFd;
}
