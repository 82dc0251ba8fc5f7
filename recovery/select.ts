// Turn a request's generation choice into a generation inside the distro root,
// or a refusal that shows what is there instead.
import { posix } from "node:path";
import { ACTIVATE, SYSTEM_PROFILE } from "../src/paths.ts";
import {
  type DefaultProfile,
  executableProblem,
  type Generation,
  generationLink,
  generationNumbers,
  listGenerations,
  readDefaultProfile,
  resolveGeneration,
} from "../src/generations.ts";
import { RootFileError, RootPathError } from "../src/rootPath.ts";
import type { GenerationChoice } from "./options.ts";
import { formatGenerationTable } from "./list.ts";

/**
 * A refusal recovery explains without a stack trace: a generation that cannot
 * be used, or distro files that cannot be read. It is RootFileError itself, so
 * that the problems src/ reports (RootPathError, unreadable profiles) are
 * caught and shown the same way wherever a SelectionError is.
 */
export const SelectionError = RootFileError;
export type SelectionError = RootFileError;

const CHOOSE_ANOTHER = "Enter another generation with --generation N (listed below), or make one the default with --rollback --generation N.";

/** A path written as the host sees it (/mnt/wslg/distro/nix/…) is meant inside the root. */
export function pathInsideRoot(root: string, path: string): string {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return root !== "/" && path.startsWith(prefix) ? `/${path.slice(prefix.length)}` : path;
}

/** The generations that are there, for a refusal; or why they cannot be listed, unless the problem said it already. */
function generationTable(root: string, problem: string): string | null {
  try {
    return formatGenerationTable(root, listGenerations(root));
  } catch (error) {
    const message = (error as Error).message;
    return problem.includes(message) ? null : `(The generations cannot be listed either: ${message})`;
  }
}

function refuse(root: string, problem: string): never {
  const table = generationTable(root, problem);
  throw new SelectionError(table === null ? problem : `${problem}\n\n${table}`);
}

function defaultProfile(root: string): DefaultProfile {
  try {
    return readDefaultProfile(root);
  } catch (error) {
    refuse(root, (error as Error).message);
  }
}

/** Why the system profile names no generation, or null when it is a symlink (followed like any other path). */
function defaultProblem(profile: DefaultProfile): string | null {
  switch (profile.kind) {
    case "absent":
      return `${SYSTEM_PROFILE} does not exist, so there is no default generation`;
    case "not-a-link":
      return `${SYSTEM_PROFILE} is ${profile.what}, not a link to a generation as Nix makes it, so there is no default generation`;
    case "link":
      return null;
  }
}

export function selectGeneration(root: string, choice: GenerationChoice): Generation {
  let path: string;
  switch (choice.kind) {
    case "path":
      path = pathInsideRoot(root, choice.path);
      break;
    case "number":
      path = generationLink(choice.number);
      break;
    case "previous": {
      const profile = defaultProfile(root);
      const problem = defaultProblem(profile);
      if (problem !== null) refuse(root, `${problem}, and so no "previous" one. Choose a generation with --generation N (listed below).`);
      const current = profile.kind === "link" ? profile.number : null;
      if (current === null) refuse(root, `${SYSTEM_PROFILE} does not point at a numbered generation, so there is no "previous" one`);
      let numbers: number[];
      try {
        numbers = generationNumbers(root);
      } catch (error) {
        refuse(root, (error as Error).message);
      }
      const older = numbers.find((n) => n < current);
      if (older === undefined) refuse(root, `there is no generation older than the default (${current})`);
      path = generationLink(older);
      break;
    }
  }
  if (!path.startsWith("/")) refuse(root, `--system ${path} must be an absolute path inside the root, such as /nix/var/nix/profiles/system-42-link`);

  if (posix.normalize(path) === SYSTEM_PROFILE) {
    const profile = defaultProfile(root);
    const problem = defaultProblem(profile);
    // The table under the refusal says how to repair the profile.
    if (problem !== null) refuse(root, `${problem} to enter. Enter one with --generation N (listed below).`);
  }

  let generation: Generation;
  try {
    generation = resolveGeneration(root, path);
  } catch (error) {
    const hint = error instanceof RootPathError ? `\n${CHOOSE_ANOTHER}` : "";
    refuse(root, `${path} cannot be used: ${(error as Error).message}${hint}`);
  }
  // Only the activation script is required to enter; a missing systemd is just what recovery is for.
  const problem = executableProblem(root, `${generation.storePath}/${ACTIVATE}`);
  if (problem !== null) refuse(root, `${path} is not a NixOS system: its ${ACTIVATE} ${problem}`);
  return generation;
}

export function describeGeneration(root: string, generation: Generation): string {
  const name = generation.number === null ? generation.link : `generation ${generation.number}`;
  return `${name} (${generation.storePath}) of ${root}`;
}
