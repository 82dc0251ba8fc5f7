// Turn a request's generation choice into a generation inside the distro root,
// or a refusal that shows what is there instead.
import { ACTIVATE, SYSTEM_PROFILE } from "../src/paths.ts";
import {
  defaultGenerationNumber,
  executableProblem,
  type Generation,
  generationLink,
  generationNumbers,
  listGenerations,
  resolveGeneration,
} from "../src/generations.ts";
import type { GenerationChoice } from "./options.ts";
import { formatGenerationTable } from "./list.ts";

export class SelectionError extends Error {
  override name = "SelectionError";
}

/** A path written as the host sees it (/mnt/wslg/distro/nix/…) is meant inside the root. */
export function pathInsideRoot(root: string, path: string): string {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return root !== "/" && path.startsWith(prefix) ? `/${path.slice(prefix.length)}` : path;
}

function refuse(root: string, problem: string): never {
  throw new SelectionError(`${problem}\n\n${formatGenerationTable(root, listGenerations(root))}`);
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
      const current = defaultGenerationNumber(root);
      if (current === null) refuse(root, `${SYSTEM_PROFILE} does not point at a numbered generation, so there is no "previous" one`);
      const older = generationNumbers(root).find((n) => n < current);
      if (older === undefined) refuse(root, `there is no generation older than the default (${current})`);
      path = generationLink(older);
      break;
    }
  }
  if (!path.startsWith("/")) refuse(root, `--system ${path} must be an absolute path inside the root, such as /nix/var/nix/profiles/system-42-link`);

  let generation: Generation;
  try {
    generation = resolveGeneration(root, path);
  } catch (error) {
    refuse(root, `${path} cannot be used: ${(error as Error).message}`);
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
