// The native shim: WSL's /sbin/init on NixOS, read top-down as it runs.
// Repairs the mounts WSL gets wrong, runs the activation script, then
// becomes systemd (the same PID 1).
import { type BootRecord, peakRssKiB, writeBootRecord } from "./bootRecord.ts";
import { DEFAULT_SETTINGS, loadSettings, type Settings } from "../../src/config.ts";
import { EXIT_FAILURE, EXIT_REFUSED } from "../../src/exitCodes.ts";
import { recordOf } from "../../src/bootAssessment.ts";
import { execve, mount, MS_REC, MS_SHARED } from "../../src/libc.ts";
import { type Logger, openKernelLog } from "../../src/log.ts";
import { BOOT_RECORD, NIX_STORE, REPAIR_FROM_WINDOWS, SYSTEMD_BINARY } from "../../src/paths.ts";
import { runActivation } from "../boot/activation.ts";
import { chooseGeneration } from "../boot/chooseGeneration.ts";
import { bindStoreReadOnly } from "../boot/readOnlyStore.ts";
import { repairDevShm } from "./devShm.ts";
import { surviveSignals } from "./signals.ts";
import { notPid1Message, systemdArgv } from "./systemdCommand.ts";
import { budgetAtStart, halfBudgetDelay, halfBudgetWarning } from "../wsl/budget.ts";
import { readInitTimeout } from "../wsl/wslConf.ts";

export async function runNativeShim(argv0: string, args: readonly string[]): Promise<number> {
  const pid = process.pid;
  if (pid !== 1) {
    process.stderr.write(`nixos-wsl-init: ${notPid1Message(pid)}\n`);
    return EXIT_REFUSED;
  }
  // PID 1 must outlive any stray kill until it becomes systemd (exec resets these handlers).
  surviveSignals((signal) => log.warn(`ignored ${signal}: PID 1 must not die before systemd runs`));
  const log = openKernelLog();
  log.info(`native shim started as ${argv0}`);
  const settings = bootSettings(log);
  // WSL's clock runs from before this process: what it waits for systemd (one small file read).
  const budget = readInitTimeout();
  if (budget.warning) log.warn(budget.warning);
  log.info(budgetAtStart(budget.ms));

  // Chosen under the boot state's lock, and said; this start is counted while the activation runs.
  const choice = chooseGeneration(settings.bootAttempts, log);
  const { decision } = choice;
  if (decision.kind === "none") {
    log.fatal(
      [
        "no bootable NixOS generation: every one lacks an executable activate or systemd.",
        ...decision.reasons.map((reason) => `  - ${reason}`),
        REPAIR_FROM_WINDOWS,
      ].join("\n"),
    );
    return EXIT_FAILURE;
  }
  const { generation } = decision;
  const fallbackReason = decision.kind === "fallback" ? decision.reason : null;
  const warnings = choice.warnings;
  const step = (what: string, action: () => void): void => {
    try {
      action();
    } catch (error) {
      const message = `${what} failed: ${error instanceof Error ? error.message : String(error)}`;
      log.error(`${message}; booting on without it`);
      warnings.push(message);
    }
  };
  step("repairing /dev/shm", () => repairDevShm(log));
  step("making / a shared mount", () => mount(null, "/", null, MS_REC | MS_SHARED));
  step(`binding ${NIX_STORE} read-only`, bindStoreReadOnly);

  // This start is counted while the activation runs: recorded, synced, before systemd starts.
  // The start of a generation already marked good changes nothing, and writes nothing.
  const countThisStart = () => choice.count();
  const halfway = setTimeout(() => log.warn(halfBudgetWarning(budget.ms, performance.now())), halfBudgetDelay(budget.ms, performance.now()));
  const activation = await runActivation(generation, log, settings.activationTimeoutSeconds, countThisStart);
  clearTimeout(halfway);
  choice.count(); // done already, unless the activation could not even be tried

  const systemd = `${generation.storePath}/${SYSTEMD_BINARY}`;
  const argv = systemdArgv(argv0, args);
  const record: BootRecord = {
    format: 1,
    bootedAt: new Date().toISOString(),
    generation: { number: generation.number, link: generation.link, storePath: generation.storePath },
    fallbackReason,
    chosenBy: decision.kind,
    assessment: { ...recordOf(decision.state, generation.storePath), attempts: settings.bootAttempts },
    activation,
    systemd: [systemd, ...argv.slice(1)],
    warnings,
    shimMs: performance.now(),
    budgetMs: budget.ms,
    peakRssKiB: peakRssKiB(),
  };
  step(`writing ${BOOT_RECORD}`, () => writeBootRecord(BOOT_RECORD, record));

  log.info(`starting ${systemd} after ${record.shimMs.toFixed(1)} ms`);
  try {
    execve(systemd, argv, process.env);
  } catch (error) {
    log.fatal(`could not start systemd (${systemd}): ${(error as Error).message}\n${REPAIR_FROM_WINDOWS}`);
  }
  return EXIT_FAILURE;
}

/** The settings, or the defaults with a warning: a bad settings file must never stop the boot. */
function bootSettings(log: Logger): Settings {
  try {
    return loadSettings();
  } catch (error) {
    log.warn(`${(error as Error).message}; booting with the default settings`);
    return DEFAULT_SETTINGS;
  }
}
