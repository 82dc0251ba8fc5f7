// The command line of `nixos-wsl-init tarball`, parsed with yargs into one request.
import yargs from "yargs";
import { helpText, UsageError, withHouseRules } from "../../src/cliParser.ts";
import type { ChownRule } from "./owners.ts";

export type TarballRequest =
  | { readonly action: "help"; readonly text: string }
  | {
      readonly action: "pack";
      readonly root: string;
      readonly out: string;
      readonly name: string;
      readonly nameGiven: boolean;
      readonly extraFiles: string | null;
      readonly chown: readonly ChownRule[];
      readonly forbid: readonly string[];
      readonly allowFindings: boolean;
      /** The mtime of every entry: SOURCE_DATE_EPOCH, or 1 (as the files in /nix/store). */
      readonly mtime: number;
    };


export const DEFAULT_NAME = "NixOS";
export const DEFAULT_MTIME = 1;
/** The largest mtime a ustar header holds (11 octal digits). */
const MAX_MTIME = 0o77777777777;

const USAGE = `Usage: nixos-wsl-init tarball [OPTIONS] ROOT OUT.wsl

Pack a prepared NixOS root (what 'nixos-install --root ROOT' made) into the
gzip'd tar that 'wsl --import' and a double-click install take. The same ROOT
gives the same file, byte for byte: names sorted, one mtime, numeric owners.
ROOT is never changed; OUT.wsl appears only when it is complete.`;

const EPILOGUE = `The image gets /etc/wsl-distribution.conf: [oobe] defaultName (--name) and
defaultUid (the uid in the image's /etc/passwd of defaultUser from
/etc/nixos-wsl-init.json, "nixos" without it; left out with a warning when
there is no such user), and [shortcut] icon when the image has
/etc/nixos-wsl-init/icon.ico or /etc/nixos.ico. An image that has its own
/etc/wsl-distribution.conf keeps it.

Before packing, /etc, /home, /root, /var and the --extra-files tree are
searched (symlinks followed inside the image, /nix/store itself not) for
private keys, password hashes in /etc/shadow, --forbid names, lines like
GITHUB_TOKEN=... in environment and shell files, logins in the files tools
keep them in (.netrc and /etc/nix/netrc, git's credential store,
.docker/config.json and podman's auth.json, .aws/credentials, .npmrc and
/etc/npmrc, .pypirc, gh's hosts.yml, cargo's credentials, .kube/config), and
an /etc/resolv.conf.
Any finding refuses the image (nothing is written) unless --allow-findings
or WSL_TARBALL_SKIP_CHECKS=1 is given; the findings are printed either way.

SOURCE_DATE_EPOCH, when set, is the mtime of every entry (else 1).

Exit codes: 0 written; 1 failed or refused (findings, a missing output
directory, a full disk, ...); 2 bad usage; 126 ROOT is not a NixOS root (no
etc/NIXOS); 130 or 143 interrupted by SIGINT or SIGTERM (nothing written).`;

function parser(args: readonly string[]) {
  return withHouseRules(
    yargs([...args])
    .scriptName("nixos-wsl-init tarball")
    .usage(USAGE)
    .epilogue(EPILOGUE)
    .parserConfiguration({ "unknown-options-as-args": false, "parse-positional-numbers": false })
    .option("name", { type: "string", describe: `[oobe] defaultName: the distribution's name (default ${DEFAULT_NAME})`, requiresArg: true })
    .option("extra-files", { type: "string", describe: "a directory whose tree is laid over ROOT's in the image (new files owned by root)", requiresArg: true })
    .option("chown", { type: "string", nargs: 2, describe: "PATH UID:GID: set the owner of PATH in the image, recursively (repeatable)" })
    .option("forbid", { type: "string", describe: "a personal identifier that must appear nowhere searched (repeatable)", requiresArg: true })
    .option("allow-findings", { type: "boolean", describe: "pack even when the check finds something (the findings are still printed)" })
  );
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function parseMtime(env: NodeJS.ProcessEnv): number {
  const value = env.SOURCE_DATE_EPOCH;
  if (value === undefined || value === "") return DEFAULT_MTIME;
  if (!/^\d+$/.test(value) || Number(value) > MAX_MTIME) throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds, not '${value}'`);
  return Number(value);
}

export function parseTarballArgs(args: readonly string[], env: NodeJS.ProcessEnv = process.env): TarballRequest {
  const y = parser(args);
  const argv = y.parseSync();
  if (argv.help) {
    return { action: "help", text: helpText(y) };
  }
  const positional = argv._.map(String);
  if (positional.length !== 2) {
    throw new UsageError(positional.length < 2 ? "give the root to pack and the output file: tarball ROOT OUT.wsl" : `unexpected argument '${positional[2]}'`);
  }
  const [root, out] = positional as [string, string];
  const name = argv.name ?? DEFAULT_NAME;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UsageError(`--name '${name}': WSL takes letters, digits, '.', '_' and '-' only`);
  const chownArgs = list(argv.chown);
  const chown: ChownRule[] = [];
  for (let i = 0; i + 1 < chownArgs.length; i += 2) {
    const owner = chownArgs[i + 1]!;
    if (!/^[^:]+:[^:]+$/.test(owner)) throw new UsageError(`--chown ${chownArgs[i]} ${owner}: the owner must be UID:GID, such as 1000:100`);
    chown.push({ path: chownArgs[i]!, owner });
  }
  const forbid = list(argv.forbid);
  if (forbid.some((word) => word.trim() === "")) throw new UsageError("--forbid takes a non-empty name");
  const extraFiles = argv["extra-files"];
  return {
    action: "pack",
    root,
    out,
    name,
    nameGiven: argv.name !== undefined,
    extraFiles: extraFiles === undefined ? null : extraFiles,
    chown,
    forbid,
    allowFindings: argv["allow-findings"] === true || env.WSL_TARBALL_SKIP_CHECKS === "1",
    mtime: parseMtime(env),
  };
}
