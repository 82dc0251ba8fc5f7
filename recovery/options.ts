// The command line of nixos-wsl-recovery, parsed with yargs into one request.
import yargs from "yargs";
import { helpText, UsageError, withHouseRules } from "../src/cliParser.ts";
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

function parser(args: readonly string[]) {
  return withHouseRules(
    yargs([...args])
    .scriptName("nixos-wsl-recovery")
    .usage(USAGE)
    .epilogue(EPILOGUE)
    .parserConfiguration({ "populate--": true, "unknown-options-as-args": false })
    .option("root", { type: "string", default: SYSTEM_DISTRO_MOUNT, describe: "the NixOS root to work on", requiresArg: true })
    .option("system", { type: "string", describe: `a system generation inside the root (default ${SYSTEM_PROFILE})`, requiresArg: true })
    .option("generation", { type: "number", describe: "generation N, i.e. --system /nix/var/nix/profiles/system-N-link", requiresArg: true })
    .option("previous", { type: "boolean", describe: "the newest generation older than the default" })
    .option("command", { alias: "c", type: "string", describe: "run CMD with the generation's bash -c instead of a login shell", requiresArg: true })
    .option("silent", { type: "boolean", describe: "hide the activation script's output" })
    .option("list", { type: "boolean", describe: "list the generations: number, date, NixOS version, default" })
    .option("doctor", { type: "boolean", describe: "find why the distro does not start, and say the fix (changes nothing)" })
    .option("json", { type: "boolean", describe: "with --list or --doctor: print JSON" })
    .option("rollback", { type: "boolean", describe: "make the chosen generation the default for the next start" })
    .option("boot-once", { type: "boolean", describe: "boot the chosen generation at the next start only" })
    .conflicts("system", ["generation", "previous"])
    .conflicts("generation", "previous")
    .conflicts("doctor", ["list", "rollback", "boot-once", "command", "silent", "system", "generation", "previous"])
    .conflicts("list", ["rollback", "boot-once", "command", "silent", "system", "generation", "previous"])
    .conflicts("rollback", ["boot-once", "command", "silent"])
    .conflicts("boot-once", ["command", "silent"])
  );
}

export function parseRecoveryArgs(args: readonly string[]): RecoveryRequest {
  const y = parser(args);
  const argv = y.parseSync();
  if (argv.help) {
    return { action: "help", text: helpText(y) };
  }
  const rest = ((argv["--"] as (string | number)[] | undefined) ?? []).map(String);
  const positional = argv._.map(String);
  if (positional.length > 0) {
    throw new UsageError(`unexpected argument '${positional[0]}': put a command after '--' (nixos-wsl-recovery -- ${positional.join(" ")})`);
  }
  const root = argv.root;
  if (argv.generation !== undefined && (!Number.isInteger(argv.generation) || argv.generation < 1)) {
    throw new UsageError("--generation takes a whole generation number, such as 42");
  }
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
    return { action: "list", root, json: argv.json === true };
  }
  if (argv.doctor) {
    if (rest.length > 0) throw new UsageError("--doctor takes no command");
    return { action: "doctor", root, json: argv.json === true };
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
  return { action: "enter", root, generation, command, silent: argv.silent === true };
}
