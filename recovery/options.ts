// The command line of nixos-wsl-recovery, parsed into one request.
import { type OptionSpec, readCommandLine } from "../src/commandLine.ts";

type OptionName = "root" | "system" | "generation" | "previous" | "command" | "silent" | "list" | "doctor" | "json" | "rollback" | "boot-once" | "help";
import { UsageError } from "../src/cliParser.ts";
import { SYSTEM_DISTRO_MOUNT, SYSTEM_PROFILE } from "../src/paths.ts";

/** Which generation a request names. */
export type GenerationChoice =
  | { readonly kind: "path"; readonly path: string }
  | { readonly kind: "number"; readonly number: number }
  | { readonly kind: "previous" };

export type RecoveryRequest =
  | { readonly action: "help"; readonly text: string }
  | { readonly action: "list"; readonly root: string; readonly json: boolean }
  | { readonly action: "doctor"; readonly root: string; readonly json: boolean }
  | { readonly action: "rollback"; readonly root: string; readonly generation: GenerationChoice }
  | { readonly action: "boot-once"; readonly root: string; readonly generation: GenerationChoice }
  | {
      readonly action: "enter";
      readonly root: string;
      readonly generation: GenerationChoice;
      /** A shell command line (--command/-c), an argv (after --), or null for a login shell. */
      readonly command: { readonly shell: string } | { readonly argv: readonly string[] } | null;
      readonly silent: boolean;
    };


const USAGE = `Usage:
  nixos-wsl-recovery [--root DIR] [--system PATH | --generation N | --previous]
                     [--command CMD | -c CMD] [--silent] [-- CMD ARGS...]
  nixos-wsl-recovery --list [--json] [--root DIR]
  nixos-wsl-recovery --doctor [--json] [--root DIR]
  nixos-wsl-recovery --rollback (--generation N | --previous | --system PATH) [--root DIR]
  nixos-wsl-recovery --boot-once (--generation N | --previous | --system PATH) [--root DIR]

Enter a NixOS-on-WSL installation from the WSL system distribution, list its
system generations, make an older one the default, or boot one at the next
start only (the start after it boots the default again).
Run it from Windows as:
  wsl -d NixOS --system --user root -- ${SYSTEM_DISTRO_MOUNT}/bin/nixos-wsl-recovery`;

const EPILOGUE = `Paths given to --system are read inside the distro root: /nix/var/nix/profiles/system-42-link
means ${SYSTEM_DISTRO_MOUNT}/nix/var/nix/profiles/system-42-link, and every symlink on the way is
followed inside it. Nothing stays mounted when the shell or command ends.

Exit codes: the command's own code when entering; 1 failed (a missing generation, a
broken activation does not count); 2 bad usage; 3 refused (not root, or run inside
NixOS instead of the system distribution); 126 the root is not a NixOS installation;
128+N ended by signal N (a SIGTERM is passed to the command inside, which is killed 2 s
later if it has not ended; --rollback and --boot-once finish their change first).`;

const OPTIONS: { readonly [name in OptionName]: OptionSpec } = {
  root: { type: "string" },
  system: { type: "string" },
  generation: { type: "string" },
  previous: { type: "boolean" },
  command: { type: "string", short: "c" },
  silent: { type: "boolean" },
  list: { type: "boolean" },
  doctor: { type: "boolean" },
  json: { type: "boolean" },
  rollback: { type: "boolean" },
  "boot-once": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const OPTION_HELP: ReadonlyArray<readonly [string, string]> = [
  ["--root DIR", `the NixOS root to work on (default ${SYSTEM_DISTRO_MOUNT})`],
  ["--system PATH", `a system generation inside the root (default ${SYSTEM_PROFILE})`],
  ["--generation N", "generation N, i.e. --system /nix/var/nix/profiles/system-N-link"],
  ["--previous", "the newest generation older than the default"],
  ["-c, --command CMD", "run CMD with the generation's bash -c instead of a login shell"],
  ["--silent", "hide the activation script's output"],
  ["--list", "list the generations: number, date, NixOS version, default"],
  ["--doctor", "find why the distro does not start, and say the fix (changes nothing)"],
  ["--json", "with --list or --doctor: print JSON"],
  ["--rollback", "make the chosen generation the default for the next start"],
  ["--boot-once", "boot the chosen generation at the next start only"],
  ["-h, --help", "show this help"],
];

/** Each option with those it cannot be given with. */
const CONFLICTS: ReadonlyArray<readonly [OptionName, readonly OptionName[]]> = [
  ["system", ["generation", "previous"]],
  ["generation", ["previous"]],
  ["doctor", ["list", "rollback", "boot-once", "command", "silent", "system", "generation", "previous"]],
  ["list", ["rollback", "boot-once", "command", "silent", "system", "generation", "previous"]],
  ["rollback", ["boot-once", "command", "silent"]],
  ["boot-once", ["command", "silent"]],
];

function helpText(): string {
  const width = Math.max(...OPTION_HELP.map(([names]) => names.length));
  const options = OPTION_HELP.map(([names, text]) => `  ${names.padEnd(width)}  ${text}`).join("\n");
  return `${USAGE}\n\nOptions:\n${options}\n\n${EPILOGUE}\n`;
}

/** Options, stray arguments and the command after "--"; a UsageError for a mistake, or for options given together that clash. */
function readLine(args: readonly string[]) {
  const line = readCommandLine(args, OPTIONS);
  const { values } = line;
  for (const [option, others] of CONFLICTS) {
    const clash = values[option] !== undefined ? others.find((other) => values[other] !== undefined) : undefined;
    if (clash !== undefined) throw new UsageError(`--${option} and --${clash} cannot be given together (they are mutually exclusive)`);
  }
  return line;
}

/** A whole generation number, or a UsageError. */
function generationNumber(value: string): number {
  const number = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new UsageError("--generation takes a whole generation number, such as 42");
  return number;
}

export function parseRecoveryArgs(args: readonly string[]): RecoveryRequest {
  const { values, stray, rest } = readLine(args);
  if (values.help) return { action: "help", text: helpText() };
  if (stray.length > 0) {
    throw new UsageError(`unexpected argument '${stray[0]}': put a command after '--' (nixos-wsl-recovery -- ${stray.join(" ")})`);
  }
  const argv = {
    root: (values.root as string | undefined) ?? SYSTEM_DISTRO_MOUNT,
    system: values.system as string | undefined,
    generation: values.generation === undefined ? undefined : generationNumber(values.generation as string),
    previous: values.previous === true,
    command: values.command as string | undefined,
    silent: values.silent === true,
    list: values.list === true,
    doctor: values.doctor === true,
    json: values.json === true,
    rollback: values.rollback === true,
    "boot-once": values["boot-once"] === true,
  };
  const root = argv.root;
  const generation: GenerationChoice =
    argv.system !== undefined
      ? { kind: "path", path: argv.system }
      : argv.generation !== undefined
        ? { kind: "number", number: argv.generation }
        : argv.previous
          ? { kind: "previous" }
          : { kind: "path", path: SYSTEM_PROFILE };

  if (argv.list) {
    if (rest.length > 0) throw new UsageError("--list takes no command");
    return { action: "list", root, json: argv.json };
  }
  if (argv.doctor) {
    if (rest.length > 0) throw new UsageError("--doctor takes no command");
    return { action: "doctor", root, json: argv.json };
  }
  if (argv.json) throw new UsageError("--json goes with --list or --doctor");
  if (argv.rollback) {
    if (argv.system === undefined && argv.generation === undefined && !argv.previous) {
      throw new UsageError("--rollback needs the generation to make the default: --generation N, --previous or --system PATH");
    }
    if (rest.length > 0) throw new UsageError("--rollback takes no command");
    return { action: "rollback", root, generation };
  }
  if (argv["boot-once"]) {
    if (argv.system === undefined && argv.generation === undefined && !argv.previous) {
      throw new UsageError("--boot-once needs the generation to boot: --generation N, --previous or --system PATH");
    }
    if (rest.length > 0) throw new UsageError("--boot-once takes no command");
    return { action: "boot-once", root, generation };
  }
  if (argv.command !== undefined && rest.length > 0) {
    throw new UsageError("give either --command CMD or -- CMD ARGS..., not both");
  }
  const command = argv.command !== undefined ? { shell: argv.command } : rest.length > 0 ? { argv: rest } : null;
  return { action: "enter", root, generation, command, silent: argv.silent };
}
