// Reading processes and mounts from outside, through /proc.
import { existsSync, readFileSync } from "node:fs";

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The PIDs of a process in each PID namespace it belongs to, outermost first. */
export function nsPids(pid: number): number[] {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("NSpid:"));
    return line ? line.split(/\s+/).slice(1).filter(Boolean).map(Number) : [];
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `probe` until it returns a value, or fail after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | null | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface MountEntry {
  readonly mountPoint: string;
  readonly root: string;
  readonly device: string;
  readonly options: readonly string[];
  /** Propagation fields such as shared:12 or master:3. */
  readonly propagation: readonly string[];
  readonly fsType: string;
  readonly source: string;
}

/** Parse /proc/PID/mountinfo (see proc(5)). */
export function parseMountInfo(text: string): MountEntry[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [before, after] = line.split(" - ");
      const fields = before!.split(" ");
      const [fsType, source] = after!.split(" ");
      return {
        root: unescape(fields[3]!),
        mountPoint: unescape(fields[4]!),
        device: fields[2]!,
        options: fields[5]!.split(","),
        propagation: fields.slice(6),
        fsType: fsType!,
        source: source!,
      };
    });
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function mountsOf(pid: number | "self"): MountEntry[] {
  return parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8"));
}

/** The mount visible at a path: the last one mounted there. */
export function mountAt(mounts: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
  return mounts.filter((m) => m.mountPoint === mountPoint).at(-1);
}
