// The user session, the most common complaint ("Failed to start the systemd
// user session"): is user@UID active, and if not why, from systemd itself;
// did it come up before WSL stopped waiting; linger; the user's bus.
import { existsSync, statSync } from "node:fs";
import { DEFAULT_SETTINGS, loadSettings } from "../../src/config.ts";
import { CONFIG_FILE } from "../../src/paths.ts";
import { parseWslConf, WSL_CONF } from "../wsl/wslConf.ts";
import { type Check, fail, ok, skip, warn } from "./check.ts";
import { type DoctorContext, type PasswdEntry, passwdOf, readInRoot } from "./context.ts";
import { properties } from "./systemctl.ts";

const G = "session";

/** The user whose session WSL starts: [user] default, else this caller, else wsl.init.defaultUser. */
export function sessionUser(ctx: DoctorContext): PasswdEntry | string {
  let name: string | undefined;
  try {
    name = parseWslConf(readInRoot(ctx.root, WSL_CONF) ?? "").values.get("user.default");
  } catch {
    // wsl.conf is judged in its own check
  }
  const passwd = passwdOf(ctx.root);
  if (name === undefined || name === "root") {
    const uid = process.getuid?.() ?? 0;
    const caller = passwd.find((entry) => entry.uid === uid);
    if (uid !== 0 && caller) return caller;
    try {
      name = loadSettings(CONFIG_FILE).defaultUser;
    } catch {
      name = DEFAULT_SETTINGS.defaultUser;
    }
  }
  return passwd.find((entry) => entry.name === name) ?? name;
}

export function sessionChecks(ctx: DoctorContext): Check[] {
  const user = sessionUser(ctx);
  if (typeof user === "string") return [fail(G, "user", `the default user ${user} is not in /etc/passwd`, "set wsl.init.defaultUser to a user that exists (users.users.NAME), then nixos-rebuild switch")];
  const systemd = ctx.systemd;
  const unit = `user@${user.uid}.service`;
  if (systemd === null || systemd.unanswered !== null) return [skip(G, unit, systemd?.unanswered ?? "systemd is not asked")];
  const shown = systemd.systemctl([
    "show",
    unit,
    "-p", "LoadState", "-p", "ActiveState", "-p", "SubState", "-p", "Result", "-p", "DropInPaths", "-p", "ActiveEnterTimestampMonotonic", "-p", "ExecMainStatus",
  ]);
  if (shown.noAnswer !== null) return [fail(G, unit, shown.noAnswer, "from Windows: wsl --terminate NixOS, then start it again")];
  const p = properties(shown.stdout);
  const lingers = existsSync(`/var/lib/systemd/linger/${user.name}`);
  const checks: Check[] = [];
  const dropIns = (p.DropInPaths ?? "").split(/\s+/).filter((path) => path !== "" && !path.startsWith("/usr/lib/") && !path.startsWith("/lib/"));
  if (p.ActiveState === "active") {
    checks.push(ok(G, unit, `active (${p.SubState}) for ${user.name}`));
    checks.push(timing(ctx, unit, p.ActiveEnterTimestampMonotonic));
  } else {
    const why: string[] = [`${p.ActiveState ?? "unknown"} (${p.SubState ?? "?"})`];
    if (p.Result && p.Result !== "success") why.push(`Result: ${p.Result}`);
    if (p.LoadState && p.LoadState !== "loaded") why.push(`LoadState: ${p.LoadState}`);
    if (dropIns.length > 0) why.push(`drop-ins: ${dropIns.join(", ")}`);
    const log = systemd.journalctl(["-b", "-u", unit, "-p", "warning", "-n", "3", "-o", "cat", "-q"]);
    const lines = log.stdout.trim().split("\n").filter(Boolean);
    if (lines.length > 0) why.push(`its warnings: ${lines.join(" | ")}`);
    else if (!ctx.isRoot) why.push("its log needs root (sudo nixos-wsl-init doctor)");
    const started = p.Result !== undefined && p.Result !== "success";
    const next = started
      ? `see why: systemctl status ${unit}; journalctl -b -u ${unit}${dropIns.length > 0 ? `; a drop-in changes it: systemctl cat ${unit}, and remove or fix ${dropIns[0]}` : ""}; ` +
        `then as root: systemctl reset-failed ${unit}, and start a new shell (or wsl --terminate NixOS)`
      : pamStartsSession(ctx.root, pamService(ctx)) === false
        ? `/etc/pam.d/${pamService(ctx)} has no pam_systemd, so ${ctx.mode === "native" ? `WSL's /bin/login -f ${user.name}` : "legacy mode's shells"} register no session and nothing starts the user manager: ` +
          `set security.pam.services.${pamService(ctx)}.startSession = true${ctx.mode === "legacy" ? " (the module does, with wsl.init.legacy.loginSession)" : ""}, nixos-rebuild switch, then open a new shell`
        : `nothing started it: WSL starts it with /bin/login -f ${user.name} through PAM's pam_systemd (look at loginctl list-sessions and journalctl -b -u systemd-logind); ` +
          `or keep it running without a session: loginctl enable-linger ${user.name}`;
    checks.push(fail(G, unit, `${user.name}'s user manager is ${why.join("; ")}: WSL says "Failed to start the systemd user session"`, next));
  }
  checks.push(ok(G, "linger", lingers ? `on for ${user.name}: the user manager runs without a session` : `off for ${user.name}: the user manager lives while a session does`));
  checks.push(...busChecks(user, p.ActiveState === "active"));
  return checks;
}

/** The PAM service that opens the sessions: WSL's `/bin/login -f USER` in native mode, legacy mode's own for its shells. */
function pamService(ctx: DoctorContext): string {
  return ctx.mode === "native" ? "login" : "nixos-wsl-init";
}

/**
 * Whether a PAM service (`login`, which WSL's `/bin/login -f USER` uses) runs
 * pam_systemd, following its @include and substack/include lines; null when
 * /etc/pam.d/login cannot be read.
 */
export function pamStartsSession(root: string, service = "login", seen = new Set<string>()): boolean | null {
  if (seen.has(service)) return false;
  seen.add(service);
  let text: string | null;
  try {
    text = readInRoot(root, `/etc/pam.d/${service}`);
  } catch {
    text = null;
  }
  if (text === null) return seen.size === 1 ? null : false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (/^session\s.*pam_systemd\.so/.test(line)) return true;
    const included = /^@include\s+(\S+)/.exec(line)?.[1] ?? /^session\s+(?:include|substack)\s+(\S+)/.exec(line)?.[1];
    if (included && pamStartsSession(root, included, seen)) return true;
  }
  return false;
}

/** Whether the user manager was active before WSL stopped waiting for it (the same initTimeout, counted from the shim's start). */
function timing(ctx: DoctorContext, unit: string, activeEnter: string | undefined): Check {
  const name = `${unit} in time`;
  if (ctx.record.kind !== "ok" || ctx.record.record.budgetMs === undefined || ctx.systemd === null) return skip(G, name, "no boot record with a budget to compare with");
  const reply = ctx.systemd.systemctl(["show", "-p", "UserspaceTimestampMonotonic"]);
  const userspace = Number(properties(reply.stdout).UserspaceTimestampMonotonic);
  const enter = Number(activeEnter);
  if (!(userspace > 0) || !(enter > 0)) return skip(G, name, "systemd did not say when it started");
  const record = ctx.record.record;
  const budgetMs = record.budgetMs!;
  // WSL's clock starts about when the shim does, shimMs before systemd.
  const sinceStartMs = (enter - userspace) / 1000 + record.shimMs;
  const at = `${(sinceStartMs / 1000).toFixed(1)} s after the start, WSL waits ${budgetMs / 1000} s`;
  return sinceStartMs <= budgetMs
    ? ok(G, name, `active ${at}`)
    : warn(G, name, `active only ${at}: WSL had already said "Failed to start the systemd user session"`, "make the start faster, or raise wsl.init.initTimeout ([boot] initTimeout); then wsl --terminate NixOS");
}

function busChecks(user: PasswdEntry, managerActive: boolean): Check[] {
  const runtime = `/run/user/${user.uid}`;
  const checks: Check[] = [];
  if (!managerActive) {
    checks.push(skip(G, "user bus", `${runtime}/bus: the user manager does not run (above)`));
  } else {
    let socket = false;
    try {
      socket = statSync(`${runtime}/bus`).isSocket();
    } catch {
      // missing
    }
    checks.push(
      socket
        ? ok(G, "user bus", `${runtime}/bus is there: systemctl --user reaches the user manager`)
        : warn(G, "user bus", `no socket ${runtime}/bus: systemctl --user and D-Bus programs of ${user.name} cannot reach their bus`, `as ${user.name}: systemctl --user status dbus.socket (NixOS has it with services.dbus, on by default); then start a new shell`),
    );
  }
  const uid = process.getuid?.();
  if (uid !== user.uid) {
    checks.push(skip(G, "XDG_RUNTIME_DIR", `doctor runs as uid ${uid}, not as ${user.name}: run it as ${user.name} to check that shell's environment`));
  } else {
    const value = process.env.XDG_RUNTIME_DIR;
    checks.push(
      value === runtime
        ? ok(G, "XDG_RUNTIME_DIR", `${runtime}`)
        : warn(G, "XDG_RUNTIME_DIR", value ? `is ${value}, not ${runtime}: systemctl --user looks for the bus in the wrong place` : `is not set: systemctl --user cannot find the bus`, `export XDG_RUNTIME_DIR=${runtime} (a shell started without PAM lacks it; a new wsl shell sets it)`),
    );
  }
  return checks;
}
