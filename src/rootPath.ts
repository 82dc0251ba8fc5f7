// Resolve a path the way the kernel would inside a chroot at `root`, without
// entering it: absolute symlinks restart at `root`, and ".." never climbs above
// it. Recovery runs from the WSL system distro, whose own /nix/store must never
// be consulted for a link that lives inside the NixOS distro.
import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";

const MAX_SYMLINKS = 40; // the kernel's own limit (ELOOP)

export type RootPathProblem = "missing" | "escapes-root" | "loop";

export class RootPathError extends Error {
  constructor(
    readonly problem: RootPathProblem,
    readonly path: string,
    detail: string,
  ) {
    super(detail);
    this.name = "RootPathError";
  }
}

/** The host path of `inside` (an absolute path within `root`). */
export function hostPath(root: string, inside: string): string {
  return root === "/" ? inside : join(root, inside);
}

/**
 * Follow every symlink on `path` inside `root` and return the final path,
 * absolute and relative to `root`. A relative link whose ".." would leave the
 * root is refused (a chroot would clamp it silently, hiding a broken link).
 */
export function resolveInRoot(root: string, path: string): string {
  // At the real root the kernel's own resolution is the same, and one call (the boot path uses this).
  if (root === "/") return realpathAtRoot(path);
  const pending = path.split("/").filter((part) => part !== "" && part !== ".");
  const resolved: string[] = [];
  let symlinksFollowed = 0;

  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
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
    } catch {
      throw new RootPathError("missing", path, `${candidate} does not exist inside ${root}`);
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++symlinksFollowed > MAX_SYMLINKS) {
      throw new RootPathError("loop", path, `too many symlinks while resolving ${path} inside ${root}`);
    }
    const target = readlinkSync(hostPath(root, candidate));
    const targetParts = target.split("/").filter((p) => p !== "" && p !== ".");
    if (target.startsWith("/")) resolved.length = 0;
    else if (escapesAbove(resolved.length, targetParts)) {
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

function realpathAtRoot(path: string): string {
  try {
    return realpathSync.native(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new RootPathError("loop", path, `too many symlinks while resolving ${path}`);
    throw new RootPathError("missing", path, `${path} does not exist (${code ?? "unknown error"})`);
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
