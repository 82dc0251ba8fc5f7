// Replacing a file so that a reader, or a process killed half-way, sees the
// old one or the new one, never a half: the new one is made beside it, under a
// temporary name, and renamed over it. The temporaries' names and the tidying
// of those a killed writer left are this module's alone: replaceAtomically and
// the image builder's partial file (nix/image/output.ts) both use them.
import { closeSync, existsSync, fdatasyncSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface ReplaceOptions {
  /** Also survive a power cut: the new file and the rename are synced to disk before this returns. */
  readonly durable?: boolean;
  /**
   * Where the temporary is made, when not beside `path`: a directory of the
   * same file system where a leftover does no harm (a link left in
   * /nix/var/nix/profiles would be a GC root). Used only when it is on the
   * same file system as `path`'s directory; otherwise the temporary goes beside `path`.
   */
  readonly temporaryDirectory?: string;
}

/** Hidden, beside `path` (or in `directory`), and one per process, so that two writers never share one: `.NAME.new-PID`. */
export function temporaryFor(path: string, pid = process.pid, directory = dirname(path)): string {
  return join(directory, `${temporaryPrefix(path)}${pid}`);
}

function temporaryPrefix(path: string): string {
  return `.${basename(path)}.new-`;
}

/** Make `path` anew: `make` creates the temporary (a file, a link …), which is then renamed over `path`. */
export function replaceAtomically(path: string, make: (temporary: string) => void, options: ReplaceOptions = {}): void {
  const directory = temporaryDirectoryFor(path, options.temporaryDirectory);
  const temporary = temporaryFor(path, process.pid, directory);
  removeLeftovers(path, directory);
  try {
    rmSync(temporary, { force: true });
    make(temporary);
    // A symlink is not opened (that would follow it): its directory's sync below carries it.
    if (options.durable && !lstatSync(temporary).isSymbolicLink()) syncPath(temporary, fdatasyncSync);
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

/** `wanted` when it is a directory on the file system of `path`'s directory (rename cannot cross file systems), else `path`'s directory. */
function temporaryDirectoryFor(path: string, wanted: string | undefined): string {
  const beside = dirname(path);
  if (wanted === undefined) return beside;
  try {
    const there = statSync(wanted);
    return there.isDirectory() && there.dev === statSync(beside).dev ? wanted : beside;
  } catch {
    return beside;
  }
}

/** A writer of another PID namespace (a shell, recovery) may hold a temporary whose PID means nothing here: only old ones go. */
const LEFTOVER_AGE_MS = 60_000;

/**
 * Remove the temporaries for `path` of writers killed half-way (their process
 * is gone and the file unchanged for a minute), so that none pile up. Never
 * throws: it is only tidying.
 */
export function removeLeftovers(path: string, directory = dirname(path)): void {
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
