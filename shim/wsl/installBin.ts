// `nixos-wsl-init install-bin --system PATH`: the four /bin entries WSL and
// its generated units call (/bin/sh, /bin/mount, /bin/true, /bin/login), each
// pointing into the given system and replaced atomically (written beside it,
// then renamed over it). Everything else in /bin is left alone. The NixOS
// module's activation runs it for the system being activated.
import { replaceAtomically } from "../../src/atomicFile.ts";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../../src/exitCodes.ts";
import { readCommandLine } from "../../src/commandLine.ts";

const USAGE = "Usage: nixos-wsl-init install-bin --system PATH\n";
const HELP = `${USAGE}Writes /bin/sh, /bin/mount, /bin/true and /bin/login for WSL, pointing into the NixOS system PATH
(a store path such as $systemConfig, or a link to one: it is resolved). Each is replaced atomically;
nothing else in /bin changes.
`;

/** The entries that are links to the system's own programs. */
const LINKED = ["mount", "true", "login"] as const;

/**
 * /bin/sh: bash of the system, with the system's sw/bin added at the end of
 * PATH when PATH holds no NixOS profile, so that WSL's check
 * `systemctl is-system-running | grep -E "running|degraded"`, run with a bare
 * FHS PATH, finds both programs even before the activation has made
 * /run/current-system. Otherwise PATH is left as it is. As `sh`, bash runs in POSIX mode.
 */
export function binShScript(system: string): string {
  const bash = `${system}/sw/bin/bash`;
  return `#!${bash} --posix
# Written by nixos-wsl-init install-bin for ${system}; replaced at each activation.
case ":\${PATH-}:" in
  *:/run/current-system/sw/bin:* | *:${system}/sw/bin:*) ;;
  *) PATH="\${PATH-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:${system}/sw/bin"; export PATH ;;
esac
exec -a "$0" ${bash} "$@"
`;
}

class InstallError extends Error {}

export function runInstallBin(args: readonly string[]): number {
  let system: string;
  let root: string;
  try {
    // Run in every activation: read by hand (src/commandLine.ts says why).
    const { values, stray, rest } = readCommandLine(args, { system: { type: "string" }, root: { type: "string" }, help: { type: "boolean", short: "h" } });
    if (values.help) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    const unexpected = [...stray, ...rest];
    if (unexpected.length > 0) throw new Error(`unexpected argument '${unexpected[0]}'`);
    if (!values.system) throw new Error("--system PATH is required");
    system = values.system as string;
    root = (values.root as string | undefined) ?? "/"; // for tests: a directory standing in for /
  } catch (error) {
    process.stderr.write(`nixos-wsl-init install-bin: ${(error as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    const changed = installBin(system, root);
    if (changed.length > 0) process.stdout.write(`install-bin: ${changed.join(", ")} now point into ${realpathSync(system)}\n`);
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init install-bin: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

/** Install the four entries under `root`/bin; returns the ones that changed. */
export function installBin(systemArg: string, root = "/"): string[] {
  let system: string;
  try {
    system = realpathSync(systemArg);
  } catch (error) {
    throw new InstallError(`checking the system: ${systemArg} cannot be resolved (${(error as Error).message}); pass --system the path of a NixOS system, e.g. $systemConfig in the activation or /run/current-system`);
  }
  const needed = ["bash", ...LINKED].map((name) => `${system}/sw/bin/${name}`);
  const missing = needed.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new InstallError(
      `checking the system: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing, so /bin would point nowhere; nothing was changed. ` +
        `Is ${system} a NixOS system (it needs bash, coreutils, util-linux and shadow in environment.systemPackages)?`,
    );
  }
  const bin = join(root, "bin");
  try {
    mkdirSync(bin, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new InstallError(`creating ${bin}: ${(error as Error).message}; is / writable (run as root)?`);
  }
  const changed: string[] = [];
  const sh = binShScript(system);
  if (!sameFile(join(bin, "sh"), sh)) {
    replace(bin, "sh", (temporary) => writeFileSync(temporary, sh, { mode: 0o755 }));
    changed.push("/bin/sh");
  }
  for (const name of LINKED) {
    const target = `${system}/sw/bin/${name}`;
    if (sameLink(join(bin, name), target)) continue;
    replace(bin, name, (temporary) => symlinkSync(target, temporary));
    changed.push(`/bin/${name}`);
  }
  return changed;
}

/** Write the new entry beside the old one, then rename it over it: a reader sees the old or the new, never none. */
function replace(bin: string, name: string, write: (temporary: string) => void): void {
  try {
    replaceAtomically(join(bin, name), write);
  } catch (error) {
    throw new InstallError(`writing /bin/${name}: ${(error as Error).message}; the old /bin/${name} is unchanged. Check that /bin is a writable directory and /bin/${name} not a directory`);
  }
}

function sameLink(path: string, target: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && readlinkSync(path) === target;
  } catch {
    return false;
  }
}

function sameFile(path: string, text: string): boolean {
  try {
    return lstatSync(path).isFile() && (lstatSync(path).mode & 0o777) === 0o755 && readFileSync(path, "utf8") === text;
  } catch {
    return false;
  }
}
