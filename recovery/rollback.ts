// --rollback: make another generation the default for the next start by
// repointing the system profile with the project's one atomic, durable
// replacement (src/atomicFile.ts: a new link renamed over the old one, synced
// to disk). The new link is made in /nix/var/nix, not in the profiles
// directory, where Nix would take a link left by a killed run for a GC root;
// such a leftover is removed by the next run once it is a minute old. No
// generation is ever deleted, and nothing but a symlink is ever replaced.
import { lstatSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname } from "node:path";
import { replaceAtomically } from "../src/atomicFile.ts";
import { bootProblem, describeFileType, type Generation, isMisspelledGenerationName } from "../src/generations.ts";
import { PROFILES_DIR, SYSTEM_PROFILE } from "../src/paths.ts";
import { errnoCode, errnoText, hostPath, resolveInRoot } from "../src/rootPath.ts";
import { profileRepairAdvice } from "./list.ts";
import { SelectionError } from "./select.ts";

export interface RollbackResult {
  readonly previousTarget: string | null;
  readonly newTarget: string;
  readonly changed: boolean;
}

const UNCHANGED = "The default generation is unchanged.";

/** What the system profile points at now: null when there is none. Refuses anything but a symlink. */
function currentTarget(profile: string, number: number): string | null {
  try {
    const stats = lstatSync(profile);
    if (!stats.isSymbolicLink()) {
      throw new SelectionError(
        `${SYSTEM_PROFILE} is ${describeFileType(stats)}, not a link to a generation as Nix makes it; --rollback replaces only a link, ` +
          `so it left it alone. ${UNCHANGED}\n${profileRepairAdvice(number)}`,
      );
    }
    return readlinkSync(profile);
  } catch (error) {
    if (error instanceof SelectionError) throw error;
    if (errnoCode(error) === "ENOENT") return null;
    throw new SelectionError(`cannot read ${SYSTEM_PROFILE} (${profile}): ${errnoText(error)}. ${UNCHANGED}`);
  }
}

export function rollback(root: string, generation: Generation): RollbackResult {
  if (generation.number === null) {
    if (isMisspelledGenerationName(generation.link)) {
      throw new SelectionError(
        `${generation.link} is not a generation name as Nix writes it: system-N-link, with N in decimal and no leading zeros. ` +
          `--rollback makes only such a link the default. ${UNCHANGED} See the generations with --list and choose one with --generation N.`,
      );
    }
    throw new SelectionError(
      `${generation.link} is not a numbered generation: --rollback makes a system-N-link the default (use --generation N)`,
    );
  }
  const problem = bootProblem(root, generation);
  if (problem !== null) throw new SelectionError(`generation ${generation.number} cannot boot, so it is not made the default: ${problem}`);

  const profiles = hostPath(root, resolveInRoot(root, PROFILES_DIR));
  const profile = `${profiles}/system`;
  const newTarget = `system-${generation.number}-link`;
  const previousTarget = currentTarget(profile, generation.number);
  if (previousTarget === newTarget) return { previousTarget, newTarget, changed: false };

  try {
    replaceAtomically(profile, (temporary) => symlinkSync(newTarget, temporary), { durable: true, temporaryDirectory: dirname(profiles) });
  } catch (error) {
    const hint = errnoCode(error) === "EROFS" ? " (the distro is mounted read-only)" : "";
    throw new SelectionError(`could not point ${SYSTEM_PROFILE} at ${newTarget} in ${profiles}: ${errnoText(error)}${hint}. ${UNCHANGED}`);
  }
  return { previousTarget, newTarget, changed: true };
}
