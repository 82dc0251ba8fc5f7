// WSLg's Wayland socket in the login session. WSLg gives every shell
// XDG_RUNTIME_DIR=/mnt/wslg/runtime-dir and WAYLAND_DISPLAY=wayland-0, a name
// relative to that directory; the session's XDG_RUNTIME_DIR (/run/user/UID)
// replaces the directory, so the socket is linked into it, as NixOS-WSL does.
import { existsSync, lstatSync, symlinkSync } from "node:fs";
import { posix } from "node:path";

export interface WaylandLink {
  /** The link to make, in the session's runtime directory. */
  readonly path: string;
  /** WSLg's socket it points to. */
  readonly target: string;
}

/** The link the session needs, from the caller's and the session's variables; null when none does. */
export function waylandLink(caller: Readonly<Record<string, string | undefined>>, session: Readonly<Record<string, string | undefined>>): WaylandLink | null {
  const display = caller.WAYLAND_DISPLAY;
  const from = caller.XDG_RUNTIME_DIR;
  const to = session.XDG_RUNTIME_DIR;
  // An absolute WAYLAND_DISPLAY, or a name with a directory in it, does not depend on XDG_RUNTIME_DIR.
  if (!display || display.includes("/") || !from || !to || posix.resolve("/", from) === posix.resolve("/", to)) return null;
  return { path: posix.join(to, display), target: posix.join(from, display) };
}

/** Make the link when WSLg's socket is there and nothing has the name yet; a failure only costs the GUI, so it is returned, not thrown. */
export function linkWaylandSocket(link: WaylandLink): string | null {
  if (!existsSync(link.target)) return null;
  try {
    lstatSync(link.path);
    return null; // already there (another shell of this session's user linked it)
  } catch {
    // not there yet
  }
  try {
    symlinkSync(link.target, link.path);
    return null;
  } catch (error) {
    return `linking WSLg's Wayland socket ${link.target} to ${link.path}: ${(error as Error).message}; Wayland programs will not find it (X11 ones still will)`;
  }
}
