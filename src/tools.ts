// Finding the system's own programs (nsenter, setpriv, systemctl): the
// current NixOS system's first, then PATH, then the usual directories.
import { accessSync, constants } from "node:fs";

const SYSTEM_BIN = "/run/current-system/sw/bin";

export function findTool(name: string, env: NodeJS.ProcessEnv = process.env, firstIn: readonly string[] = [SYSTEM_BIN]): string | null {
  const directories = [...firstIn, ...(env.PATH ?? "").split(":").filter(Boolean), "/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  for (const directory of directories) {
    const candidate = `${directory}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
