// Exit codes that mean the same thing in every role, and 128 + N for a signal.
import { constants } from "node:os";

export const EXIT_OK = 0;
/** The requested work failed (no bootable generation, systemd did not start, …). */
export const EXIT_FAILURE = 1;
/** The command line was wrong. */
export const EXIT_USAGE = 2;
/** Refused to run here: not PID 1, not root, inside NixOS instead of the system distro. */
export const EXIT_REFUSED = 3;
/** The given root is not a NixOS installation (as nixos-enter answers). */
export const EXIT_NOT_NIXOS = 126;

/** As a shell reports a process ended by a signal: 128 + its number. */
export function exitCodeFor(signal: NodeJS.Signals | number): number {
  return 128 + (typeof signal === "number" ? signal : (constants.signals[signal] ?? 0));
}

/** A child's end as a shell reports it: its exit code, or 128 + the signal that ended it. */
export function statusOf(child: { exitCode: number | null; signalCode: NodeJS.Signals | number | string | null }): number {
  if (child.signalCode !== null) return exitCodeFor(child.signalCode as NodeJS.Signals | number);
  return child.exitCode ?? EXIT_FAILURE;
}
