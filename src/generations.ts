// System generations: /nix/var/nix/profiles/system -> system-N-link -> /nix/store/…-nixos-system-…
// Every path is read inside a root ("/" when booting, the distro mount when
// recovering), through resolveInRoot so links never leak out of it.
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename } from "node:path";
import { ACTIVATE, PROFILES_DIR, SYSTEM_PROFILE, SYSTEMD_BINARY } from "./paths.ts";
import { hostPath, resolveInRoot, RootPathError } from "./rootPath.ts";

const LINK_NAME = /^system-(\d+)-link$/;

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

export function generationLink(number: number): string {
  return `${PROFILES_DIR}/system-${number}-link`;
}

export function parseGenerationNumber(name: string): number | null {
  const match = LINK_NAME.exec(basename(name));
  return match ? Number(match[1]) : null;
}

/** The generation numbers present in the root, newest first. */
export function generationNumbers(root: string): number[] {
  let names: string[];
  try {
    names = readdirSync(hostPath(root, PROFILES_DIR));
  } catch {
    return [];
  }
  return names
    .map(parseGenerationNumber)
    .filter((n): n is number => n !== null)
    .sort((a, b) => b - a);
}

/** The number of the generation the system profile points at, if it points at a system-N-link. */
export function defaultGenerationNumber(root: string): number | null {
  try {
    return parseGenerationNumber(readlinkSync(hostPath(root, SYSTEM_PROFILE)));
  } catch {
    return null;
  }
}

/** Resolve a generation path (a profile link or a store path) inside the root. Throws RootPathError. */
export function resolveGeneration(root: string, link: string): Generation {
  const storePath = resolveInRoot(root, link);
  const number = parseGenerationNumber(link) ?? (link === SYSTEM_PROFILE ? defaultGenerationNumber(root) : null);
  return { number, link, storePath };
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
    if (error instanceof RootPathError && error.problem === "missing") return "is missing";
    return `cannot be resolved (${(error as Error).message})`;
  }
  try {
    if (!statSync(resolved).isFile()) return "is not a file";
    accessSync(resolved, constants.X_OK);
    return null;
  } catch {
    return "is not executable";
  }
}

export type BootChoice =
  | { readonly kind: "default"; readonly generation: Generation }
  | { readonly kind: "fallback"; readonly generation: Generation; readonly reason: string }
  | { readonly kind: "none"; readonly reasons: readonly string[] };

/**
 * The generation to boot: the system profile when it is bootable, otherwise
 * the newest older system-N-link that is. Only the default is examined when
 * it is fine, so the common boot reads a handful of inodes.
 */
export function chooseBootGeneration(root: string): BootChoice {
  const reasons: string[] = [];
  let defaultNumber: number | null = null;
  try {
    const profile = resolveGeneration(root, SYSTEM_PROFILE);
    defaultNumber = profile.number;
    const problem = bootProblem(root, profile);
    if (problem === null) return { kind: "default", generation: profile };
    reasons.push(problem);
  } catch (error) {
    reasons.push(`${SYSTEM_PROFILE} cannot be resolved: ${(error as Error).message}`);
  }

  for (const number of generationNumbers(root)) {
    if (defaultNumber !== null && number >= defaultNumber) continue;
    const link = generationLink(number);
    let candidate: Generation;
    try {
      candidate = resolveGeneration(root, link);
    } catch (error) {
      reasons.push(`${link} cannot be resolved: ${(error as Error).message}`);
      continue;
    }
    const problem = bootProblem(root, candidate);
    if (problem === null) return { kind: "fallback", generation: candidate, reason: reasons[0]! };
    reasons.push(problem);
  }
  return { kind: "none", reasons };
}

/** Every numbered generation with its date and version, newest first. Broken links are listed with their problem. */
export function listGenerations(root: string): Array<GenerationInfo | { number: number; link: string; problem: string }> {
  const defaultNumber = defaultGenerationNumber(root);
  return generationNumbers(root).map((number) => {
    const link = generationLink(number);
    try {
      const generation = resolveGeneration(root, link);
      return {
        ...generation,
        created: lstatSync(hostPath(root, link)).mtime,
        nixosVersion: readVersion(root, generation.storePath),
        isDefault: number === defaultNumber,
      };
    } catch (error) {
      return { number, link, problem: (error as Error).message };
    }
  });
}

function readVersion(root: string, storePath: string): string | null {
  try {
    return readFileSync(hostPath(root, resolveInRoot(root, `${storePath}/nixos-version`)), "utf8").trim() || null;
  } catch {
    return null;
  }
}
