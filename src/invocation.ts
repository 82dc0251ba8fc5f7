// Which role the one executable plays: chosen by the name it was started
// under (argv[0], with a leading "-" when started as a login shell), or by a
// subcommand when started as nixos-wsl-init.

export type Command =
  | { readonly kind: "shim"; readonly args: readonly string[] }
  | { readonly kind: "status"; readonly args: readonly string[] }
  | { readonly kind: "doctor"; readonly args: readonly string[] }
  | { readonly kind: "legacy"; readonly args: readonly string[] }
  | { readonly kind: "recovery"; readonly args: readonly string[] }
  | { readonly kind: "install-recovery"; readonly args: readonly string[] }
  | { readonly kind: "tarball"; readonly args: readonly string[] }
  | { readonly kind: "bless"; readonly args: readonly string[] }
  | { readonly kind: "boot-once"; readonly args: readonly string[] }
  | { readonly kind: "install-bin"; readonly args: readonly string[] }
  /** The login-shell wrapper (argv0 nixos-wsl-shell, "-nixos-wsl-shell" as a login shell): every argument is the shell's. */
  | { readonly kind: "wsl-shell"; readonly args: readonly string[] }
  /** Internal: the process the recovery starts inside its new namespaces. */
  | { readonly kind: "recovery-inner"; readonly plan: string }
  /** Internal: legacy mode's holder of the user's login session, inside systemd's namespaces. */
  | { readonly kind: "login-session"; readonly request: string; readonly argv: readonly string[] }
  /** Internal: PID 1 of legacy mode's new namespaces until it becomes systemd. */
  | { readonly kind: "systemd-pid1"; readonly request: string }

  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "usage-error"; readonly message: string };

const ROLE_NAMES: Record<string, "shim" | "legacy" | "recovery"> = {
  init: "shim",
  "systemd-shim": "shim",
  syschdemd: "legacy",
  "nixos-wsl-recovery": "recovery",
};

/** The program name without directory or login-shell dash. */
export function programName(argv0: string): string {
  // Not node:path's basename: loading that module costs the login-shell wrapper more than its work.
  return argv0.slice(argv0.lastIndexOf("/") + 1).replace(/^-/, "");
}

export const RECOVERY_INNER = "__recovery-inner";
export const LOGIN_SESSION_INNER = "__login-session";
export const SYSTEMD_PID1_INNER = "__systemd-pid1";

export function parseInvocation(argv0: string, args: readonly string[], isPid1: boolean): Command {
  // Whatever name the executable has, its own inner process is recognised first.
  if (args.length === 2 && args[0] === RECOVERY_INNER) return { kind: "recovery-inner", plan: args[1]! };
  if (args.length >= 4 && args[0] === LOGIN_SESSION_INNER && args[2] === "--") return { kind: "login-session", request: args[1]!, argv: args.slice(3) };
  if (args.length === 2 && args[0] === SYSTEMD_PID1_INNER) return { kind: "systemd-pid1", request: args[1]! };
  if (programName(argv0) === "nixos-wsl-shell") return { kind: "wsl-shell", args };
  const role = ROLE_NAMES[programName(argv0)];
  if (role === "shim") {
    // As PID 1 every argument belongs to systemd; started by hand, help is more useful than a refusal.
    if (!isPid1 && args.length === 1 && (args[0] === "--help" || args[0] === "-h")) return { kind: "help" };
    if (!isPid1 && args.length === 1 && args[0] === "--version") return { kind: "version" };
    return { kind: "shim", args };
  }
  if (role === "legacy" || role === "recovery") return { kind: role, args };
  return parseSubcommand(args);
}

function parseSubcommand(args: readonly string[]): Command {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return { kind: "help" };
    case "--version":
    case "version":
      return { kind: "version" };
    case "shim":
      return { kind: "shim", args: rest };
    case "legacy":
      return { kind: "legacy", args: rest };
    case "recovery":
      return { kind: "recovery", args: rest };
    case "install-recovery":
      return { kind: "install-recovery", args: rest };
    case "bless":
      return { kind: "bless", args: rest };
    case "boot-once":
      return { kind: "boot-once", args: rest };
    case "install-bin":
      return { kind: "install-bin", args: rest };
    case "status":
      return { kind: "status", args: rest };
    case "doctor":
      return { kind: "doctor", args: rest };
    case "tarball":
      return { kind: "tarball", args: rest };
    default:
      return { kind: "usage-error", message: `unknown command '${subcommand}'` };
  }
}

export const HELP = `nixos-wsl-init: boots NixOS under WSL 2 and recovers it when it does not boot.

One executable, several roles, chosen by the name it is started under:
  systemd-shim, init     the native shim: WSL's /sbin/init (PID 1). Repairs /dev/shm,
                         makes / shared, binds /nix/store read-only, runs the
                         activation script and execs systemd.
  nixos-wsl-shell        login shell of the users the NixOS module manages: waits for the
                         activation, imports /etc/set-environment, execs the real shell.
  syschdemd              legacy mode: root's login shell on WSL without systemd
                         support; runs systemd in its own PID namespace.
  nixos-wsl-recovery     recovery shell, run from the WSL system distribution.

Usage: nixos-wsl-init COMMAND [ARGS...]
  shim [ARGS...]         run the native shim (only as PID 1); ARGS go to systemd
  status [--json]        how this system booted (/run/nixos-wsl: boot.json, or legacy.json);
                         in legacy mode its exit code is systemd's state (status --help)
  doctor [--json]        find why this install misbehaves, and say the fix (exit 0 ok,
                         1 warnings, 2 a failure; changes nothing)
  legacy [-c CMD]        run the legacy-mode login shell
  legacy --shutdown      stop legacy mode's systemd cleanly; the next shell starts a new one
  recovery [OPTIONS]     run nixos-wsl-recovery (see 'nixos-wsl-init recovery --help')
  install-recovery DEST  write a copy of this executable that runs without /nix
  tarball ROOT OUT.wsl   pack a prepared NixOS root into a .wsl image for 'wsl --import'
                         (see 'nixos-wsl-init tarball --help')
  bless                  mark the generation that booted good (boot counting; run by a unit)
  boot-once N            boot generation N at the next start only
  install-bin --system PATH
                         write /bin/sh, /bin/mount, /bin/true, /bin/login for WSL (activation)
  --help, --version

Exit codes: 0 ok, 1 failed, 2 bad usage, 3 refused to run here
(not PID 1, not root, or the wrong distribution), 126 not a NixOS root.
`;
