// What one run of the activation script came to, shared by both boot paths:
// the native shim keeps it in its boot record, legacy mode tells the shell.

export interface ActivationResult {
  readonly script: string;
  /** Exit code, or null when it was killed by a signal or could not start. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why it could not be started at all, when that happened. */
  readonly error: string | null;
  readonly durationMs: number;
  /** The deadline it ran under, in seconds (0: none). */
  readonly deadlineSeconds: number;
  /** When it was stopped at the deadline: the command line it was stuck in. */
  readonly stuckIn: string | null;
  /**
   * true when /run/current-system was missing after the activation (stopped, or
   * cut short before its last step) and the shim linked it to the booted
   * generation, so that login-shell wrappers waiting for it start. Absent in
   * records written before this existed.
   */
  readonly currentSystemLinked?: boolean;
}

/** The outcome as a person reads it, e.g. "succeeded in 0.02 s" or "FAILED with exit code 3 after 1.20 s". */
export function describeActivation(activation: ActivationResult): string {
  const outcome = describeOutcome(activation);
  return activation.currentSystemLinked ? `${outcome}; /run/current-system linked to the booted generation by the shim` : outcome;
}

function describeOutcome(activation: ActivationResult): string {
  const took = `${(activation.durationMs / 1000).toFixed(2)} s`;
  if (activation.error) return `could not start: ${activation.error}`;
  if (activation.stuckIn) return `STOPPED at its deadline of ${activation.deadlineSeconds} s, stuck in: ${activation.stuckIn} (the boot went on)`;
  if (activation.signal) return `killed by ${activation.signal} after ${took}`;
  if (activation.exitCode === 0) return `succeeded in ${took}`;
  return `FAILED with exit code ${activation.exitCode} after ${took} (the boot went on; see dmesg)`;
}
