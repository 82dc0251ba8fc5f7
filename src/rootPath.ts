// Resolve a path the way the kernel would inside a chroot at `root`, without
// entering it: absolute symlinks restart at `root`, and ".." never climbs above
// it. Recovery runs from the WSL system distro, whose own /nix/store must never
// be consulted for a link that lives inside the NixOS distro.
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";

const MAX_SYMLINKS = 40; // the kernel's own limit (ELOOP)

/**
 * A problem with the files of a root, explained for the user: the path, the
 * cause (with the errno code when the kernel gave one) and, where known, what
 * to do. Its message is meant to be shown as it is, without a stack trace.
 */
export class RootFileError extends Error {
  override name = "RootFileError";
}

/** "missing" is ENOENT and nothing else; every other failure says what it is. */
export type RootPathProblem = "missing" | "escapes-root" | "loop" | "not-a-directory" | "unreadable";

export class RootPathError extends RootFileError {
  override name = "RootPathError";
  constructor(
    readonly problem: RootPathProblem,
    readonly path: string,
    detail: string,
    /** The errno code behind the problem, when there is one (ENOENT, ENOTDIR, EIO …). */
    readonly code: string | null = null,
    /** The symlinks followed before the problem, "/link -> target -> target", or null when none was. */
    readonly via: string | null = null,
  ) {
    super(detail);
  }
}

/** The errno code of a failed file system call, or null for other errors. */
export function errnoCode(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" ? code : null;
}

/** "EIO (i/o error)": the code and the kernel's words, without the call and path Node appends. */
export function errnoText(error: unknown): string {
  const code = errnoCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === null) return message;
  const words = message.startsWith(`${code}: `) ? message.slice(code.length + 2).split(", ")[0] : "";
  return words ? `${code} (${words})` : code;
}

/** The host path of `inside` (an absolute path within `root`). */
export function hostPath(root: string, inside: string): string {
  return root === "/" ? inside : join(root, inside);
}

function within(root: string): string {
  return root === "/" ? "" : ` inside ${root}`;
}

/** "/nix/store/…" itself (not a path under it) is named as a store path, the thing a user can look for. */
function describeMissing(candidate: string): string {
  return /^\/nix\/store\/[^/]+$/.test(candidate) ? `the store path ${candidate}` : candidate;
}

/**
 * Follow every symlink on `path` inside `root` and return the final path,
 * absolute and relative to `root`. A relative link whose ".." would leave the
 * root is refused (a chroot would clamp it silently, hiding a broken link).
 * Throws RootPathError; a missing path names the chain of links that led there.
 */
export function resolveInRoot(root: string, path: string): string {
  // At the real root the kernel's own resolution is the same, and one call (the boot path uses this).
  if (root === "/") return realpathAtRoot(path);
  return walkInRoot(root, path);
}

function walkInRoot(root: string, path: string): string {
  const pending = path.split("/").filter((part) => part !== "" && part !== ".");
  const resolved: string[] = [];
  /** The links followed so far, as "/first/link -> target -> target …" for messages. */
  const chain: string[] = [];
  let symlinksFollowed = 0;

  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      if (resolved.length === 0 && root === "/") continue; // the real root: ".." of / is /, as in the kernel
      if (resolved.length === 0) {
        throw new RootPathError("escapes-root", path, `${path} climbs above the root ${root} with ".."`);
      }
      resolved.pop();
      continue;
    }
    const candidate = `/${[...resolved, part].join("/")}`;
    let isLink: boolean;
    try {
      isLink = lstatSync(hostPath(root, candidate)).isSymbolicLink();
    } catch (error) {
      throw lookupError(root, path, candidate, chain, error);
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++symlinksFollowed > MAX_SYMLINKS) {
      throw new RootPathError("loop", path, `too many symlinks while resolving ${path}${within(root)} (a symlink loop?)`, "ELOOP");
    }
    let target: string;
    try {
      target = readlinkSync(hostPath(root, candidate));
    } catch (error) {
      throw lookupError(root, path, candidate, chain, error);
    }
    chain.push(chain.length === 0 ? `${candidate} -> ${target}` : target);
    const targetParts = target.split("/").filter((p) => p !== "" && p !== ".");
    if (target.startsWith("/")) resolved.length = 0;
    else if (root !== "/" && escapesAbove(resolved.length, targetParts)) {
      throw new RootPathError(
        "escapes-root",
        path,
        `${candidate} points to ${target}, which leaves the root ${root}`,
      );
    }
    pending.unshift(...targetParts);
  }
  return `/${resolved.join("/")}`;
}

/** What a failed lstat or readlink of `candidate` means, naming the links that led to it. */
function lookupError(root: string, path: string, candidate: string, chain: readonly string[], error: unknown): RootPathError {
  const code = errnoCode(error);
  const links = chain.length > 0 ? chain.join(" -> ") : null;
  const via = links === null ? "" : ` (${links})`;
  switch (code) {
    case "ENOENT":
      return new RootPathError("missing", path, `${describeMissing(candidate)} does not exist${within(root)}${via}`, code, links);
    case "ENOTDIR":
      return new RootPathError(
        "not-a-directory",
        path,
        `cannot look up ${candidate}${within(root)}${via}: ${errnoText(error)}: a part of that path is a file where a directory should be`,
        code,
        links,
      );
    case "ELOOP":
      return new RootPathError("loop", path, `cannot look up ${candidate}${within(root)}${via}: ${errnoText(error)}`, code, links);
    default:
      return new RootPathError("unreadable", path, `cannot look up ${candidate}${within(root)}${via}: ${errnoText(error)}`, code, links);
  }
}

function realpathAtRoot(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    // Only on failure: walk the path link by link, to say which part is wrong and through which links.
    return walkInRoot("/", path);
  }
}

/** Whether a relative link target, read in a directory `depth` levels deep, climbs above the root. */
function escapesAbove(depth: number, targetParts: string[]): boolean {
  let level = depth;
  for (const part of targetParts) {
    level += part === ".." ? -1 : 1;
    if (level < 0) return true;
  }
  return false;
}

/**
 * The host path of `path` inside `root` for writing: the longest part that
 * exists is resolved inside the root (so a link such as /var -> /data never
 * leads out of it), and the missing rest is appended, to be created.
 */
export function hostPathToCreate(root: string, path: string): string {
  if (root === "/") return path;
  const parts = path.split("/").filter((part) => part !== "");
  for (let existing = parts.length; existing > 0; existing--) {
    try {
      const resolved = resolveInRoot(root, `/${parts.slice(0, existing).join("/")}`);
      return join(hostPath(root, resolved), ...parts.slice(existing));
    } catch (error) {
      if (!(error instanceof RootPathError) || error.problem !== "missing") throw error;
    }
  }
  return hostPath(root, path);
}
