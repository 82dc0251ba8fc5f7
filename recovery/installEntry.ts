// `nixos-wsl-init install-recovery DEST`: write the recovery entry that the
// WSL system distribution runs as /mnt/wslg/distro/bin/nixos-wsl-recovery.
// It is a copy of this executable (the system distro cannot follow a link
// into /nix/store, it has no /nix) whose dynamic loader is the FHS one.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fhsInterpreter, readInterpreter, writeInterpreter } from "../src/elf.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";

const USAGE = `Usage: nixos-wsl-init install-recovery DEST [--stamp FILE]
  DEST          where to write the entry, e.g. /bin/nixos-wsl-recovery
  --stamp FILE  remember in FILE which executable DEST was made from, and do
                nothing when it is the same one (activation runs at every boot)`;

/** Copy `source` to `destination` so that it runs on a system without /nix. Atomic: a new file renamed into place. */
export function installRecoveryEntry(source: string, destination: string): { interpreter: string | null; patched: boolean } {
  const temporary = `${destination}.tmp-${process.pid}`;
  try {
    copyFileSync(source, temporary);
    const interpreter = readInterpreter(temporary);
    let patched = false;
    if (interpreter !== null && interpreter.path.startsWith("/nix/")) {
      writeInterpreter(temporary, interpreter, fhsInterpreter(interpreter.machine));
      patched = true;
    }
    chmodSync(temporary, 0o755);
    renameSync(temporary, destination);
    return { interpreter: readInterpreter(destination)?.path ?? null, patched };
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

interface InstallArgs {
  readonly destination: string;
  readonly stamp: string | null;
}

function parseInstallArgs(args: readonly string[]): InstallArgs | string {
  const rest = [...args];
  let stamp: string | null = null;
  const stampAt = rest.indexOf("--stamp");
  if (stampAt !== -1) {
    stamp = rest[stampAt + 1] ?? null;
    if (stamp === null || stamp.startsWith("-")) return "--stamp needs a file";
    rest.splice(stampAt, 2);
  }
  if (rest.length !== 1 || rest[0]!.startsWith("-")) return "expected one destination path";
  return { destination: rest[0]!, stamp };
}

/** What the stamp records: the executable the entry was copied from, and where it went. */
function stampText(source: string, destination: string): string {
  return `${realpathSync(source)} -> ${destination}\n`;
}

function upToDate(args: InstallArgs, source: string): boolean {
  if (args.stamp === null || !existsSync(args.destination)) return false;
  try {
    return readFileSync(args.stamp, "utf8") === stampText(source, args.destination);
  } catch {
    return false;
  }
}

export async function runInstallRecovery(args: readonly string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  const parsed = parseInstallArgs(args);
  if (typeof parsed === "string") {
    process.stderr.write(`nixos-wsl-init install-recovery: ${parsed}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const source = process.execPath;
  if (upToDate(parsed, source)) {
    process.stdout.write(`${parsed.destination} is up to date\n`);
    return EXIT_OK;
  }
  try {
    const result = installRecoveryEntry(source, parsed.destination);
    if (parsed.stamp !== null) {
      mkdirSync(dirname(parsed.stamp), { recursive: true });
      writeFileSync(parsed.stamp, stampText(source, parsed.destination));
    }
    const how = result.patched ? `its loader set to ${result.interpreter}` : `loader ${result.interpreter ?? "none (static)"}`;
    process.stdout.write(`installed ${parsed.destination} (${how})\n`);
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(
      `nixos-wsl-init install-recovery: could not write ${parsed.destination}: ${(error as Error).message}\n` +
        `(does ${dirname(parsed.destination)} exist and is it writable?)\n`,
    );
    return EXIT_FAILURE;
  }
}
