// Failures as a user should read them: the step that failed, the cause, and
// what to do next. A StepError is shown as those three, never as a stack trace.

export class StepError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    readonly next: string | null = null,
  ) {
    super(`${step}: ${cause instanceof Error ? cause.message : String(cause)}${next ? `\n${next}` : ""}`);
    this.name = "StepError";
  }
}

/** Run one step; a failure becomes a StepError naming it, with advice chosen from the cause where there is any. */
export function inStep<T>(step: string, action: () => T, advise: (cause: unknown) => string | null = () => null): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw new StepError(step, error, advise(error));
  }
}

/** The errno name of a failure (ENOENT, EACCES, …), or null. */
export function errorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

/** How an unexpected failure reaches a user: its message, and the stack only when NIXOS_WSL_INIT_DEBUG=1. */
export function describeFailure(error: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (error instanceof StepError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  if (env.NIXOS_WSL_INIT_DEBUG === "1") return `unexpected error: ${error instanceof Error ? (error.stack ?? message) : message}`;
  return `unexpected error: ${message}\n(This is a bug in nixos-wsl-init; run again with NIXOS_WSL_INIT_DEBUG=1 for the details to report.)`;
}
