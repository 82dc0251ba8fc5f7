// Legacy mode, for WSL releases that never start systemd: this executable is
// root's login shell (syschdemd). It starts one systemd as PID 1 of its own
// namespaces (or finds the one already running), then runs the default user's
// shell inside them, passing stdin, stdout, stderr and the exit code through.
//
// One systemd at most: shells queue on a lock; systemd is recorded as soon as
// its PID is known; a shell interrupted (SIGHUP, SIGINT, SIGTERM) while
// systemd starts leaves it starting, recorded, for the next shell to wait for;
// and a record that is missing or damaged is made good from /proc.
import { closeSync, readFileSync, realpathSync } from "node:fs";
import { loadSettings, type Settings } from "../../src/config.ts";
import { EXIT_FAILURE, EXIT_REFUSED, EXIT_USAGE } from "../../src/exitCodes.ts";
import { afterPendingSignals } from "../../src/pendingSignals.ts";
import { exitCodeFor } from "../../src/exitStatus.ts";
import { type Generation } from "../../src/generations.ts";
import { openKernelLog } from "../../src/log.ts";
import { CONFIG_FILE, RECOVERY_COMMAND, REPAIR_FROM_WINDOWS, STATE_DIR } from "../../src/paths.ts";
import { sayAs } from "../../src/say.ts";
import { describeFailure, errorCode, inStep, StepError } from "../../src/stepError.ts";
import { runActivation } from "../boot/activation.ts";
import { chooseGeneration } from "../boot/chooseGeneration.ts";
import { describeActivation } from "../boot/activationResult.ts";
import { bindStoreReadOnly } from "../boot/readOnlyStore.ts";
import { currentLegacyCgroup, type LegacyCgroup } from "./cgroup.ts";
import { enterSystemd, runShellHere } from "./enterShell.ts";
import { catchInterruptions } from "./interruptions.ts";
import { takeLock } from "./lock.ts";
import { shutdownSystemd } from "./shutdown.ts";
import { type PasswdEntry, readPasswd } from "./passwd.ts";
import { INSIDE_MARKER, parseLegacyArgs } from "./shellRules.ts";
import {
  clearState,
  currentBootId,
  isAlive,
  LEGACY_LOCK,
  LEGACY_STATE,
  type LegacyState,
  readState,
  recordActivity,
  SYSTEMD_LOG,
  writeState,
} from "./state.ts";
import {
  findStartedSystemds,
  findSystemdTools,
  type Interruption,
  type Readiness,
  spawnSystemd,
  type SystemdProcess,
  type SystemdTools,
  waitUntilRunning,
} from "./systemdProcess.ts";

const USAGE = "Usage: syschdemd [-c COMMAND | --shutdown]   (or: nixos-wsl-init legacy [-c COMMAND | --shutdown])";

const HELP = `${USAGE}

Legacy mode, for WSL without systemd support: root's login shell. Starts one
systemd as PID 1 of its own namespaces (or finds the running one), then runs the
login shell of the user named in /etc/nixos-wsl-init.json inside them, or that
shell with -c COMMAND. Exit code, stdin and stdout are the shell's. Each shell
is a logind session (PAM service nixos-wsl-init): loginctl lists it, and
XDG_RUNTIME_DIR and systemctl --user work; it ends with the shell. Without
that service it says why and opens the shell anyway (loginSession = false in
/etc/nixos-wsl-init.json, wsl.init.legacy.loginSession, turns sessions off).
It waits for the whole start (systemctl is-system-running), or only for the
unit named by waitFor in /etc/nixos-wsl-init.json (wsl.init.legacy.waitFor).
State and systemd's output: /run/nixos-wsl/ (legacy.json, ns/, systemd.log).

--shutdown   stop that systemd: systemctl poweroff inside its namespaces,
             SIGKILL when it has not ended within 30 s (or the readiness
             timeout, if shorter), then clear its record; the next shell
             starts a new one. Run it as root outside systemd's namespaces:
             from Windows, wsl -d NixOS --exec SYSCHDEMD --shutdown, where
             SYSCHDEMD is root's shell (getent passwd root | cut -d: -f7).
             Exit 0: stopped, or nothing was running (it says which);
             1: failed; 3: not root, or run from inside systemd's namespaces.`;

/** A systemd found still starting gets at least this long to answer, even past its deadline. */
const ADOPT_GRACE_MS = 3000;


const say = sayAs("nixos-wsl-init");

/** Already in systemd's namespaces: the marker we set, or systemd itself as PID 1 (the marker may not survive sudo). */
function isInside(): boolean {
  if (process.env[INSIDE_MARKER] === "1") return true;
  try {
    return readFileSync("/proc/1/comm", "utf8").trim() === "systemd";
  } catch {
    return false; // no /proc/1/comm to read: not inside systemd's namespaces
  }
}

export async function runLegacy(_argv0: string, args: readonly string[]): Promise<number> {
  const parsed = parseLegacyArgs(args);
  if ("help" in parsed) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if ("usageError" in parsed) {
    say(`${parsed.usageError}\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    if ("shutdown" in parsed) return await shutdown();
    if (isInside()) return runShellHere(parsed.command);
    if (process.geteuid?.() !== 0) {
      say(
        "legacy mode starts systemd, so it must run as root: make root the WSL default user\n" +
          '(in /etc/wsl.conf, [user] default=root; the NixOS module does this with wsl.init.mode = "legacy").\n' +
          "It then opens the shell of the user named in /etc/nixos-wsl-init.json.",
      );
      return EXIT_REFUSED;
    }
    const settings = inStep("reading the settings", loadSettings, () => `Fix ${CONFIG_FILE} (the NixOS module writes it: rebuild), or remove it for the defaults.`);
    const user = defaultUser(settings);
    const systemd = await ensureSystemd(settings);
    if (typeof systemd === "number") return systemd;
    return enterSystemd(systemd, settings, user, parsed.command);
  } catch (error) {
    say(describeFailure(error));
    return EXIT_FAILURE;
  }
}

/** --shutdown: only as root, and from outside (inside, stopping systemd would end this very process half-way). */
async function shutdown(): Promise<number> {
  if (isInside()) {
    say(
      "--shutdown stops systemd from outside its namespaces, and this process runs inside them. " +
        `Run it from Windows: wsl -d NixOS --user root --exec ${rootShell()} --shutdown; ` +
        "or, from here, sudo systemctl poweroff (the next shell then starts a new systemd).",
    );
    return EXIT_REFUSED;
  }
  if (process.geteuid?.() !== 0) {
    say("--shutdown stops the systemd legacy mode started, so it must run as root (sudo, or wsl --user root).");
    return EXIT_REFUSED;
  }
  const settings = inStep("reading the settings", loadSettings, () => `Fix ${CONFIG_FILE} (the NixOS module writes it: rebuild), or remove it for the defaults.`);
  return shutdownSystemd(settings, say);
}

/** Root's login shell (syschdemd), for the command line that runs --shutdown from Windows. */
function rootShell(): string {
  try {
    return readPasswd().find((entry) => entry.uid === 0)?.shell ?? "SYSCHDEMD";
  } catch {
    return "SYSCHDEMD"; // only for a hint: a placeholder will do
  }
}

function defaultUser(settings: Settings): PasswdEntry {
  const users = inStep("reading the user database /etc/passwd", () => readPasswd(), () => REPAIR_FROM_WINDOWS);
  const found = users.find((entry) => entry.name === settings.defaultUser);
  if (!found) {
    throw new StepError(
      "choosing the user",
      `the default user "${settings.defaultUser}" (from ${CONFIG_FILE}) does not exist in /etc/passwd`,
      "Set wsl.init.defaultUser to an existing user and rebuild.",
    );
  }
  return found;
}

/** The running systemd (found, waited for, or started), or the exit code when there is none to enter. */
async function ensureSystemd(settings: Settings): Promise<LegacyState | number> {
  const lockFd = await takeLock(say);
  const interruption = catchInterruptions();
  const doing = (activity: string) => inStep(`writing to the lock ${LEGACY_LOCK}`, () => recordActivity(lockFd, activity));
  try {
    const found = await findOrStart(settings, interruption, doing);
    // A signal during the last synchronous steps: then no shell enters.
    await afterPendingSignals();
    if (typeof found !== "number" && interruption.signal) return interrupted(interruption.signal, "before the shell entered: systemd runs on");
    return found;
  } finally {
    interruption.stop();
    closeSync(lockFd);
  }
}

async function findOrStart(settings: Settings, interruption: Interruption, doing: (activity: string) => void): Promise<LegacyState | number> {
  doing("checking for a running systemd");
  const cgroup = inStep("reading the cgroup layout (/proc/self/mountinfo)", currentLegacyCgroup);
  const known = inStep("looking for a running systemd", () => findRunning(cgroup));
  if (known?.phase === "running") return known;
  if (known) {
    doing(`waiting for systemd (PID ${known.pid}) to be running`);
    return await untilRunning(known, findSystemdTools(known.system), settings, interruption);
  }
  return await startSystemd(settings, cgroup, interruption, doing);
}

/** The systemd that runs, from the record, else from /proc; null when none does. A found one is recorded again. */
function findRunning(cgroup: LegacyCgroup | null): LegacyState | null {
  const record = inStep(`reading ${LEGACY_STATE}`, readState, (cause) =>
    errorCode(cause) === "EACCES" ? "Only root may read it." : `Remove it (rm -r ${LEGACY_STATE}) and open a new shell.`,
  );
  let lost = "";
  if (record.kind === "valid") {
    if (isAlive(record.state)) {
      if (record.state.phase === "starting") say(`systemd (PID ${record.state.pid}) was started by a shell that ended before it was running; waiting for it`);
      return record.state;
    }
    lost = `the systemd recorded in ${STATE_DIR} (PID ${record.state.pid}) is gone`;
  } else if (record.kind === "invalid") {
    lost = `${LEGACY_STATE} is damaged (${record.problem})`;
  }
  const found = inStep("looking for a running systemd in /proc", () => findStartedSystemds(cgroup));
  const [oldest, ...others] = found;
  if (oldest === undefined) {
    if (lost) say(`${lost}; starting a new one`);
    inStep(`clearing ${LEGACY_STATE}`, clearState);
    return null;
  }
  say(`${lost || `${LEGACY_STATE} is missing`}, but systemd (PID ${oldest.pid}) started by legacy mode runs: recording it again`);
  if (others.length > 0) {
    say(`more systemds started by legacy mode run (PIDs ${others.map((s) => s.pid).join(", ")}); stop them with: kill ${others.map((s) => s.pid).join(" ")}`);
  }
  // "starting" until systemctl says otherwise: it answers at once for one that runs.
  return recordSystemd(oldest, oldest.system, "starting");
}

/** Write down a systemd, with links to its namespaces: whatever happens to this shell next, the next one finds it. */
function recordSystemd(systemd: SystemdProcess, system: string, phase: LegacyState["phase"]): LegacyState {
  return inStep(`recording systemd (PID ${systemd.pid}) in ${LEGACY_STATE}`, () => {
    const state: LegacyState = {
      pid: systemd.pid,
      startTime: systemd.startTime,
      bootId: currentBootId(),
      cgroupNamespace: systemd.cgroupNamespace,
      system,
      startedAt: new Date(systemd.startedMs).toISOString(),
      phase,
    };
    writeState(state);
    return state;
  });
}

/** Activate if this WSL start has not yet, then start systemd, record it, and wait for it. */
async function startSystemd(
  settings: Settings,
  cgroup: LegacyCgroup | null,
  interruption: Interruption,
  doing: (activity: string) => void,
): Promise<LegacyState | number> {
  // Boot assessment as the native shim does it, by the same code: counted starts, fallback, one-time boots.
  const choice = inStep(
    "choosing the generation to boot",
    () => chooseGeneration(settings.bootAttempts, { info: say, warn: (message) => say(`warning: ${message}`), error: say }),
    () => REPAIR_FROM_WINDOWS,
  );
  if (choice.decision.kind === "none") {
    choice.abandon();
    throw new StepError("choosing the generation to boot", `no bootable NixOS generation:\n${choice.decision.reasons.map((r) => `  - ${r}`).join("\n")}`, REPAIR_FROM_WINDOWS);
  }
  const { generation } = choice.decision;
  // A signal so far: then nothing has changed, not even the count of starts.
  await afterPendingSignals();
  if (interruption.signal) {
    choice.abandon();
    return interrupted(interruption.signal, "before systemd was started: nothing was started");
  }
  choice.count();
  // Before anything changes: a missing tool stops here, not half-way.
  const tools = findSystemdTools(generation.storePath);

  // Activated once per WSL start, and again when the generation chosen is not the one activated (a fallback).
  if (activatedSystem() !== generation.storePath) {
    doing(`activating the system (${generation.storePath}/activate)`);
    await activate(generation, settings);
    // The activation was left to finish: one cut short would be run again, half-done, by the next shell.
    if (interruption.signal) return interrupted(interruption.signal, "while activating: the activation finished, systemd was not started");
  }

  doing("starting systemd");
  const started = await spawnSystemd(tools, cgroup).catch((error: unknown) => {
    throw new StepError("starting systemd", error, `Its output: ${SYSTEMD_LOG}. ${REPAIR_FROM_WINDOWS}`);
  });
  if (!started.ok) return failed(started.reason, started.output);
  // Recorded at once, before the wait in which this shell may be interrupted.
  const state = recordSystemd(started.systemd, generation.storePath, "starting");
  doing(`starting systemd (PID ${state.pid})`);
  return untilRunning(state, tools, settings, interruption, started.systemd);
}

/** The system /run/current-system points at, or null before the first activation of this WSL start. */
function activatedSystem(): string | null {
  try {
    return realpathSync("/run/current-system");
  } catch {
    return null; // not activated yet (or its target is gone: activate again)
  }
}

async function activate(generation: Generation, settings: Settings): Promise<void> {
  const log = openKernelLog();
  try {
    bindStoreReadOnly();
  } catch (error) {
    log.error(`binding /nix/store read-only failed: ${(error as Error).message}; activating with a writable store`);
  }
  const activation = await runActivation(generation, log, settings.activationTimeoutSeconds);
  log.close();
  if (activation.exitCode !== 0) say(`the activation ${describeActivation(activation)}`);
}

/** Wait for a recorded systemd; mark it running, or forget it when it failed. */
async function untilRunning(
  state: LegacyState,
  tools: SystemdTools,
  settings: Settings,
  interruption: Interruption,
  spawned?: SystemdProcess,
): Promise<LegacyState | number> {
  const startedMs = Date.parse(state.startedAt);
  const systemd: SystemdProcess = spawned ?? { pid: state.pid, startTime: state.startTime, startedMs, cgroupNamespace: state.cgroupNamespace };
  const timeoutMs = settings.readinessTimeoutSeconds * 1000;
  // The timeout counts from systemd's start, whichever shell started it; one found late still gets to answer.
  const deadline = spawned ? startedMs + timeoutMs : Math.max(startedMs + timeoutMs, Date.now() + ADOPT_GRACE_MS);
  const readiness: Readiness = await waitUntilRunning(tools, systemd, deadline, settings.readinessTimeoutSeconds, interruption, settings.waitFor).catch((error: unknown) => {
    throw new StepError(`waiting for systemd (PID ${state.pid}) to be running`, error, `Its output: ${SYSTEMD_LOG}.`);
  });
  switch (readiness.kind) {
    case "running":
      if (readiness.warning) say(`warning: ${readiness.warning}`);
      return recordSystemd(systemd, state.system, "running");
    case "interrupted":
      return interrupted(readiness.signal, `while systemd (PID ${state.pid}) was starting: it goes on starting, recorded in ${LEGACY_STATE}, and the next shell waits for it`);
    case "failed":
      inStep(`clearing ${LEGACY_STATE}`, clearState);
      return failed(readiness.reason, readiness.output, readiness.unfinished);
  }
}

function interrupted(signal: NodeJS.Signals, what: string): number {
  say(`interrupted by ${signal} ${what}`);
  return exitCodeFor(signal);
}

function failed(reason: string, output: string, unfinished = ""): number {
  const printed = output.trim();
  say(
    `starting systemd: ${reason}.\n${unfinished ? `${unfinished}\n` : ""}${printed ? `systemd printed:\n${tail(printed, 40)}` : "systemd printed nothing."}\n` +
      `Full output: ${SYSTEMD_LOG}. Open a new shell to try again; if it fails the same way, boot an older generation from Windows with: ${RECOVERY_COMMAND}`,
  );
  return EXIT_FAILURE;
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

