// The privacy and security check run before anything is packed: what must not
// leave the machine in a distributable image. Each finding names the file (as
// the image will hold it) and the line; a secret itself is never printed.
//
// Found: private keys, password hashes in /etc/shadow, secret-looking lines in
// environment and shell start-up files, logins in the files where tools keep
// them (.netrc and Nix's netrc, git's credential store, docker and podman,
// AWS, npm, PyPI, gh, cargo, kubectl), --forbid names, and an /etc/resolv.conf.
//
// Searched: every entry under /etc, /home, /root and /var and everything from
// --extra-files, by name and, for text files (no NUL byte in the first 8 KiB,
// at most 16 MiB), by content. A symlink there is followed inside the image,
// into /nix/store too, when it leads to a regular file. /nix/store itself is
// not searched: it is built from the configuration, large, and full of words.
import { compareNames, type ImageEntry, type ImageView, readEntry } from "./tree.ts";

export interface Finding {
  /** The image path, with a leading slash. */
  readonly path: string;
  readonly line: number | null;
  readonly what: string;
  /** Where a followed symlink led. */
  readonly via: string | null;
  readonly fromExtra: boolean;
}

export interface CheckOptions {
  /** Personal identifiers that must appear nowhere (--forbid). */
  readonly forbid: readonly string[];
}

const SEARCHED_TOPS = new Set(["etc", "home", "root", "var"]);
const TEXT_LIMIT = 16 * 1024 * 1024;
const FINDINGS_PER_FILE = 10;

const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d+:/;
/** Second fields of /etc/shadow that hold no password hash. */
const NO_HASH = new Set(["", "!", "!*", "*", "!!"]);
const ASSIGNMENT = /^\s*(?:export\s+|declare\s+-x\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
const SECRET_NAME = /_TOKEN$|(?:^|_)SECRET|_API_KEY$|(?:^|_)PASSWORD$/i;

const ETC_SHELL_FILES = new Set([
  "environment",
  "set-environment",
  "profile",
  "profile.local",
  "bashrc",
  "bashrc.local",
  "bash.bashrc",
  "zshenv",
  "zshenv.local",
  "zprofile",
  "zshrc",
  "zshrc.local",
  "zlogin",
]);
const HOME_SHELL_FILES = new Set([".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".envrc", ".pam_environment"]);

/**
 * Files where tools keep logins, each with a pattern whose first group is the
 * value that would be the secret. An empty value is not a finding, nor, where
 * the tool expands references (npm's ${NAME}), a value that is only one.
 */
interface CredentialFile {
  /** Whether an image path (no leading slash) is such a file. */
  readonly is: (path: string) => boolean;
  readonly value: RegExp;
  readonly what: string;
  /** A value the tool replaces by a variable's, so that the file holds no secret itself. */
  readonly reference?: RegExp;
}

const named = (...names: string[]) => (path: string) => names.includes(path.split("/").at(-1)!);
const endingIn = (...tails: string[]) => (path: string) => tails.some((tail) => path === tail || path.endsWith(`/${tail}`));
const either = (...tests: Array<(path: string) => boolean>) => (path: string) => tests.some((test) => test(path));
/** A value in a TOML or INI line: quoted either way, or bare. */
const QUOTED_OR_BARE = `("[^"]*"|'[^']*'|\\S+)`;

const CREDENTIAL_FILES: readonly CredentialFile[] = [
  { is: either(named(".netrc"), endingIn("etc/nix/netrc")), value: /^(?!\s*#).*(?:^|\s)password\s+(\S+)/, what: "a password in a netrc file" },
  {
    is: either(named(".git-credentials"), endingIn(".config/git/credentials")),
    value: /^\s*[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:([^\s@/]+)@/i,
    what: "a password in git's credential store",
  },
  {
    is: endingIn(".docker/config.json", ".config/containers/auth.json", "etc/containers/auth.json"),
    value: /"(?:auth|identitytoken)"\s*:\s*"([^"]*)"/,
    what: "a container registry login",
  },
  { is: endingIn(".aws/credentials"), value: new RegExp(`^\\s*aws_(?:secret_access_key|session_token|security_token)\\s*=\\s*${QUOTED_OR_BARE}`, "i"), what: "an AWS secret key" },
  {
    is: either(named(".npmrc"), endingIn("etc/npmrc")),
    value: new RegExp(`(?:_authToken|_auth|_password)\\s*=\\s*${QUOTED_OR_BARE}`),
    what: "an npm registry token",
    reference: /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/,
  },
  { is: named(".pypirc"), value: new RegExp(`^\\s*password\\s*[=:]\\s*${QUOTED_OR_BARE}`, "i"), what: "a password for a Python package index" },
  { is: endingIn(".config/gh/hosts.yml"), value: new RegExp(`^\\s*oauth_token\\s*:\\s*${QUOTED_OR_BARE}`), what: "a GitHub CLI token" },
  { is: endingIn(".cargo/credentials", ".cargo/credentials.toml"), value: new RegExp(`^\\s*token\\s*=\\s*${QUOTED_OR_BARE}`), what: "a crates.io token" },
  {
    is: endingIn(".kube/config"),
    value: new RegExp(`^\\s*(?:token|client-key-data|password|id-token|refresh-token|client-secret)\\s*:\\s*${QUOTED_OR_BARE}`),
    what: "a Kubernetes credential",
  },
];

/** The kind of login file `path` is, or null: its secret lines are findings. */
export function credentialFile(path: string): CredentialFile | null {
  return CREDENTIAL_FILES.find((file) => file.is(path)) ?? null;
}

/** A value without the quotes around it (and a shell line's closing semicolon). */
function unquoted(value: string): string {
  return value.trim().replace(/^(["'])(.*)\1;?$/, "$2");
}

/** Whether a login file's line holds a secret: a value that is not empty, and not a reference the tool expands. */
export function holdsCredential(file: CredentialFile, line: string): boolean {
  const matched = file.value.exec(line)?.[1];
  const value = matched === undefined ? undefined : unquoted(matched).trim();
  return value !== undefined && value !== "" && !(file.reference?.test(value) ?? false);
}

/** Environment and shell start-up files, where a line like TOKEN=… is a secret. */
export function isEnvironmentFile(path: string): boolean {
  const parts = path.split("/");
  const base = parts.at(-1)!;
  if (base === ".env" || base.startsWith(".env.") || base.endsWith(".env")) return true;
  if (parts[0] === "etc") return (parts.length === 2 && ETC_SHELL_FILES.has(base)) || (parts.length === 3 && parts[1] === "profile.d");
  const inHome = (parts[0] === "home" && parts.length === 3) || (parts[0] === "root" && parts.length === 2);
  return inHome && HOME_SHELL_FILES.has(base);
}

/** The variable a line sets to what looks like a secret (a literal, not a $reference), or null. */
export function secretAssignment(line: string): string | null {
  const match = ASSIGNMENT.exec(line);
  if (!match || !SECRET_NAME.test(match[1]!)) return null;
  const value = unquoted(match[2]!);
  if (value === "" || value.startsWith("$") || value.startsWith("`")) return null;
  return match[1]!;
}

/** Whether the second field of a shadow line holds a password hash; the user's name when it does. */
export function shadowHashUser(line: string): string | null {
  const fields = line.split(":");
  if (line.trim() === "" || line.startsWith("#") || fields.length < 2) return null;
  return NO_HASH.has(fields[1]!) ? null : fields[0]!;
}

function forbiddenPattern(names: readonly string[]): RegExp | null {
  const wanted = names.filter((name) => name !== "");
  if (wanted.length === 0) return null;
  const escaped = wanted.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(?<![A-Za-z0-9])(?:${escaped.join("|")})(?![A-Za-z0-9])`, "i");
}

function isSearched(entry: ImageEntry): boolean {
  if (entry.origin === "generated") return false;
  const slash = entry.path.indexOf("/");
  return entry.origin === "extra" || SEARCHED_TOPS.has(slash < 0 ? entry.path : entry.path.slice(0, slash));
}

function isText(data: Buffer): boolean {
  return data.length <= TEXT_LIMIT && !data.subarray(0, 8192).includes(0);
}

export function findProblems(view: ImageView, options: CheckOptions): Finding[] {
  const findings: Finding[] = [];
  const forbidden = forbiddenPattern(options.forbid);
  const nameOf = (match: string) => options.forbid.find((name) => name.toLowerCase() === match.toLowerCase()) ?? match;

  for (const entry of view.entries) {
    if (!isSearched(entry)) continue;
    const path = `/${entry.path}`;
    const fromExtra = entry.origin === "extra";
    const base = entry.path.split("/").at(-1)!;
    const nameMatch = forbidden?.exec(base);
    if (nameMatch) findings.push({ path, line: null, what: `its name contains '${nameOf(nameMatch[0])}'`, via: null, fromExtra });

    let target: ImageEntry | null = entry;
    let via: string | null = null;
    if (entry.kind === "symlink") {
      const linkMatch = forbidden?.exec(entry.linkTarget ?? "");
      if (linkMatch) findings.push({ path, line: null, what: `its link target names '${nameOf(linkMatch[0])}'`, via: null, fromExtra });
      target = view.resolve(entry.path);
      via = target === null ? null : `/${target.path}`;
    }
    if (target === null || target.kind !== "file" || target.size > TEXT_LIMIT) continue;
    const data = readEntry(target);
    if (!isText(data)) continue;

    const environment = isEnvironmentFile(entry.path);
    const credentials = credentialFile(entry.path);
    const shadow = entry.path === "etc/shadow";
    const inFile: Finding[] = [];
    const lines = data.toString("utf8").split("\n");
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index]!;
      const at = (what: string): void => {
        inFile.push({ path, line: index + 1, what, via, fromExtra });
      };
      const key = PRIVATE_KEY.exec(line);
      if (key) at(`a private key (${key[0]})`);
      if (shadow) {
        const user = shadowHashUser(line);
        if (user !== null) at(`a password hash for user '${user}'`);
      }
      if (credentials !== null && holdsCredential(credentials, line)) at(credentials.what);
      if (environment) {
        const variable = secretAssignment(line);
        if (variable !== null) at(`a line that looks like a secret (${variable}=…)`);
      }
      const match = forbidden?.exec(line);
      if (match) at(`names '${nameOf(match[0])}'`);
    }
    findings.push(...inFile.slice(0, FINDINGS_PER_FILE));
    if (inFile.length > FINDINGS_PER_FILE) {
      findings.push({ path, line: null, what: `and ${inFile.length - FINDINGS_PER_FILE} more findings in this file`, via, fromExtra });
    }
  }

  const resolvConf = view.get("etc/resolv.conf");
  if (resolvConf !== undefined) {
    findings.push({
      path: "/etc/resolv.conf",
      line: null,
      what: `a ${resolvConf.kind === "symlink" ? "symlink" : resolvConf.kind} in the image; WSL writes its own at start, and this one is the build machine's`,
      via: null,
      fromExtra: resolvConf.origin === "extra",
    });
  }
  // Stable: within a file, its name first, then its lines in order.
  return findings.sort((a, b) => compareNames(a.path, b.path));
}

export function formatFinding(finding: Finding): string {
  const where = finding.line === null ? finding.path : `${finding.path}:${finding.line}`;
  const via = finding.via !== null && finding.via !== finding.path ? ` (-> ${finding.via})` : "";
  const extra = finding.fromExtra ? " [from --extra-files]" : "";
  return `${where}${via}${extra}: ${finding.what}`;
}
