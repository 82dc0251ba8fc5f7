// The pure decisions of legacy mode: its command line, the shell to run and
// its environment and working directory.
import type { Stats } from "node:fs";
import type { PasswdEntry } from "./passwd.ts";

/** Set in every process legacy mode starts inside systemd's namespaces. */
export const INSIDE_MARKER = "NIXOS_WSL_INIT_INSIDE";

/** The variables that name the user: the shell gets the user's own, never the caller's. */
const USERS_OWN = ["HOME", "LOGNAME", "SHELL", "USER"];

/** Used when a user's passwd shell is this program itself, or a wrapper of it (root in legacy mode). */
export const FALLBACK_SHELL = "/run/current-system/sw/bin/bash";

export type LegacyArgs = { readonly command: string | null } | { readonly usageError: string } | { readonly help: true } | { readonly shutdown: true };

/** A login shell's command line: nothing, -l/--login, or -c CMD (as WSL passes for `wsl CMD`); or --shutdown alone. */
export function parseLegacyArgs(args: readonly string[]): LegacyArgs {
  if (args[0] === "--shutdown") return args.length === 1 ? { shutdown: true } : { usageError: "--shutdown takes nothing else" };
  let command: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-l" || arg === "--login" || arg === "-i") continue;
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "-c") {
      if (i + 1 >= args.length) return { usageError: "-c needs a command" };
      command = args[++i]!;
      // Like sh -c: arguments after the command are $0, $1, …; WSL passes none, so refuse rather than drop them.
      if (i + 1 < args.length) return { usageError: `unexpected argument after -c CMD: '${args[i + 1]}'` };
      continue;
    }
    return { usageError: `unexpected argument '${arg}'` };
  }
  return { command };
}

/** The user's shell, unless it is this very program (which would start over). */
export function realShell(user: PasswdEntry, isThisProgram: (shell: string) => boolean): string {
  return isThisProgram(user.shell) ? FALLBACK_SHELL : user.shell;
}

/**
 * The real shell behind a login-shell wrapper of NixOS-WSL's shape, resolved:
 * `DIR/shell` when it is a link beside the passwd shell `DIR/NAME` (NixOS-WSL
 * names the copy `wrapper`; any name is taken, since only the link tells).
 * null when there is no such link.
 */
export function wrappedShell(shell: string, resolve: (path: string) => string | null): string | null {
  const slash = shell.lastIndexOf("/");
  if (slash < 0 || shell.slice(slash + 1) === "shell") return null;
  return resolve(`${shell.slice(0, slash)}/shell`);
}

/** A login shell when interactive, else `shell -c CMD`. */
export function shellArgv(shell: string, command: string | null): string[] {
  return command === null ? [shell, "-l"] : [shell, "-c", command];
}

/**
 * The caller's environment for the user's shell: the user's own HOME, LOGNAME,
 * SHELL and USER; PATH entries under the WSL automount root (Windows' own)
 * moved to WSLPATH; and the marker that says "inside".
 */
export function shellEnv(
  callerEnv: Readonly<Record<string, string | undefined>>,
  user: PasswdEntry,
  shell: string,
  automountRoot: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(callerEnv)) {
    if (value !== undefined && !USERS_OWN.includes(key)) env[key] = value;
  }
  const entries = (callerEnv.PATH ?? "").split(":").filter(Boolean);
  // A Windows drive is a one-letter directory under the automount root (/mnt/c/…); with a root of "/" (/c/…) nothing else may count.
  const isWindows = (entry: string) => entry.startsWith(automountRoot) && /^[a-zA-Z](\/|$)/.test(entry.slice(automountRoot.length));
  env.PATH = entries.filter((entry) => !isWindows(entry)).join(":");
  const windows = entries.filter(isWindows);
  if (windows.length > 0) env.WSLPATH = windows.join(":");
  else delete env.WSLPATH;
  env.HOME = user.home;
  env.LOGNAME = user.name;
  env.USER = user.name;
  env.SHELL = shell;
  env[INSIDE_MARKER] = "1";
  return env;
}

/** What the shell's environment keeps from legacy mode's rules whatever the login session's modules set. */
const KEPT_FROM_RULES = ["PATH", "WSLPATH", ...USERS_OWN, INSIDE_MARKER];

/** The shell's environment inside a login session: the session's variables (XDG_RUNTIME_DIR, XDG_SESSION_ID, …) added to the rules' own. */
export function withSessionEnv(env: Readonly<Record<string, string>>, session: Readonly<Record<string, string>>): Record<string, string> {
  const merged = { ...env };
  for (const [key, value] of Object.entries(session)) if (!KEPT_FROM_RULES.includes(key)) merged[key] = value;
  return merged;
}

/** Whether `user` may enter a directory with this owner and mode (search permission). */
export function canEnter(user: PasswdEntry, directory: Pick<Stats, "uid" | "gid" | "mode">, groups: readonly number[]): boolean {
  if (user.uid === 0) return true;
  if (directory.uid === user.uid) return (directory.mode & 0o100) !== 0;
  if (directory.gid === user.gid || groups.includes(directory.gid)) return (directory.mode & 0o010) !== 0;
  return (directory.mode & 0o001) !== 0;
}

/** The caller's working directory, except /root (where WSL starts root's shell) when the user cannot enter it. */
export function workingDirectory(cwd: string, user: PasswdEntry, rootDirEnterable: boolean): string {
  const underRoot = cwd === "/root" || cwd.startsWith("/root/");
  return underRoot && !rootDirEnterable ? user.home : cwd;
}
