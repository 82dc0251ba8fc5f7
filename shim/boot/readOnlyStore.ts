// Shared by both boot paths: the Nix store, read-only as NixOS has it.
import { mount, MS_BIND, MS_RDONLY, MS_REMOUNT } from "../../src/libc.ts";
import { readMountOptionsAt } from "../../src/mountInfo.ts";
import { NIX_STORE } from "../../src/paths.ts";

/**
 * The store is immutable: a bind of itself, remounted read-only. Only once:
 * binding again on a shared / would double the store's mounts at every start.
 */
export function bindStoreReadOnly(): "bound" | "already" {
  if (readMountOptionsAt(NIX_STORE)?.includes("ro")) return "already";
  mount(NIX_STORE, NIX_STORE, null, MS_BIND);
  mount(null, NIX_STORE, null, MS_REMOUNT | MS_BIND | MS_RDONLY);
  return "bound";
}
