// /etc/nixos-wsl-init.json, written by the NixOS module (nix/module.nix renders
// the same keys with the same defaults). Every key is optional: a missing file
// or key means the default below.
import { readFileSync } from "node:fs";
import { CONFIG_FILE } from "./paths.ts";

export interface Settings {
  /** The user whose shell legacy mode starts (the module's wsl.init.defaultUser). */
  readonly defaultUser: string;
  /** How long legacy mode waits for systemd to be running. */
  readonly readinessTimeoutSeconds: number;
  /** How long the activation script may run before it is stopped and the boot goes on; 0 waits forever. */
  readonly activationTimeoutSeconds: number;
  /** Where WSL mounts Windows drives; PATH entries below it are Windows', kept apart in WSLPATH. */
  readonly automountRoot: string;
  /** Unblessed starts of the default generation before an older one is booted instead; 0 turns fallback off. */
  readonly bootAttempts: number;
  /** The unit legacy mode waits for before it opens shells (e.g. "multi-user.target"); null: the whole start (is-system-running). */
  readonly waitFor: string | null;
  /** Whether legacy mode opens a logind session (PAM service nixos-wsl-init) around each shell. */
  readonly loginSession: boolean;
  /** libpam for that session: the module writes its store path; the default lets the loader find it. */
  readonly pamLibrary: string;
}

/** The largest timeout either setting takes: an hour. Larger values are refused by the module and clamped here. */
export const MAX_TIMEOUT_SECONDS = 3600;

export const DEFAULT_SETTINGS: Settings = {
  defaultUser: "nixos",
  readinessTimeoutSeconds: 90,
  activationTimeoutSeconds: 120,
  automountRoot: "/mnt/",
  bootAttempts: 2,
  waitFor: null,
  loginSession: true,
  pamLibrary: "libpam.so.0",
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function parseSettings(text: string, source = CONFIG_FILE): Settings {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(`${source} must hold a JSON object`);
  const value = raw as Record<string, unknown>;
  const settings = { ...DEFAULT_SETTINGS };
  const wrongType = (key: string, expected: string) => new ConfigError(`${source}: "${key}" must be ${expected}, not ${JSON.stringify(value[key])}`);

  if (value.defaultUser !== undefined) {
    if (typeof value.defaultUser !== "string" || value.defaultUser === "") throw wrongType("defaultUser", "a user name");
    settings.defaultUser = value.defaultUser;
  }
  if (value.readinessTimeoutSeconds !== undefined) {
    const seconds = value.readinessTimeoutSeconds;
    if (typeof seconds !== "number" || !(seconds > 0)) throw wrongType("readinessTimeoutSeconds", "a positive number");
    settings.readinessTimeoutSeconds = clampTimeout(seconds);
  }
  if (value.activationTimeoutSeconds !== undefined) {
    const seconds = value.activationTimeoutSeconds;
    if (typeof seconds !== "number" || !(seconds >= 0)) throw wrongType("activationTimeoutSeconds", "a number of seconds (0: wait forever)");
    settings.activationTimeoutSeconds = clampTimeout(seconds);
  }
  if (value.automountRoot !== undefined) {
    if (typeof value.automountRoot !== "string" || !value.automountRoot.startsWith("/")) throw wrongType("automountRoot", "an absolute path");
    settings.automountRoot = value.automountRoot.endsWith("/") ? value.automountRoot : `${value.automountRoot}/`;
  }
  if (value.bootAttempts !== undefined) {
    const attempts = value.bootAttempts;
    if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 0) throw wrongType("bootAttempts", "a whole number (0: never fall back)");
    settings.bootAttempts = attempts;
  }
  if (value.waitFor !== undefined && value.waitFor !== null) {
    // A unit name as systemctl takes it: no blanks, no leading "-" (an option), no "/" (a path).
    if (typeof value.waitFor !== "string" || !/^[A-Za-z0-9_:.@\\-]{1,255}$/.test(value.waitFor) || value.waitFor.startsWith("-")) {
      throw wrongType("waitFor", 'a unit name such as "multi-user.target", or null');
    }
    settings.waitFor = value.waitFor;
  }
  if (value.loginSession !== undefined) {
    if (typeof value.loginSession !== "boolean") throw wrongType("loginSession", "true or false");
    settings.loginSession = value.loginSession;
  }
  if (value.pamLibrary !== undefined) {
    if (typeof value.pamLibrary !== "string" || value.pamLibrary === "" || value.pamLibrary.includes("\0")) throw wrongType("pamLibrary", 'libpam\'s path, or a name such as "libpam.so.0"');
    settings.pamLibrary = value.pamLibrary;
  }
  return settings;
}

/** Timers overflow past 2^31 ms (about 24 days) and fire at once: keep every timeout within an hour. */
export function clampTimeout(seconds: number): number {
  return Math.min(seconds, MAX_TIMEOUT_SECONDS);
}

export function loadSettings(path = CONFIG_FILE): Settings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return DEFAULT_SETTINGS;
    throw new ConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseSettings(text, path);
}
