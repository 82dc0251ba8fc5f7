// `nixos-wsl-init install-recovery DEST`: write the recovery entry that the
// WSL system distribution runs as /mnt/wslg/distro/bin/nixos-wsl-recovery.
// It is a copy of this executable (the system distro cannot follow a link
// into /nix/store, it has no /nix) whose dynamic loader is the FHS one.
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { replaceAtomically } from "../src/atomicFile.ts";
import { fhsInterpreter, type Interpreter, readInterpreter, writeInterpreter } from "./elf.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";
import { errnoCode, errnoText } from "../src/rootPath.ts";
import { BENEATH_OPTION, coveredDirectory, inOwnMountNamespace, installBeneath, pathBeneath } from "./beneathMount.ts";

const USAGE = `Usage: nixos-wsl-init install-recovery DEST [--stamp FILE]
  DEST          where to write the entry, e.g. /bin/nixos-wsl-recovery
  --stamp FILE  remember in FILE which executable DEST was made from and the
                size and SHA-256 of what was written; do nothing when DEST is
                still exactly that (activation runs at every boot), write it
                again when it changed or was damaged`;

export interface InstalledEntry {
  readonly interpreter: string | null;
  readonly patched: boolean;
}

/** The size and SHA-256 of a file, read through once. */
export function fileDigest(path: string): { size: number; sha256: string } {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  let size = 0;
  try {
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0; size += read) hash.update(buffer.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return { size, sha256: hash.digest("hex") };
}

/**
 * Whether the entry must name the FHS loader instead: the store's loader (the
 * system distribution has no /nix), or another private glibc's (not under
 * /lib, /lib64 or /usr) when the FHS path fits in its place.
 */
function needsFhsLoader(interpreter: Interpreter): boolean {
  if (interpreter.path.startsWith("/nix/")) return true;
  let fhs: string;
  try {
    fhs = fhsInterpreter(interpreter.machine);
  } catch {
    return false; // a machine with no known FHS loader: kept as it is
  }
  return interpreter.path !== fhs && !/^\/(usr\/)?lib(64)?\//.test(interpreter.path) && Buffer.byteLength(fhs) < interpreter.size;
}

/** Copy `source` to `destination` so that it runs on a system without /nix. Atomic: a new file, flushed, renamed into place. */
export function installRecoveryEntry(source: string, destination: string): InstalledEntry {
  let patched = false;
  replaceAtomically(
    destination,
    (temporary) => {
      copyFileSync(source, temporary);
      const interpreter = readInterpreter(temporary);
      if (interpreter !== null && needsFhsLoader(interpreter)) {
        writeInterpreter(temporary, interpreter, fhsInterpreter(interpreter.machine));
        patched = true;
      }
      chmodSync(temporary, 0o755);
    },
    { durable: true },
  );
  return { interpreter: readInterpreter(destination)?.path ?? null, patched };
}

interface InstallArgs {
  readonly destination: string;
  readonly stamp: string | null;
  /** Set in the run beneath a covering mount: the mount point beneath and where to bind it. */
  readonly beneath: { readonly mountPoint: string; readonly bindDir: string } | null;
}

function parseInstallArgs(args: readonly string[]): InstallArgs | string {
  const rest = [...args];
  let beneath: InstallArgs["beneath"] = null;
  const beneathAt = rest.indexOf(BENEATH_OPTION);
  if (beneathAt !== -1) {
    const value = rest[beneathAt + 1] ?? "";
    const colon = value.lastIndexOf(":");
    if (colon <= 0) return `${BENEATH_OPTION} needs MOUNT_POINT:BIND_DIR`;
    beneath = { mountPoint: value.slice(0, colon), bindDir: value.slice(colon + 1) };
    rest.splice(beneathAt, 2);
  }
  let stamp: string | null = null;
  const stampAt = rest.indexOf("--stamp");
  if (stampAt !== -1) {
    stamp = rest[stampAt + 1] ?? null;
    if (stamp === null || stamp.startsWith("-")) return "--stamp needs a file";
    rest.splice(stampAt, 2);
  }
  if (rest.length !== 1 || rest[0]!.startsWith("-")) return "expected one destination path";
  return { destination: rest[0]!, stamp, beneath };
}

/** The first line of a stamp; a stamp without it (the "SOURCE -> DEST" of earlier versions) is never up to date. */
const STAMP_FORMAT = "nixos-wsl-init recovery entry stamp v2";

export interface Stamp {
  /** The executable the entry was copied from (its real path). */
  readonly source: string;
  readonly destination: string;
  /** Size and SHA-256 of the entry as written. */
  readonly size: number;
  readonly sha256: string;
}

export function formatStamp(stamp: Stamp): string {
  return `${STAMP_FORMAT}\nsource ${stamp.source}\ndestination ${stamp.destination}\nsize ${stamp.size}\nsha256 ${stamp.sha256}\n`;
}

/** A stamp's fields, or null for a stamp of another format (an older version's, or a damaged one). */
export function parseStamp(text: string): Stamp | null {
  const [format, ...lines] = text.split("\n");
  if (format !== STAMP_FORMAT) return null;
  const fields = new Map<string, string>();
  for (const line of lines) {
    const space = line.indexOf(" ");
    if (space > 0) fields.set(line.slice(0, space), line.slice(space + 1));
  }
  const size = Number(fields.get("size"));
  const source = fields.get("source");
  const destination = fields.get("destination");
  const sha256 = fields.get("sha256");
  if (!source || !destination || !sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size) || size < 0) return null;
  return { source, destination, size, sha256 };
}

/**
 * Whether DEST is still what the stamp says was installed there from this
 * executable: same source, same size, same SHA-256, mode 755. Returns null
 * when it is, else why it must be written (null reason: nothing to report,
 * e.g. no stamp yet or a new executable).
 */
export function entryProblem(stampFile: string, source: string, destination: string, file = destination): { reason: string | null } | null {
  let stamp: Stamp | null;
  try {
    stamp = parseStamp(readFileSync(stampFile, "utf8"));
  } catch (error) {
    return { reason: errnoCode(error) === "ENOENT" ? null : `its stamp ${stampFile} cannot be read: ${errnoText(error)}` };
  }
  if (stamp === null) return { reason: `its stamp ${stampFile} is from an older version or damaged` };
  if (stamp.source !== realpathSync(source) || stamp.destination !== destination) return { reason: null };
  try {
    const stats = lstatSync(file);
    if (!stats.isFile()) return { reason: "it is not a regular file" };
    if (stats.size !== stamp.size) return { reason: `it had ${stats.size} bytes instead of ${stamp.size} (truncated or damaged)` };
    if ((stats.mode & 0o7777) !== 0o755) return { reason: `its mode was ${(stats.mode & 0o7777).toString(8)} instead of 755` };
    if (fileDigest(file).sha256 !== stamp.sha256) return { reason: "its content does not match what was installed (damaged)" };
    return null;
  } catch (error) {
    return { reason: errnoCode(error) === "ENOENT" ? "it was missing" : `it could not be read: ${errnoText(error)}` };
  }
}

/** Write the stamp atomically, so that a crash leaves the old one or the new one. */
function writeStamp(file: string, stamp: Stamp): void {
  mkdirSync(dirname(file), { recursive: true });
  replaceAtomically(file, (temporary) => writeFileSync(temporary, formatStamp(stamp)), { durable: true });
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
  if (parsed.beneath === null) {
    const covered = coveredDirectory(parsed.destination);
    if (covered !== null) return installBeneath(covered, args);
  }
  // Beneath a covering mount, the file written is DEST as the distro's disk holds it.
  let file = parsed.destination;
  if (parsed.beneath !== null) {
    const { mountPoint, bindDir } = parsed.beneath;
    // Only in the namespace installBeneath makes: a bind made elsewhere would outlive this run.
    if (!inOwnMountNamespace()) {
      process.stderr.write(`nixos-wsl-init install-recovery: ${BENEATH_OPTION} is for install-recovery's own run in a mount namespace of its own; run install-recovery DEST\n`);
      return EXIT_USAGE;
    }
    // Loaded here only: vitest (on Node) imports this module, and libc needs bun:ffi.
    const { MS_BIND, mount } = await import("../src/libc.ts");
    try {
      mount(mountPoint, bindDir, null, MS_BIND);
    } catch (error) {
      process.stderr.write(
        `nixos-wsl-init install-recovery: could not reach what lies beneath the mount on ${dirname(parsed.destination)}: ${(error as Error).message}\n` +
          `(run it as root; or unmount ${dirname(parsed.destination)} and run again)\n`,
      );
      return EXIT_FAILURE;
    }
    file = pathBeneath(parsed.destination, { directory: realpathSync(dirname(parsed.destination)), beneath: mountPoint }, bindDir);
  }
  const where = file === parsed.destination ? parsed.destination : `${parsed.destination} (beneath the filesystem mounted there, on the distro's disk)`;
  const source = process.execPath;
  const problem = parsed.stamp === null ? { reason: null } : entryProblem(parsed.stamp, source, parsed.destination, file);
  if (problem === null) {
    process.stdout.write(`${where} is up to date\n`);
    return EXIT_OK;
  }
  let result: InstalledEntry;
  try {
    result = installRecoveryEntry(source, file);
  } catch (error) {
    process.stderr.write(
      `nixos-wsl-init install-recovery: could not write ${where}: ${(error as Error).message}\n` +
        `(does ${dirname(file)} exist and is it writable?)\n`,
    );
    return EXIT_FAILURE;
  }
  const how = result.patched ? `its loader set to ${result.interpreter}` : `loader ${result.interpreter ?? "none (static)"}`;
  const why = problem.reason === null ? "" : `; written again because ${problem.reason}`;
  process.stdout.write(`installed ${where} (${how})${why}\n`);
  if (parsed.stamp !== null) {
    try {
      writeStamp(parsed.stamp, { source: realpathSync(source), destination: parsed.destination, ...fileDigest(file) });
    } catch (error) {
      // The entry is fine; without a stamp it is only written again at the next activation.
      process.stderr.write(
        `nixos-wsl-init install-recovery: ${parsed.destination} is installed, but the stamp ${parsed.stamp} could not be written: ` +
          `${(error as Error).message}\n(the entry will be copied again at the next activation; is ${dirname(parsed.stamp)} writable?)\n`,
      );
    }
  }
  return EXIT_OK;
}
