// WSL's view of the distro: /etc/wsl.conf (wslConfig.ts), /sbin/init, the /bin
// entries WSL calls, and the recovery entry with its stamp.
import { lstatSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { executableProblem, resolveGeneration } from "../../src/generations.ts";
import { RECOVERY_COMMAND, RECOVERY_ENTRY, SYSTEM_PROFILE } from "../../src/paths.ts";
import { errnoText } from "../../src/rootPath.ts";
import { fileDigest, parseStamp } from "../../recovery/installEntry.ts";
import { readInterpreter } from "../../recovery/elf.ts";
import { wslConfChecks } from "./wslConfig.ts";
import { type Check, fail, ok, skip, warn } from "./check.ts";
import { type DoctorContext, inRoot, readInRoot } from "./context.ts";

const G = "wsl";
const TERMINATE = "from Windows: wsl --terminate NixOS, then start it again";
const REBUILD = "as root: nixos-rebuild switch";
/** Where install-recovery's stamp is kept (the module's activation passes it). */
export const RECOVERY_STAMP = "/var/lib/nixos-wsl-init/recovery-entry";

export function wslFileChecks(ctx: DoctorContext): Check[] {
  return [...wslConfChecks(ctx), sbinInit(ctx), ...binEntries(ctx), recoveryEntry(ctx)];
}

/** The store path a path points into (/nix/store/HASH-NAME), or null. */
function storeItem(path: string): string | null {
  return /^\/nix\/store\/[^/]+/.exec(path)?.[0] ?? null;
}

/** The systems /sbin/init and /bin may point into: the current one and the booted one (inside the root). */
function systems(ctx: DoctorContext): string[] {
  const found: string[] = [];
  for (const link of ctx.live ? ["/run/current-system"] : [SYSTEM_PROFILE]) {
    try {
      found.push(resolveGeneration(ctx.root, link).storePath);
    } catch {
      // none
    }
  }
  if (ctx.record.kind === "ok") found.push(ctx.record.record.generation.storePath);
  return [...new Set(found)];
}

function sbinInit(ctx: DoctorContext): Check {
  const name = "/sbin/init";
  if (ctx.mode === "legacy") return skip(G, name, "legacy mode: WSL does not start /sbin/init ([boot] systemd off)");
  const problem = executableProblem(ctx.root, "/sbin/init");
  if (problem !== null) {
    return fail(
      G,
      name,
      `/sbin/init ${problem}: WSL then boots without systemd, and says nothing`,
      ctx.live ? `${REBUILD} (the activation points /sbin/init at nixos-wsl-init's systemd-shim); ${TERMINATE}` : `${RECOVERY_COMMAND} (entering runs the activation, which points /sbin/init at the shim again)`,
    );
  }
  let target: string;
  try {
    target = realpathSync(inRoot(ctx.root, "/sbin/init"));
  } catch (error) {
    return fail(G, name, `/sbin/init cannot be resolved: ${errnoText(error)}`, REBUILD);
  }
  const expected = systems(ctx).flatMap((system) =>
    ["nixos-wsl-init", "nixos-wsl-shell"].flatMap((tool) => {
      try {
        return [realpathSync(inRoot(ctx.root, `${system}/sw/bin/${tool}`))];
      } catch {
        return [];
      }
    }),
  );
  const shown = ctx.root === "/" ? target : target.slice(ctx.root.length) || "/";
  if (expected.length === 0) return ok(G, name, `executable (${shown}); no nixos-wsl-init in the system's sw/bin to compare with`);
  if (expected.includes(target)) return ok(G, name, `executable, and the nixos-wsl-init of this system (${shown})`);
  return warn(
    G,
    name,
    `executable, but ${shown} is not the nixos-wsl-init of this system (${expected[0]!.slice(ctx.root === "/" ? 0 : ctx.root.length)}): another module writes /sbin/init, or the activation did not update it`,
    `${REBUILD}; if it stays, look for another writer of /sbin/init (NixOS-WSL's wsl.nativeSystemd shim is emptied by wsl.init); ${TERMINATE}`,
  );
}

const BIN_ENTRIES = ["sh", "mount", "true", "login"] as const;

function binEntries(ctx: DoctorContext): Check[] {
  const fix = ctx.live
    ? "as root: nixos-wsl-init install-bin --system /run/current-system (the activation does the same at every start)"
    : `${RECOVERY_COMMAND} (entering runs the activation, which writes them again)`;
  const known = systems(ctx);
  return BIN_ENTRIES.map((entry) => {
    const path = `/bin/${entry}`;
    const problem = executableProblem(ctx.root, path);
    const why = entry === "login" ? "WSL starts the default user's session with it" : entry === "sh" ? "WSL's check for systemd runs through it" : "WSL's generated units call it";
    if (problem !== null) return fail(G, path, `${path} ${problem}: ${why}`, fix);
    let into: string | null = null;
    try {
      const host = inRoot(ctx.root, "/bin").concat(`/${entry}`);
      if (lstatSync(host).isSymbolicLink()) into = storeItem(readlinkSync(host));
      else into = storeItem(/^#!\s*(\S+)/.exec(readFileSync(host, "utf8").slice(0, 512))?.[1] ?? "");
    } catch {
      // unreadable: it is executable, which is what WSL needs
    }
    if (into === null || known.length === 0) return ok(G, path, `${path} is there and executable`);
    if (known.includes(into)) return ok(G, path, `${path} points into ${into === known[0] ? "the current system" : "the booted system"}`);
    return warn(G, path, `${path} points into ${into}, not the current system (${known[0]})`, fix);
  });
}

function recoveryEntry(ctx: DoctorContext): Check {
  const name = "recovery entry";
  let host: string;
  try {
    host = inRoot(ctx.root, RECOVERY_ENTRY);
  } catch (error) {
    return fail(G, name, `${RECOVERY_ENTRY} is missing (${(error as Error).message}): the system distribution has nothing to run when the distro does not start`, `as root: nixos-rebuild switch (the activation runs nixos-wsl-init install-recovery ${RECOVERY_ENTRY} --stamp ${RECOVERY_STAMP})`);
  }
  const install = `nixos-wsl-init install-recovery ${RECOVERY_ENTRY} --stamp ${RECOVERY_STAMP}`;
  const rewrite = ctx.live ? `as root: ${install} (or nixos-rebuild switch)` : `${RECOVERY_COMMAND.replace(/^.*-- /, "")} -c '${install}'`;
  let size: number;
  try {
    const stats = lstatSync(host);
    if (!stats.isFile()) return fail(G, name, `${RECOVERY_ENTRY} is not a regular file: the system distribution has no /nix to follow a link into`, rewrite);
    if ((stats.mode & 0o111) === 0) return fail(G, name, `${RECOVERY_ENTRY} is not executable (mode ${(stats.mode & 0o7777).toString(8)})`, rewrite);
    size = stats.size;
    const interpreter = readInterpreter(host)?.path ?? null;
    if (interpreter?.startsWith("/nix/")) return fail(G, name, `${RECOVERY_ENTRY} names its loader in the store (${interpreter}): it cannot run from the system distribution, which has no /nix`, rewrite);
  } catch (error) {
    return fail(G, name, `${RECOVERY_ENTRY} cannot be read: ${errnoText(error)}`, rewrite);
  }
  let stampText: string | null;
  try {
    stampText = readInRoot(ctx.root, RECOVERY_STAMP);
  } catch (error) {
    return warn(G, name, `its stamp ${RECOVERY_STAMP} cannot be read: ${errnoText(error)}`, ctx.isRoot ? rewrite : "run doctor as root to check it (sudo nixos-wsl-init doctor)");
  }
  if (stampText === null) return warn(G, name, `${RECOVERY_ENTRY} is there, but has no stamp ${RECOVERY_STAMP}: it cannot be told current`, rewrite);
  const stamp = parseStamp(stampText);
  if (stamp === null) return warn(G, name, `its stamp ${RECOVERY_STAMP} is from an older version or damaged, so the entry may be stale`, rewrite);
  if (stamp.size !== size) return fail(G, name, `${RECOVERY_ENTRY} has ${size} bytes, its stamp says ${stamp.size}: truncated or replaced since it was written`, rewrite);
  if (fileDigest(host).sha256 !== stamp.sha256) return fail(G, name, `${RECOVERY_ENTRY} does not match its stamp's SHA-256: damaged or replaced since it was written`, rewrite);
  if (ctx.live) {
    try {
      if (stamp.source !== realpathSync(process.execPath)) {
        return warn(G, name, `${RECOVERY_ENTRY} is intact, but was made from ${stamp.source}, not from this nixos-wsl-init (${realpathSync(process.execPath)}): stale`, rewrite);
      }
    } catch {
      // this executable's own path cannot be told: the digest above is what counts
    }
  }
  return ok(G, name, `${RECOVERY_ENTRY} matches its stamp (${(size / 1048576).toFixed(1)} MiB, runs without /nix)`);
}
