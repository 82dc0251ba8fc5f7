// One doctor check's outcome, and how a list of them is shown and summed up.
// Pure: no file is read here.

export type Verdict = "ok" | "warn" | "FAIL" | "skip";

export interface Check {
  /** The group it belongs to: "start-up", "wsl", "systemd", "session", "interop", "recovery", "space". */
  readonly group: string;
  /** What was checked, short: "boot record", "/sbin/init". */
  readonly name: string;
  readonly verdict: Verdict;
  /** What was found, in one line. */
  readonly evidence: string;
  /** The exact next step (a command, or the option to set); null when there is nothing to do. */
  readonly fix: string | null;
}

export const ok = (group: string, name: string, evidence: string): Check => ({ group, name, verdict: "ok", evidence, fix: null });
export const warn = (group: string, name: string, evidence: string, fix: string): Check => ({ group, name, verdict: "warn", evidence, fix });
export const fail = (group: string, name: string, evidence: string, fix: string): Check => ({ group, name, verdict: "FAIL", evidence, fix });
/** Not applicable here (not under WSL, legacy mode, needs root): said, and not counted. */
export const skip = (group: string, name: string, evidence: string, fix: string | null = null): Check => ({ group, name, verdict: "skip", evidence, fix });

/** Exit codes: 0 all ok, 1 warnings, 2 a failure. */
export function exitCodeOf(checks: readonly Check[]): 0 | 1 | 2 {
  if (checks.some((check) => check.verdict === "FAIL")) return 2;
  return checks.some((check) => check.verdict === "warn") ? 1 : 0;
}

export function summaryOf(checks: readonly Check[]): { ok: number; warn: number; fail: number; skip: number } {
  const count = (verdict: Verdict) => checks.filter((check) => check.verdict === verdict).length;
  return { ok: count("ok"), warn: count("warn"), fail: count("FAIL"), skip: count("skip") };
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " ").trim();

/** The report a person reads: one line per check, the next step under what is not ok. */
export function formatChecks(checks: readonly Check[], title: string): string {
  const width = Math.max(...checks.map((check) => check.name.length), 10);
  const lines = [title];
  for (const check of checks) {
    lines.push(`${check.verdict.padEnd(4)}  ${check.name.padEnd(width)}  ${oneLine(check.evidence)}`);
    if (check.fix !== null && check.verdict !== "ok") lines.push(`${" ".repeat(width + 8)}-> ${oneLine(check.fix)}`);
  }
  const sum = summaryOf(checks);
  const parts = [`${sum.ok} ok`, `${sum.warn} warning${sum.warn === 1 ? "" : "s"}`, `${sum.fail} failure${sum.fail === 1 ? "" : "s"}`];
  if (sum.skip > 0) parts.push(`${sum.skip} skipped`);
  lines.push("", `${parts.join(", ")} (exit ${exitCodeOf(checks)})`);
  return `${lines.join("\n")}\n`;
}

export function checksJson(checks: readonly Check[], extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ ...extra, exitCode: exitCodeOf(checks), summary: summaryOf(checks), checks }, null, 2)}\n`;
}
