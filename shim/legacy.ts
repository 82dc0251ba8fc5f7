// Legacy mode, for WSL releases that never start systemd: this executable is
// root's login shell (syschdemd). It starts one systemd as PID 1 of its own
// namespaces (or finds the one already running), then runs the default user's
// shell inside them, passing stdin, stdout, stderr and the exit code through.
import { closeSync, existsSync, openSync, readFileSync, realpathSync, statSync } from "node:fs";
import { ConfigError, loadSettings, type Settings } from "../src/config.ts";
import { EXIT_FAILURE, EXIT_REFUSED, EXIT_USAGE } from "../src/exitCodes.ts";
import { chooseBootGeneration } from "../src/generations.ts";
import { execve, lockExclusive } from "../src/libc.ts";
import { openKernelLog } from "../src/log.ts";
import { type PasswdEntry, readGroups, readPasswd } from "../src/passwd.ts";
import { CONFIG_FILE, RECOVERY_COMMAND, SYSTEMD_BINARY } from "../src/paths.ts";
import { findTool } from "../src/tools.ts";
import { bindStoreReadOnly, runActivation } from "./activation.ts";
import { canEnter, INSIDE_MARKER, parseLegacyArgs, realShell, shellArgv, shellEnv, workingDirectory } from "./legacyPlan.ts";
import { clearState, currentBootId, ensureStateDir, isAlive, LEGACY_LOCK, type LegacyState, processStartTime, readState, writeState } from "./legacyState.ts";
import { startSystemd, type SystemdTools } from "./legacySystemd.ts";

const USAGE = "Usage: syschdemd [-c COMMAND]   (or: nixos-wsl-init legacy [-c COMMAND])";

const HELP = `${USAGE}

Legacy mode, for WSL without systemd support: root's login shell. Starts one
systemd as PID 1 of its own namespaces (or finds the running one), then runs the
login shell of the user named in /etc/nixos-wsl-init.json inside them, or that
shell with -c COMMAND. Exit code, stdin and stdout are the shell's.
State and systemd's output: /run/nixos-wsl/ (legacy.json, ns/, systemd.log).`;

function say(message: string): void {
  process.stderr.write(`nixos-wsl-init: ${message}\n`);
}

function isThisProgram(path: string): boolean {
  try {
    return realpathSync(path) === realpathSync(process.execPath);
  } catch {
    return false;
  }
}

/** Already in systemd's namespaces: the marker we set, or systemd itself as PID 1 (the marker may not survive sudo). */
function isInside(): boolean {
  if (process.env[INSIDE_MARKER] === "1") return true;
  try {
    return readFileSync("/proc/1/comm", "utf8").trim() === "systemd";
  } catch {
    return false;
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
  if (isInside()) return runShellHere(parsed.command);

  if (process.geteuid?.() !== 0) {
    say(
      "legacy mode starts systemd, so it must run as root: make root the WSL default user\n" +
        '(in /etc/wsl.conf, [user] default=root; the NixOS module does this with wsl.init.mode = "legacy").\n' +
        "It then opens the shell of the user named in /etc/nixos-wsl-init.json.",
    );
    return EXIT_REFUSED;
  }

  let settings: Settings;
  let user: PasswdEntry;
  try {
    settings = loadSettings();
    const found = readPasswd().find((entry) => entry.name === settings.defaultUser);
    if (!found) {
      say(`the default user "${settings.defaultUser}" (from ${CONFIG_FILE}) does not exist in /etc/passwd; set wsl.init.defaultUser to an existing user`);
      return EXIT_FAILURE;
    }
    user = found;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    say(error.message);
    return EXIT_FAILURE;
  }

  ensureStateDir();
  // Shells started together queue here, so that only the first starts systemd.
  const lockFd = openSync(LEGACY_LOCK, "w", 0o600);
  lockExclusive(lockFd, LEGACY_LOCK);
  let state = readState();
  if (state !== null && !isAlive(state)) {
    say(`the systemd recorded in /run/nixos-wsl (PID ${state.pid}) is gone; starting a new one`);
    clearState();
    state = null;
  }
  if (state === null) {
    const started = await bootSystemd(settings);
    if (started === null) {
      closeSync(lockFd);
      return EXIT_FAILURE;
    }
    state = started;
  }
  closeSync(lockFd);
  return enterSystemd(state, settings, user, parsed.command);
}

/** Activate if this WSL start has not yet, then start systemd and record it. Null when it failed (and was said). */
async function bootSystemd(settings: Settings): Promise<LegacyState | null> {
  const choice = chooseBootGeneration("/");
  if (choice.kind === "none") {
    say(`no bootable NixOS generation:\n${choice.reasons.map((r) => `  - ${r}`).join("\n")}\nRepair it from Windows with: ${RECOVERY_COMMAND}`);
    return null;
  }
  const { generation } = choice;
  if (choice.kind === "fallback") say(`the default generation cannot boot (${choice.reason}); starting ${generation.link}`);

  if (!existsSync("/run/current-system")) {
    const log = openKernelLog();
    try {
      bindStoreReadOnly();
    } catch (error) {
      log.error(`binding /nix/store read-only failed: ${(error as Error).message}`);
    }
    const activation = await runActivation(generation, log, settings.activationTimeoutSeconds);
    log.close();
    if (activation.exitCode !== 0) say(`the activation script failed (${activation.error ?? `status ${activation.exitCode ?? activation.signal}`}); going on, see dmesg`);
  }

  const tools = systemdTools(generation.storePath);
  if (typeof tools === "string") {
    say(tools);
    return null;
  }
  const result = await startSystemd(tools, settings.readinessTimeoutSeconds * 1000);
  if (!result.ok) {
    clearState();
    const output = result.output.trim();
    say(`${result.reason}.\n${output ? `systemd printed:\n${tail(output, 40)}` : "systemd printed nothing."}\nFull output: /run/nixos-wsl/systemd.log`);
    return null;
  }
  const state: LegacyState = {
    pid: result.pid,
    startTime: processStartTime(result.pid) ?? "",
    bootId: currentBootId(),
    cgroupNamespace: result.cgroupNamespace,
    system: generation.storePath,
    startedAt: new Date().toISOString(),
  };
  writeState(state);
  return state;
}

/** The programs that start and ask systemd, or what is missing. */
function systemdTools(system: string): SystemdTools | string {
  const firstIn = [`${system}/sw/bin`];
  const unshare = findTool("unshare", process.env, firstIn);
  const nsenter = findTool("nsenter", process.env, firstIn);
  if (!unshare || !nsenter) return "cannot find unshare and nsenter (util-linux), which start systemd in its namespaces";
  return { systemd: `${system}/${SYSTEMD_BINARY}`, systemctl: `${system}/sw/bin/systemctl`, unshare, nsenter };
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

/** Become nsenter: into systemd's namespaces, as the user, in the working directory, running the shell. */
function enterSystemd(state: LegacyState, settings: Settings, user: PasswdEntry, command: string | null): number {
  const nsenter = findTool("nsenter");
  const setpriv = findTool("setpriv");
  if (nsenter === null || (user.uid !== 0 && setpriv === null)) {
    say("cannot find nsenter and setpriv (util-linux) to enter systemd's namespaces");
    return EXIT_FAILURE;
  }
  const shell = realShell(user, isThisProgram);
  const groups = user.uid === 0 ? [] : readGroups().filter((g) => g.members.includes(user.name)).map((g) => g.gid);
  const cwd = workingDirectory(process.cwd(), user, rootEnterable(user, groups));
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
  try {
    execve(nsenter, argv, shellEnv(process.env, user, shell, settings.automountRoot));
  } catch (error) {
    say(`cannot run ${nsenter}: ${(error as Error).message}`);
  }
  return EXIT_FAILURE;
}

function rootEnterable(user: PasswdEntry, groups: readonly number[]): boolean {
  try {
    return canEnter(user, statSync("/root"), groups);
  } catch {
    return false;
  }
}

/** Inside already (a shell of a shell, sudo -i): just the shell, never a second systemd. */
function runShellHere(command: string | null): number {
  const uid = process.getuid?.() ?? 0;
  const user = readPasswd().find((entry) => entry.uid === uid);
  const shell = user ? realShell(user, isThisProgram) : "/bin/sh";
  try {
    execve(shell, shellArgv(shell, command), { ...process.env, [INSIDE_MARKER]: "1" });
  } catch (error) {
    say(`cannot run ${shell}: ${(error as Error).message}`);
  }
  return EXIT_FAILURE;
}
