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
