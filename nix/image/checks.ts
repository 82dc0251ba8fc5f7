// The privacy and security check run before anything is packed: what must not
// leave the machine in a distributable image. Each finding names the file (as
// the image will hold it) and the line; a secret itself is never printed.
//
// Found: private keys (PEM, PuTTY, age's AGE-SECRET-KEY-1, Nix signing keys,
// WireGuard's PrivateKey/PresharedKey), GnuPG's secret key stores, password
// hashes in the shadow family (/etc/shadow, /etc/gshadow and their "-"
// backups), secret-looking assignments in environment and shell start-up
// files and in shells' histories (bash, zsh, fish; with tokens of a known
// shape and Authorization headers there), Nix's access-tokens, logins in the
// files where tools keep them (.netrc and Nix's netrc, git's credential store,
// docker and podman, AWS, gcloud, Azure, npm, PyPI, gh, cargo, kubectl),
// --forbid names, and an /etc/resolv.conf. Public material (public keys,
// empty values, references like $VAR, placeholders like <token>) is not a
// finding.
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
/** age's identities (sops, agenix, rage): Bech32, upper case. */
const AGE_SECRET_KEY = /AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}/;
/** A Nix signing key as `nix-store --generate-binary-cache-key` writes it: name:base64 of 64 bytes (a public key has 32). */
const NIX_SECRET_KEY = /^\s*([A-Za-z0-9][A-Za-z0-9._+-]*):([A-Za-z0-9+/]{86}==)\s*$/;
/** Names before a colon that make a 64-byte base64 value a hash (sha512:…), not a key. */
const HASH_NAME = /^(?:sha\d*|sha3-\d+|blake\d*[a-z]*|md5)$/i;
/** WireGuard's keys in wg-quick and systemd-networkd files: base64 of 32 bytes. */
const WIREGUARD_KEY = /^\s*(PrivateKey|PresharedKey)\s*=\s*([A-Za-z0-9+/]{43}=)\s*$/;
/** Nix's `access-tokens = host=token …` (in nix.conf, or given as extra-). */
const NIX_ACCESS_TOKENS = /^\s*(?:extra-)?access-tokens\s*=\s*(.*)$/;
/** Second fields of /etc/shadow and /etc/gshadow that hold no password hash. */
const NO_HASH = new Set(["", "!", "!*", "*", "!!", "x"]);
const ASSIGNMENT = /^\s*(?:export\s+|declare\s+-x\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
/** fish: `set -gx NAME value` (config.fish, fish_history). */
const FISH_SET = /^\s*set\s+(?:-[A-Za-z]+\s+|--[a-z]+\s+)*([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$/;
/** fish's universal variables file: `SETUVAR --export NAME:value`. */
const FISH_UNIVERSAL = /^\s*SETUVAR\s+(?:--[a-z]+\s+)*([A-Za-z_][A-Za-z0-9_]*):(.*)$/;
/** A bare TOKEN, API_KEY or PASSWORD counts as much as GITHUB_TOKEN or DB_PASSWORD. */
const SECRET_NAME = /(?:^|_)(?:TOKEN|API_?KEY|PASSWORD|PASSWD|PRIVATE_KEY|SECRET_KEY|ACCESS_KEY)$|(?:^|_)SECRET/i;
/** Tokens whose shape gives them away wherever they stand (a history's command lines). */
const TOKEN_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bgh[pousr]_[A-Za-z0-9]{30,}/, "a GitHub token"],
  [/\bgithub_pat_[A-Za-z0-9_]{30,}/, "a GitHub token"],
  [/\bglpat-[A-Za-z0-9_-]{20,}/, "a GitLab token"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\bnpm_[A-Za-z0-9]{36}\b/, "an npm token"],
  [/\bhf_[A-Za-z]{30,}\b/, "a Hugging Face token"],
];
/** An HTTP Authorization header with a literal credential (curl -H in a history). */
const AUTHORIZATION = /\bAuthorization:\s*(?:Bearer|Basic|token|Token)\s+([^\s"'$][^\s"']*)/i;

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
/** fish's start-up and universal-variable files, under a home's .config/fish. */
const FISH_FILES = new Set(["config.fish", "fish_variables"]);
const HISTORY_FILES = new Set([".bash_history", ".zsh_history", ".zhistory", ".histfile", ".sh_history", ".ash_history", ".mksh_history", "fish_history"]);

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

const JSON_SECRET = (...keys: string[]) => new RegExp(`"(?:${keys.join("|")})"\\s*:\\s*"([^"]*)"`);

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
  { is: endingIn(".aws/credentials", ".aws/config"), value: new RegExp(`^\\s*aws_(?:secret_access_key|session_token|security_token)\\s*=\\s*${QUOTED_OR_BARE}`, "i"), what: "an AWS secret key" },
  {
    is: either(named(".npmrc"), endingIn("etc/npmrc")),
    value: new RegExp(`(?:_authToken|_auth|_password)\\s*=\\s*${QUOTED_OR_BARE}`),
    what: "an npm registry token",
    reference: /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/,
  },
  { is: named(".pypirc"), value: new RegExp(`^\\s*password\\s*[=:]\\s*${QUOTED_OR_BARE}`, "i"), what: "a password for a Python package index" },
  { is: endingIn(".config/gh/hosts.yml"), value: new RegExp(`^\\s*oauth_token\\s*:\\s*${QUOTED_OR_BARE}`), what: "a GitHub CLI token" },
  { is: endingIn(".cargo/credentials", ".cargo/credentials.toml"), value: new RegExp(`^\\s*token\\s*=\\s*${QUOTED_OR_BARE}`), what: "a cargo registry token" },
  {
    is: either(endingIn(".config/gcloud/application_default_credentials.json"), (path) => /(?:^|\/)\.config\/gcloud\/legacy_credentials\/[^/]+\/adc\.json$/.test(path)),
    value: JSON_SECRET("refresh_token", "client_secret", "private_key", "access_token"),
    what: "a Google Cloud credential",
  },
  {
    is: endingIn(".azure/msal_token_cache.json", ".azure/accessTokens.json", ".azure/service_principal_entries.json"),
    value: JSON_SECRET("secret", "accessToken", "refreshToken", "client_secret", "access_token", "refresh_token"),
    what: "an Azure CLI credential",
  },
  {
    is: endingIn(".kube/config"),
    value: new RegExp(`^\\s*(?:token|client-key-data|password|id-token|refresh-token|client-secret)\\s*:\\s*${QUOTED_OR_BARE}`),
    what: "a Kubernetes credential",
  },
];

/**
 * Files that are secret by what they are, whatever their content (often not
 * text): GnuPG's secret keys, the cloud CLIs' token databases. Each with what
 * a finding says. An empty file is not a finding.
 */
const SECRET_STORES: ReadonlyArray<readonly [RegExp, string]> = [
  [/(?:^|\/)\.gnupg\/private-keys-v1\.d\/[^/]+\.key$/, "a GnuPG secret key"],
  [/(?:^|\/)\.gnupg\/secring\.gpg$/, "a GnuPG secret key ring"],
  [/(?:^|\/)\.config\/gcloud\/(?:credentials|access_tokens)\.db$/, "Google Cloud CLI credentials"],
  [/(?:^|\/)\.config\/gcloud\/legacy_credentials\/[^/]+\/\.boto$/, "Google Cloud CLI credentials"],
  [/(?:^|\/)\.azure\/msal_token_cache\.bin$/, "Azure CLI credentials"],
];

/** What the file at `path` is when it is a secret store by its name alone, or null. */
export function secretStore(path: string): string | null {
  return SECRET_STORES.find(([pattern]) => pattern.test(path))?.[1] ?? null;
}

/** The kind of login file `path` is, or null: its secret lines are findings. */
export function credentialFile(path: string): CredentialFile | null {
  return CREDENTIAL_FILES.find((file) => file.is(path)) ?? null;
}

/** A value without the quotes around it (and a shell line's closing semicolon). */
function unquoted(value: string): string {
  return value.trim().replace(/^(["'])(.*)\1;?$/, "$2");
}

/** Values that stand where a secret would go in an example: <token>, xxx, changeme, your-token-here … */
const PLACEHOLDER = /^(?:<[^<>]*>|\[[^\[\]]*\]|x+|X+|\*+|\.+|-+|_+|changeme|change[_-]me|replace[_-]?me|todo|tbd|none|null|nil|placeholder|redacted|secret|token|password|example|dummy|your[_-].*|\.\.\.)$/i;

/** Whether a value is public: empty, a placeholder, or a reference a shell or tool fills in ($VAR, ${VAR}, $(cmd), `cmd`). */
export function isPublicValue(value: string): boolean {
  const bare = unquoted(value).trim();
  return bare === "" || bare.startsWith("$") || bare.startsWith("`") || PLACEHOLDER.test(bare);
}

/** Whether a login file's line holds a secret: a value that is not empty, a placeholder, or a reference the tool expands. */
export function holdsCredential(file: CredentialFile, line: string): boolean {
  const matched = file.value.exec(line)?.[1];
  const value = matched === undefined ? undefined : unquoted(matched).trim();
  return value !== undefined && value !== "" && !PLACEHOLDER.test(value) && !(file.reference?.test(value) ?? false);
}

/** Environment and shell start-up files, where a line like TOKEN=… is a secret. */
export function isEnvironmentFile(path: string): boolean {
  const parts = path.split("/");
  const base = parts.at(-1)!;
  if (FISH_FILES.has(base) && parts.at(-2) === "fish" && parts.at(-3) === ".config") return true;
  if (base === ".env" || base.startsWith(".env.") || base.endsWith(".env")) return true;
  if (parts[0] === "etc") return (parts.length === 2 && ETC_SHELL_FILES.has(base)) || (parts.length === 3 && parts[1] === "profile.d");
  const inHome = (parts[0] === "home" && parts.length === 3) || (parts[0] === "root" && parts.length === 2);
  return inHome && HOME_SHELL_FILES.has(base);
}

/** The variable a line sets to what looks like a secret (a literal, not a $reference or a placeholder), or null. */
export function secretAssignment(line: string): string | null {
  const match = ASSIGNMENT.exec(line) ?? FISH_SET.exec(line) ?? FISH_UNIVERSAL.exec(line);
  if (!match || !SECRET_NAME.test(match[1]!)) return null;
  return isPublicValue(match[2]!) ? null : match[1]!;
}

/** `NAME=value` anywhere in a command line: after export/env, or before a command. */
const COMMAND_ASSIGNMENT = /(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;&|)]*)/g;

/** A command line of a shell's history without the shell's own prefix (zsh's `: 1700000000:0;`, fish's `- cmd: `). */
function historyCommand(line: string): string {
  return line.replace(/^: \d+:\d+;/, "").replace(/^- cmd: /, "");
}

/** What a history line gives away, without the secret: the variables it sets to secrets, tokens of a known shape, an Authorization header. */
export function historySecrets(line: string): string[] {
  const command = historyCommand(line);
  const found: string[] = [];
  const variables = new Set<string>();
  for (const match of command.matchAll(COMMAND_ASSIGNMENT)) {
    if (SECRET_NAME.test(match[1]!) && !isPublicValue(match[2]!)) variables.add(match[1]!);
  }
  const fish = FISH_SET.exec(command.replace(/^.*[;&|]\s*(?=set\s)/, ""));
  if (fish && SECRET_NAME.test(fish[1]!) && !isPublicValue(fish[2]!.trim().split(/\s+/)[0]!)) variables.add(fish[1]!);
  for (const variable of variables) found.push(`a command that sets a secret (${variable}=…)`);
  const authorization = AUTHORIZATION.exec(command);
  if (authorization && !isPublicValue(authorization[1]!)) found.push("an Authorization header with a credential");
  // A token already named by its variable or header is not named twice.
  if (found.length === 0) {
    const shape = TOKEN_SHAPES.find(([pattern]) => pattern.test(command));
    if (shape !== undefined) found.push(`${shape[1]} in a command line`);
  }
  return found;
}

/** Whether `path` is a shell's history (bash, zsh, fish, and the zsh and bash HISTFILEs under ~/.local/state). */
export function isHistoryFile(path: string): boolean {
  const parts = path.split("/");
  if (parts[0] !== "home" && parts[0] !== "root") return false;
  const base = parts.at(-1)!;
  return HISTORY_FILES.has(base) || (base === "history" && (parts.at(-2) === "zsh" || parts.at(-2) === "bash"));
}

/** Whether `path` is a nix.conf (the system's or a user's). */
export function isNixConf(path: string): boolean {
  return path === "etc/nix/nix.conf" || path === "etc/nix/nix.custom.conf" || /^(?:home\/[^/]+|root)\/\.config\/nix\/nix\.conf$/.test(path);
}

/** What a line of any text file holds that is a secret by its shape: an age identity, a Nix signing key, a WireGuard key. */
export function shapedSecret(line: string): string | null {
  if (AGE_SECRET_KEY.test(line)) return "an age secret key (AGE-SECRET-KEY-1…)";
  const nix = NIX_SECRET_KEY.exec(line);
  if (nix && !HASH_NAME.test(nix[1]!) && Buffer.from(nix[2]!, "base64").length === 64) return "a Nix signing secret key (name:base64 of 64 bytes)";
  const wireguard = WIREGUARD_KEY.exec(line);
  if (wireguard) return `a WireGuard key (${wireguard[1]})`;
  return null;
}

/** A WireGuard key file (`wg genkey > /etc/wireguard/private`, a NixOS privateKeyFile): one base64 line of 32 bytes, under a wireguard directory, not named as a public key. */
export function isWireguardKeyFile(path: string, text: string): boolean {
  const parts = path.split("/");
  if (!parts.slice(0, -1).includes("wireguard") || /pub/i.test(parts.at(-1)!)) return false;
  return /^[A-Za-z0-9+/]{43}=\n?$/.test(text);
}

/** Whether a nix.conf line sets access-tokens to anything (host=token pairs). */
export function holdsNixAccessTokens(line: string): boolean {
  const match = NIX_ACCESS_TOKENS.exec(line);
  if (!match) return false;
  return match[1]!.trim().split(/\s+/).some((pair) => {
    const token = pair.slice(pair.indexOf("=") + 1);
    return pair.includes("=") && !isPublicValue(token);
  });
}

/** Whether the second field of a shadow (or gshadow) line holds a password hash; the user's (or group's) name when it does. */
export function shadowHashUser(line: string): string | null {
  const fields = line.split(":");
  if (line.trim() === "" || line.startsWith("#") || fields.length < 2) return null;
  return NO_HASH.has(fields[1]!) ? null : fields[0]!;
}

/** The shadow family: the files, and their "-" backups, that hold password hashes, with what a name there is. */
const SHADOW_FILES: ReadonlyMap<string, string> = new Map([
  ["etc/shadow", "user"],
  ["etc/shadow-", "user"],
  ["etc/gshadow", "group"],
  ["etc/gshadow-", "group"],
]);

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
    if (target === null || target.kind !== "file") continue;
    const store = secretStore(entry.path);
    if (store !== null && target.size > 0) findings.push({ path, line: null, what: store, via, fromExtra });
    if (target.size > TEXT_LIMIT) continue;
    const data = readEntry(target);
    if (!isText(data)) continue;

    const environment = isEnvironmentFile(entry.path);
    const history = isHistoryFile(entry.path);
    const nixConf = isNixConf(entry.path);
    const credentials = credentialFile(entry.path);
    const shadow = SHADOW_FILES.get(entry.path);
    const inFile: Finding[] = [];
    const text = data.toString("utf8");
    if (isWireguardKeyFile(entry.path, text)) inFile.push({ path, line: 1, what: "a WireGuard private key", via, fromExtra });
    const lines = text.split("\n");
    for (let index = 0; index < lines.length; index++) {
      const line = lines[index]!;
      const at = (what: string): void => {
        inFile.push({ path, line: index + 1, what, via, fromExtra });
      };
      const key = PRIVATE_KEY.exec(line);
      if (key) at(`a private key (${key[0]})`);
      const shaped = shapedSecret(line);
      if (shaped !== null) at(shaped);
      if (shadow !== undefined) {
        const user = shadowHashUser(line);
        if (user !== null) at(`a password hash for ${shadow} '${user}'`);
      }
      if (nixConf && holdsNixAccessTokens(line)) at("Nix access tokens (access-tokens = host=token)");
      if (history) for (const what of historySecrets(line)) at(what);
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
