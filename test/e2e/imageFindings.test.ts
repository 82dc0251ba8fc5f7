// The privacy and security check of `nixos-wsl-init tarball`: each kind of
// finding, planted in a copy of a fake root (or in --extra-files), refuses the
// image with the file and line named and nothing written; --allow-findings or
// WSL_TARBALL_SKIP_CHECKS=1 packs it anyway and still names them.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";

const BINARY = requireBinary();

interface Plant {
  /** Files to write, by path inside the root (or inside --extra-files when extra). */
  readonly files: Record<string, string>;
  readonly extra?: boolean;
  readonly args?: readonly string[];
  /** What the refusal must say, one line each. */
  readonly expected: readonly string[];
}

// Made-up secrets of the real shapes (none of them was ever anyone's).
const GITHUB_TOKEN = "ghp_JmQxFpwcSXYTvtId0dML9LjiikOjWQJEvBxa";
const NIX_SECRET = "yQHsdMmVnqQs9p4q0Zn0WIPSLKbFhwYR1wxqNYqtekMAZWmObaQkEa6iEKHZotDxILgPUum7japkPAldKbrYJA==";
const NIX_PUBLIC = "8DsEfVstciW85RN8kX/SNGEVxSNnNvtP5hPWea2e+N8=";
const AGE_KEY = "AGE-SECRET-KEY-1XU8YF0XQMN9SCYUHJKJCERZD7F3C3254Q3DP544UY4Y4XRG8FPU6G22QSR";
const WG_PRIVATE = "QZSLBoafniTwxd9N0H/2xKXnwWED1i/8Bipk75u+L3Y=";
const WG_PUBLIC = "8DsEfVstciW85RN8kX/SNGEVxSNnNvtP5hPWea2e+N8=";
/** What must never be printed: each secret above, or a part of one. */
const NEVER_PRINTED = [GITHUB_TOKEN, NIX_SECRET.slice(0, 20), AGE_KEY.slice(16), WG_PRIVATE.slice(0, 20), "JmQxFpwc"];

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";

const PLANTS: Record<string, Plant> = {
  "a user's private SSH key": {
    files: { "home/nixos/.ssh/id_ed25519": KEY, "home/nixos/.ssh/id_ed25519.pub": "ssh-ed25519 AAAA nixos@host\n" },
    expected: ["/home/nixos/.ssh/id_ed25519:1: a private key (-----BEGIN OPENSSH PRIVATE KEY-----)"],
  },
  "an SSH host key": {
    files: { "etc/ssh/ssh_host_rsa_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n" },
    expected: ["/etc/ssh/ssh_host_rsa_key:1: a private key (-----BEGIN RSA PRIVATE KEY-----)"],
  },
  "a password hash in /etc/shadow": {
    files: { "etc/shadow": "root:!:19000::::::\nnixos:$6$rounds=5000$salt$hash:19000:0:99999:7:::\nnobody:*:19000::::::\n" },
    expected: ["/etc/shadow:2: a password hash for user 'nixos'"],
  },
  "a --forbid name": {
    files: { "etc/motd": "Welcome!\nBuilt for Tim Example's laptop.\n" },
    args: ["--forbid", "tim"],
    expected: ["/etc/motd:2: names 'tim'"],
  },
  "a secret in an environment file reached through the store": {
    files: {
      "nix/store/0000cccccccccccccccccccccccccccc-set-environment": 'export PATH="/run/wrappers/bin"\nexport EDITOR=nano\nexport GITHUB_TOKEN="ghp_0123456789abcdef"\n',
    },
    expected: ["/etc/set-environment:3 (-> /nix/store/0000cccccccccccccccccccccccccccc-set-environment): a line that looks like a secret (GITHUB_TOKEN=…)"],
  },
  "logins in the files tools keep them in": {
    files: {
      "home/nixos/.netrc": "machine cache.example.org\n  login nixos\n  password s3cret-netrc\n",
      "home/nixos/.docker/config.json": '{\n  "auths": {\n    "containers.example.test": {\n      "auth": "bml4b3M6czNjcmV0"\n    }\n  }\n}\n',
      "home/nixos/.npmrc": "//npm.example.test/:_authToken=${GH_TOKEN}\n//registry.example.test/:_authToken=npm_s3cret\n",
    },
    expected: [
      "/home/nixos/.docker/config.json:4: a container registry login",
      "/home/nixos/.netrc:3: a password in a netrc file",
      "/home/nixos/.npmrc:2: an npm registry token",
    ],
  },
  // Issue 20's seven secrets that reached the image, each where a NixOS-on-WSL user has it.
  "a group password hash in /etc/gshadow": {
    files: { "etc/gshadow": "root:!::\nwheel:!::nixos\nadmins:$6$rounds=5000$salt$hash::nixos\n" },
    expected: ["/etc/gshadow:3: a password hash for group 'admins'"],
  },
  "a password hash in /etc/shadow-, the backup passwd and usermod leave": {
    files: { "etc/shadow-": "root:!:19000::::::\nnixos:$6$rounds=5000$salt$hash:19000:0:99999:7:::\n" },
    expected: ["/etc/shadow-:2: a password hash for user 'nixos'"],
  },
  "tokens in shells' histories": {
    files: {
      "root/.bash_history": `ls\nexport GITHUB_TOKEN=${GITHUB_TOKEN}\ngit push\n`,
      "home/nixos/.zsh_history": `: 1700000000:0;cd /etc/nixos\n: 1700000001:0;TOKEN=${GITHUB_TOKEN} gh repo list\n`,
      "home/nixos/.local/share/fish/fish_history": `- cmd: set -gx API_KEY ${GITHUB_TOKEN}\n  when: 1700000000\n- cmd: curl -H "Authorization: Bearer ${GITHUB_TOKEN}" https://api.example.test\n  when: 1700000001\n`,
    },
    expected: [
      "/root/.bash_history:2: a command that sets a secret (GITHUB_TOKEN=…)",
      "/home/nixos/.zsh_history:2: a command that sets a secret (TOKEN=…)",
      "/home/nixos/.local/share/fish/fish_history:1: a command that sets a secret (API_KEY=…)",
      "/home/nixos/.local/share/fish/fish_history:3: an Authorization header with a credential",
    ],
  },
  "a Nix binary-cache signing key": {
    files: { "etc/nix/secret-key": `cache.example.test-1:${NIX_SECRET}\n`, "etc/nix/public-key": `cache.example.test-1:${NIX_PUBLIC}\n` },
    expected: ["/etc/nix/secret-key:1: a Nix signing secret key (name:base64 of 64 bytes)"],
  },
  "an age identity of sops": {
    files: { "home/nixos/.config/sops/age/keys.txt": `# created: 2026-01-01T00:00:00Z\n# public key: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n${AGE_KEY}\n` },
    expected: ["/home/nixos/.config/sops/age/keys.txt:3: an age secret key (AGE-SECRET-KEY-1…)"],
  },
  "Nix's access-tokens in nix.conf": {
    files: { "etc/nix/nix.conf": `experimental-features = nix-command flakes\naccess-tokens = github.com=${GITHUB_TOKEN}\n` },
    expected: ["/etc/nix/nix.conf:2: Nix access tokens (access-tokens = host=token)"],
  },
  "a GnuPG secret key": {
    files: { "home/nixos/.gnupg/private-keys-v1.d/0123456789ABCDEF0123456789ABCDEF01234567.key": "Created: 20260101T000000\nKey: (private-key (ecc (curve Ed25519)(flags eddsa)(q #40AB#)(d #s3cretD#)))\n" },
    expected: ["/home/nixos/.gnupg/private-keys-v1.d/0123456789ABCDEF0123456789ABCDEF01234567.key: a GnuPG secret key"],
  },
  "a bare TOKEN= and API_KEY= in a .env, as PASSWORD= is": {
    files: { "srv/app/.env": "TOKEN=s3cret-token\nAPI_KEY=s3cret-key\nPASSWORD=s3cret-pass\nTOKEN_URL=https://auth.example.test\n" },
    extra: true,
    expected: [
      "/srv/app/.env:1 [from --extra-files]: a line that looks like a secret (TOKEN=…)",
      "/srv/app/.env:2 [from --extra-files]: a line that looks like a secret (API_KEY=…)",
      "/srv/app/.env:3 [from --extra-files]: a line that looks like a secret (PASSWORD=…)",
    ],
  },
  "cloud CLIs' credentials, WireGuard keys and a git credential": {
    files: {
      "root/.aws/config": "[default]\nregion = eu-west-1\naws_secret_access_key = wJalrXUtnFEMIs3cret\n",
      "home/nixos/.config/gcloud/application_default_credentials.json": '{\n  "client_id": "123.apps.example.test",\n  "refresh_token": "1//s3cret-refresh",\n  "type": "authorized_user"\n}\n',
      "home/nixos/.config/gcloud/credentials.db": "SQLite format 3\u0000s3cret",
      "home/nixos/.azure/msal_token_cache.json": '{\n  "RefreshToken": {\n    "x": {\n      "secret": "s3cret-azure"\n    }\n  }\n}\n',
      "etc/wireguard/wg0.conf": `[Interface]\nPrivateKey = ${WG_PRIVATE}\n[Peer]\nPublicKey = ${WG_PUBLIC}\nPresharedKey = ${WG_PRIVATE}\n`,
      "etc/wireguard/private": `${WG_PRIVATE}\n`,
      "etc/wireguard/public": `${WG_PUBLIC}\n`,
      "home/nixos/.git-credentials": "https://nixos:s3cret-git@git.example.test\n",
    },
    expected: [
      "/etc/wireguard/private:1: a WireGuard private key",
      "/etc/wireguard/wg0.conf:2: a WireGuard key (PrivateKey)",
      "/etc/wireguard/wg0.conf:5: a WireGuard key (PresharedKey)",
      "/home/nixos/.azure/msal_token_cache.json:4: an Azure CLI credential",
      "/home/nixos/.config/gcloud/application_default_credentials.json:3: a Google Cloud credential",
      "/home/nixos/.config/gcloud/credentials.db: Google Cloud CLI credentials",
      "/home/nixos/.git-credentials:1: a password in git's credential store",
      "/root/.aws/config:3: an AWS secret key",
    ],
  },
  "an /etc/resolv.conf": {
    files: { "etc/resolv.conf": "nameserver 192.168.1.1\n" },
    expected: ["/etc/resolv.conf: a file in the image; WSL writes its own at start, and this one is the build machine's"],
  },
  "a secret in --extra-files": {
    files: { "root/.env": "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI\n" },
    extra: true,
    expected: ["/root/.env:2 [from --extra-files]: a line that looks like a secret (AWS_SECRET_ACCESS_KEY=…)"],
  },
};

async function listing(root: string): Promise<string> {
  return (await execa("find", [root, "-printf", "%P %y %s %T@ %m %U:%G %l\n"])).stdout.split("\n").sort().join("\n");
}

describe("the privacy and security check", () => {
  let pristine: FakeRoot;
  let work: string;
  let count = 0;

  beforeAll(() => {
    pristine = makeFakeRoot({ generations: [{ number: 1 }] });
    work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-image-findings-"));
  });
  afterAll(() => {
    pristine.remove();
    rmSync(work, { recursive: true, force: true });
  });

  /** A copy of the pristine root with the plant in it (or in an --extra-files tree), and an empty output directory. */
  async function planted(plant: Plant) {
    const dir = join(work, `case-${++count}`);
    mkdirSync(dir);
    const root = join(dir, "root");
    await execa("cp", ["-a", pristine.root, root]);
    const extra = join(dir, "extra");
    mkdirSync(extra);
    for (const [path, text] of Object.entries(plant.files)) {
      const file = join(plant.extra ? extra : root, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    if (Object.keys(plant.files).some((path) => path.endsWith("-set-environment"))) {
      // As NixOS has it: /etc/set-environment -> /etc/static/set-environment -> the store.
      symlinkSync("/etc/static/set-environment", join(root, "etc/set-environment"));
      mkdirSync(join(root, "nix/store/0000dddddddddddddddddddddddddddd-etc/etc"), { recursive: true });
      symlinkSync("/nix/store/0000dddddddddddddddddddddddddddd-etc/etc", join(root, "etc/static"));
      symlinkSync("/nix/store/0000cccccccccccccccccccccccccccc-set-environment", join(root, "nix/store/0000dddddddddddddddddddddddddddd-etc/etc/set-environment"));
    }
    const out = join(dir, "out");
    mkdirSync(out);
    const args = [...(plant.extra ? ["--extra-files", extra] : []), ...(plant.args ?? [])];
    return { root, out, args };
  }

  for (const [kind, plant] of Object.entries(PLANTS)) {
    it(`refuses ${kind}, naming the file and line, and writes nothing`, async () => {
      const { root, out, args } = await planted(plant);
      const before = await listing(root);
      const refused = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl"), ...args], { reject: false });
      expect(refused.exitCode, refused.stderr).toBe(1);
      expect(refused.stderr).toContain("refusing to pack");
      for (const line of plant.expected) expect(refused.stderr).toContain(`  ${line}\n`);
      expect(refused.stderr).toContain("--allow-findings");
      expect(refused.stderr).not.toContain("ghp_0123456789abcdef");
      expect(refused.stderr).not.toContain("wJalrXUtnFEMI");
      expect(refused.stderr).not.toContain("$6$rounds");
      expect(refused.stderr).not.toMatch(/s3cret|bml4b3M6/);
      for (const secret of NEVER_PRINTED) expect(refused.stderr).not.toContain(secret);
      expect(readdirSync(out)).toEqual([]);
      expect(await listing(root)).toBe(before);

      const allowed = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl"), ...args, "--allow-findings"], { reject: false });
      expect(allowed.exitCode, allowed.stderr).toBe(0);
      expect(allowed.stderr).toContain("packing anyway");
      for (const line of plant.expected) expect(allowed.stderr).toContain(`  ${line}\n`);
      expect(readdirSync(out)).toEqual(["nixos.wsl"]);
      expect(await listing(root)).toBe(before);
    });
  }

  it("packs anyway with WSL_TARBALL_SKIP_CHECKS=1, and still prints the findings", async () => {
    const { root, out } = await planted(PLANTS["an /etc/resolv.conf"]!);
    const run = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl")], { reject: false, env: { WSL_TARBALL_SKIP_CHECKS: "1" } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toContain("/etc/resolv.conf: a file in the image");
    const listed = (await execa("tar", ["-tzf", join(out, "nixos.wsl")])).stdout.split("\n");
    expect(listed).toContain("./etc/resolv.conf");
  });

  it("does not take public material for a secret: public keys, empty values, references, placeholders", async () => {
    const { root, out } = await planted({
      files: {
        "home/nixos/.ssh/id_ed25519.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA nixos@host\n",
        "etc/nix/public-key": `cache.example.test-1:${NIX_PUBLIC}\n`,
        "etc/nix/nix.conf": `trusted-public-keys = cache.example.test-1:${NIX_PUBLIC}\naccess-tokens =\n`,
        "etc/gshadow": "root:!::\nwheel:!::nixos\nusers:::\n",
        "etc/shadow-": "root:!:19000::::::\nnixos:!:19000::::::\n",
        "etc/wireguard/wg0.conf": `[Interface]\nPrivateKeyFile = /run/keys/wg0\n[Peer]\nPublicKey = ${WG_PUBLIC}\n`,
        "etc/wireguard/publickey": `${WG_PUBLIC}\n`,
        "home/nixos/.config/sops/age/recipients.txt": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
        "home/nixos/.gnupg/pubring.kbx": "public keys only",
        "home/nixos/.gnupg/private-keys-v1.d/.keep": "",
        "root/.bash_history": "export TOKEN=$(pass show gh)\nexport API_KEY=\nGITHUB_TOKEN=<your-token> gh auth status\necho hello\n",
        "home/nixos/.env": "TOKEN=\nAPI_KEY=changeme\nPASSWORD=${DB_PASSWORD}\nSECRET=xxxx\n",
      },
      expected: [],
    });
    const run = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl")], { reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1); // the summary line only
  });

  it("finds nothing in a clean root and says nothing of it", async () => {
    const { root, out } = await planted({ files: {}, expected: [] });
    const run = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl"), "--forbid", "alice"], { reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1); // the summary line only
  });
});
