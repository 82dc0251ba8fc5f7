// /etc/wsl.conf, read the way WSL reads it, for the one key the shim needs:
// `[boot] initTimeout`, the milliseconds WSL waits for systemd to be running.
// Pure and import-free apart from one file read: it runs on PID 1's boot path.
import { readFileSync } from "node:fs";

export const WSL_CONF = "/etc/wsl.conf";
/** WSL's own default for `[boot] initTimeout`. */
export const DEFAULT_INIT_TIMEOUT_MS = 10_000;
/** The NixOS option and the file key that raise the budget, as messages name them. */
export const BUDGET_OPTION = `wsl.init.initTimeout ([boot] initTimeout in ${WSL_CONF})`;

export interface InitTimeout {
  readonly ms: number;
  /** Why the file's value was not used, when it was not. */
  readonly warning: string | null;
}

/** A wsl.conf as WSL reads it: "section.key" (lower case) to the last value given, and the lines it cannot read. */
export interface WslConf {
  readonly values: ReadonlyMap<string, string>;
  /** "line 3: …" for each line that is neither a [section], a key = value nor a comment. */
  readonly problems: readonly string[];
}

/**
 * Read a wsl.conf text. Sections and keys are matched without regard to case,
 * `#` and `;` start comments, a value may be quoted; the last occurrence wins.
 */
export function parseWslConf(text: string): WslConf {
  let section = "";
  const values = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((fullLine, index) => {
    const line = fullLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([^\]]*)\]/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      return;
    }
    const equals = line.indexOf("=");
    if (equals <= 0) {
      problems.push(`line ${index + 1}: ${JSON.stringify(line)} is neither a [section], a key = value nor a comment`);
      return;
    }
    let value = line.slice(equals + 1).trim();
    const quoted = /^"([^"]*)"|^'([^']*)'/.exec(value);
    if (quoted) value = quoted[1] ?? quoted[2]!;
    else value = value.replace(/\s[#;].*$/, "").trim();
    values.set(`${section}.${line.slice(0, equals).trim().toLowerCase()}`, value);
  });
  return { values, problems };
}

/** The `[boot] initTimeout` of a wsl.conf text. A missing key is the default; a bad one too, with a warning. */
export function parseInitTimeout(text: string, source = WSL_CONF): InitTimeout {
  const raw = parseWslConf(text).values.get("boot.inittimeout") ?? null;
  if (raw === null) return { ms: DEFAULT_INIT_TIMEOUT_MS, warning: null };
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) {
    return { ms: DEFAULT_INIT_TIMEOUT_MS, warning: `${source}: [boot] initTimeout must be a positive number of milliseconds, not ${JSON.stringify(raw)}; assuming WSL's default of ${DEFAULT_INIT_TIMEOUT_MS} ms` };
  }
  return { ms: Number(raw), warning: null };
}

/** The budget from /etc/wsl.conf: WSL's default when the file is missing or unreadable. */
export function readInitTimeout(path = WSL_CONF): InitTimeout {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ms: DEFAULT_INIT_TIMEOUT_MS, warning: null };
    return { ms: DEFAULT_INIT_TIMEOUT_MS, warning: `cannot read ${path} (${(error as Error).message}); assuming WSL's default initTimeout of ${DEFAULT_INIT_TIMEOUT_MS} ms` };
  }
  return parseInitTimeout(text, path);
}
