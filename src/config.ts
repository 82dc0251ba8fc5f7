// /etc/nixos-wsl-init.json, written by the NixOS module. Every key is
// optional: a missing file or key means the default.
import { readFileSync } from "node:fs";
import { CONFIG_FILE } from "./paths.ts";

export interface Settings {
  readonly mode: "native" | "legacy";
  /** The user whose shell legacy mode starts. */
  readonly defaultUser: string;
  /** How long legacy mode waits for systemd to be running. */
  readonly readinessTimeoutSeconds: number;
  /** Where WSL mounts Windows drives; PATH entries below it are Windows', kept apart in WSLPATH. */
  readonly automountRoot: string;
}

export const DEFAULT_SETTINGS: Settings = {
  mode: "native",
  defaultUser: "root",
  readinessTimeoutSeconds: 90,
  automountRoot: "/mnt/",
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

  if (value.mode !== undefined) {
    if (value.mode !== "native" && value.mode !== "legacy") throw wrongType("mode", '"native" or "legacy"');
    settings.mode = value.mode;
  }
  if (value.defaultUser !== undefined) {
    if (typeof value.defaultUser !== "string" || value.defaultUser === "") throw wrongType("defaultUser", "a user name");
    settings.defaultUser = value.defaultUser;
  }
  if (value.readinessTimeoutSeconds !== undefined) {
    const seconds = value.readinessTimeoutSeconds;
    if (typeof seconds !== "number" || !(seconds > 0)) throw wrongType("readinessTimeoutSeconds", "a positive number");
    settings.readinessTimeoutSeconds = seconds;
  }
  if (value.automountRoot !== undefined) {
    if (typeof value.automountRoot !== "string" || !value.automountRoot.startsWith("/")) throw wrongType("automountRoot", "an absolute path");
    settings.automountRoot = value.automountRoot.endsWith("/") ? value.automountRoot : `${value.automountRoot}/`;
  }
  return settings;
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
