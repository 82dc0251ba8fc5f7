// /proc/PID/mountinfo, parsed (see proc(5)).
import { readFileSync } from "node:fs";

export interface MountEntry {
  readonly mountPoint: string;
  readonly root: string;
  readonly device: string;
  /** Per-mount options, e.g. ro, nosuid. */
  readonly options: readonly string[];
  /** Propagation fields such as shared:12 or master:3. */
  readonly propagation: readonly string[];
  readonly fsType: string;
  readonly source: string;
  /** Options of the filesystem itself (the superblock). */
  readonly superOptions: readonly string[];
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [before, after] = line.split(" - ");
      const fields = before!.split(" ");
      const [fsType, source, superOptions] = after!.split(" ");
      return {
        root: unescape(fields[3]!),
        mountPoint: unescape(fields[4]!),
        device: fields[2]!,
        options: fields[5]!.split(","),
        propagation: fields.slice(6),
        fsType: fsType!,
        source: unescape(source!),
        superOptions: (superOptions ?? "").split(","),
      };
    });
}

export function readMountInfo(pid: number | "self" = "self"): MountEntry[] {
  return parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
}

/**
 * The per-mount options of the mount visible at exactly `mountPoint` (as
 * mountAt finds it), or null when nothing is mounted there. Looks at only the
 * fields it needs, without parsing every line: it runs on PID 1's boot path,
 * where a full parse of a cold table costs a quarter of a millisecond.
 */
export function mountOptionsAt(text: string, mountPoint: string): string[] | null {
  let options: string | null = null;
  for (const line of text.split("\n")) {
    // ID, parent ID, major:minor, root, mount point, options: the rest of the line is not needed.
    const fields = line.split(" ", 6);
    if (fields.length < 6) continue;
    const point = fields[4]!;
    if ((point.includes("\\") ? unescape(point) : point) === mountPoint) options = fields[5]!;
  }
  return options === null ? null : options.split(",");
}

/** mountOptionsAt for this process's (or another's) current mounts. */
export function readMountOptionsAt(mountPoint: string, pid: number | "self" = "self"): string[] | null {
  return mountOptionsAt(readFileSync(`/proc/${pid}/mountinfo`, "utf8"), mountPoint);
}

/** The mount visible at exactly this path: the last one mounted there. */
export function mountAt(mounts: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
  return mounts.filter((m) => m.mountPoint === mountPoint).at(-1);
}

/** The mount a path lives on: the visible mount with the longest mount point above it. */
export function mountContaining(mounts: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    const above = point === "/" || path === point || path.startsWith(`${point}/`);
    if (above && (!best || point.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}
