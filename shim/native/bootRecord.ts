// The boot record: what the native shim did, kept in /run/nixos-wsl/boot.json
// so that `nixos-wsl-init status` can tell a person how this system booted.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { RECOVERY_COMMAND } from "../../src/paths.ts";
import type { GenerationRecord } from "../../src/bootAssessment.ts";
import { type ActivationResult, describeActivation } from "../boot/activationResult.ts";

export interface BootRecord {
  readonly format: 1;
  readonly bootedAt: string;
  readonly generation: { readonly number: number | null; readonly link: string; readonly storePath: string };
  /** Why the default generation was not booted; null when it was. */
  readonly fallbackReason: string | null;
  /** How the generation was chosen: the default, a one-time boot, or a fallback. */
  readonly chosenBy: "default" | "once" | "fallback";
  /** Its boot-assessment record after this start was counted, and the attempts the default gets. */
  readonly assessment: GenerationRecord & { readonly attempts: number };
  readonly activation: ActivationResult;
  /** The program and arguments systemd was started with. */
  readonly systemd: readonly string[];
  /** Mount steps that failed but did not stop the boot. */
  readonly warnings: readonly string[];
  /** Milliseconds from the shim's start to the exec of systemd. */
  readonly shimMs: number;
  /** The shim's peak resident memory (VmHWM) just before it became systemd. */
  readonly peakRssKiB: number;
  /** What WSL waits for systemd to be running (`[boot] initTimeout`, ms); missing in records of older shims. */
  readonly budgetMs?: number;
}

/** Written once, by PID 1, before anything else runs that could read it: no temporary file needed. */
export function writeBootRecord(path: string, record: BootRecord): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
}

export function readBootRecord(path: string): BootRecord {
  const record = JSON.parse(readFileSync(path, "utf8")) as BootRecord;
  if (record.format !== 1) throw new Error(`${path} has an unknown format (${String(record.format)})`);
  return record;
}

/** What the boot-assessment state says now (a blessing comes after the boot record was written). */
export interface AssessmentNow {
  readonly record: GenerationRecord;
  readonly attempts: number;
  /** The link a pending one-time boot names, or null. */
  readonly bootOnce: string | null;
}

/** The assessment of the running generation as a person reads it. */
export function describeAssessment(now: AssessmentNow): string {
  const { tries, blessed } = now.record;
  if (blessed) return "good (blessed): it is never passed over";
  const started = `started ${tries} time${tries === 1 ? "" : "s"} without being marked good`;
  if (now.attempts === 0) return `${started}; falling back is off (wsl.init.bootAttempts = 0)`;
  return `${started}; after ${now.attempts} such starts an older generation boots instead`;
}

/** The record as a person reads it, with the assessment as it stands now. */
export function formatBootRecord(record: BootRecord, now: AssessmentNow, budgetLine: string | null = null): string {
  const generation = record.generation.number === null ? record.generation.link : `generation ${record.generation.number}`;
  const lines = [
    `Booted:      ${record.bootedAt}`,
    `System:      ${generation} (${record.generation.storePath})`,
    record.fallbackReason !== null
      ? `Fallback:    YES, the default generation could not boot: ${record.fallbackReason}`
      : record.chosenBy === "once"
        ? "Fallback:    no, booted once as asked (--boot-once); the next start boots the default"
        : "Fallback:    no, the default generation booted",
  ];
  if (record.fallbackReason !== null && record.generation.number !== null) {
    lines.push(`Keep it:     ${RECOVERY_COMMAND} --rollback --generation ${record.generation.number}`);
  }
  lines.push(
    `Assessment:  ${describeAssessment(now)}`,
    ...(now.bootOnce ? [`Next start:  ${now.bootOnce}, once (--boot-once); then the default again`] : []),
    `Activation:  ${describeActivation(record.activation)}`,
    `systemd:     ${record.systemd.join(" ")}`,
    `Shim time:   ${record.shimMs.toFixed(1)} ms before systemd started, ${(record.peakRssKiB / 1024).toFixed(1)} MiB at most`,
  );
  if (budgetLine !== null) lines.push(`Budget:      ${budgetLine}`);
  for (const warning of record.warnings) lines.push(`Warning:     ${warning}`);
  return `${lines.join("\n")}\n`;
}

/** This process's peak resident memory in KiB, from /proc/self/status (0 where it cannot be read). */
export function peakRssKiB(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}
