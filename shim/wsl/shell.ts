// The login-shell wrapper, the role nixos-wsl-shell: the login shell of the
// users the NixOS module manages. WSL starts it directly, without PAM, maybe
// before the activation has finished. It waits for the activation, imports
// /etc/set-environment once (in the real shell itself when that is bash given
// -c, else in a bash of its own), then execs the user's real shell: exit code
// and stdio pass through because this process becomes that shell.
//
// It runs at every `wsl CMD`, terminal tab and editor's remote command, so it
// reads and checks files with libc's calls (src/libc.ts), not node:fs: loading
// node:fs alone cost it about 2 ms on the bench machine, more than all its work.
import type { FSWatcher } from "node:fs";
import { accessErrno, closeDescriptor, execve, inheritedMemoryFile, openForReading, readToEnd, statusOf, writeAllTo, X_OK } from "../../src/libc.ts";
import { CONFIG_FILE } from "../../src/paths.ts";
import { errorCode } from "../../src/stepError.ts";
import { bashEnvScript, DEFAULT_SHELL, importingEnvironment, importScript, importsThroughBashEnv, planShell, shellsOf, userOf, waitSeconds, WRAPPER_NAME } from "./shellDecision.ts";

const CURRENT_SYSTEM = "/run/current-system";
const SET_ENVIRONMENT = "/etc/set-environment";
/** The shell that imports /etc/set-environment, and the last resort when the real one cannot start. */
const BASH = `${CURRENT_SYSTEM}/sw/bin/bash`;
const PROFILE_BASH = "/nix/var/nix/profiles/system/sw/bin/bash";

// Synchronous: this process execs the user's shell right after, on the same stderr.
// src/say.ts does the same through node:fs, which this path does not load.
function say(message: string): void {
  try {
    writeAllTo(2, `${WRAPPER_NAME}: ${message}\n`);
  } catch {
    // nobody to tell
  }
}

function readOr<T>(path: string, use: (text: string) => T, fallback: T): T {
  let fd: number;
  try {
    fd = openForReading(path);
  } catch {
    return fallback;
  }
  try {
    return use(readToEnd(fd, path).toString("utf8"));
  } catch {
    return fallback;
  } finally {
    closeDescriptor(fd);
  }
}

/** Whether `path` exists (following symlinks), as existsSync says. */
function exists(path: string): boolean {
  try {
    statusOf(path);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true once /run/current-system exists, false after `seconds`: fs.watch on /run (inotify), no polling. */
async function activationFinished(seconds: number): Promise<boolean> {
  const { watch } = await import("node:fs"); // only a start that waits pays for it
  return new Promise((resolve) => {
    let watcher: FSWatcher | null = null;
    const done = (finished: boolean) => {
      clearTimeout(timer);
      watcher?.close();
      resolve(finished);
    };
    const timer = setTimeout(() => done(exists(CURRENT_SYSTEM)), seconds * 1000);
    try {
      watcher = watch("/run", (_event, name) => {
        if ((name === null || String(name) === "current-system") && exists(CURRENT_SYSTEM)) done(true);
      });
    } catch (error) {
      say(`cannot watch /run (${(error as Error).message}); waiting the full ${seconds} s`);
    }
    // It may have appeared between the first look and the watch.
    if (exists(CURRENT_SYSTEM)) done(true);
  });
}

export async function runWslShell(argv0: string, args: readonly string[]): Promise<number> {
  const configText = readOr(CONFIG_FILE, (text) => text, null);
  let config: unknown = {};
  if (configText !== null) {
    try {
      config = JSON.parse(configText);
    } catch (error) {
      say(`${CONFIG_FILE} is not valid JSON (${(error as Error).message}); starting ${DEFAULT_SHELL}`);
    }
  }
  const uid = process.getuid?.() ?? 0;
  const user = readOr("/etc/passwd", (text) => userOf(text, uid), null);
  const parentComm = readOr(`/proc/${process.ppid}/comm`, (text) => text.trim(), null);
  const plan = planShell({ argv0, args, env: process.env, user, shells: shellsOf(config), parentComm });
  if (plan.note) say(plan.note);

  if (!exists(CURRENT_SYSTEM)) {
    const seconds = waitSeconds((config as { activationTimeoutSeconds?: unknown }).activationTimeoutSeconds);
    say(`NixOS is still activating; waiting for it to finish (at most ${seconds} s)...`);
    if (!(await activationFinished(seconds))) {
      say(
        `the activation has not finished after ${seconds} s (${CURRENT_SYSTEM} is missing): starting a shell without the NixOS environment. ` +
          "See why with 'dmesg' or 'nixos-wsl-init status'.",
      );
      return execFirst([[plan.shell, plan.argv], [PROFILE_BASH, [plan.login ? "-bash" : PROFILE_BASH, ...args]], ["/bin/sh", [plan.login ? "-sh" : "/bin/sh", ...args]]]);
    }
  }
  const fallback: Array<[string, readonly string[]]> = [
    [BASH, [plan.login ? "-bash" : BASH, ...args]],
    [PROFILE_BASH, [plan.login ? "-bash" : PROFILE_BASH, ...args]],
    ["/bin/sh", [plan.login ? "-sh" : "/bin/sh", ...args]],
  ];
  let [shell, argv]: readonly [string, readonly string[]] = [plan.shell, plan.argv];
  // Found before any exec: bash's exec of a program that cannot start would end the shell.
  const why = shell === BASH ? null : whyNotStartable(shell);
  if (why !== null) {
    say(`cannot start ${shell}: ${why}; starting ${BASH} instead`);
    [shell, argv] = fallback[0]!;
  }
  if (plan.importEnvironment && exists(SET_ENVIRONMENT) && exists(BASH)) {
    if (importsThroughBashEnv({ shell, argv, env: process.env, stdinIsSocket: isSocket(0) })) execImportingItself(shell, argv);
    // A shell reads the shell file: the import runs in bash, which then execs the real shell with the environment.
    return execFirst([[BASH, [`${WRAPPER_NAME}-env`, "-c", importScript(BASH), argv[0]!, shell, ...argv.slice(1)], importingEnvironment(process.env)], ...fallback.slice(1)]);
  }
  return execFirst([[shell, argv], ...fallback.filter(([program]) => program !== shell)]);
}

/**
 * Exec bash so that it imports /etc/set-environment itself, from a file in
 * memory that BASH_ENV names. Returns only when that cannot be done, with
 * nothing left open: the caller then imports in a bash of its own.
 */
function execImportingItself(shell: string, argv: readonly string[]): void {
  let fd: number;
  try {
    fd = inheritedMemoryFile(`${WRAPPER_NAME}-env`);
  } catch {
    return; // no memfd here: the import in a bash of its own still works
  }
  const path = `/proc/self/fd/${fd}`;
  try {
    if (!exists(path)) return; // no /proc: bash could not open it
    writeAllTo(fd, bashEnvScript(fd));
    execve(shell, argv, { ...process.env, BASH_ENV: path });
  } catch (error) {
    say(`cannot start ${shell}: ${(error as Error).message}; trying again through ${BASH}`);
  } finally {
    closeDescriptor(fd);
  }
}

function isSocket(fd: number): boolean {
  try {
    return statusOf(fd).type === "socket";
  } catch {
    return false; // closed: bash takes it for no network connection either
  }
}

/** Why execve would refuse a program, or null: a missing file, a directory, no execute permission (or a noexec mount). */
function whyNotStartable(path: string): string | null {
  let status;
  try {
    status = statusOf(path);
  } catch (error) {
    return errorCode(error) === "ENOENT" ? "it does not exist" : `it cannot be looked at (${(error as Error).message})`;
  }
  if (status.type !== "file") return status.type === "directory" ? "it is a directory, not a program" : "it is not a regular file";
  const errno = accessErrno(path, X_OK);
  if (errno === 0) return null;
  const mode = `mode ${status.mode.toString(8).padStart(4, "0")}, owner uid ${status.uid}`;
  return (status.mode & 0o111) === 0
    ? `it is not executable (${mode}); make it so with chmod +x`
    : `this user may not execute it (${mode}; ${errno === 13 ? "EACCES" : `errno ${errno}`}, or a noexec mount)`;
}

type Environment = Record<string, string | undefined>;

/** Exec the first program that starts (in the environment given with it, else this one); returns only when none does. */
function execFirst(candidates: ReadonlyArray<readonly [string, readonly string[], Environment?]>): number {
  for (const [index, [program, argv, env]] of candidates.entries()) {
    try {
      execve(program, argv, env ?? process.env);
    } catch (error) {
      const next = candidates[index + 1];
      say(`cannot start ${program}: ${(error as Error).message}${next ? `; trying ${next[0]}` : ""}`);
    }
  }
  return 127;
}
