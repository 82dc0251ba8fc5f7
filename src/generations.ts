// System generations: /nix/var/nix/profiles/system -> system-N-link -> /nix/store/…-nixos-system-…
// Every path is read inside a root ("/" when booting, the distro mount when
// recovering), through resolveInRoot so links never leak out of it. Only
// ENOENT means "not there"; every other failure is reported as what it is.
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type Stats } from "node:fs";
import { basename, dirname, posix } from "node:path";
import { type BootFacts, type Candidate, decideBoot, EMPTY_BOOT_STATE } from "./bootAssessment.ts";
import { ACTIVATE, PROFILES_DIR, SYSTEM_PROFILE, SYSTEMD_BINARY } from "./paths.ts";
import { errnoCode, errnoText, hostPath, resolveInRoot, RootFileError, RootPathError } from "./rootPath.ts";

/** A generation link as Nix writes it: system-N-link, N in decimal without leading zeros. */
const LINK_NAME = /^system-([1-9][0-9]*)-link$/;
/** What looks like one but is not (system-007-link, system-0-link): never taken for generation N. */
const LINK_LIKE = /^system-[0-9]+-link$/;

export interface Generation {
  /** N of system-N-link, or null for a profile that is not a numbered link. */
  readonly number: number | null;
  /** The path that names it inside the root, e.g. /nix/var/nix/profiles/system-42-link. */
  readonly link: string;
  /** The resolved store path inside the root. */
  readonly storePath: string;
}

export interface GenerationInfo extends Generation {
  readonly created: Date;
  readonly nixosVersion: string | null;
  readonly isDefault: boolean;
}

/** A system-N-link that cannot be read, with why. */
export interface BrokenGeneration {
  readonly number: number;
  readonly link: string;
  readonly problem: string;
}

/** What /nix/var/nix/profiles/system is. */
export type DefaultProfile =
  | { readonly kind: "absent" }
  /** A symlink; `number` is N when it points at a system-N-link of the profiles directory. */
  | { readonly kind: "link"; readonly target: string; readonly number: number | null }
  /** Something else (Nix always makes a symlink): "a directory", "a regular file" … */
  | { readonly kind: "not-a-link"; readonly what: string };

export function generationLink(number: number): string {
  return `${PROFILES_DIR}/system-${number}-link`;
}

/** N of a name (or path) ending in system-N-link as Nix writes it, else null (system-007-link is not generation 7). */
export function parseGenerationNumber(name: string): number | null {
  const match = LINK_NAME.exec(basename(name));
  if (!match) return null;
  const number = Number(match[1]);
  return Number.isSafeInteger(number) ? number : null;
}

/** Whether a name looks like a generation link but is not one as Nix writes it (system-007-link, system-0-link). */
export function isMisspelledGenerationName(name: string): boolean {
  return LINK_LIKE.test(basename(name)) && parseGenerationNumber(name) === null;
}

/** The generation number a path inside the root names: system-N-link in the profiles directory, or the default for the system profile. */
function numberOfPath(root: string, link: string): number | null {
  const path = posix.normalize(link);
  if (path === SYSTEM_PROFILE) return defaultGenerationNumber(root);
  return dirname(path) === PROFILES_DIR ? parseGenerationNumber(path) : null;
}

/** The profiles directory on the host, or null when the root has none. */
function profilesOnHost(root: string): string | null {
  try {
    return hostPath(root, resolveInRoot(root, PROFILES_DIR));
  } catch (error) {
    if (error instanceof RootPathError && error.problem === "missing") return null;
    throw new RootFileError(`cannot read the system generations: ${(error as Error).message}${repairHint(error)}`);
  }
}

/** What to do about an unreadable profiles directory or profile. */
function repairHint(error: unknown): string {
  const code = error instanceof RootPathError ? error.code : errnoCode(error);
  switch (code) {
    case "ENOTDIR":
      return `. ${PROFILES_DIR} must be a directory of system-N-link profiles; enter a generation by its store path (--system /nix/store/…-nixos-system-…) to restore it`;
    case "ELOOP":
      return `. A symlink loop is on the way to ${PROFILES_DIR}; enter a generation by its store path (--system /nix/store/…-nixos-system-…) to repair the links`;
    case "EIO":
      return ". The distro's disk may be damaged: back it up (wsl --export) before repairing it";
    default:
      return "";
  }
}

/** The generation numbers present in the root, newest first. No profiles directory means none; any other failure throws RootFileError. */
export function generationNumbers(root: string): number[] {
  const profiles = profilesOnHost(root);
  return profiles === null ? [] : numbersIn(profiles);
}

function numbersIn(profiles: string): number[] {
  let names: string[];
  try {
    names = readdirSync(profiles);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw new RootFileError(`cannot read the system generations in ${profiles}: ${errnoText(error)}${repairHint(error)}`);
  }
  return names
    .map(parseGenerationNumber)
    .filter((n): n is number => n !== null)
    .sort((a, b) => b - a);
}

/** "a directory", "a regular file" …: what a path is that should have been a symlink. */
export function describeFileType(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFile()) return "a regular file";
  return "a special file (a device, socket or pipe)";
}

/** What the system profile is. A missing one is "absent"; other failures throw RootFileError. */
export function readDefaultProfile(root: string): DefaultProfile {
  const profiles = profilesOnHost(root);
  if (profiles === null) return { kind: "absent" };
  const profile = `${profiles}/system`;
  try {
    const stats = lstatSync(profile);
    if (!stats.isSymbolicLink()) return { kind: "not-a-link", what: describeFileType(stats) };
    const target = readlinkSync(profile);
    // Nix writes "system-N-link"; an absolute link into the profiles directory means the same.
    const inProfiles = dirname(target) === "." || posix.normalize(dirname(target)) === PROFILES_DIR;
    return { kind: "link", target, number: inProfiles ? parseGenerationNumber(target) : null };
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { kind: "absent" };
    throw new RootFileError(`cannot read ${SYSTEM_PROFILE}${root === "/" ? "" : ` inside ${root}`}: ${errnoText(error)}${repairHint(error)}`);
  }
}

/** The number of the generation the system profile points at, if it points at a system-N-link. Throws RootFileError when it cannot be read. */
export function defaultGenerationNumber(root: string): number | null {
  const profile = readDefaultProfile(root);
  return profile.kind === "link" ? profile.number : null;
}

/** Resolve a generation path (a profile link or a store path) inside the root. Throws RootPathError or RootFileError. */
export function resolveGeneration(root: string, link: string): Generation {
  const storePath = resolveInRoot(root, link);
  return { number: numberOfPath(root, link), link, storePath };
}

/** What keeps a generation from booting, or null when it has an executable activate and systemd. */
export function bootProblem(root: string, generation: Generation): string | null {
  for (const part of [ACTIVATE, SYSTEMD_BINARY]) {
    const problem = executableProblem(root, `${generation.storePath}/${part}`);
    if (problem) return `${generation.link}/${part} ${problem}`;
  }
  return null;
}

/** Why `path` (inside the root) is not an executable file, or null when it is. */
export function executableProblem(root: string, path: string): string | null {
  let resolved: string;
  try {
    resolved = hostPath(root, resolveInRoot(root, path));
  } catch (error) {
    if (error instanceof RootPathError && error.problem === "missing") {
      return error.via === null ? "is missing" : `is missing: ${error.message}`;
    }
    return `cannot be resolved: ${(error as Error).message}`;
  }
  let stats: Stats;
  try {
    stats = statSync(resolved);
  } catch (error) {
    return errnoCode(error) === "ENOENT" ? "is missing" : `cannot be read: ${errnoText(error)}`;
  }
  if (!stats.isFile()) return "is not a file";
  try {
    accessSync(resolved, constants.X_OK);
    return null;
  } catch (error) {
    // EACCES is the answer "no execute permission"; anything else is a failure to find out.
    return errnoCode(error) === "EACCES" ? "is not executable" : `cannot be checked for execute permission: ${errnoText(error)}`;
  }
}

export type BootChoice =
  | { readonly kind: "default"; readonly generation: Generation }
  | { readonly kind: "fallback"; readonly generation: Generation; readonly reason: string }
  | { readonly kind: "none"; readonly reasons: readonly string[] };

/** A generation link resolved and checked for booting, or why it cannot be resolved. */
function candidate(root: string, link: string): Candidate {
  try {
    const generation = resolveGeneration(root, link);
    return { generation, problem: bootProblem(root, generation) };
  } catch (error) {
    return { link, error: (error as Error).message };
  }
}

/**
 * What the boot decision needs to know about a root's generations. Only the
 * default is read up front, so the common boot reads a handful of inodes;
 * older generations are read when a fallback is needed. Never throws.
 */
export function bootFacts(root: string): BootFacts {
  const defaultProfile = candidate(root, SYSTEM_PROFILE);
  const defaultNumber = "generation" in defaultProfile ? defaultProfile.generation.number : null;
  return {
    defaultProfile,
    older: () => {
      let numbers: number[];
      try {
        numbers = generationNumbers(root);
      } catch (error) {
        return [{ link: PROFILES_DIR, error: (error as Error).message }];
      }
      return numbers.filter((number) => defaultNumber === null || number < defaultNumber).map((number) => candidate(root, generationLink(number)));
    },
    resolve: (link) => candidate(root, link),
  };
}

/** The generation to boot without boot counting: the default when it can boot, else the newest older one that can. */
export function chooseBootGeneration(root: string): BootChoice {
  const decision = decideBoot(bootFacts(root), EMPTY_BOOT_STATE, 0);
  if (decision.kind === "none") return { kind: "none", reasons: decision.reasons };
  if (decision.kind === "fallback") return { kind: "fallback", generation: decision.generation, reason: decision.reason };
  return { kind: "default", generation: decision.generation };
}

/**
 * Every generation (system-N-link as Nix writes it) with its date and version,
 * newest first. Broken links are listed with their problem. Throws
 * RootFileError when the profiles directory cannot be read.
 */
export function listGenerations(root: string): Array<GenerationInfo | BrokenGeneration> {
  const profiles = profilesOnHost(root);
  if (profiles === null) return [];
  const numbers = numbersIn(profiles);
  let defaultNumber: number | null = null;
  try {
    defaultNumber = defaultGenerationNumber(root);
  } catch {
    // An unreadable profile marks no generation as the default; the table says why (recovery/list.ts).
  }
  return numbers.map((number) => {
    const link = generationLink(number);
    try {
      const generation: Generation = { number, link, storePath: resolveInRoot(root, link) };
      return {
        ...generation,
        created: linkDate(profiles, link),
        nixosVersion: readVersion(root, generation.storePath),
        isDefault: number === defaultNumber,
      };
    } catch (error) {
      return { number, link, problem: error instanceof RootFileError ? error.message : errnoText(error) };
    }
  });
}

/** A generation's creation date: its link's mtime. */
function linkDate(profiles: string, link: string): Date {
  try {
    return lstatSync(`${profiles}/${basename(link)}`).mtime;
  } catch (error) {
    throw new RootFileError(`cannot read the date of ${link}: ${errnoText(error)}`);
  }
}

/** The generation's nixos-version, null when it has none; a file that cannot be read throws. */
function readVersion(root: string, storePath: string): string | null {
  const path = `${storePath}/nixos-version`;
  try {
    return readFileSync(hostPath(root, resolveInRoot(root, path)), "utf8").trim() || null;
  } catch (error) {
    if (error instanceof RootPathError ? error.problem === "missing" : errnoCode(error) === "ENOENT") return null;
    throw new RootFileError(`cannot read ${path}: ${error instanceof RootPathError ? error.message : errnoText(error)}`);
  }
}
