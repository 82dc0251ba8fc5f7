// The tar stream of the image: every entry in order, with one fixed mtime, file
// data read straight into the compressor's chunks. A file with several links
// is stored once; its other paths become hardlinks to the first path in the
// order, when they would get the same owner and mode (else a copy each).
import { closeSync, constants, readSync } from "node:fs";
import { errorCode, StepError } from "../../src/stepError.ts";
import type { GzipStream } from "./gzipStream.ts";
import { END_OF_ARCHIVE, paddingFor, type TarEntry, tarHeader } from "./tarHeader.ts";
import { type ImageEntry, openWithoutAtime } from "./tree.ts";

export interface PackPlan {
  readonly entries: readonly ImageEntry[];
  /** Entries stored as hardlinks, to the image path of the first. */
  readonly hardlinks: ReadonlyMap<ImageEntry, string>;
  /** Bytes of file data the stream carries. */
  readonly dataBytes: number;
}

export function planPack(entries: readonly ImageEntry[]): PackPlan {
  const first = new Map<string, ImageEntry>();
  const hardlinks = new Map<ImageEntry, string>();
  let dataBytes = 0;
  for (const entry of entries) {
    if (entry.kind !== "file") continue;
    const key = entry.inode === null ? null : `${entry.origin}:${entry.inode}`;
    const earlier = key === null ? undefined : first.get(key);
    if (earlier !== undefined && earlier.uid === entry.uid && earlier.gid === entry.gid && earlier.mode === entry.mode) {
      hardlinks.set(entry, earlier.path);
      continue;
    }
    if (key !== null && earlier === undefined) first.set(key, entry);
    dataBytes += entry.size;
  }
  return { entries, hardlinks, dataBytes };
}

/** The name in the archive: "./", "./etc/", "./etc/passwd". */
export function tarName(entry: ImageEntry): string {
  if (entry.path === "") return "./";
  return entry.kind === "directory" ? `./${entry.path}/` : `./${entry.path}`;
}

function headerOf(entry: ImageEntry, mtime: number, hardlinkTo: string | undefined): TarEntry {
  const common = { name: tarName(entry), mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime, size: 0 };
  if (hardlinkTo !== undefined) return { ...common, type: "hardlink", linkName: `./${hardlinkTo}` };
  switch (entry.kind) {
    case "file":
      return { ...common, type: "file", size: entry.size };
    case "symlink":
      return { ...common, type: "symlink", linkName: entry.linkTarget! };
    case "char":
    case "block":
      return { ...common, type: entry.kind, devMajor: entry.devMajor, devMinor: entry.devMinor };
    case "directory":
    case "fifo":
      return { ...common, type: entry.kind };
  }
}

function openForReading(path: string): number {
  // Reading as root with O_NOATIME leaves even the access times in ROOT as they were.
  return openWithoutAtime(path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** Read the file's data straight into the compressor's chunks. */
async function copyData(entry: ImageEntry, gzip: GzipStream, onRead: (bytes: number) => void): Promise<void> {
  const path = entry.hostPath!;
  let fd: number;
  try {
    fd = openForReading(path);
  } catch (error) {
    throw new StepError(`reading ${path}`, error, errorCode(error) === "EACCES" ? "Run it as root." : null);
  }
  const read = (buffer: Buffer, offset: number, length: number): number => {
    try {
      return readSync(fd, buffer, offset, length, null);
    } catch (error) {
      throw new StepError(`reading ${path}`, error);
    }
  };
  try {
    let left = entry.size;
    while (left > 0) {
      const got = gzip.fill(left, read);
      if (got === 0) {
        throw new StepError(`reading ${path}`, `it shrank while being packed (${entry.size} bytes when the tree was read)`, "Pack a root that nothing is changing.");
      }
      left -= got;
      onRead(got);
      if (gzip.full) await gzip.drain();
    }
  } finally {
    closeSync(fd);
  }
}

export type ProgressListener = (entries: number, bytes: number) => void;

/** Write the whole tar stream of `plan` into `gzip` (not finished: the caller does that). */
export async function packImage(plan: PackPlan, gzip: GzipStream, mtime: number, progress: ProgressListener): Promise<void> {
  let done = 0;
  let bytes = 0;
  const onRead = (read: number): void => {
    bytes += read;
    progress(done, bytes);
  };
  for (const entry of plan.entries) {
    const hardlinkTo = plan.hardlinks.get(entry);
    gzip.write(tarHeader(headerOf(entry, mtime, hardlinkTo)));
    if (entry.kind === "file" && hardlinkTo === undefined) {
      if (entry.content !== null) {
        gzip.write(entry.content);
        bytes += entry.size;
      } else {
        await copyData(entry, gzip, onRead);
      }
      gzip.zeros(paddingFor(entry.size));
    }
    progress(++done, bytes);
    if (gzip.full) await gzip.drain();
  }
  gzip.write(END_OF_ARCHIVE);
}
