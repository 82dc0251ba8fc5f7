// The boot-assessment state on disk: /var/lib/nixos-wsl-init/boot-state.json,
// inside a root ("/" when booting, the distro mount when recovering). Written
// atomically and synced (a new file renamed over the old one), so a start
// killed at any moment leaves the old state or the new one, never half of one.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { replaceAtomically } from "./atomicFile.ts";
import { type BootState, EMPTY_BOOT_STATE, parseBootState } from "./bootAssessment.ts";
import { hostPathToCreate, RootPathError } from "./rootPath.ts";
import { errorCode } from "./stepError.ts";

export const BOOT_STATE = "/var/lib/nixos-wsl-init/boot-state.json";

/** The state, or the empty state with a warning when the file cannot be used: a boot never stops for it. */
export function readBootState(root: string): { readonly state: BootState; readonly warning: string | null } {
  let text: string;
  try {
    text = readFileSync(hostPathToCreate(root, BOOT_STATE), "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT" || (error instanceof RootPathError && error.problem === "missing")) return { state: EMPTY_BOOT_STATE, warning: null };
    return { state: EMPTY_BOOT_STATE, warning: `cannot read ${BOOT_STATE} (${(error as Error).message}); counting starts afresh` };
  }
  const parsed = parseBootState(text);
  if ("problem" in parsed) return { state: EMPTY_BOOT_STATE, warning: `${BOOT_STATE} is damaged (${parsed.problem}); counting starts afresh` };
  return { state: parsed, warning: null };
}

/**
 * Write the state atomically and durably: a new file, synced, renamed over the
 * old one, and the directory synced. Synchronous: the native shim runs it
 * while the activation runs, where it costs no time of its own. Throws when
 * the disk refuses (read-only, full): the caller decides what that means.
 */
export function writeBootState(root: string, state: BootState): void {
  const path = hostPathToCreate(root, BOOT_STATE);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  replaceAtomically(path, (temporary) => writeFileSync(temporary, `${JSON.stringify(state)}\n`, { mode: 0o644 }), { durable: true });
}
