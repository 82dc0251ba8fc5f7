// /etc/wsl-distribution.conf, which WSL reads when it installs the image:
// [oobe] defaultName (needed for a double-click install) and defaultUid,
// [shortcut] icon. It is generated into the stream, never written into ROOT.
// An image that already has one (from ROOT or --extra-files) keeps its own.
import { ConfigError, DEFAULT_SETTINGS, parseSettings } from "../../src/config.ts";
import { CONFIG_FILE } from "../../src/paths.ts";
import { StepError } from "../../src/stepError.ts";
import { imageAccounts } from "./owners.ts";
import type { ImageView } from "./tree.ts";

export const DISTRIBUTION_CONF = "/etc/wsl-distribution.conf";
/** Where an icon is looked for, in order: this project's place, then NixOS-WSL's. */
export const ICON_PATHS = ["/etc/nixos-wsl-init/icon.ico", "/etc/nixos.ico"] as const;

export interface DistributionSettings {
  readonly name: string;
  readonly defaultUid: number | null;
  readonly icon: string | null;
}

export function renderDistributionConf(settings: DistributionSettings): string {
  const lines = ["[oobe]", `defaultName = ${settings.name}`];
  if (settings.defaultUid !== null) lines.push(`defaultUid = ${settings.defaultUid}`);
  if (settings.icon !== null) lines.push("", "[shortcut]", `icon = ${settings.icon}`);
  return `${lines.join("\n")}\n`;
}

export interface DefaultUid {
  readonly uid: number | null;
  /** Why there is none, to tell the user. */
  readonly warning: string | null;
}

/** The uid of the image's default user: defaultUser of /etc/nixos-wsl-init.json ("nixos" without it), in /etc/passwd. */
export function defaultUid(view: ImageView): DefaultUid {
  let user = DEFAULT_SETTINGS.defaultUser;
  const config = view.read(CONFIG_FILE);
  if (config !== null) {
    try {
      user = parseSettings(config.data.toString(), `${CONFIG_FILE} in the image`).defaultUser;
    } catch (error) {
      if (error instanceof ConfigError) throw new StepError("reading the image's settings", error.message, "Fix the file in ROOT (or give a correct one with --extra-files).");
      throw error;
    }
  }
  const source = config === null ? `the default user '${user}'` : `defaultUser '${user}' of ${CONFIG_FILE}`;
  const consequence = "defaultUid is left out: WSL starts as root unless the image's /etc/wsl.conf names a [user] default";
  if (view.resolve("/etc/passwd")?.kind !== "file") return { uid: null, warning: `the image has no /etc/passwd to look up ${source}; ${consequence}` };
  const uid = imageAccounts(view).users.get(user);
  if (uid === undefined) return { uid: null, warning: `the image's /etc/passwd has no user for ${source}; ${consequence}` };
  return { uid, warning: null };
}

export function findIcon(view: ImageView): string | null {
  return ICON_PATHS.find((path) => view.resolve(path)?.kind === "file") ?? null;
}

export interface DistributionOutcome {
  /** What to tell the user (warnings included). */
  readonly notes: string[];
  /** The generated file, or null when the image keeps its own. */
  readonly text: string | null;
}

/** Add the generated /etc/wsl-distribution.conf to the image, or keep the one it has. */
export function addDistributionConf(view: ImageView, name: string, nameGiven: boolean): DistributionOutcome {
  const existing = view.get(DISTRIBUTION_CONF);
  if (existing !== undefined) {
    const from = existing.origin === "extra" ? "--extra-files" : "ROOT";
    const notes = [`keeping the image's own ${DISTRIBUTION_CONF} (from ${from})${nameGiven ? `; --name ${name} is not used` : ""}`];
    return { notes, text: null };
  }
  if (view.get("etc")?.kind !== "directory") {
    throw new StepError(`adding ${DISTRIBUTION_CONF}`, "the image's /etc is not a directory", "Pack a root that 'nixos-install --root' made.");
  }
  const uid = defaultUid(view);
  const text = renderDistributionConf({ name, defaultUid: uid.uid, icon: findIcon(view) });
  view.insert({
    path: DISTRIBUTION_CONF.slice(1),
    kind: "file",
    origin: "generated",
    hostPath: null,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: Buffer.byteLength(text),
    linkTarget: null,
    devMajor: 0,
    devMinor: 0,
    inode: null,
    content: Buffer.from(text),
  });
  return { notes: uid.warning === null ? [] : [`warning: ${uid.warning}`], text };
}
