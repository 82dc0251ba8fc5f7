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

/**
 * The `[boot] initTimeout` of a wsl.conf text. Sections and keys are matched
 * without regard to case, `#` and `;` start comments, a value may be quoted;
 * the last occurrence wins. A missing key is the default; a bad one too, with a warning.
 */
export function parseInitTimeout(text: string, source = WSL_CONF): InitTimeout {
  let section = "";
  let raw: string | null = null;
  for (const fullLine of text.split(/\r?\n/)) {
    const line = fullLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]*)\]/.exec(line);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      continue;
    }
    const equals = line.indexOf("=");
    if (equals < 0 || section !== "boot") continue;
    if (line.slice(0, equals).trim().toLowerCase() !== "inittimeout") continue;
    let value = line.slice(equals + 1).trim();
    const quoted = /^"([^"]*)"|^'([^']*)'/.exec(value);
    if (quoted) value = quoted[1] ?? quoted[2]!;
    else value = value.replace(/\s[#;].*$/, "").trim();
    raw = value;
  }
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
