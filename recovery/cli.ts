// nixos-wsl-recovery: run from the WSL system distribution to enter, list or
// roll back the system generations of a NixOS distro that no longer starts.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { EXIT_FAILURE, EXIT_NOT_NIXOS, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from "../src/exitCodes.ts";
import { BOOT_STATE, readBootState } from "../src/bootState.ts";
import { updateBootState } from "../src/bootStateLock.ts";
import { setBootOnce } from "../src/bootAssessment.ts";
import { bootProblem, listGenerations } from "../src/generations.ts";
import { NIXOS_MARKER, RECOVERY_COMMAND, SYSTEM_DISTRO_MOUNT } from "../src/paths.ts";
import { hostPath, resolveInRoot } from "../src/rootPath.ts";
import { sayAs } from "../src/say.ts";
import { StepError } from "../src/stepError.ts";
import { makeWritable } from "./chrootMounts.ts";
import { enterGeneration, privateMountNamespace } from "./enter.ts";
import { Endings } from "./endings.ts";
import { formatGenerationTable, generationsJson } from "./list.ts";
import { UsageError } from "../src/cliParser.ts";
import { parseRecoveryArgs, type RecoveryRequest } from "./options.ts";
import { chrootEnv, commandArgv } from "./enterPlan.ts";
import { rollback } from "./rollback.ts";
import { describeGeneration, SelectionError, selectGeneration } from "./select.ts";

const say = sayAs("nixos-wsl-recovery");

/** Why this process may not recover anything, or null. */
function refusal(): string | null {
  if (existsSync("/etc/NIXOS")) {
    return [
      "this is a NixOS system itself; recovery runs from the WSL system distribution,",
      `which mounts the NixOS distro at ${SYSTEM_DISTRO_MOUNT}. From Windows, run:`,
      `  ${RECOVERY_COMMAND}`,
      "(On a NixOS that still starts, 'nixos-rebuild switch --rollback' changes generations.)",
    ].join("\n");
  }
  if (process.geteuid?.() !== 0) {
    return `recovery needs root. From Windows, run:\n  ${RECOVERY_COMMAND}`;
  }
  return null;
}

function isNixosRoot(root: string): boolean {
  try {
    return existsSync(hostPath(root, resolveInRoot(root, `/${NIXOS_MARKER}`)));
  } catch {
    return false;
  }
}

export async function runRecovery(args: readonly string[]): Promise<number> {
  let request: RecoveryRequest;
  try {
    request = parseRecoveryArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`${error.message}\nRun 'nixos-wsl-recovery --help' for usage.`);
    return EXIT_USAGE;
  }
  if (request.action === "help") {
    process.stdout.write(`${request.text}\n`);
    return EXIT_OK;
  }

  const refused = refusal();
  if (refused !== null) {
    say(refused);
    return EXIT_REFUSED;
  }
  const root = resolve(request.root);
  if (!isNixosRoot(root)) {
    const hint = root === SYSTEM_DISTRO_MOUNT ? " WSL mounts the distro there when started with --system; is this the system distribution?" : "";
    say(`${root} is not a NixOS installation (it has no ${NIXOS_MARKER}).${hint}`);
    return EXIT_NOT_NIXOS;
  }

  try {
    switch (request.action) {
      case "doctor":
        return (await import("../shim/doctor/doctor.ts")).runOfflineDoctor(root, request.json);
      case "list": {
        const generations = listGenerations(root);
        const { state, warning } = readBootState(root);
        if (warning) say(`warning: ${warning}`);
        process.stdout.write(request.json ? generationsJson(generations, state) : `${formatGenerationTable(root, generations, state)}\n`);
        return EXIT_OK;
      }
      case "rollback":
        return await runRollback(root, request);
      case "boot-once":
        return await runBootOnce(root, request);
      case "enter":
        return await runEnter(root, request);
    }
  } catch (error) {
    if (!(error instanceof SelectionError) && !(error instanceof StepError)) throw error;
    say(error.message);
    return EXIT_FAILURE;
  }
}

/**
 * Make ROOT writable, do one short change, make it read-only again. A signal
 * meanwhile waits until ROOT is read-only again; the change, made in full or
 * not at all, is reported either way, and the exit code is then 128 + the signal.
 */
async function whileWritable<T>(root: string, change: () => T): Promise<{ result: T; interrupted: number | null }> {
  const endings = Endings.catch({ interrupts: "end" });
  let result: T;
  let interrupted: number | null;
  try {
    // The distro is made writable in a private mount namespace, so the caller's mounts stay as they were.
    privateMountNamespace();
    const writable = makeWritable(root);
    try {
      result = change();
    } finally {
      const warning = writable.restore();
      if (warning) say(`warning: ${warning}`);
    }
  } finally {
    interrupted = await endings.stop();
    if (interrupted !== null) say(`interrupted by ${endings.caught}: stopped only once the change was done (or failed) and the distro as writable as before, so that nothing is left half-done`);
  }
  return { result, interrupted };
}

async function runRollback(root: string, request: Extract<RecoveryRequest, { action: "rollback" }>): Promise<number> {
  const generation = selectGeneration(root, request.generation);
  const { result, interrupted } = await whileWritable(root, () => rollback(root, generation));
  if (!result.changed) {
    process.stdout.write(`generation ${generation.number} is already the default (system -> ${result.newTarget})\n`);
  } else {
    process.stdout.write(
      `default system: ${result.previousTarget ?? "(none)"} -> ${result.newTarget} (${generation.storePath})\n` +
        "It boots at the next start of the distro (wsl --terminate NixOS first if it is running). No generation was deleted.\n",
    );
  }
  return interrupted ?? EXIT_OK;
}

async function runBootOnce(root: string, request: Extract<RecoveryRequest, { action: "boot-once" }>): Promise<number> {
  const generation = selectGeneration(root, request.generation);
  const problem = bootProblem(root, generation);
  if (problem !== null) throw new SelectionError(`${describeGeneration(root, generation)} cannot boot, so it is not booted once: ${problem}`);
  // Under the boot state's lock, which the distro's own writers take too (flock works across PID namespaces).
  const { result, interrupted } = await whileWritable(root, () => updateBootState(root, (state) => setBootOnce(state, generation)));
  if (result.kind === "failed") {
    say(`writing ${BOOT_STATE} in ${root}: ${result.problem}. Nothing was changed: run it again once that is fixed.`);
    return interrupted ?? EXIT_FAILURE;
  }
  if (result.warning) say(`warning: ${result.warning}`);
  const name = generation.number === null ? generation.link : `generation ${generation.number}`;
  process.stdout.write(
    `the next start boots ${name} (${generation.storePath}) once; the start after it boots the default again.\n` +
      "Start the distro now with: wsl --terminate NixOS, then wsl -d NixOS. The default was not changed.\n",
  );
  return interrupted ?? EXIT_OK;
}

async function runEnter(root: string, request: Extract<RecoveryRequest, { action: "enter" }>): Promise<number> {
  const generation = selectGeneration(root, request.generation);
  const label = generation.number === null ? generation.link : `generation ${generation.number}`;
  if (!request.silent) say(`entering ${describeGeneration(root, generation)}; leave with 'exit', nothing stays mounted`);
  return enterGeneration({
    root,
    system: generation.storePath,
    label,
    argv: commandArgv(generation.storePath, request.command),
    env: chrootEnv(generation.storePath, process.env),
    silent: request.silent,
  });
}
