// /etc/wsl.conf as WSL reads it: lines it cannot read, [boot] systemd against
// the mode, initTimeout, [user] default in /etc/passwd, and whether it changed
// since this start (WSL reads it only at a start).
import { readFileSync, statSync } from "node:fs";
import { errnoText } from "../../src/rootPath.ts";
import { parseInitTimeout, parseWslConf, WSL_CONF } from "../wsl/wslConf.ts";
import { type Check, fail, ok, skip, warn } from "./check.ts";
import { type DoctorContext, inRoot, passwdOf, readInRoot } from "./context.ts";

const G = "wsl";
const TERMINATE = "from Windows: wsl --terminate NixOS, then start it again (WSL reads wsl.conf only at a start)";
const REBUILD = "as root: nixos-rebuild switch";

export function wslConfChecks(ctx: DoctorContext): Check[] {
  let text: string | null;
  try {
    text = readInRoot(ctx.root, WSL_CONF);
  } catch (error) {
    return [fail(G, "wsl.conf", `${WSL_CONF} cannot be read: ${errnoText(error)}`, `${REBUILD} writes it again; ${TERMINATE}`)];
  }
  if (text === null) {
    return [
      ctx.mode === "native"
        ? fail(G, "wsl.conf", `no ${WSL_CONF}: WSL then starts the distro without systemd, and the shim never runs`, `${REBUILD} (the module writes it); ${TERMINATE}`)
        : warn(G, "wsl.conf", `no ${WSL_CONF}: WSL's defaults (no systemd, the default user of the registration)`, `${REBUILD} (the module writes it); ${TERMINATE}`),
    ];
  }
  const conf = parseWslConf(text);
  const checks: Check[] = [];
  checks.push(
    conf.problems.length > 0
      ? warn(G, "wsl.conf", `WSL cannot read ${conf.problems.length} line(s) of ${WSL_CONF}: ${conf.problems.join("; ")}`, `correct them in wsl.wslConf or wsl.init (the file is generated), ${REBUILD}; ${TERMINATE}`)
      : ok(G, "wsl.conf", `${WSL_CONF} parses (${conf.values.size} keys)`),
  );

  const systemd = (conf.values.get("boot.systemd") ?? "false").toLowerCase();
  if (ctx.mode === "native") {
    checks.push(
      systemd === "true"
        ? ok(G, "wsl.conf mode", "[boot] systemd=true, as native mode needs")
        : fail(G, "wsl.conf mode", `[boot] systemd=${systemd}: WSL will not start /sbin/init, so no activation and no systemd`, `set wsl.init.mode = "native" (it writes systemd=true), ${REBUILD}; ${TERMINATE}`),
    );
  } else {
    const user = conf.values.get("user.default");
    checks.push(
      systemd === "true"
        ? fail(G, "wsl.conf mode", "[boot] systemd=true, but root's login shell is syschdemd (legacy mode): WSL starts /sbin/init instead", `set wsl.init.mode once, to the mode you want, ${REBUILD}; ${TERMINATE}`)
        : user !== undefined && user !== "root"
          ? fail(G, "wsl.conf mode", `[user] default=${user}: legacy mode needs root as WSL's default user (root's shell starts systemd)`, `leave [user] default to wsl.init (legacy mode writes default=root), ${REBUILD}; ${TERMINATE}`)
          : ok(G, "wsl.conf mode", "[boot] systemd off and root the default user, as legacy mode needs"),
    );
  }

  const timeout = parseInitTimeout(text);
  checks.push(
    timeout.warning !== null
      ? warn(G, "initTimeout", timeout.warning, `set wsl.init.initTimeout to a number of milliseconds, ${REBUILD}; ${TERMINATE}`)
      : ok(G, "initTimeout", `WSL waits ${timeout.ms / 1000} s for systemd ([boot] initTimeout${conf.values.has("boot.inittimeout") ? "" : ", WSL's default"})`),
  );

  const user = conf.values.get("user.default");
  if (user === undefined) {
    checks.push(ok(G, "default user", "no [user] default: WSL logs in as the user the distro was registered with"));
  } else if (passwdOf(ctx.root).some((entry) => entry.name === user)) {
    checks.push(ok(G, "default user", `[user] default=${user}, in /etc/passwd`));
  } else {
    checks.push(fail(G, "default user", `[user] default=${user}, but /etc/passwd has no such user: WSL cannot start a shell for it`, `set wsl.init.defaultUser (and users.users.${user}) to a user that exists, ${REBUILD}; ${TERMINATE}`));
  }
  checks.push(changedSinceStart(ctx, text));
  return checks;
}

/** Whether wsl.conf is no longer what WSL read at this start. */
function changedSinceStart(ctx: DoctorContext, text: string): Check {
  const name = "wsl.conf read";
  if (!ctx.live) return skip(G, name, "the distro is not running: the next start reads the file as it is");
  // On NixOS /etc/wsl.conf comes from the store (mtime 1): compare with the booted generation's copy.
  if (ctx.record.kind === "ok") {
    try {
      const booted = readFileSync(inRoot(ctx.root, `${ctx.record.record.generation.storePath}/etc/wsl.conf`), "utf8");
      return booted === text
        ? ok(G, name, `${WSL_CONF} is the one this start's generation brought`)
        : warn(G, name, `${WSL_CONF} differs from the one of the generation that booted: WSL still uses the old one`, TERMINATE);
    } catch {
      // not a NixOS-built etc (or unreadable): go by the file's time
    }
  }
  let mtime: number;
  try {
    mtime = statSync(inRoot(ctx.root, WSL_CONF)).mtimeMs;
  } catch (error) {
    return skip(G, name, `cannot tell: ${errnoText(error)}`);
  }
  if (ctx.startedAtMs === null) return skip(G, name, "cannot tell when this start began");
  if (mtime > ctx.startedAtMs + 1000) {
    return warn(G, name, `${WSL_CONF} changed at ${new Date(mtime).toISOString()}, after this start (${new Date(ctx.startedAtMs).toISOString()}): WSL still uses the old one`, TERMINATE);
  }
  return ok(G, name, `${WSL_CONF} unchanged since this start began`);
}

