// Shared by both boot paths (native and legacy): the read-only store, and the
// NixOS activation script run with its output in the kernel log.
import type { ActivationResult } from "../src/bootRecord.ts";
import type { Generation } from "../src/generations.ts";
import { mount, MS_BIND, MS_RDONLY, MS_REMOUNT } from "../src/libc.ts";
import type { Logger } from "../src/log.ts";
import { ACTIVATE, NIX_STORE } from "../src/paths.ts";
import { ACTIVATION_PROGRESS_MS, activationEnv } from "./nativePlan.ts";

/** The store is immutable: a bind of itself, remounted read-only. */
export function bindStoreReadOnly(): void {
  mount(NIX_STORE, NIX_STORE, null, MS_BIND);
  mount(null, NIX_STORE, null, MS_REMOUNT | MS_BIND | MS_RDONLY);
}

/** Run the generation's activate with its output in the kernel log. A failure is logged, never fatal. */
export async function runActivation(generation: Generation, log: Logger): Promise<ActivationResult> {
  const script = `${generation.storePath}/${ACTIVATE}`;
  const output = log.kmsgFd ?? "inherit";
  log.info(`running ${script}`);
  const started = performance.now();
  const progress = setInterval(() => {
    log.warn(`${script} is still running after ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }, ACTIVATION_PROGRESS_MS);
  // Bun.spawn rather than execa or node:child_process: this is PID 1's boot
  // path, and it starts a child in under a millisecond with no module to load.
  let outcome: { code: number | null; signal: string | null; error: string | null };
  try {
    const child = Bun.spawn([script], { env: activationEnv(process.env), stdio: ["ignore", output, output] });
    await child.exited;
    outcome = { code: child.signalCode ? null : child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), error: null };
  } catch (error) {
    outcome = { code: null, signal: null, error: (error as Error).message };
  }
  clearInterval(progress);
  const durationMs = performance.now() - started;

  const activation: ActivationResult = {
    script,
    exitCode: outcome.code,
    signal: outcome.signal,
    error: outcome.error,
    durationMs,
  };
  if (activation.exitCode === 0) log.info(`activation finished in ${durationMs.toFixed(0)} ms`);
  else log.error(`activation failed (${describeOutcome(activation)}); booting on with a partly activated system`);
  return activation;
}

function describeOutcome(activation: ActivationResult): string {
  if (activation.error !== null) return `could not start: ${activation.error}`;
  if (activation.signal !== null) return `killed by ${activation.signal}`;
  return `exit code ${activation.exitCode}`;
}
