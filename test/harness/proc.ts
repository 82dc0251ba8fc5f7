// Reading processes and mounts from outside, through /proc.
import { existsSync, readFileSync } from "node:fs";
import { type MountEntry, readMountInfo } from "../../src/mountInfo.ts";

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

/** waitFor, for a probe that has to wait itself (a command inside a container). A probe that throws counts as "not yet". */
export async function waitForAsync<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last: ${(lastError as Error).message})` : ""}`);
    await sleep(50);
  }
}

export { mountAt, type MountEntry, parseMountInfo } from "../../src/mountInfo.ts";

export function mountsOf(pid: number | "self"): MountEntry[] {
  return readMountInfo(pid);
}
