// What every doctor check may need to know, read once: the root it looks at
// ("/" inside the distro, /mnt/wslg/distro from the system distribution), the
// mode, the boot record, when this start began, and the bounded systemd asker.
import { readFileSync, readlinkSync } from "node:fs";
import { BOOT_RECORD } from "../../src/paths.ts";
import { hostPath, resolveInRoot } from "../../src/rootPath.ts";
import { errorCode } from "../../src/stepError.ts";
import { type BootRecord, readBootRecord } from "../native/bootRecord.ts";
import type { BoundedSystemd } from "./systemctl.ts";

export type RecordRead =
  | { readonly kind: "none" }
  /** Not readable by this user (legacy mode keeps /run/nixos-wsl at 0700). */
  | { readonly kind: "denied" }
  | { readonly kind: "ok"; readonly record: BootRecord }
  | { readonly kind: "bad"; readonly problem: string };

export interface DoctorContext {
  readonly root: string;
  /** true inside the running distro; false from the system distribution (nothing runs there to ask). */
  readonly live: boolean;
  readonly isRoot: boolean;
  /** From root's login shell: syschdemd means legacy mode. */
  readonly mode: "native" | "legacy";
  readonly record: RecordRead;
  /** When this start of the distro began (ms since the epoch), or null when it cannot be told. */
  readonly startedAtMs: number | null;
  readonly systemd: BoundedSystemd | null;
}

/** A path inside the root as the host reaches it (links followed inside the root); throws RootPathError. */
export function inRoot(root: string, path: string): string {
  return hostPath(root, resolveInRoot(root, path));
}

/** A text file inside the root, or null when it is missing; other failures throw. */
export function readInRoot(root: string, path: string): string | null {
  try {
    return readFileSync(inRoot(root, path), "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || (error as { problem?: string }).problem === "missing") return null;
    throw error;
  }
}

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
  readonly shell: string;
}

/** /etc/passwd inside the root (empty when it cannot be read). */
export function passwdOf(root: string): PasswdEntry[] {
  let text: string | null = null;
  try {
    text = readInRoot(root, "/etc/passwd");
  } catch {
    // an unreadable passwd is reported by the checks that need a user
  }
  return (text ?? "")
    .split("\n")
    .map((line) => line.split(":"))
    .filter((fields) => fields.length >= 7)
    .map(([name, , uid, , , home, shell]) => ({ name: name!, uid: Number(uid), home: home!, shell: shell! }));
}

/**
 * Where a NixOS-WSL shell-wrapper leads: beside NixOS-WSL every passwd shell
 * is a copy of its wrapper in a directory whose `shell` link names the real
 * shell. The link's own target (not followed further), or null for a shell
 * that is no such wrapper.
 */
export function wrapperTarget(root: string, shell: string): string | null {
  const slash = shell.lastIndexOf("/");
  if (slash <= 0 || shell.slice(slash + 1) === "shell") return null;
  try {
    return readlinkSync(`${inRoot(root, shell.slice(0, slash))}/shell`);
  } catch {
    return null;
  }
}

/** From root's login shell: syschdemd (or NixOS-WSL's wrapper of it) means legacy mode. */
export function modeOf(root: string): "native" | "legacy" {
  const rootUser = passwdOf(root).find((entry) => entry.name === "root");
  if (rootUser === undefined) return "native";
  const isSyschdemd = (shell: string | null) => shell !== null && /(^|\/)syschdemd$/.test(shell);
  return isSyschdemd(rootUser.shell) || isSyschdemd(wrapperTarget(root, rootUser.shell)) ? "legacy" : "native";
}

function readRecord(): RecordRead {
  try {
    return { kind: "ok", record: readBootRecord(BOOT_RECORD) };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { kind: "none" };
    if (errorCode(error) === "EACCES") return { kind: "denied" };
    return { kind: "bad", problem: (error as Error).message };
  }
}

/** When PID 1 of this PID namespace started: the kernel's boot time plus its start in clock ticks. */
function pid1StartMs(): number | null {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    const stat = readFileSync("/proc/1/stat", "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    if (!btime || !Number.isFinite(ticks)) return null;
    return Number(btime[1]) * 1000 + (ticks / 100) * 1000;
  } catch {
    return null;
  }
}

export function liveContext(systemd: BoundedSystemd | null): DoctorContext {
  const record = readRecord();
  const startedAtMs = record.kind === "ok" ? Date.parse(record.record.bootedAt) - record.record.shimMs : pid1StartMs();
  return { root: "/", live: true, isRoot: process.geteuid?.() === 0, mode: modeOf("/"), record, startedAtMs, systemd };
}

export function offlineContext(root: string): DoctorContext {
  return { root, live: false, isRoot: process.geteuid?.() === 0, mode: modeOf(root), record: { kind: "none" }, startedAtMs: null, systemd: null };
}
