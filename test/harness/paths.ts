// Locations shared by the tests, the demo and the benchmark.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PROJECT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The compiled executable under test; NIXOS_WSL_INIT_BINARY points elsewhere (a build of one's own). */
export const BINARY = process.env.NIXOS_WSL_INIT_BINARY ?? join(PROJECT_DIR, "dist", "nixos-wsl-init");
/** The host's real systemd (Debian package "systemd"), reached inside fake roots through the /usr bind. */
export const HOST_SYSTEMD = "/lib/systemd/systemd";

export function requireBinary(): string {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run 'npm run build' first`);
  return BINARY;
}
