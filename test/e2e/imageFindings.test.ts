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
      "home/nixos/.docker/config.json": '{\n  "auths": {\n    "ghcr.io": {\n      "auth": "bml4b3M6czNjcmV0"\n    }\n  }\n}\n',
      "home/nixos/.npmrc": "//npm.pkg.github.com/:_authToken=${GH_TOKEN}\n//registry.npmjs.org/:_authToken=npm_s3cret\n",
    },
    expected: [
      "/home/nixos/.docker/config.json:4: a container registry login",
      "/home/nixos/.netrc:3: a password in a netrc file",
      "/home/nixos/.npmrc:2: an npm registry token",
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

  it("finds nothing in a clean root and says nothing of it", async () => {
    const { root, out } = await planted({ files: {}, expected: [] });
    const run = await execa(BINARY, ["tarball", root, join(out, "nixos.wsl"), "--forbid", "alice"], { reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1); // the summary line only
  });
});
