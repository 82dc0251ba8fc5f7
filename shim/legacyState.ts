// Legacy mode's runtime state in /run/nixos-wsl (mode 0700): which process is
// the running systemd, links to its namespaces, a lock that makes shells
// started together share one systemd, and systemd's output.
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { STATE_DIR } from "../src/paths.ts";

export const LEGACY_STATE = `${STATE_DIR}/legacy.json`;
export const LEGACY_LOCK = `${STATE_DIR}/legacy.lock`;
export const SYSTEMD_LOG = `${STATE_DIR}/systemd.log`;
export const ACTIVATION_LOG = `${STATE_DIR}/activation.log`;
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
  readonly system: string;
  readonly startedAt: string;
}

export function ensureStateDir(): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  chmodSync(STATE_DIR, 0o700);
}

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

export function currentBootId(): string {
  return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
}

export function readState(): LegacyState | null {
  try {
    return JSON.parse(readFileSync(LEGACY_STATE, "utf8")) as LegacyState;
  } catch {
    return null;
  }
}

/** Whether the recorded systemd is still the process it was (not dead, not a reused PID). */
export function isAlive(state: LegacyState): boolean {
  return state.bootId === currentBootId() && processStartTime(state.pid) === state.startTime;
}

export function writeState(state: LegacyState): void {
  mkdirSync(NAMESPACE_DIR, { recursive: true, mode: 0o700 });
  for (const ns of NAMESPACES) {
    rmSync(`${NAMESPACE_DIR}/${ns}`, { force: true });
    if (ns !== "cgroup" || state.cgroupNamespace) symlinkSync(`/proc/${state.pid}/ns/${ns}`, `${NAMESPACE_DIR}/${ns}`);
  }
  writeFileSync(LEGACY_STATE, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Forget a systemd that is gone: its record and namespace links. */
export function clearState(): void {
  rmSync(LEGACY_STATE, { force: true });
  rmSync(NAMESPACE_DIR, { recursive: true, force: true });
}
