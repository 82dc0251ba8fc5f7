// Finding the system's own programs (nsenter, setpriv, systemctl): the
// current NixOS system's first, then PATH, then the usual directories.
import { accessSync, constants } from "node:fs";

const SYSTEM_BIN = "/run/current-system/sw/bin";
const USUAL_DIRECTORIES = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/** Where findTool looks, in order: for messages that say where a missing tool was looked for. */
export function toolDirectories(env: NodeJS.ProcessEnv = process.env, firstIn: readonly string[] = [SYSTEM_BIN]): string[] {
  return [...new Set([...firstIn, ...(env.PATH ?? "").split(":").filter(Boolean), ...USUAL_DIRECTORIES])];
}

export function findTool(name: string, env: NodeJS.ProcessEnv = process.env, firstIn: readonly string[] = [SYSTEM_BIN]): string | null {
  for (const directory of toolDirectories(env, firstIn)) {
    const candidate = `${directory}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here (or not executable): look on
    }
  }
  return null;
}
