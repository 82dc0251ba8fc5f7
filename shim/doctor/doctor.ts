// `nixos-wsl-init doctor [--json]`: why a NixOS-on-WSL install misbehaves, and
// the fix. Runs every check group (one module each), changes nothing, and
// exits 0 all ok, 1 warnings, 2 a failure. `nixos-wsl-recovery --doctor` runs
// the checks that need no running system against the distro's root.
import { parseArgs } from "@pkgjs/parseargs";
import { EXIT_USAGE } from "../../src/exitCodes.ts";
import { readState } from "../legacy/state.ts";
import { findSystemdTools } from "../legacy/systemdProcess.ts";
import { existsSync } from "node:fs";
import { NIXOS_MARKER, RECOVERY_COMMAND } from "../../src/paths.ts";
import { type Check, checksJson, exitCodeOf, fail, formatChecks, skip } from "./check.ts";
import { type DoctorContext, liveContext, modeOf, offlineContext } from "./context.ts";
import { besideNixosWslChecks } from "./besideNixosWsl.ts";
import { interopChecks } from "./interop.ts";
import { sessionChecks, sessionUser } from "./session.ts";
import { spaceChecks } from "./space.ts";
import { startupChecks } from "./startup.ts";
import { BoundedSystemd } from "./systemctl.ts";
import { pid1Name, systemdChecks } from "./systemd.ts";
import { wslFileChecks } from "./wslFiles.ts";

const HELP = `Usage: nixos-wsl-init doctor [--json]
Finds why this NixOS-on-WSL install misbehaves and says the fix: the boot
record, boot assessment and init budget; wsl.conf, /sbin/init, the /bin
entries and the recovery entry; space; systemd and the user session; interop
and WSLg; beside NixOS-WSL, who writes what and the clash left. Each check prints ok, warn or FAIL, what it found, and the next step.
It changes nothing, runs as any user (a check that needs root says so), and
gives systemd 8 s in all, so it never hangs on a dead bus.

  --json   the same results as data

Exit codes: 0 all ok, 1 warnings, 2 a failure (or a bad command line).
From the system distribution, for a distro that does not start:
  wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery --doctor
`;

/** How systemd is reached: directly, or in legacy mode from outside its namespaces through nsenter (as root). */
function systemdAsker(): { asker: BoundedSystemd | null; note: Check | null } {
  const pid1 = pid1Name();
  if (pid1 === "systemd" || modeOf("/") !== "legacy") {
    return { asker: new BoundedSystemd(), note: pid1 === "systemd" ? null : skip("systemd", "PID 1", `PID 1 is ${pid1 ?? "unknown"}, not systemd`) };
  }
  try {
    const record = readState();
    if (record.kind === "valid") {
      const tools = findSystemdTools(record.state.system);
      return { asker: new BoundedSystemd(8_000, 3_000, [tools.nsenter, "--target", String(record.state.pid), "--mount", "--pid", "--"]), note: null };
    }
  } catch {
    // not root, or no record: said below
  }
  return {
    asker: null,
    note: skip("systemd", "systemd", "legacy mode, outside systemd's namespaces: run doctor from a shell of the distro (wsl), or as root", "sudo nixos-wsl-init doctor"),
  };
}

function report(checks: readonly Check[], json: boolean, title: string, extra: Record<string, unknown>): number {
  process.stdout.write(json ? checksJson(checks, extra) : formatChecks(checks, title));
  return exitCodeOf(checks);
}

function parse(args: readonly string[], usage: string): { json: boolean } | number {
  try {
    const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    return { json: values.json === true };
  } catch (error) {
    process.stderr.write(`nixos-wsl-init doctor: ${(error as Error).message}\n${usage}\n`);
    return EXIT_USAGE;
  }
}

export function runDoctor(args: readonly string[]): number {
  const parsed = parse(args, "Usage: nixos-wsl-init doctor [--json]");
  if (typeof parsed === "number") return parsed;
  const started = performance.now();
  const { asker, note } = systemdAsker();
  const live: DoctorContext = liveContext(asker);
  const user = sessionUser(live);
  const notNixos = existsSync(`/${NIXOS_MARKER}`)
    ? []
    : [fail("start-up", "NixOS", `/${NIXOS_MARKER} is missing: this is not a NixOS system, and what follows assumes one`, `run doctor inside the NixOS distro (wsl -d NixOS), or, when it does not start: ${RECOVERY_COMMAND} --doctor`)];
  const checks: Check[] = [
    ...notNixos,
    ...startupChecks(live),
    ...wslFileChecks(live),
    ...spaceChecks(live),
    ...(note ? [note] : []),
    ...systemdChecks(live),
    ...sessionChecks(live),
    ...interopChecks(live, user),
    ...besideNixosWslChecks(live),
  ];
  const ms = Math.round(performance.now() - started);
  return report(checks, parsed.json, `nixos-wsl-init doctor: ${live.mode} mode, as uid ${process.getuid?.()}`, { mode: live.mode, root: "/", ms });
}

/** The checks that need no running system, on the distro at `root` (nixos-wsl-recovery --doctor). */
export function runOfflineDoctor(root: string, json: boolean): number {
  const ctx = offlineContext(root);
  const checks: Check[] = [...startupChecks(ctx), ...wslFileChecks(ctx), ...spaceChecks(ctx), ...besideNixosWslChecks(ctx)];
  return report(checks, json, `nixos-wsl-recovery --doctor: the distro at ${root} (${ctx.mode} mode), not running`, { mode: ctx.mode, root });
}
