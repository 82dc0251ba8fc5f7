// The last step of legacy mode: this process becomes nsenter, into systemd's
// namespaces, where this executable again holds the user's login session
// around the shell (loginSession.ts) and setpriv makes it the user's; or,
// already inside, just the shell. stdin, stdout, stderr and the exit code are
// the shell's own.
import { realpathSync, statSync } from "node:fs";
import type { Settings } from "../../src/config.ts";
import { EXIT_FAILURE } from "../../src/exitCodes.ts";
import { execve } from "../../src/libc.ts";
import { REPAIR_FROM_WINDOWS } from "../../src/paths.ts";
import { inStep, StepError } from "../../src/stepError.ts";
import { type PasswdEntry, readGroups, readPasswd } from "./passwd.ts";
import { canEnter, INSIDE_MARKER, realShell, shellArgv, shellEnv, workingDirectory, wrappedShell } from "./shellRules.ts";
import type { LegacyState } from "./state.ts";
import { findTool } from "./tools.ts";
import { LOGIN_SESSION_INNER } from "../../src/invocation.ts";
import type { LoginSessionRequest } from "./loginSession.ts";

/**
 * Whether a passwd shell starts this program: the program itself, or a login-shell
 * wrapper of NixOS-WSL's shape (its modules/systemd/native/wrap-shell.nix gives
 * every user, root too, a copy of its shell-wrapper in a directory whose `shell`
 * link names the real shell, and the wrapper execs that). Run from inside, such a
 * wrapper would exec syschdemd, which would exec the wrapper again, for ever.
 */
function isThisProgram(path: string): boolean {
  const self = resolved(process.execPath);
  return self !== null && (resolved(path) === self || wrappedShell(path, resolved) === self);
}

function resolved(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null; // a shell that cannot be resolved is not this program
  }
}

/** Become nsenter: into systemd's namespaces, as the user, in the working directory, running the shell (in a login session unless turned off). */
export function enterSystemd(state: LegacyState, settings: Settings, user: PasswdEntry, command: string | null): number {
  const step = `entering systemd's namespaces (PID ${state.pid})`;
  const nsenter = findTool("nsenter");
  const setpriv = findTool("setpriv");
  if (nsenter === null || (user.uid !== 0 && setpriv === null)) {
    throw new StepError(step, "cannot find nsenter and setpriv (util-linux)", `They belong in /run/current-system/sw/bin. ${REPAIR_FROM_WINDOWS}`);
  }
  const shell = realShell(user, isThisProgram);
  const groups = user.uid === 0 ? [] : inStep("reading the group database /etc/group", () => readGroups(), () => REPAIR_FROM_WINDOWS).filter((g) => g.members.includes(user.name)).map((g) => g.gid);
  const cwd = workingDirectory(currentDirectory(user), user, rootEnterable(user, groups));
  const shellAsUser = [...(user.uid === 0 ? [] : [setpriv!, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--"]), ...shellArgv(shell, command)];
  const request: LoginSessionRequest = { user: user.name, uid: user.uid, pamLibrary: settings.pamLibrary };
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
    // The executable's path is the same in systemd's mount namespace: it was made from this one.
    ...(settings.loginSession ? [process.execPath, LOGIN_SESSION_INNER, JSON.stringify(request), "--"] : []),
    ...shellAsUser,
  ];
  inStep(step, () => execve(nsenter, argv, shellEnv(process.env, user, shell, settings.automountRoot)), () => REPAIR_FROM_WINDOWS);
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
export function runShellHere(command: string | null): number {
  const uid = process.getuid?.() ?? 0;
  const user = inStep("reading the user database /etc/passwd", () => readPasswd(), () => REPAIR_FROM_WINDOWS).find((entry) => entry.uid === uid);
  const shell = user ? realShell(user, isThisProgram) : "/bin/sh";
  inStep(`running the shell ${shell}`, () => execve(shell, shellArgv(shell, command), { ...process.env, [INSIDE_MARKER]: "1" }), () => REPAIR_FROM_WINDOWS);
  return EXIT_FAILURE;
}
