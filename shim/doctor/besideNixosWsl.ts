// Beside NixOS-WSL: whether its modules are in this system (told by its
// shell-wrapper in front of the users' shells), who writes what then, and the
// clash this module cannot take away by itself.
import { loadSettings } from "../../src/config.ts";
import { CONFIG_FILE } from "../../src/paths.ts";
import { type Check, ok, warn } from "./check.ts";
import { type DoctorContext, inRoot, passwdOf, wrapperTarget } from "./context.ts";

const G = "beside NixOS-WSL";

/** Who writes what when both modules are on (nix/module.nix says why). */
const WRITERS =
  "NixOS-WSL writes /etc/wsl.conf (wsl.wslConf), the users' shell-wrappers and the /bin entries (wsl.extraBin, or envfs's fallback /bin under services.envfs); " +
  "nixos-wsl-init writes /sbin/init and /bin/nixos-wsl-recovery";

export function besideNixosWslChecks(ctx: DoctorContext): Check[] {
  const wrapped = passwdOf(ctx.root).filter((entry) => wrapperTarget(ctx.root, entry.shell) !== null);
  if (wrapped.length === 0) return [];
  const checks: Check[] = [ok(G, "NixOS-WSL", `its modules are on (${wrapped.map((entry) => entry.name).join(", ")}: shell behind its shell-wrapper); ${WRITERS}`)];
  let activationTimeout: number | null = null;
  try {
    activationTimeout = loadSettings(inRoot(ctx.root, CONFIG_FILE)).activationTimeoutSeconds;
  } catch {
    // a damaged settings file is the start-up group's finding
  }
  if (activationTimeout === 0) {
    checks.push(
      warn(
        G,
        "shells' wait",
        "wsl.init.activationTimeout is 0: an activation that hangs is never stopped, and NixOS-WSL's shell-wrapper waits for /run/current-system without a limit, so no user gets a shell",
        "set wsl.init.activationTimeout (e.g. 120) and run nixos-rebuild switch",
      ),
    );
  } else if (activationTimeout !== null) {
    checks.push(
      ok(G, "shells' wait", `an activation is stopped after ${activationTimeout} s, and /run/current-system then linked by the shim, so NixOS-WSL's shell-wrapper does not wait for ever`),
    );
  }
  return checks;
}
