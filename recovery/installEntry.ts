// `nixos-wsl-init install-recovery DEST`: write the recovery entry that the
// WSL system distribution runs as /mnt/wslg/distro/bin/nixos-wsl-recovery.
// It is a copy of this executable (the system distro cannot follow a link
// into /nix/store, it has no /nix) whose dynamic loader is the FHS one.
import { chmodSync, copyFileSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { fhsInterpreter, readInterpreter, writeInterpreter } from "../src/elf.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";

const USAGE = "Usage: nixos-wsl-init install-recovery DEST   (e.g. /bin/nixos-wsl-recovery)";

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

export async function runInstallRecovery(args: readonly string[]): Promise<number> {
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (args.length !== 1 || args[0]!.startsWith("-")) {
    process.stderr.write(`nixos-wsl-init install-recovery: expected one destination path\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const destination = args[0]!;
  try {
    const result = installRecoveryEntry(process.execPath, destination);
    const how = result.patched ? `its loader set to ${result.interpreter}` : `loader ${result.interpreter ?? "none (static)"}`;
    process.stdout.write(`installed ${destination} (${how})\n`);
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(
      `nixos-wsl-init install-recovery: could not write ${destination}: ${(error as Error).message}\n` +
        `(does ${dirname(destination)} exist and is it writable?)\n`,
    );
    return EXIT_FAILURE;
  }
}
