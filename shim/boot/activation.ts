// Shared by both boot paths (native and legacy): the NixOS activation script,
// run with its output in the kernel log and a deadline after which it is
// stopped so that the boot goes on.
import { existsSync, renameSync, rmSync, symlinkSync } from "node:fs";
import type { ActivationResult } from "./activationResult.ts";
import { copyLines } from "./copyLines.ts";
import type { Generation } from "../../src/generations.ts";
import { ACTIVATION_TAG, type Logger, openKernelLog } from "../../src/log.ts";
import { ACTIVATE, CURRENT_SYSTEM } from "../../src/paths.ts";
import { deepestProcess, descendantsOf } from "../../src/processTree.ts";
import { sendSignalEach } from "../../src/signalProcess.ts";
import { ACTIVATION_PROGRESS_MS, activationEnv } from "./activationEnv.ts";

/** How long a stopped activation gets between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 2_000;

/**
 * Run the generation's activate, its output in the kernel log under a tag of
 * its own. A failure is logged, never fatal. With a deadline (seconds, 0 for
 * none) a hung activation is stopped, and what it was stuck in is named.
 * `meanwhile` runs once the script has started (or failed to): work of the
 * caller's that overlaps with it instead of adding to the boot.
 */
export async function runActivation(
  generation: Generation,
  log: Logger,
  deadlineSeconds: number,
  meanwhile: () => void = () => {},
): Promise<ActivationResult> {
  const script = `${generation.storePath}/${ACTIVATE}`;
  const output = openKernelLog(undefined, ACTIVATION_TAG);
  const deadlineNote = deadlineSeconds > 0 ? `it is stopped at ${deadlineSeconds} s (wsl.init.activationTimeout)` : "no deadline is set";
  log.info(`running ${script}; ${deadlineNote}`);
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(0);

  let outcome: { code: number | null; signal: string | null; error: string | null };
  let stuckIn: string | null = null;
  /** What the deadline sent SIGTERM to: the script and everything it had started. */
  let stopped: number[] = [];
  try {
    // Bun.spawn rather than execa or node:child_process: this is PID 1's boot path, and
    // it starts a child in under a millisecond. A session of its own, so it can be stopped whole.
    const child = Bun.spawn([script], { env: activationEnv(process.env), stdio: ["ignore", "pipe", "pipe"], detached: true });
    const copied = Promise.all([copyLines(child.stdout, output), copyLines(child.stderr, output)]);
    meanwhile();
    const whereNow = () => deepestProcess(child.pid)?.commandLine ?? script;
    const progress = setInterval(() => {
      log.warn(`${script} is still running after ${seconds()} s, now in: ${whereNow()}; ${deadlineNote}`);
    }, ACTIVATION_PROGRESS_MS);
    let deadline: ReturnType<typeof setTimeout> | undefined;
    if (deadlineSeconds > 0) {
      deadline = setTimeout(() => {
        stuckIn = whereNow();
        log.error(
          `the activation did not finish within ${deadlineSeconds} s; it is stuck in: ${stuckIn}. ` +
            "Stopping it and booting on with a partly activated system. Find out why with 'journalctl -b' or dmesg once booted; " +
            "raise the deadline with wsl.init.activationTimeout (0 waits forever).",
        );
        stopped = [child.pid, ...descendantsOf(child.pid)];
        sendSignalEach(stopped, "SIGTERM");
      }, deadlineSeconds * 1000);
    }
    await child.exited;
    clearInterval(progress);
    clearTimeout(deadline);
    if (stopped.length > 0) {
      // The script may die of SIGTERM at once while what it started ignores it: give them the grace, then SIGKILL all.
      await Bun.sleep(STOP_GRACE_MS);
      sendSignalEach([-child.pid, ...stopped, ...stopped.flatMap(descendantsOf)], "SIGKILL");
    }
    // Whatever the script left running in the background may hold the pipes open: wait only briefly for them.
    await Promise.race([copied, Bun.sleep(200)]);
    outcome = { code: child.signalCode ? null : child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), error: null };
  } catch (error) {
    outcome = { code: null, signal: null, error: (error as Error).message };
    meanwhile();
  }
  output.close();
  const durationMs = performance.now() - started;
  // An activation that ran to its end (exit 0) did what it meant to with the link.
  const cutShort = outcome.code !== 0;
  const currentSystemLinked = cutShort && !existsSync(CURRENT_SYSTEM) ? linkCurrentSystem(generation, log) : false;

  const activation: ActivationResult = {
    script,
    exitCode: outcome.code,
    signal: outcome.signal,
    error: outcome.error,
    durationMs,
    deadlineSeconds,
    stuckIn,
    currentSystemLinked,
  };
  if (activation.exitCode === 0) log.info(`activation finished in ${durationMs.toFixed(0)} ms`);
  else if (stuckIn === null) log.error(`activation failed (${whyItFailed(activation)}); booting on with a partly activated system`);
  return activation;
}

/**
 * The activation links /run/current-system as its last step (even when some of
 * its snippets fail). When it did not get there (stopped at its deadline,
 * killed, failed to start), every login-shell
 * wrapper that waits for that link (NixOS-WSL's waits without a limit) would
 * leave its user without a shell: link it to the generation being booted, as
 * the activation would have, replaced atomically. Returns whether it did.
 */
function linkCurrentSystem(generation: Generation, log: Logger): boolean {
  const temporary = `${CURRENT_SYSTEM}.nixos-wsl-init.tmp`;
  try {
    rmSync(temporary, { force: true });
    symlinkSync(generation.storePath, temporary);
    renameSync(temporary, CURRENT_SYSTEM);
  } catch (error) {
    log.error(
      `${CURRENT_SYSTEM} is missing after the activation, and linking it to ${generation.storePath} failed (${(error as Error).message}): ` +
        "login shells that wait for it (NixOS-WSL's shell-wrapper, nixos-wsl-shell) will wait. Run the activation again as root " +
        `(${generation.storePath}/${ACTIVATE}), or link it by hand: ln -sfn ${generation.storePath} ${CURRENT_SYSTEM}`,
    );
    return false;
  }
  log.warn(
    `${CURRENT_SYSTEM} was missing after the activation: linked it to the booted generation ${generation.storePath}, ` +
      "so that login shells waiting for it start (on a partly activated system; 'nixos-wsl-init status' says so).",
  );
  return true;
}

/** In a few words, for the kernel log line. */
function whyItFailed(activation: ActivationResult): string {
  if (activation.error !== null) return `could not start: ${activation.error}`;
  if (activation.signal !== null) return `killed by ${activation.signal}`;
  return `exit code ${activation.exitCode}`;
}
