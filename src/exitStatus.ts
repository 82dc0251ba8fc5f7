// 128 + N for a process ended by signal N, as a shell reports it. Apart from
// exitCodes.ts, which every start loads: node:os costs about 1.8 ms to load.
import { constants } from "node:os";
import { EXIT_FAILURE } from "./exitCodes.ts";

/** As a shell reports a process ended by a signal: 128 + its number. */
export function exitCodeFor(signal: NodeJS.Signals | number): number {
  return 128 + (typeof signal === "number" ? signal : (constants.signals[signal] ?? 0));
}

/** A child's end as a shell reports it: its exit code, or 128 + the signal that ended it. */
export function statusOf(child: { exitCode: number | null; signalCode: NodeJS.Signals | number | string | null }): number {
  if (child.signalCode !== null) return exitCodeFor(child.signalCode as NodeJS.Signals | number);
  return child.exitCode ?? EXIT_FAILURE;
}
