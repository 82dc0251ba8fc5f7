// Replacing a file so that a reader, or a process killed half-way, sees the
// old one or the new one, never a half: the new one is made beside it, under a
// temporary name, and renamed over it. The temporaries' names and the tidying
// of those a killed writer left are this module's alone: replaceAtomically and
// the image builder's partial file (nix/image/output.ts) both use them.
import { closeSync, existsSync, fdatasyncSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface ReplaceOptions {
  /** Also survive a power cut: the new file and the rename are synced to disk before this returns. */
  readonly durable?: boolean;
}

/** Make `path` anew: `make` creates the temporary (a file, a link …), which is then renamed over `path`. */
/** Hidden, beside `path`, and one per process, so that two writers never share one: `.NAME.new-PID`. */
export function temporaryFor(path: string, pid = process.pid): string {
  return join(dirname(path), `${temporaryPrefix(path)}${pid}`);
}

function temporaryPrefix(path: string): string {
  return `.${basename(path)}.new-`;
}

export function replaceAtomically(path: string, make: (temporary: string) => void, options: ReplaceOptions = {}): void {
  const temporary = temporaryFor(path);
  removeLeftovers(path);
  try {
    rmSync(temporary, { force: true });
    make(temporary);
    if (options.durable) syncPath(temporary, fdatasyncSync);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  // The rename itself is durable only once the directory holding it is synced.
  if (options.durable) {
    try {
      syncPath(dirname(path), fsyncSync);
    } catch {
      // Some file systems cannot sync a directory: the new file is in place, only the rename's durability is in doubt.
    }
  }
}

/** A writer of another PID namespace (a shell, recovery) may hold a temporary whose PID means nothing here: only old ones go. */
const LEFTOVER_AGE_MS = 60_000;

/**
 * Remove the temporaries for `path` of writers killed half-way (their process
 * is gone and the file unchanged for a minute), so that none pile up. Never
 * throws: it is only tidying.
 */
export function removeLeftovers(path: string): void {
  const directory = dirname(path);
  const prefix = temporaryPrefix(path);
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return; // the write itself says what is wrong with the directory
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || existsSync(`/proc/${pid}`)) continue;
    const file = join(directory, name);
    try {
      const changed = lstatSync(file, { throwIfNoEntry: false })?.mtimeMs;
      if (changed !== undefined && Date.now() - changed > LEFTOVER_AGE_MS) rmSync(file, { force: true });
    } catch {
      // only tidying: the replacement itself does not depend on it
    }
  }
}

function syncPath(path: string, sync: (fd: number) => void): void {
  const fd = openSync(path, "r");
  try {
    sync(fd);
  } finally {
    closeSync(fd);
  }
}
