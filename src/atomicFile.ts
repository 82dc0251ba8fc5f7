// Replacing a file so that a reader, or a process killed half-way, sees the
// old one or the new one, never a half: the new one is made beside it, under a
// temporary name, and renamed over it.
import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface ReplaceOptions {
  /** Also survive a power cut: the new file and the rename are synced to disk before this returns. */
  readonly durable?: boolean;
}

/** Make `path` anew: `make` creates the temporary (a file, a link …), which is then renamed over `path`. */
export function replaceAtomically(path: string, make: (temporary: string) => void, options: ReplaceOptions = {}): void {
  // Hidden, and one per process: a leftover of a killed writer is simply made again.
  const temporary = join(dirname(path), `.${basename(path)}.new-${process.pid}`);
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
  if (options.durable) syncPath(dirname(path), fsyncSync);
}

function syncPath(path: string, sync: (fd: number) => void): void {
  const fd = openSync(path, "r");
  try {
    sync(fd);
  } finally {
    closeSync(fd);
  }
}
