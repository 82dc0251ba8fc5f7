// Interop and WSLg: WSL's binfmt entry for Windows programs, WSLg's mount and
// runtime directory, and its Wayland socket where the user's session expects it.
import { existsSync, readFileSync } from "node:fs";
import { type Check, ok, skip, warn } from "./check.ts";
import type { DoctorContext } from "./context.ts";
import type { PasswdEntry } from "./context.ts";

const G = "interop";
const WSLG = "/mnt/wslg";

/** The kernel's release when it is WSL's (…-microsoft-standard-WSL2), else null. */
export function wslKernel(): string | null {
  try {
    const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    return /microsoft/i.test(release) ? release : null;
  } catch {
    return null;
  }
}

export function interopChecks(ctx: DoctorContext, user: PasswdEntry | string): Check[] {
  if (!ctx.live) return [skip(G, "interop", "the distro is not running")];
  const kernel = wslKernel();
  const checks: Check[] = [];
  if (kernel === null) {
    checks.push(skip(G, "binfmt WSLInterop", "not WSL's kernel: Windows programs are not expected here"));
  } else {
    const entry = ["WSLInterop", "WSLInterop-late"].map((name) => `/proc/sys/fs/binfmt_misc/${name}`).find(existsSync);
    let enabled = false;
    try {
      enabled = entry !== undefined && readFileSync(entry, "utf8").startsWith("enabled");
    } catch {
      // unreadable counts as not there
    }
    checks.push(
      enabled
        ? ok(G, "binfmt WSLInterop", `${entry} is enabled: .exe files start Windows programs`)
        : warn(
            G,
            "binfmt WSLInterop",
            entry ? `${entry} is disabled` : "no WSLInterop entry in /proc/sys/fs/binfmt_misc: Windows programs (.exe) cannot be started from here",
            "keep [interop] enabled=true in wsl.conf (wsl.wslConf.interop.enabled); with NixOS-WSL set wsl.interop.register = true; then wsl --terminate NixOS",
          ),
    );
  }
  if (kernel === null && !existsSync(WSLG)) {
    checks.push(skip(G, "WSLg", `not WSL's kernel, and no ${WSLG}`));
    return checks;
  }
  const runtime = `${WSLG}/runtime-dir`;
  if (!existsSync(runtime)) {
    checks.push(warn(G, "WSLg", `no ${runtime}: WSLg is off, so GUI programs have no display`, "nothing to do if you want no GUI; else in %UserProfile%\\.wslconfig set [wsl2] guiApplications=true, then wsl --shutdown"));
    return checks;
  }
  checks.push(ok(G, "WSLg", `${runtime} is there`));
  const socket = `${runtime}/wayland-0`;
  if (!existsSync(socket)) {
    checks.push(warn(G, "Wayland socket", `no ${socket}: WSLg's compositor is not running`, "from Windows: wsl --shutdown, then start the distro again"));
  } else if (typeof user === "string") {
    checks.push(skip(G, "Wayland socket", `the user ${user} is unknown`));
  } else {
    const linked = `/run/user/${user.uid}/wayland-0`;
    checks.push(
      existsSync(linked)
        ? ok(G, "Wayland socket", `${linked} reaches WSLg's socket`)
        : existsSync(`/run/user/${user.uid}`)
          ? warn(G, "Wayland socket", `no ${linked}: Wayland programs of ${user.name}, whose XDG_RUNTIME_DIR is /run/user/${user.uid}, do not find WSLg's ${socket}`, `as ${user.name}: ln -s ${socket} ${linked} (a new shell links it in legacy mode; NixOS-WSL links it with a user unit)`)
          : skip(G, "Wayland socket", `no /run/user/${user.uid}: ${user.name} has no session (above)`),
    );
  }
  return checks;
}
