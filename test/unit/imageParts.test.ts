// The image builder's parts that decide what goes into the image: the walk of
// ROOT with --extra-files laid over it, --chown, the distribution conf, the
// privacy check's rules and the command line.
import { chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  credentialFile,
  findProblems,
  historySecrets,
  holdsCredential,
  holdsNixAccessTokens,
  formatFinding,
  isEnvironmentFile,
  isHistoryFile,
  isNixConf,
  isWireguardKeyFile,
  secretAssignment,
  secretStore,
  shadowHashUser,
  shapedSecret,
} from "../../nix/image/checks.ts";
import { addDistributionConf, renderDistributionConf } from "../../nix/image/distributionConf.ts";
import { parseTarballArgs } from "../../nix/image/options.ts";
import { UsageError } from "../../src/cliParser.ts";
import { applyChown } from "../../nix/image/owners.ts";
import { planPack, tarName } from "../../nix/image/pack.ts";
import { Progress, progressLine, size } from "../../nix/image/progress.ts";
import { compareNames, deviceNumbers, ImageView, walkImage } from "../../nix/image/tree.ts";
import { parseInvocation } from "../../src/invocation.ts";

let dir: string;
let root: string;
let extra: string;

function write(path: string, text = ""): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-imageparts-"));
  root = join(dir, "root");
  extra = join(dir, "extra");
  write(join(root, "etc/NIXOS"));
  write(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\nnixos:x:1000:100::/home/nixos:/bin/sh\nalice:x:1001:100::/home/alice:/bin/sh\n");
  write(join(root, "etc/group"), "root:x:0:\nusers:x:100:\n");
  write(join(root, "etc/b"), "root b");
  write(join(root, "etc/a.d/x"), "x");
  mkdirSync(join(root, "home/nixos"), { recursive: true });
  chownSync(join(root, "home/nixos"), 1000, 100);
  write(join(root, "replace-me/inside"), "gone");
  mkdirSync(extra);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the walk", () => {
  it("lists ROOT depth-first, each directory sorted by the bytes of its names", () => {
    write(join(root, "etc/B"));
    write(join(root, "etc/a"));
    const paths = walkImage(root, null).entries.map((entry) => entry.path);
    expect(paths.slice(0, 9)).toEqual(["", "etc", "etc/B", "etc/NIXOS", "etc/a", "etc/a.d", "etc/a.d/x", "etc/b", "etc/group"]);
    expect(compareNames("a", "é")).toBeLessThan(0);
    expect(compareNames("\uffff", "😀")).toBeLessThan(0); // UTF-8 byte order, not UTF-16
  });

  it("lays --extra-files over ROOT: its files win, shared directories keep ROOT's owner, new files belong to root", () => {
    write(join(extra, "etc/b"), "extra b");
    write(join(extra, "home/nixos/.config/app"), "setting");
    write(join(extra, "replace-me"), "a file now");
    chownSync(join(extra, "home/nixos/.config/app"), 1234, 1234);
    const walk = walkImage(root, extra);
    const view = new ImageView(walk.entries);
    expect(view.get("etc/b")).toMatchObject({ origin: "extra", hostPath: join(extra, "etc/b") });
    expect(view.get("home/nixos")).toMatchObject({ origin: "root", uid: 1000, gid: 100 });
    expect(view.get("home/nixos/.config/app")).toMatchObject({ origin: "extra", uid: 0, gid: 0 });
    expect(view.get("replace-me")).toMatchObject({ kind: "file", origin: "extra" });
    expect(view.get("replace-me/inside")).toBeUndefined();
    expect(walk.replaced).toEqual(["/replace-me"]);
  });

  it("refuses a file name that is not UTF-8, naming its directory", () => {
    writeFileSync(Buffer.from(`${join(root, "etc")}/bad-\xff-name`, "latin1"), "");
    expect(() => walkImage(root, null)).toThrow(new RegExp(`reading ${join(root, "etc")}: a file name there is not UTF-8`));
  });

  it("resolves symlinks inside the image, never on the host", () => {
    symlinkSync("/etc/static/thing", join(root, "etc/thing"));
    symlinkSync("../nix/store/abc-etc", join(root, "etc/static"));
    write(join(root, "nix/store/abc-etc/thing"), "from the store");
    symlinkSync("/etc/passwd", join(root, "etc/host-passwd"));
    symlinkSync("/nowhere", join(root, "etc/dangling"));
    const view = new ImageView(walkImage(root, null).entries);
    expect(view.resolve("/etc/thing")?.path).toBe("nix/store/abc-etc/thing");
    expect(view.read("/etc/thing")?.data.toString()).toBe("from the store");
    expect(view.resolve("/etc/host-passwd")?.path).toBe("etc/passwd"); // the image's, not the host's
    expect(view.resolve("/etc/dangling")).toBeNull();
    expect(view.resolve("/../../etc/passwd")?.path).toBe("etc/passwd");
  });

  it("inserts a generated entry at its sorted place", () => {
    const view = new ImageView(walkImage(root, null).entries);
    addDistributionConf(view, "NixOS", false);
    const paths = view.entries.map((entry) => entry.path);
    expect(paths.indexOf("etc/wsl-distribution.conf")).toBe(paths.indexOf("etc/passwd") + 1);
  });

  it("decodes device numbers as glibc does", () => {
    expect(deviceNumbers(0x0103)).toEqual({ major: 1, minor: 3 });
    expect(deviceNumbers(0x8803)).toEqual({ major: 136, minor: 3 }); // /dev/pts/3
    expect(deviceNumbers(0x10_0000 + 0x0a05)).toEqual({ major: 10, minor: 0x105 });
  });
});

describe("--chown and hardlinks", () => {
  it("sets owners recursively by path, numbers or the image's names", () => {
    write(join(root, "srv/data/one"));
    const view = new ImageView(walkImage(root, null).entries);
    applyChown(view, [{ path: "/srv", owner: "1000:100" }, { path: "srv/data/one/", owner: "alice:users" }]);
    expect(view.get("srv")).toMatchObject({ uid: 1000, gid: 100 });
    expect(view.get("srv/data")).toMatchObject({ uid: 1000, gid: 100 });
    expect(view.get("srv/data/one")).toMatchObject({ uid: 1001, gid: 100 });
    expect(view.get("etc")).toMatchObject({ uid: 0 });
    expect(() => applyChown(view, [{ path: "/missing", owner: "0:0" }])).toThrow(/\/missing is not in the image/);
    expect(() => applyChown(view, [{ path: "/srv", owner: "bob:users" }])).toThrow(/no user 'bob'/);
  });

  it("stores a second link as a hardlink only when owner and mode match", () => {
    const view = new ImageView(walkImage(root, null).entries);
    const file = view.get("etc/b")!;
    const twin = { ...file, path: "etc/c", inode: "1:2" };
    const other = { ...file, path: "etc/d", inode: "1:2", uid: 5 };
    const plan = planPack([{ ...file, inode: "1:2" }, twin, other]);
    expect(plan.hardlinks.get(twin)).toBe("etc/b");
    expect(plan.hardlinks.has(other)).toBe(false);
    expect(tarName(view.get("")!)).toBe("./");
    expect(tarName(view.get("etc")!)).toBe("./etc/");
  });
});

describe("/etc/wsl-distribution.conf", () => {
  it("names the distribution, the default user's uid and the icon", () => {
    expect(renderDistributionConf({ name: "NixOS", defaultUid: 1000, icon: "/etc/nixos.ico" })).toBe(
      "[oobe]\ndefaultName = NixOS\ndefaultUid = 1000\n\n[shortcut]\nicon = /etc/nixos.ico\n",
    );
  });

  it("takes defaultUser from /etc/nixos-wsl-init.json, and warns without defaultUid when it is unknown", () => {
    write(join(root, "etc/nixos-wsl-init.json"), '{"defaultUser":"alice"}');
    write(join(root, "etc/nixos-wsl-init/icon.ico"), "\0\0\x01\0");
    let view = new ImageView(walkImage(root, null).entries);
    expect(addDistributionConf(view, "Work", true).text).toBe("[oobe]\ndefaultName = Work\ndefaultUid = 1001\n\n[shortcut]\nicon = /etc/nixos-wsl-init/icon.ico\n");
    write(join(root, "etc/nixos-wsl-init.json"), '{"defaultUser":"nobody-here"}');
    view = new ImageView(walkImage(root, null).entries);
    const outcome = addDistributionConf(view, "NixOS", false);
    expect(outcome.text).not.toContain("defaultUid");
    expect(outcome.notes.join()).toMatch(/no user for defaultUser 'nobody-here'/);
  });

  it("keeps the image's own and says so", () => {
    write(join(extra, "etc/wsl-distribution.conf"), "[oobe]\ndefaultName = Mine\n");
    const view = new ImageView(walkImage(root, extra).entries);
    const outcome = addDistributionConf(view, "Other", true);
    expect(outcome.text).toBeNull();
    expect(outcome.notes.join()).toMatch(/keeping the image's own \/etc\/wsl-distribution.conf \(from --extra-files\); --name Other is not used/);
  });
});

describe("the privacy check's rules", () => {
  it("knows environment and shell files", () => {
    for (const path of ["etc/environment", "etc/set-environment", "etc/profile", "etc/profile.d/x.sh", "etc/zshenv", "home/nixos/.bashrc", "root/.profile", "srv/app/.env", "home/x/prod.env"]) {
      expect(isEnvironmentFile(path), path).toBe(true);
    }
    for (const path of ["etc/passwd", "home/nixos/notes.txt", "etc/ssh/sshd_config", "home/nixos/sub/.bashrc"]) expect(isEnvironmentFile(path), path).toBe(false);
  });

  it("sees secrets in assignments, not references or empty values", () => {
    expect(secretAssignment("export GITHUB_TOKEN=ghp_abc")).toBe("GITHUB_TOKEN");
    expect(secretAssignment('AWS_SECRET_ACCESS_KEY="xyz"')).toBe("AWS_SECRET_ACCESS_KEY");
    expect(secretAssignment("MY_SECRET_THING = 'v'")).toBe("MY_SECRET_THING");
    expect(secretAssignment("DB_PASSWORD=hunter2")).toBe("DB_PASSWORD");
    expect(secretAssignment("export GITHUB_TOKEN=$(pass show gh)")).toBeNull();
    expect(secretAssignment("export NPM_TOKEN=")).toBeNull();
    expect(secretAssignment('export PATH="/bin"')).toBeNull();
    expect(secretAssignment("# GITHUB_TOKEN=x")).toBeNull();
  });

  it("sees logins in the files tools keep them in, not empty values, npm's references, comments or other files", () => {
    const holds = (path: string, line: string) => {
      const file = credentialFile(path);
      expect(file, path).not.toBeNull();
      return holdsCredential(file!, line);
    };
    const secretLines: Array<[string, string]> = [
      ["home/nixos/.netrc", "machine cache.example.org login nixos password s3cret"],
      ["etc/nix/netrc", "  password s3cret"],
      ["home/nixos/.netrc", "  password $ecretP4ss"], // netrc expands nothing: that is the password
      ["root/.git-credentials", "https://nixos:ghp_abc@github.com"],
      ["root/.git-credentials", "https://:ghp_abc@github.com"],
      ["home/nixos/.config/git/credentials", "https://nixos:ghp_abc@github.com"],
      ["home/nixos/.docker/config.json", '    "auth": "bml4b3M6czNjcmV0"'],
      ["home/nixos/.docker/config.json", '{"auths":{"containers.example.test":{"auth":"bml4b3M6czNjcmV0"}}}'],
      ["home/nixos/.config/containers/auth.json", '      "auth": "bml4b3M6czNjcmV0"'],
      ["home/nixos/.aws/credentials", "aws_secret_access_key = wJalrXUtnFEMI"],
      ["home/nixos/.aws/credentials", "aws_security_token=FQoGZXIvYXdz"],
      ["home/nixos/.npmrc", "//registry.example.test/:_authToken=npm_abc"],
      ["home/nixos/.npmrc", '//registry.example.test/:_authToken="npm_abc"'],
      ["root/.pypirc", "password = pypi-abc"],
      ["root/.pypirc", "Password: pypi-abc"],
      ["home/nixos/.config/gh/hosts.yml", "    oauth_token: gho_abc"],
      ["home/nixos/.cargo/credentials.toml", 'token = "cio_abc"'],
      ["home/nixos/.cargo/credentials", "token = 'cio_abc'"],
      ["home/nixos/.kube/config", "    token: eyJhbGciOi"],
      ["home/nixos/.kube/config", "        id-token: eyJhbGciOi"],
      ["home/nixos/.kube/config", "        client-secret: abc"],
      ["root/.aws/config", "aws_secret_access_key = wJalrXUtnFEMI"],
      ["home/nixos/.config/gcloud/application_default_credentials.json", '  "refresh_token": "1//abc",'],
      ["home/nixos/.azure/msal_token_cache.json", '      "secret": "eyJ0eXAi",'],
      ["home/nixos/.azure/service_principal_entries.json", '[{"client_id": "x", "client_secret": "abc"}]'],
    ];
    for (const [path, line] of secretLines) expect(holds(path, line), `${path}: ${line}`).toBe(true);
    const harmless: Array<[string, string]> = [
      ["home/nixos/.netrc", "machine cache.example.org login nixos"],
      ["home/nixos/.netrc", "# machine cache.example.org password <your-token>"],
      ["home/nixos/.npmrc", "//registry.example.test/:_authToken=${NPM_TOKEN}"],
      ["home/nixos/.npmrc", '//registry.example.test/:_authToken="${NPM_TOKEN}"'],
      ["home/nixos/.docker/config.json", '{ "credsStore": "desktop.exe", "auths": { "containers.example.test": {} } }'],
      ["home/nixos/.docker/config.json", '    "auth": ""'],
      ["home/nixos/.aws/credentials", "aws_access_key_id = AKIAEXAMPLE"],
      ["root/.git-credentials", "https://github.com"],
      ["root/.git-credentials", "https://nixos@github.com"],
      ["home/nixos/.kube/config", '    token: ""'],
      ["home/nixos/.config/gh/hosts.yml", "    user: nixos"],
      ["home/nixos/.netrc", "machine cache.example.test login nixos password <your-token>"],
      ["home/nixos/.config/gcloud/application_default_credentials.json", '  "client_id": "123.apps.example.test",'],
      ["home/nixos/.azure/msal_token_cache.json", '      "secret": ""'],
    ];
    for (const [path, line] of harmless) expect(holds(path, line), `${path}: ${line}`).toBe(false);
    for (const path of ["home/nixos/netrc.txt", "etc/docker/config.json", "home/nixos/notes/.aws-credentials"]) expect(credentialFile(path), path).toBeNull();
  });

  it("takes a bare TOKEN=, API_KEY= as it takes PASSWORD=, and fish's set -x, but not placeholders", () => {
    for (const [line, name] of [
      ["TOKEN=abc123", "TOKEN"],
      ["API_KEY=abc123", "API_KEY"],
      ["APIKEY=abc123", "APIKEY"],
      ["PASSWORD=abc123", "PASSWORD"],
      ["set -gx GITHUB_TOKEN abc123", "GITHUB_TOKEN"],
      ["SETUVAR --export API_KEY:abc123", "API_KEY"],
    ] as const) {
      expect(secretAssignment(line), line).toBe(name);
    }
    for (const line of ["TOKEN=", "API_KEY=<your-key>", "PASSWORD=changeme", "SECRET=xxxx", "TOKEN=${TOKEN}", "TOKEN_URL=https://x", "set -gx PATH /bin"]) {
      expect(secretAssignment(line), line).toBeNull();
    }
    expect(isEnvironmentFile("home/nixos/.config/fish/config.fish")).toBe(true);
  });

  it("reads shells' histories: assignments anywhere in a command, Authorization headers, tokens of a known shape", () => {
    for (const path of ["root/.bash_history", "home/nixos/.zsh_history", "home/nixos/.local/share/fish/fish_history", "home/nixos/.local/state/zsh/history", "root/.histfile"]) {
      expect(isHistoryFile(path), path).toBe(true);
    }
    for (const path of ["etc/bash_history", "home/nixos/history.txt", "var/log/history"]) expect(isHistoryFile(path), path).toBe(false);
    const token = `ghp_${"a1B2".repeat(9)}`;
    expect(historySecrets(`export GITHUB_TOKEN=${token}`)).toEqual(["a command that sets a secret (GITHUB_TOKEN=…)"]);
    expect(historySecrets(": 1700000000:0;API_KEY='k' ./deploy")).toEqual(["a command that sets a secret (API_KEY=…)"]);
    expect(historySecrets("- cmd: set -x TOKEN abc")).toEqual(["a command that sets a secret (TOKEN=…)"]);
    expect(historySecrets('curl -H "Authorization: Bearer abc.def" https://x')).toEqual(["an Authorization header with a credential"]);
    expect(historySecrets(`gh auth login --with-token ${token}`)).toEqual(["a GitHub token in a command line"]);
    for (const line of ["ls -la", "export TOKEN=$(pass show x)", "TOKEN= make", 'curl -H "Authorization: Bearer $TOKEN"', "GITHUB_TOKEN=<token> gh"]) {
      expect(historySecrets(line), line).toEqual([]);
    }
    expect(historySecrets(`export GITHUB_TOKEN=${token}`).join()).not.toContain(token);
  });

  it("knows secrets by their shape: age identities, Nix signing keys (not their public keys), WireGuard keys", () => {
    const age = `AGE-SECRET-KEY-1${"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".repeat(2).slice(0, 58)}`;
    expect(shapedSecret(age)).toBe("an age secret key (AGE-SECRET-KEY-1…)");
    const secret = Buffer.alloc(64, 7).toString("base64");
    const pub = Buffer.alloc(32, 7).toString("base64");
    expect(shapedSecret(`cache.example.test-1:${secret}`)).toBe("a Nix signing secret key (name:base64 of 64 bytes)");
    expect(shapedSecret(`PrivateKey = ${pub}`)).toBe("a WireGuard key (PrivateKey)");
    expect(shapedSecret(`PresharedKey=${pub}`)).toBe("a WireGuard key (PresharedKey)");
    for (const line of [`cache.example.test-1:${pub}`, `sha512:${secret}`, `PublicKey = ${pub}`, "PrivateKey =", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "# AGE-SECRET-KEY-1..."]) {
      expect(shapedSecret(line), line).toBeNull();
    }
  });

  it("knows a WireGuard key file by where it is and what it holds, not a public key's", () => {
    const key = `${Buffer.alloc(32, 9).toString("base64")}\n`;
    expect(isWireguardKeyFile("etc/wireguard/private", key)).toBe(true);
    expect(isWireguardKeyFile("root/wireguard/wg0.key", key)).toBe(true);
    expect(isWireguardKeyFile("etc/wireguard/public", key)).toBe(false);
    expect(isWireguardKeyFile("etc/wireguard/wg0.pub", key)).toBe(false);
    expect(isWireguardKeyFile("etc/notes/private", key)).toBe(false);
    expect(isWireguardKeyFile("etc/wireguard/private", "")).toBe(false);
  });

  it("knows Nix's access-tokens and the secret stores known by name", () => {
    for (const path of ["etc/nix/nix.conf", "root/.config/nix/nix.conf", "home/nixos/.config/nix/nix.conf"]) expect(isNixConf(path), path).toBe(true);
    expect(isNixConf("etc/nix/nix.conf.example")).toBe(false);
    expect(holdsNixAccessTokens("access-tokens = github.com=ghp_abc gitlab.example.test=PAT:glpat-x")).toBe(true);
    expect(holdsNixAccessTokens("extra-access-tokens = github.com=ghp_abc")).toBe(true);
    for (const line of ["access-tokens =", "access-tokens = github.com=", "# access-tokens = github.com=ghp_abc", "netrc-file = /etc/nix/netrc"]) {
      expect(holdsNixAccessTokens(line), line).toBe(false);
    }
    expect(secretStore("home/nixos/.gnupg/private-keys-v1.d/ABCDEF.key")).toBe("a GnuPG secret key");
    expect(secretStore("root/.gnupg/secring.gpg")).toBe("a GnuPG secret key ring");
    expect(secretStore("home/nixos/.config/gcloud/credentials.db")).toBe("Google Cloud CLI credentials");
    expect(secretStore("home/nixos/.azure/msal_token_cache.bin")).toBe("Azure CLI credentials");
    for (const path of ["home/nixos/.gnupg/pubring.kbx", "home/nixos/.gnupg/trustdb.gpg", "home/nixos/.config/gcloud/configurations/config_default"]) {
      expect(secretStore(path), path).toBeNull();
    }
  });

  it("sees password hashes in shadow lines", () => {
    expect(shadowHashUser("nixos:$6$salt$hash:19000:0:99999:7:::")).toBe("nixos");
    expect(shadowHashUser("locked:!$6$salt$hash:19000::::::")).toBe("locked");
    for (const line of ["root:!:1::::::", "a:*:1::::::", "b:!*:1::::::", "c:!!:1::::::", "d::1::::::", ""]) expect(shadowHashUser(line)).toBeNull();
  });

  it("finds each kind and names the file and line, without the secret", () => {
    write(join(root, "etc/ssh/ssh_host_ed25519_key"), "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n");
    write(join(root, "etc/shadow"), "root:!:1::::::\nnixos:$6$x$y:1::::::\n");
    write(join(root, "home/nixos/.bashrc"), "alias l=ls\nexport GITHUB_TOKEN=ghp_secret123\n");
    write(join(root, "var/lib/notes"), "built by Tim Example\n");
    symlinkSync("/run/resolv.conf", join(root, "etc/resolv.conf"));
    write(join(extra, "root/.ssh/id_rsa"), "-----BEGIN RSA PRIVATE KEY-----\n");
    write(join(root, "nix/store/abc/tim"), "tim everywhere in the store is not searched");
    const view = new ImageView(walkImage(root, extra).entries);
    const lines = findProblems(view, { forbid: ["tim"] }).map(formatFinding);
    expect(lines).toEqual([
      "/etc/resolv.conf: a symlink in the image; WSL writes its own at start, and this one is the build machine's",
      "/etc/shadow:2: a password hash for user 'nixos'",
      "/etc/ssh/ssh_host_ed25519_key:1: a private key (-----BEGIN OPENSSH PRIVATE KEY-----)",
      "/home/nixos/.bashrc:2: a line that looks like a secret (GITHUB_TOKEN=…)",
      "/root/.ssh/id_rsa:1 [from --extra-files]: a private key (-----BEGIN RSA PRIVATE KEY-----)",
      "/var/lib/notes:1: names 'tim'",
    ]);
    expect(lines.join("\n")).not.toContain("ghp_secret123");
  });
});

describe("the command line", () => {
  it("takes ROOT, OUT and the options, repeatable ones as lists", () => {
    expect(parseTarballArgs(["r", "o.wsl", "--chown", "/home/a", "1000:100", "--chown", "/srv", "0:0", "--forbid", "tim", "--extra-files", "x"], {})).toEqual({
      action: "pack",
      root: "r",
      out: "o.wsl",
      name: "NixOS",
      nameGiven: false,
      extraFiles: "x",
      chown: [
        { path: "/home/a", owner: "1000:100" },
        { path: "/srv", owner: "0:0" },
      ],
      forbid: ["tim"],
      allowFindings: false,
      mtime: 1,
    });
    expect(parseTarballArgs(["r", "o", "--name", "Work"], { WSL_TARBALL_SKIP_CHECKS: "1", SOURCE_DATE_EPOCH: "1700000000" })).toMatchObject({
      name: "Work",
      nameGiven: true,
      allowFindings: true,
      mtime: 1700000000,
    });
  });

  it("refuses what it cannot use", () => {
    for (const args of [["r"], ["r", "o", "x"], ["r", "o", "--chown", "/x"], ["r", "o", "--chown", "/x", "1000"], ["r", "o", "--name", "has space"], ["r", "o", "--bogus"]]) {
      expect(() => parseTarballArgs(args, {}), args.join(" ")).toThrow(UsageError);
    }
    expect(() => parseTarballArgs(["r", "o"], { SOURCE_DATE_EPOCH: "yesterday" })).toThrow(/SOURCE_DATE_EPOCH/);
  });

  it("is reached as `nixos-wsl-init tarball`", () => {
    expect(parseInvocation("nixos-wsl-init", ["tarball", "r", "o"], false)).toEqual({ kind: "tarball", args: ["r", "o"] });
  });
});

describe("progress", () => {
  it("shows entries, bytes, rate and time left", () => {
    expect(progressLine(10, 50 * 1024 * 1024, { entries: 100, bytes: 200 * 1024 * 1024 }, 2)).toBe("packing: 10/100 entries, 50.0 MiB/200.0 MiB, 25.0 MiB/s, 6 s left");
    expect(size(812)).toBe("812 B");
    expect(size(3 * 1024 ** 3)).toBe("3.0 GiB");
  });

  it("redraws one line on a terminal at most ten times a second, and writes nothing elsewhere", () => {
    const drawn: string[] = [];
    const terminal = new Progress({ entries: 1000, bytes: 1000 }, true, (text) => drawn.push(text));
    for (let i = 1; i <= 1000; i++) terminal.update(i, i);
    expect(drawn.length).toBe(1); // all within 100 ms
    expect(drawn[0]).toMatch(/^\r\x1b\[Kpacking: 1\/1000 entries/);
    terminal.clear();
    expect(drawn.at(-1)).toBe("\r\x1b[K");
    const quiet: string[] = [];
    const pipe = new Progress({ entries: 1, bytes: 1 }, false, (text) => quiet.push(text));
    pipe.update(1, 1);
    pipe.clear();
    expect(quiet).toEqual([]);
  });
});
