// The boot record: what the native shim did, kept in /run/nixos-wsl/boot.json
// so that `nixos-wsl-init status` can tell a person how this system booted.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type ActivationResult, describeActivation } from "../boot/activationResult.ts";

export interface BootRecord {
  readonly format: 1;
  readonly bootedAt: string;
  readonly generation: { readonly number: number | null; readonly link: string; readonly storePath: string };
  /** Why the default generation was not booted; null when it was. */
  readonly fallbackReason: string | null;
  readonly activation: ActivationResult;
  /** The program and arguments systemd was started with. */
  readonly systemd: readonly string[];
  /** Mount steps that failed but did not stop the boot. */
  readonly warnings: readonly string[];
  /** Milliseconds from the shim's start to the exec of systemd. */
  readonly shimMs: number;
  /** The shim's peak resident memory (VmHWM) just before it became systemd. */
  readonly peakRssKiB: number;
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

/** The record as a person reads it. */
export function formatBootRecord(record: BootRecord): string {
  const generation = record.generation.number === null ? record.generation.link : `generation ${record.generation.number}`;
  const lines = [
    `Booted:      ${record.bootedAt}`,
    `System:      ${generation} (${record.generation.storePath})`,
    record.fallbackReason === null
      ? "Fallback:    no, the default generation booted"
      : `Fallback:    YES, the default generation could not boot: ${record.fallbackReason}`,
    `Activation:  ${describeActivation(record.activation)}`,
    `systemd:     ${record.systemd.join(" ")}`,
    `Shim time:   ${record.shimMs.toFixed(1)} ms before systemd started, ${(record.peakRssKiB / 1024).toFixed(1)} MiB at most`,
  ];
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
