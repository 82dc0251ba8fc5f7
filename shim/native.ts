// The native shim: WSL's /sbin/init on NixOS. Repairs the mounts WSL gets
// wrong, runs the activation script, then becomes systemd (same PID 1).
import { lstatSync, mkdirSync, readlinkSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";
import { type BootRecord, peakRssKiB, writeBootRecord } from "../src/bootRecord.ts";
import { DEFAULT_SETTINGS, loadSettings, type Settings } from "../src/config.ts";
import { EXIT_FAILURE, EXIT_REFUSED } from "../src/exitCodes.ts";
import { chooseBootGeneration } from "../src/generations.ts";
import { execve, mount, MS_BIND, MS_MOVE, MS_NODEV, MS_NOSUID, MS_REC, MS_SHARED, SyscallError } from "../src/libc.ts";
import { type Logger, openKernelLog } from "../src/log.ts";
import { BOOT_RECORD, NIX_STORE, RECOVERY_COMMAND, SYSTEMD_BINARY } from "../src/paths.ts";
import { bindStoreReadOnly, runActivation } from "./activation.ts";
import { notPid1Message, systemdArgv } from "./nativePlan.ts";

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

  const choice = chooseBootGeneration("/");
  if (choice.kind === "none") {
    log.fatal(
      [
        "no bootable NixOS generation: every one lacks an executable activate or systemd.",
        ...choice.reasons.map((reason) => `  - ${reason}`),
        `Repair it from Windows with: ${RECOVERY_COMMAND}`,
      ].join("\n"),
    );
    return EXIT_FAILURE;
  }
  const { generation } = choice;
  const fallbackReason = choice.kind === "fallback" ? choice.reason : null;
  if (fallbackReason !== null) {
    log.error(`the default generation cannot boot: ${fallbackReason}`);
    log.error(
      `FALLING BACK to ${generation.link} (${generation.storePath}). To keep it as the default, run from Windows: ` +
        `${RECOVERY_COMMAND} --rollback --generation ${generation.number}`,
    );
  }

  const warnings: string[] = [];
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

  const activation = await runActivation(generation, log, settings.activationTimeoutSeconds);

  const systemd = `${generation.storePath}/${SYSTEMD_BINARY}`;
  const argv = systemdArgv(argv0, args);
  const record: BootRecord = {
    format: 1,
    bootedAt: new Date().toISOString(),
    generation: { number: generation.number, link: generation.link, storePath: generation.storePath },
    fallbackReason,
    activation,
    systemd: [systemd, ...argv.slice(1)],
    warnings,
    shimMs: performance.now(),
    peakRssKiB: peakRssKiB(),
  };
  step(`writing ${BOOT_RECORD}`, () => writeBootRecord(BOOT_RECORD, record));

  log.info(`starting ${systemd} after ${record.shimMs.toFixed(1)} ms`);
  try {
    execve(systemd, argv, process.env);
  } catch (error) {
    log.fatal(`could not start systemd (${systemd}): ${(error as Error).message}\nRepair it from Windows with: ${RECOVERY_COMMAND}`);
  }
  return EXIT_FAILURE;
}

/** Every signal that would end a process by default, less SIGKILL and SIGSTOP, which nobody can catch. */
const FATAL_SIGNALS = [
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGVTALRM", "SIGPROF",
  "SIGXCPU", "SIGXFSZ", "SIGIO", "SIGPWR", "SIGSYS", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGSTKFLT",
] as const;

function surviveSignals(report: (signal: string) => void): void {
  for (const signal of FATAL_SIGNALS) {
    try {
      process.on(signal as NodeJS.Signals, () => report(signal));
    } catch {
      // a signal this platform does not have
    }
  }
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

/**
 * WSL makes /dev/shm a symlink to /run/shm; programs expect a directory with
 * the tmpfs on it. Move the mount to /dev/shm and bind it back for whoever
 * uses the old path.
 */
function repairDevShm(log: Logger): void {
  const shm = "/dev/shm";
  if (!lstatSync(shm).isSymbolicLink()) return;
  const target = resolve("/dev", readlinkSync(shm));
  unlinkSync(shm);
  mkdirSync(shm, { mode: 0o1777 });
  try {
    mount(target, shm, null, MS_MOVE);
  } catch (error) {
    // Not a mount point (or not movable): give /dev/shm a tmpfs of its own.
    if (!(error instanceof SyscallError)) throw error;
    log.warn(`could not move the ${target} mount (${error.message}); mounting a new tmpfs on ${shm}`);
    mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  }
  mount(shm, target, null, MS_BIND);
  log.info(`${shm} is now a directory with its tmpfs, bound back to ${target}`);
}
