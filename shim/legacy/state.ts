// Legacy mode's runtime state in /run/nixos-wsl (mode 0700): the record of
// the systemd it started, links to its namespaces, the lock that makes shells
// started together share one systemd, and systemd's output.
//
// The record is written whole or not at all (a temporary file renamed over
// it), and read with its shape checked: a damaged record is reported as
// such, never taken for "no systemd".
import { chmodSync, ftruncateSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { replaceAtomically } from "../../src/atomicFile.ts";
import { STATE_DIR } from "../../src/paths.ts";
import { errorCode } from "../../src/stepError.ts";

export const LEGACY_STATE = `${STATE_DIR}/legacy.json`;
export const LEGACY_LOCK = `${STATE_DIR}/legacy.lock`;
export const SYSTEMD_LOG = `${STATE_DIR}/systemd.log`;
/** nsenter --mount=/run/nixos-wsl/ns/mnt --pid=/run/nixos-wsl/ns/pid … reaches systemd's namespaces. */
export const NAMESPACE_DIR = `${STATE_DIR}/ns`;
const NAMESPACES = ["pid", "mnt", "cgroup"] as const;

export interface LegacyState {
  /** systemd's PID as seen from WSL's namespace. */
  readonly pid: number;
  /** Its start time (field 22 of /proc/PID/stat) and the boot it belongs to: together they tell a reused PID apart. */
  readonly startTime: string;
  readonly bootId: string;
  /** Whether it has a cgroup namespace of its own. */
  readonly cgroupNamespace: boolean;
  /** The generation it came from ("" when it was found by its process and its command line does not say). */
  readonly system: string;
  /** When it started (ISO 8601): the readiness timeout counts from here. */
  readonly startedAt: string;
  /** "starting" until a shell saw it report running (or degraded). */
  readonly phase: "starting" | "running";
}

export type StateRecord =
  | { readonly kind: "none" }
  | { readonly kind: "valid"; readonly state: LegacyState }
  | { readonly kind: "invalid"; readonly problem: string };

export function ensureStateDir(): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  chmodSync(STATE_DIR, 0o700);
}

/** A file under /proc, or null when its process is gone (ENOENT, ESRCH); other failures are thrown. */
export function readProcFile(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || errorCode(error) === "ESRCH") return null;
    throw error;
  }
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses), or null when it is gone. */
function statFields(pid: number): string[] | null {
  const stat = readProcFile(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** A process's state letter (R, S, T, Z …), or null when it is gone. */
export function processState(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

/** A process's parent, or null when it is gone. */
export function parentOf(pid: number): number | null {
  const parent = statFields(pid)?.[1];
  return parent === undefined ? null : Number(parent);
}

/** Whether a process exists and has not yet exited (a zombie has). */
export function isRunning(pid: number): boolean {
  const state = processState(pid);
  return state !== null && state !== "Z" && state !== "X";
}

export function currentBootId(): string {
  return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
}

/** Check a record's shape: the state, or what is wrong with it. */
export function parseState(text: string): { readonly state: LegacyState } | { readonly problem: string } {
  if (text.trim() === "") return { problem: "it is empty" };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problem: `it is not JSON (${(error as Error).message})` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { problem: "it is not a JSON object" };
  const value = raw as Record<string, unknown>;
  const checks: [keyof LegacyState, string, (v: unknown) => boolean][] = [
    ["pid", "a PID", (v) => Number.isSafeInteger(v) && (v as number) > 0],
    ["startTime", "a start time in clock ticks", (v) => typeof v === "string" && /^\d+$/.test(v)],
    ["bootId", "a boot id", (v) => typeof v === "string" && v !== ""],
    ["cgroupNamespace", "true or false", (v) => typeof v === "boolean"],
    ["system", "a store path", (v) => typeof v === "string"],
    ["startedAt", "a date", (v) => typeof v === "string" && !Number.isNaN(Date.parse(v))],
    ["phase", '"starting" or "running"', (v) => v === "starting" || v === "running"],
  ];
  for (const [key, expected, valid] of checks) {
    if (!(key in value)) return { problem: `"${key}" is missing` };
    if (!valid(value[key])) return { problem: `"${key}" must be ${expected}, not ${JSON.stringify(value[key])}` };
  }
  return { state: value as unknown as LegacyState };
}

/** The record: none (ENOENT only), valid, or invalid with the reason. Any other read failure is thrown. */
export function readState(): StateRecord {
  let text: string;
  try {
    text = readFileSync(LEGACY_STATE, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { kind: "none" };
    throw error;
  }
  const parsed = parseState(text);
  return "state" in parsed ? { kind: "valid", state: parsed.state } : { kind: "invalid", problem: parsed.problem };
}

/** Whether the recorded systemd is still the process it was (not dead, not a reused PID). */
export function isAlive(state: LegacyState): boolean {
  return state.bootId === currentBootId() && processStartTime(state.pid) === state.startTime && isRunning(state.pid);
}

/** Replace `path` by what `make` creates at a temporary name: readers see the old or the new, never half. */
export function writeState(state: LegacyState): void {
  mkdirSync(NAMESPACE_DIR, { recursive: true, mode: 0o700 });
  for (const ns of NAMESPACES) {
    const link = `${NAMESPACE_DIR}/${ns}`;
    if (ns === "cgroup" && !state.cgroupNamespace) rmSync(link, { force: true });
    else replaceAtomically(link, (temporary) => symlinkSync(`/proc/${state.pid}/ns/${ns}`, temporary));
  }
  replaceAtomically(LEGACY_STATE, (temporary) => writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 }));
}

/** Forget a systemd that is gone: its record and namespace links. */
export function clearState(): void {
  rmSync(LEGACY_STATE, { force: true });
  rmSync(NAMESPACE_DIR, { recursive: true, force: true });
}

/** Tell the shells queued behind the lock what its holder is doing ("PID activity" in the lock file). */
export function recordActivity(lockFd: number, activity: string): void {
  ftruncateSync(lockFd, 0);
  writeSync(lockFd, `${process.pid} ${activity}\n`, 0);
}

/** What the lock's holder said it is doing, if anything yet. */
export function readActivity(): { readonly pid: number; readonly activity: string } | null {
  let text: string;
  try {
    text = readFileSync(LEGACY_LOCK, "utf8");
  } catch {
    return null; // only a courtesy to the waiting user: without it, they read a plainer line
  }
  const match = /^(\d+) (.+)$/m.exec(text);
  return match ? { pid: Number(match[1]), activity: match[2]! } : null;
}
