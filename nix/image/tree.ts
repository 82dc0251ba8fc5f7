// The image as a list of entries: ROOT's tree with the --extra-files tree laid
// over it, walked depth-first with each directory's entries sorted by the
// bytes of their names (as `tar --sort=name`). Nothing is read but names and
// metadata; nothing in either tree is changed, not even an access time:
// files are opened with O_NOATIME, and the executable lists directories
// through a descriptor opened with O_NOATIME too (see listWithoutAtime).
// Symlinks inside the image are resolved against the image, never against the host.
import { closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import { errorCode, StepError } from "../../src/stepError.ts";

export type EntryKind = "directory" | "file" | "symlink" | "char" | "block" | "fifo";
export type Origin = "root" | "extra" | "generated";

export interface ImageEntry {
  /** The path in the image without a leading slash; "" is the image's root directory. */
  readonly path: string;
  readonly kind: EntryKind;
  readonly origin: Origin;
  /** Where the content comes from on this machine (null for a generated entry). */
  readonly hostPath: string | null;
  /** Permission bits (0o7777). */
  readonly mode: number;
  uid: number;
  gid: number;
  readonly size: number;
  readonly linkTarget: string | null;
  readonly devMajor: number;
  readonly devMinor: number;
  /** "dev:ino" of a file with more than one link, to store the others as hardlinks. */
  readonly inode: string | null;
  /** The content of a generated entry. */
  readonly content: Buffer | null;
}

export interface WalkResult {
  readonly entries: ImageEntry[];
  /** Entries left out: sockets, which a tar cannot hold. */
  readonly skipped: string[];
  /** ROOT entries that --extra-files replaced with a different kind of entry. */
  readonly replaced: string[];
}

/** Order by the bytes of the UTF-8 names, as strcmp and `tar --sort=name` do. */
export function compareNames(a: string, b: string): number {
  if (/[\ud800-\uffff]/.test(a) || /[\ud800-\uffff]/.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The device's major and minor numbers from st_rdev (glibc's encoding), without 32-bit overflow. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const dev = BigInt(rdev);
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

function kindOf(stats: Stats): EntryKind | "socket" {
  if (stats.isDirectory()) return "directory";
  if (stats.isFile()) return "file";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isCharacterDevice()) return "char";
  if (stats.isBlockDevice()) return "block";
  if (stats.isFIFO()) return "fifo";
  return "socket";
}

function whereIs(origin: Origin, path: string): string {
  return `${origin === "extra" ? "--extra-files" : "ROOT"} /${path}`;
}

function readFailure(hostPath: string, error: unknown): StepError {
  const advice = errorCode(error) === "EACCES" ? "Run it as root: a NixOS root has files only root may read." : null;
  return new StepError(`reading ${hostPath}`, error, advice);
}

/** The raw names in a directory (no "." or ".."). */
export type DirectoryLister = (hostDir: string) => Buffer[];

/** Node's readdir: what vitest on Node has. It opens the directory without O_NOATIME, so a listing sets its access time. */
export const listWithReaddir: DirectoryLister = (hostDir) => readdirSync(hostDir, { encoding: "buffer" });

/**
 * Open with O_NOATIME (it leaves the access time as it was, on files and
 * directories alike), falling back to a plain open where the kernel refuses
 * it (EPERM: neither root nor the owner).
 */
export function openWithoutAtime(path: string, flags: number): number {
  try {
    return openSync(path, flags | constants.O_NOATIME);
  } catch (error) {
    if (errorCode(error) === "EPERM") return openSync(path, flags);
    throw error;
  }
}

function names(hostDir: string, list: DirectoryLister): string[] {
  let raw: Buffer[];
  try {
    raw = list(hostDir);
  } catch (error) {
    throw readFailure(hostDir, error);
  }
  return raw.map((bytes) => {
    const name = bytes.toString();
    // A name that is not UTF-8 decodes with U+FFFD and does not encode back to its bytes: it could not be stored as it is.
    if (!Buffer.from(name).equals(bytes)) {
      throw new StepError(`reading ${hostDir}`, `a file name there is not UTF-8 (${JSON.stringify(name)})`, "Rename it: the image stores names as UTF-8.");
    }
    return name;
  });
}

function lstatOrNull(hostPath: string): Stats | null {
  try {
    return lstatSync(hostPath);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return null;
    throw readFailure(hostPath, error);
  }
}

function entryFrom(path: string, hostPath: string, stats: Stats, origin: Origin, kind: EntryKind): ImageEntry {
  let linkTarget: string | null = null;
  if (kind === "symlink") {
    try {
      linkTarget = readlinkSync(hostPath);
    } catch (error) {
      throw readFailure(hostPath, error);
    }
  }
  const device = kind === "char" || kind === "block" ? deviceNumbers(stats.rdev) : { major: 0, minor: 0 };
  return {
    path,
    kind,
    origin,
    hostPath,
    mode: stats.mode & 0o7777,
    // New files from --extra-files belong to root until --chown says otherwise (as nixos-anywhere copies them).
    uid: origin === "extra" ? 0 : stats.uid,
    gid: origin === "extra" ? 0 : stats.gid,
    size: kind === "file" ? stats.size : 0,
    linkTarget,
    devMajor: device.major,
    devMinor: device.minor,
    inode: kind === "file" && stats.nlink > 1 ? `${stats.dev}:${stats.ino}` : null,
    content: null,
  };
}

/**
 * Walk ROOT, and EXTRA laid over it: an entry of EXTRA replaces ROOT's entry
 * of the same path (and what was under it), except that where both are
 * directories their contents merge and ROOT's directory keeps its owner and mode.
 */
export function walkImage(root: string, extra: string | null, list: DirectoryLister = listWithReaddir): WalkResult {
  const entries: ImageEntry[] = [];
  const skipped: string[] = [];
  const replaced: string[] = [];

  const rootStats = lstatOrNull(root);
  if (rootStats === null || !rootStats.isDirectory()) throw new StepError(`reading ${root}`, "not a directory");
  entries.push(entryFrom("", root, rootStats, "root", "directory"));

  const visit = (path: string, rootDir: string | null, extraDir: string | null): void => {
    const fromRoot = rootDir === null ? [] : names(rootDir, list);
    const fromExtra = extraDir === null ? [] : names(extraDir, list);
    const inRoot = new Set(fromRoot);
    const inExtra = new Set(fromExtra);
    const all = (fromExtra.length === 0 ? fromRoot : [...new Set([...fromRoot, ...fromExtra])]).sort(compareNames);
    for (const name of all) {
      const child = path === "" ? name : `${path}/${name}`;
      const extraHost = extraDir !== null && inExtra.has(name) ? join(extraDir, name) : null;
      const rootHost = rootDir !== null && inRoot.has(name) ? join(rootDir, name) : null;
      const extraStats = extraHost === null ? null : lstatOrNull(extraHost);
      const rootStats = rootHost === null ? null : lstatOrNull(rootHost);
      if (extraStats !== null) {
        const kind = kindOf(extraStats);
        if (kind === "socket") {
          skipped.push(whereIs("extra", child));
          continue;
        }
        if (kind === "directory" && rootStats?.isDirectory()) {
          entries.push(entryFrom(child, rootHost!, rootStats, "root", "directory"));
          visit(child, rootHost, extraHost);
          continue;
        }
        if (rootStats !== null && kindOf(rootStats) !== kind) replaced.push(`/${child}`);
        entries.push(entryFrom(child, extraHost!, extraStats, "extra", kind));
        if (kind === "directory") visit(child, null, extraHost);
        continue;
      }
      if (rootStats === null) continue; // gone since the directory was read
      const kind = kindOf(rootStats);
      if (kind === "socket") {
        skipped.push(whereIs("root", child));
        continue;
      }
      entries.push(entryFrom(child, rootHost!, rootStats, "root", kind));
      if (kind === "directory") visit(child, rootHost, null);
    }
  };
  visit("", root, extra);
  return { entries, skipped, replaced };
}

const MAX_SYMLINKS = 40;

/** The image's entries by path, and symlinks followed inside it. */
export class ImageView {
  private readonly byPath = new Map<string, ImageEntry>();

  constructor(readonly entries: ImageEntry[]) {
    for (const entry of entries) this.byPath.set(entry.path, entry);
  }

  get(path: string): ImageEntry | undefined {
    return this.byPath.get(normalise(path));
  }

  /**
   * The entry `path` leads to, every symlink on the way followed as the
   * distro would see it (absolute targets start again at the image's root,
   * ".." stops there), or null when it leads out of the image's entries.
   */
  resolve(path: string): ImageEntry | null {
    let pending = splitPath(path);
    let at: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === ".") continue;
      if (part === "..") {
        at.pop();
        continue;
      }
      const entry = this.byPath.get([...at, part].join("/"));
      if (entry === undefined) return null;
      if (entry.kind === "symlink") {
        if (++hops > MAX_SYMLINKS) return null;
        const target = entry.linkTarget ?? "";
        if (target.startsWith("/")) at = [];
        pending = [...splitPath(target), ...pending];
        continue;
      }
      if (pending.length > 0 && entry.kind !== "directory") return null;
      at.push(part);
    }
    return this.byPath.get(at.join("/")) ?? null;
  }

  /** The content of the regular file `path` leads to, or null when it leads to none. */
  read(path: string): { entry: ImageEntry; data: Buffer } | null {
    const entry = this.resolve(path);
    if (entry === null || entry.kind !== "file") return null;
    return { entry, data: readEntry(entry) };
  }

  /** Insert a generated entry at its place in the order. */
  insert(entry: ImageEntry): void {
    const parent = entry.path.includes("/") ? entry.path.slice(0, entry.path.lastIndexOf("/")) : "";
    const parentIndex = this.entries.findIndex((candidate) => candidate.path === parent);
    if (parentIndex < 0 || this.entries[parentIndex]!.kind !== "directory") throw new Error(`no directory /${parent} in the image for /${entry.path}`);
    // After the parent, skip its children (and their subtrees) that sort before the new name.
    const prefix = parent === "" ? "" : `${parent}/`;
    let index = parentIndex + 1;
    while (index < this.entries.length) {
      const candidate = this.entries[index]!.path;
      if (!candidate.startsWith(prefix) || (parent === "" && candidate === "")) break;
      const childName = candidate.slice(prefix.length).split("/")[0]!;
      if (compareNames(childName, entry.path.slice(prefix.length)) >= 0) break;
      index++;
    }
    this.entries.splice(index, 0, entry);
    this.byPath.set(entry.path, entry);
  }
}

export function splitPath(path: string): string[] {
  return path.split("/").filter((part) => part !== "");
}

/** "/home/nixos/" and "home/nixos" are the same image path, "home/nixos"; "/" is "". */
export function normalise(path: string): string {
  return splitPath(path).filter((part) => part !== ".").join("/");
}

/** The bytes of a file entry, read with O_NOATIME: the check's reading leaves ROOT's access times as they were. */
export function readEntry(entry: ImageEntry): Buffer {
  if (entry.content !== null) return entry.content;
  let fd: number;
  try {
    fd = openWithoutAtime(entry.hostPath!, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    throw readFailure(entry.hostPath!, error);
  }
  try {
    return readFileSync(fd);
  } catch (error) {
    throw readFailure(entry.hostPath!, error);
  } finally {
    closeSync(fd);
  }
}
