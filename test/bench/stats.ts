// Small statistics for the benchmark: medians over repeated runs.

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function formatMs(value: number): string {
  return `${value.toFixed(1)} ms`;
}

export interface Comparison {
  readonly name: string;
  readonly subject: string;
  readonly subjectMs: number;
  readonly baseline: string;
  readonly baselineMs: number;
  readonly targetMs: number;
}

export function comparisonLine(c: Comparison): string {
  const added = c.subjectMs - c.baselineMs;
  const verdict = Number(added.toFixed(1)) <= c.targetMs ? "within" : "OVER"; // judged as printed
  return `${c.name}: ${c.subject} ${formatMs(c.subjectMs)} vs ${c.baseline} ${formatMs(c.baselineMs)} -> +${formatMs(added)} (${verdict} target +${c.targetMs} ms)`;
}

/** A figure judged against bun's floor, measured over the same baseline in the same run (issue 21's targets: floor + a small allowance). */
export interface FloorComparison {
  readonly name: string;
  readonly subject: string;
  readonly subjectMs: number;
  readonly baseline: string;
  readonly baselineMs: number;
  /** bun's floor: an executable that only execs the baseline, over the baseline. */
  readonly floorMs: number;
  /** What the target allows beyond the floor. */
  readonly allowanceMs: number;
}

export function floorLine(c: FloorComparison): string {
  const added = c.subjectMs - c.baselineMs;
  const limit = c.floorMs + c.allowanceMs;
  const verdict = Number(added.toFixed(1)) <= Number(limit.toFixed(1)) ? "within" : "OVER"; // judged as printed
  return (
    `${c.name}: ${c.subject} ${formatMs(c.subjectMs)} vs ${c.baseline} ${formatMs(c.baselineMs)} -> +${formatMs(added)}; ` +
    `bun's floor +${formatMs(c.floorMs)}, so its own work +${formatMs(added - c.floorMs)} ` +
    `(${verdict} target: floor + ${c.allowanceMs} ms = +${formatMs(limit)})`
  );
}

/** A figure judged against a peer's, both over the same baseline in the same run. */
export function peerLine(c: { readonly name: string; readonly subjectMs: number; readonly peer: string; readonly peerMs: number; readonly baselineMs: number; readonly allowanceMs: number }): string {
  const ours = c.subjectMs - c.baselineMs;
  const theirs = c.peerMs - c.baselineMs;
  const limit = theirs + c.allowanceMs;
  const verdict = Number(ours.toFixed(1)) <= Number(limit.toFixed(1)) ? "within" : "OVER";
  const target = c.allowanceMs === 0 ? `no slower than ${c.peer}` : `${c.peer} + ${c.allowanceMs} ms = +${formatMs(limit)}`;
  return `  against its peer: ${c.peer} +${formatMs(theirs)}, ${c.name} +${formatMs(ours)} (${verdict} target: ${target})`;
}
