// The boot budget: the milliseconds WSL waits for systemd to be running
// (`[boot] initTimeout`), and how the shim, the activation and systemd's own
// start spent them. Pure: the messages and the arithmetic, nothing read.
import { BUDGET_OPTION, WSL_CONF } from "./wslConf.ts";

/** A duration as a person reads it: "9 ms" below a second, "1.2 s" above. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The budget itself: "10 s", or "7.5 s" when it is not whole seconds. */
export function formatBudget(ms: number): string {
  const seconds = ms / 1000;
  return Number.isInteger(seconds) ? `${seconds} s` : `${Number(seconds.toFixed(2))} s`;
}

/** The kernel log line at the shim's start. */
export function budgetAtStart(budgetMs: number): string {
  return `WSL waits up to ${(budgetMs / 1000).toFixed(1)} s for systemd ([boot] initTimeout in ${WSL_CONF}, set by wsl.init.initTimeout); the shim and the activation count against it`;
}

/** When the half of the budget has passed while the activation still runs: after that many ms of the shim's life, or at once. */
export function halfBudgetDelay(budgetMs: number, nowMs: number): number {
  return Math.max(0, budgetMs / 2 - nowMs);
}

export function halfBudgetWarning(budgetMs: number, nowMs: number): string {
  return (
    `the activation is still running after ${formatDuration(nowMs)}, half of the ${formatBudget(budgetMs)} WSL waits for systemd: ` +
    `if the boot takes longer, WSL stops waiting and goes on without systemd being ready ("Failed to start the systemd user session"). ` +
    `Raise the budget with ${BUDGET_OPTION}, or find what makes the activation slow (dmesg)`
  );
}

/** systemd's own start, from `systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic`. */
export type SystemdTime =
  | { readonly kind: "finished"; readonly ms: number }
  | { readonly kind: "starting" }
  | { readonly kind: "unknown"; readonly why: string };

/** Read systemctl show's output (microseconds; a FinishTimestamp of 0 means the boot has not finished). */
export function parseSystemdTimes(output: string): SystemdTime {
  const values: Record<string, string> = {};
  for (const line of output.split("\n")) {
    const equals = line.indexOf("=");
    if (equals > 0) values[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
  }
  const userspace = Number(values.UserspaceTimestampMonotonic);
  const finish = Number(values.FinishTimestampMonotonic);
  if (!Number.isFinite(userspace) || !Number.isFinite(finish) || values.UserspaceTimestampMonotonic === undefined || values.FinishTimestampMonotonic === undefined) {
    return { kind: "unknown", why: "systemctl show did not report systemd's timestamps" };
  }
  if (finish === 0) return { kind: "starting" };
  if (userspace === 0 || finish < userspace) return { kind: "unknown", why: "systemd reported no start timestamp" };
  return { kind: "finished", ms: (finish - userspace) / 1000 };
}

export interface BudgetParts {
  /** The shim from its start to the exec of systemd, the activation included. */
  readonly shimMs: number;
  readonly activationMs: number;
  readonly budgetMs: number;
  readonly systemd: SystemdTime;
}

export interface BudgetVerdict {
  readonly line: string;
  /** true when the boot took, or has already taken, longer than WSL waits. */
  readonly over: boolean;
  readonly totalMs: number | null;
}

/** The status line: "shim 9 ms, activation 1.2 s, systemd 2.8 s: 4.0 s of the 10 s WSL waits". */
export function describeBudget(parts: BudgetParts): BudgetVerdict {
  const ownMs = Math.max(0, parts.shimMs - parts.activationMs);
  const before = parts.shimMs;
  const head = `shim ${formatDuration(ownMs)}, activation ${formatDuration(parts.activationMs)}`;
  const budget = formatBudget(parts.budgetMs);
  const raise = `raise it with ${BUDGET_OPTION}, or make the boot faster`;
  switch (parts.systemd.kind) {
    case "finished": {
      const total = before + parts.systemd.ms;
      const over = total > parts.budgetMs;
      const sum = `${head}, systemd ${formatDuration(parts.systemd.ms)}: ${formatDuration(total)}`;
      return {
        over,
        totalMs: total,
        line: over
          ? `${sum}, OVER the ${budget} WSL waits: WSL stopped waiting for systemd before it was running; ${raise}`
          : `${sum} of the ${budget} WSL waits`,
      };
    }
    case "starting": {
      const over = before > parts.budgetMs;
      const sum = `${head}, systemd still starting: ${formatDuration(before)} so far`;
      return { over, totalMs: null, line: over ? `${sum}, already OVER the ${budget} WSL waits; ${raise}` : `${sum} of the ${budget} WSL waits` };
    }
    case "unknown": {
      const over = before > parts.budgetMs;
      const sum = `${head}, systemd unknown (${parts.systemd.why}): ${formatDuration(before)} before systemd`;
      return { over, totalMs: null, line: over ? `${sum}, already OVER the ${budget} WSL waits; ${raise}` : `${sum} of the ${budget} WSL waits` };
    }
  }
}
