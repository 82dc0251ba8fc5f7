// The login-shell wrapper's decisions, pure: which shell, with which argv, and
// whether /etc/set-environment must be imported first.

export const DEFAULT_SHELL = "/run/current-system/sw/bin/bash";
export const WRAPPER_NAME = "nixos-wsl-shell";
/** Set by /etc/set-environment (and by the wrapper): a parent already imported it. */
const DONE_VARIABLE = "__NIXOS_SET_ENVIRONMENT_DONE";

export interface ShellFacts {
  readonly argv0: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's name (from /etc/passwd by uid), or null when it is not found. */
  readonly user: string | null;
  /** User name -> real shell, from /etc/nixos-wsl-init.json's "shells". */
  readonly shells: Readonly<Record<string, string>>;
  /** The parent process's name (/proc/PPID/comm), or null. */
  readonly parentComm: string | null;
}

export interface ShellPlan {
  /** The program to exec. */
  readonly shell: string;
  /** Its argv, argv[0] included: "-zsh" for a login shell, else the path. */
  readonly argv: readonly string[];
  readonly login: boolean;
  readonly importEnvironment: boolean;
  /** Why the configured shell was not used, when it was not. */
  readonly note: string | null;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

export function planShell(facts: ShellFacts): ShellPlan {
  const login = facts.argv0.startsWith("-");
  const configured = facts.user === null ? undefined : facts.shells[facts.user];
  let shell = DEFAULT_SHELL;
  let note: string | null = null;
  if (configured !== undefined) {
    if (!configured.startsWith("/")) note = `the shell configured for ${facts.user} (${configured}) is not an absolute path; starting ${DEFAULT_SHELL}`;
    else if (baseName(configured) === WRAPPER_NAME) note = `the shell configured for ${facts.user} is ${WRAPPER_NAME} itself; starting ${DEFAULT_SHELL}`;
    else shell = configured;
  }
  const argv0 = login ? `-${baseName(shell)}` : shell;
  // WSL's kept-alive `/bin/login -f USER`: login's shell reads /etc/profile, which imports it.
  const underLogin = facts.parentComm === "login";
  const alreadyDone = (facts.env[DONE_VARIABLE] ?? "") !== "";
  return { shell, argv: [argv0, ...facts.args], login, importEnvironment: !underLogin && !alreadyDone, note };
}

/**
 * The `-c` script that imports /etc/set-environment, then execs "$@" with "$0"
 * as its argv[0]. Should that exec fail after all (a program the kernel
 * refuses), bash goes on (execfail) to `fallback`, a login shell when "$0"
 * says so, with the same arguments: a user is never left without a shell.
 */
export function importScript(fallback: string): string {
  const quoted = `'${fallback.replaceAll("'", "'\\''")}'`;
  return (
    // Guarded: taking itself for a remote shell (stdin a socket), this bash may have imported it through bashrc already.
    `[ -n "\${${DONE_VARIABLE}-}" ] || . /etc/set-environment || echo "${WRAPPER_NAME}: /etc/set-environment failed (exit code $?); going on without all of it" >&2; ` +
    `export ${DONE_VARIABLE}=1; ` +
    `if [ -n "\${${KEPT_BASH_ENV}+set}" ]; then export BASH_ENV="$${KEPT_BASH_ENV}"; unset ${KEPT_BASH_ENV}; fi; ` +
    `shopt -s execfail; exec -a "$0" "$@"; ` +
    `echo "${WRAPPER_NAME}: cannot start $1 (exit code $?, the lines above say why); starting ${fallback} instead" >&2; ` +
    `case $0 in -*) exec -a -bash ${quoted} "\${@:2}" ;; *) exec ${quoted} "\${@:2}" ;; esac`
  );
}

/**
 * Whether the real shell can import /etc/set-environment itself, saving the
 * start of a second bash: bash given `-c CMD` (WSL's `wsl CMD`, the most
 * frequent start of all) is not interactive, and reads the file BASH_ENV names
 * before it runs CMD. Only where that file is the first and only one bash
 * reads: not as a login shell (nixpkgs' bash then runs the profile files
 * first, and what they start would inherit BASH_ENV and the file), not with
 * stdin a socket or under SSH (bash takes itself for a remote shell and reads
 * bashrc instead), not in POSIX mode, not with options after -c that make it
 * interactive, a login shell or POSIX, and not when the caller set BASH_ENV,
 * whose own file must still be read.
 */
export function importsThroughBashEnv(facts: {
  readonly shell: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdinIsSocket: boolean;
}): boolean {
  const { shell, argv, env } = facts;
  const [argv0 = "", flag, command] = argv;
  return (
    baseName(shell) === "bash" &&
    !argv0.startsWith("-") &&
    flag === "-c" &&
    command !== undefined &&
    !/^[-+]/.test(command) &&
    !facts.stdinIsSocket &&
    env.SSH_CLIENT === undefined &&
    env.SSH2_CLIENT === undefined &&
    env.BASH_ENV === undefined &&
    env.POSIXLY_CORRECT === undefined &&
    env.POSIX_PEDANTIC === undefined &&
    !(env.SHELLOPTS ?? "").split(":").includes("posix")
  );
}

/**
 * The file BASH_ENV names, read by bash from descriptor `fd`: it closes that
 * descriptor and unsets BASH_ENV first (no program bash starts may read it
 * again), then imports, unless a login shell's /etc/profile has already.
 */
export function bashEnvScript(fd: number): string {
  return (
    `exec ${fd}<&-; unset BASH_ENV; ` +
    `[ -n "\${${DONE_VARIABLE}-}" ] || . /etc/set-environment || ` +
    `echo "${WRAPPER_NAME}: /etc/set-environment failed (exit code $?); going on without all of it" >&2; ` +
    `export ${DONE_VARIABLE}=1\n`
  );
}

/** Where the caller's BASH_ENV waits while the importing bash runs, which must not read it: the real shell does. */
const KEPT_BASH_ENV = "__NIXOS_WSL_SHELL_BASH_ENV";

/** The environment of the bash that imports: the caller's BASH_ENV kept aside for the real shell (importScript gives it back). */
export function importingEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  if (env.BASH_ENV === undefined) return { ...env };
  const { BASH_ENV, ...rest } = env;
  return { ...rest, [KEPT_BASH_ENV]: BASH_ENV };
}

/** The user name of `uid` in an /etc/passwd text. */
export function userOf(passwd: string, uid: number): string | null {
  for (const line of passwd.split("\n")) {
    const fields = line.split(":");
    if (fields.length >= 7 && Number(fields[2]) === uid && fields[2] !== "") return fields[0]!;
  }
  return null;
}

/** The "shells" map of /etc/nixos-wsl-init.json, keeping only string values. */
export function shellsOf(config: unknown): Record<string, string> {
  if (typeof config !== "object" || config === null) return {};
  const shells = (config as { shells?: unknown }).shells;
  if (typeof shells !== "object" || shells === null || Array.isArray(shells)) return {};
  return Object.fromEntries(Object.entries(shells).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** How long a shell waits for the activation: a bit more than the activation's own deadline; 0 (no deadline) means 5 minutes. */
export function waitSeconds(activationTimeoutSeconds: unknown): number {
  const seconds = typeof activationTimeoutSeconds === "number" && activationTimeoutSeconds >= 0 ? activationTimeoutSeconds : 120;
  return seconds === 0 ? 300 : Math.min(seconds, 3600) + 15;
}
