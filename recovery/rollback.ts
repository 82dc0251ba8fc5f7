// --rollback: make another generation the default for the next start by
// repointing the system profile, atomically (a new link renamed over the old
// one, as nix-env does). No generation is ever deleted.
import { readlinkSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { bootProblem, type Generation } from "../src/generations.ts";
import { PROFILES_DIR } from "../src/paths.ts";
import { hostPath, resolveInRoot } from "../src/rootPath.ts";
import { SelectionError } from "./select.ts";

export interface RollbackResult {
  readonly previousTarget: string | null;
  readonly newTarget: string;
  readonly changed: boolean;
}

export function rollback(root: string, generation: Generation): RollbackResult {
  if (generation.number === null) {
    throw new SelectionError(
      `${generation.link} is not a numbered generation: --rollback makes a system-N-link the default (use --generation N)`,
    );
  }
  const problem = bootProblem(root, generation);
  if (problem !== null) throw new SelectionError(`generation ${generation.number} cannot boot, so it is not made the default: ${problem}`);

  const profiles = hostPath(root, resolveInRoot(root, PROFILES_DIR));
  const profile = `${profiles}/system`;
  const newTarget = `system-${generation.number}-link`;
  let previousTarget: string | null = null;
  try {
    previousTarget = readlinkSync(profile);
  } catch {
    previousTarget = null;
  }
  if (previousTarget === newTarget) return { previousTarget, newTarget, changed: false };

  const temporary = `${profiles}/.system-rollback-${process.pid}`;
  symlinkSync(newTarget, temporary);
  try {
    renameSync(temporary, profile);
  } catch (error) {
    unlinkSync(temporary);
    throw error;
  }
  return { previousTarget, newTarget, changed: true };
}
