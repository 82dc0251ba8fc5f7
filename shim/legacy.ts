// Legacy mode, for WSL releases that never start systemd: this executable is
// root's login shell (syschdemd). It starts one systemd as PID 1 of its own
// namespaces (or finds the one already running), then runs the default user's
// shell inside them, passing stdin, stdout, stderr and the exit code through.
//
// One systemd at most: shells queue on a lock; systemd is recorded as soon as
// its PID is known; a shell interrupted (SIGHUP, SIGINT, SIGTERM) while
// systemd starts leaves it starting, recorded, for the next shell to wait for;
// and a record that is missing or damaged is made good from /proc.
import { closeSync, constants, existsSync, openSync, readFileSync, realpathSync, statSync, writeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { loadSettings, type Settings } from "../src/config.ts";
import { EXIT_FAILURE, EXIT_REFUSED, EXIT_USAGE } from "../src/exitCodes.ts";
import { chooseBootGeneration, type Generation } from "../src/generations.ts";
import { execve, lockExclusive, tryLockExclusive } from "../src/libc.ts";
import { openKernelLog } from "../src/log.ts";
import { type PasswdEntry, readGroups, readPasswd } from "../src/passwd.ts";
import { CONFIG_FILE, RECOVERY_COMMAND, STATE_DIR } from "../src/paths.ts";
import { describeFailure, errorCode, inStep, StepError } from "../src/stepError.ts";
import { findTool } from "../src/tools.ts";
import { bindStoreReadOnly, runActivation } from "./activation.ts";
import { type CgroupPlan, currentCgroupPlan } from "./legacyCgroup.ts";
import { canEnter, INSIDE_MARKER, parseLegacyArgs, realShell, shellArgv, shellEnv, workingDirectory } from "./legacyPlan.ts";
import {
  clearState,
  currentBootId,
  ensureStateDir,
  isAlive,
  LEGACY_LOCK,
  LEGACY_STATE,
  type LegacyState,
  readActivity,
  readState,
  recordActivity,
  SYSTEMD_LOG,
  writeState,
} from "./legacyState.ts";
import {
  findStartedSystemds,
  findSystemdTools,
  type Interruption,
  type Readiness,
  spawnSystemd,
  type SystemdProcess,
  type SystemdTools,
  waitUntilRunning,
} from "./legacySystemd.ts";

const USAGE = "Usage: syschdemd [-c COMMAND]   (or: nixos-wsl-init legacy [-c COMMAND])";

const HELP = `${USAGE}

Legacy mode, for WSL without systemd support: root's login shell. Starts one
systemd as PID 1 of its own namespaces (or finds the running one), then runs the
login shell of the user named in /etc/nixos-wsl-init.json inside them, or that
shell with -c COMMAND. Exit code, stdin and stdout are the shell's.
State and systemd's output: /run/nixos-wsl/ (legacy.json, ns/, systemd.log).`;

/** A queued shell says what it waits for only when the wait is more than a holder's quick look at the record. */
const QUIET_WAIT_MS = 250;
/** A systemd found still starting gets at least this long to answer, even past its deadline. */
const ADOPT_GRACE_MS = 3000;

const FROM_WINDOWS = `from Windows with: ${RECOVERY_COMMAND}`;
const REPAIR = `Repair the system ${FROM_WINDOWS}`;

/** To stderr, synchronously, and never failing: after SIGHUP the terminal may be gone. */
function say(message: string): void {
  try {
    writeSync(2, `nixos-wsl-init: ${message}\n`);
  } catch {
    // nobody to tell
  }
}

function isThisProgram(path: string): boolean {
  try {
    return realpathSync(path) === realpathSync(process.execPath);
  } catch {
    return false; // a shell that cannot be resolved is not this program
  }
}

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

function defaultUser(settings: Settings): PasswdEntry {
  const users = inStep("reading the user database /etc/passwd", () => readPasswd(), () => REPAIR);
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

/**
 * Take the lock that makes shells share one systemd (its fd; closing it lets go).
 * A shell queued behind another says once what it waits for.
 */
async function takeLock(): Promise<number> {
  inStep(`preparing ${STATE_DIR}`, ensureStateDir, () => "/run must be a writable tmpfs, as WSL mounts it.");
  const lockStep = `taking the lock ${LEGACY_LOCK}`;
  const lockFd = inStep(lockStep, () => openSync(LEGACY_LOCK, constants.O_RDWR | constants.O_CREAT, 0o600));
  if (inStep(lockStep, () => tryLockExclusive(lockFd, LEGACY_LOCK))) return lockFd;
  const quietUntil = Date.now() + QUIET_WAIT_MS;
  while (Date.now() < quietUntil) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (inStep(lockStep, () => tryLockExclusive(lockFd, LEGACY_LOCK))) return lockFd;
  }
  const holder = readActivity();
  say(holder ? `waiting for another shell (PID ${holder.pid}) that is ${holder.activity} ...` : `waiting for another shell that holds ${LEGACY_LOCK} ...`);
  // Blocking, with the default signal actions: a queued shell holds nothing, so a signal may simply end it.
  inStep(lockStep, () => lockExclusive(lockFd, LEGACY_LOCK));
  return lockFd;
}

const SIGNALS = ["SIGHUP", "SIGINT", "SIGTERM"] as const;

/** Catch SIGHUP, SIGINT and SIGTERM until stop(): each step decides when to act on them. */
function catchInterruptions(): Interruption & { stop(): void } {
  let resolve!: (signal: NodeJS.Signals) => void;
  const caught = {
    signal: null as NodeJS.Signals | null,
    happened: new Promise<NodeJS.Signals>((r) => {
      resolve = r;
    }),
    stop: () => {
      for (const signal of SIGNALS) process.off(signal, handler);
    },
  };
  const handler = (signal: NodeJS.Signals) => {
    if (caught.signal !== null) return;
    caught.signal = signal;
    resolve(signal);
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return caught;
}

function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/** The running systemd (found, waited for, or started), or the exit code when there is none to enter. */
async function ensureSystemd(settings: Settings): Promise<LegacyState | number> {
  const lockFd = await takeLock();
  const interruption = catchInterruptions();
  const doing = (activity: string) => inStep(`writing to the lock ${LEGACY_LOCK}`, () => recordActivity(lockFd, activity));
  try {
    doing("checking for a running systemd");
    const cgroup = inStep("reading the cgroup layout (/proc/self/mountinfo)", currentCgroupPlan);
    const known = inStep("looking for a running systemd", () => findRunning(cgroup));
    if (known?.phase === "running") return known;
    if (known) {
      doing(`waiting for systemd (PID ${known.pid}) to be running`);
      return await untilRunning(known, findSystemdTools(known.system), settings, interruption);
    }
    return await startSystemd(settings, cgroup, interruption, doing);
  } finally {
    interruption.stop();
    closeSync(lockFd);
  }
}

/** The systemd that runs, from the record, else from /proc; null when none does. A found one is recorded again. */
function findRunning(cgroup: CgroupPlan | null): LegacyState | null {
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
  cgroup: CgroupPlan | null,
  interruption: Interruption,
  doing: (activity: string) => void,
): Promise<LegacyState | number> {
  const choice = inStep("choosing the generation to boot", () => chooseBootGeneration("/"), () => REPAIR);
  if (choice.kind === "none") {
    throw new StepError("choosing the generation to boot", `no bootable NixOS generation:\n${choice.reasons.map((r) => `  - ${r}`).join("\n")}`, REPAIR);
  }
  const { generation } = choice;
  if (choice.kind === "fallback") say(`the default generation cannot boot (${choice.reason}); starting ${generation.link}`);
  // Before anything changes: a missing tool stops here, not half-way.
  const tools = findSystemdTools(generation.storePath);

  if (interruption.signal) return interrupted(interruption.signal, "before systemd was started: nothing was started");
  if (!existsSync("/run/current-system")) {
    doing(`activating the system (${generation.storePath}/activate)`);
    await activate(generation, settings);
    // The activation was left to finish: one cut short would be run again, half-done, by the next shell.
    if (interruption.signal) return interrupted(interruption.signal, "while activating: the activation finished, systemd was not started");
  }

  doing("starting systemd");
  const started = await spawnSystemd(tools, cgroup).catch((error: unknown) => {
    throw new StepError("starting systemd", error, `Its output: ${SYSTEMD_LOG}. ${REPAIR}`);
  });
  if (!started.ok) return failed(started.reason, started.output);
  // Recorded at once, before the wait in which this shell may be interrupted.
  const state = recordSystemd(started.systemd, generation.storePath, "starting");
  doing(`starting systemd (PID ${state.pid})`);
  return untilRunning(state, tools, settings, interruption, started.systemd);
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
  if (activation.exitCode !== 0) say(`the activation script failed (${activation.error ?? `status ${activation.exitCode ?? activation.signal}`}); going on, see dmesg`);
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
  const readiness: Readiness = await waitUntilRunning(tools, systemd, deadline, settings.readinessTimeoutSeconds, interruption).catch((error: unknown) => {
    throw new StepError(`waiting for systemd (PID ${state.pid}) to be running`, error, `Its output: ${SYSTEMD_LOG}.`);
  });
  switch (readiness.kind) {
    case "running":
      return recordSystemd(systemd, state.system, "running");
    case "interrupted":
      return interrupted(readiness.signal, `while systemd (PID ${state.pid}) was starting: it goes on starting, recorded in ${LEGACY_STATE}, and the next shell waits for it`);
    case "failed":
      inStep(`clearing ${LEGACY_STATE}`, clearState);
      return failed(readiness.reason, readiness.output);
  }
}

function interrupted(signal: NodeJS.Signals, what: string): number {
  say(`interrupted by ${signal} ${what}`);
  return exitCodeFor(signal);
}

function failed(reason: string, output: string): number {
  const printed = output.trim();
  say(
    `starting systemd: ${reason}.\n${printed ? `systemd printed:\n${tail(printed, 40)}` : "systemd printed nothing."}\n` +
      `Full output: ${SYSTEMD_LOG}. Open a new shell to try again; if it fails the same way, boot an older generation ${FROM_WINDOWS}`,
  );
  return EXIT_FAILURE;
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Become nsenter: into systemd's namespaces, as the user, in the working directory, running the shell. */
function enterSystemd(state: LegacyState, settings: Settings, user: PasswdEntry, command: string | null): number {
  const step = `entering systemd's namespaces (PID ${state.pid})`;
  const nsenter = findTool("nsenter");
  const setpriv = findTool("setpriv");
  if (nsenter === null || (user.uid !== 0 && setpriv === null)) {
    throw new StepError(step, "cannot find nsenter and setpriv (util-linux)", `They belong in /run/current-system/sw/bin. ${REPAIR}`);
  }
  const shell = realShell(user, isThisProgram);
  const groups = user.uid === 0 ? [] : inStep("reading the group database /etc/group", () => readGroups(), () => REPAIR).filter((g) => g.members.includes(user.name)).map((g) => g.gid);
  const cwd = workingDirectory(currentDirectory(user), user, rootEnterable(user, groups));
  const argv = [
    nsenter,
    "--target",
    String(state.pid),
    "--mount",
    "--pid",
    ...(state.cgroupNamespace ? ["--cgroup"] : []),
    // systemd's root, and the directory looked up there: one opened here would be outside that namespace.
    "--root",
    `--wdns=${cwd}`,
    "--",
    ...(user.uid === 0 ? [] : [setpriv!, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--"]),
    ...shellArgv(shell, command),
  ];
  inStep(step, () => execve(nsenter, argv, shellEnv(process.env, user, shell, settings.automountRoot)), () => REPAIR);
  return EXIT_FAILURE;
}

/** The working directory, or the user's home when it was removed under the caller. */
function currentDirectory(user: PasswdEntry): string {
  try {
    return process.cwd();
  } catch {
    return user.home;
  }
}

function rootEnterable(user: PasswdEntry, groups: readonly number[]): boolean {
  try {
    return canEnter(user, statSync("/root"), groups);
  } catch {
    return false; // /root unreadable: start in the user's home instead
  }
}

/** Inside already (a shell of a shell, sudo -i): just the shell, never a second systemd. */
function runShellHere(command: string | null): number {
  const uid = process.getuid?.() ?? 0;
  const user = inStep("reading the user database /etc/passwd", () => readPasswd(), () => REPAIR).find((entry) => entry.uid === uid);
  const shell = user ? realShell(user, isThisProgram) : "/bin/sh";
  inStep(`running the shell ${shell}`, () => execve(shell, shellArgv(shell, command), { ...process.env, [INSIDE_MARKER]: "1" }), () => REPAIR);
  return EXIT_FAILURE;
}
