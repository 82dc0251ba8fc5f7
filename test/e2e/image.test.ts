// `nixos-wsl-init tarball` end to end (issue #11): a fake NixOS root with
// --extra-files and --chown packed twice gives the same bytes; the system's tar
// unpacks it with the owners, files and /etc/wsl-distribution.conf meant; and
// the unpacked image boots to a running systemd with the shim as /sbin/init.
import { createHash } from "node:crypto";
import { chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Container } from "../harness/container.ts";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";

const BINARY = requireBinary();

/** Every entry of a tree with type, size, mtime, mode and owner: what "unchanged" means here. */
async function listing(root: string): Promise<string> {
  return (await execa("find", [root, "-printf", "%P %y %s %T@ %m %U:%G %l\n"])).stdout.split("\n").sort().join("\n");
}

/** Bytes that compress (text) and bytes that do not, the same every run. */
function mixedData(bytes: number, seed: number): Buffer {
  const data = Buffer.alloc(bytes);
  let state = seed;
  for (let i = 0; i < bytes; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = i % 4096 < 2048 ? 0x61 + ((state >>> 16) % 8) : state >>> 24;
  }
  return data;
}

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("packing a root with --extra-files and --chown", () => {
  let fake: FakeRoot;
  let work: string;
  let extra: string;
  let unpacked: string;
  let before: string;
  const big = mixedData(5 * 1024 * 1024 + 123, 7); // several compression chunks
  const args = () => ["--extra-files", extra, "--chown", "/home/nixos", "1000:100", "--chown", "/srv/shared", "1000:100"];

  beforeAll(async () => {
    fake = makeFakeRoot({ generations: [{ number: 1 }] });
    work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-image-"));
    const store = join(fake.root, fake.storePath(1));
    writeFileSync(join(store, "big-data"), big);
    linkSync(join(store, "nixos-version"), join(fake.root, "nix/store/.links-nixos-version"));
    await execa("mknod", [join(fake.root, "dev/null"), "c", "1", "3"]);
    await execa("mkfifo", [join(fake.root, "run/fifo")]);

    extra = join(work, "extra");
    mkdirSync(join(extra, "home/nixos/.config"), { recursive: true });
    writeFileSync(join(extra, "home/nixos/.config/greeting"), "hello from --extra-files\n");
    mkdirSync(join(extra, "srv/shared/deep"), { recursive: true });
    writeFileSync(join(extra, "srv/shared/deep/file"), "shared\n");
    chownSync(join(extra, "srv/shared/deep/file"), 4321, 4321); // owners of DIR do not count: root, then --chown
    mkdirSync(join(extra, "etc"));
    writeFileSync(join(extra, "etc/motd"), "welcome\n");
    before = await listing(fake.root);

    unpacked = join(work, "unpacked");
    mkdirSync(join(unpacked, "root"), { recursive: true });
  });
  afterAll(() => {
    fake.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("gives a byte-identical image twice, gzip'd without name or mtime, and leaves ROOT as it was", async () => {
    const first = await execa(BINARY, ["tarball", fake.root, join(work, "a.wsl"), ...args()], { reject: false });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/wrote .*a\.wsl: \d+ entries/);
    const second = await execa(BINARY, ["tarball", fake.root, join(work, "b.wsl"), ...args()], { reject: false });
    expect(second.exitCode, second.stderr).toBe(0);
    const a = readFileSync(join(work, "a.wsl"));
    expect(sha(a)).toBe(sha(readFileSync(join(work, "b.wsl"))));
    expect([...a.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    expect(await listing(fake.root)).toBe(before);
    expect(await listing(extra)).toContain("srv/shared/deep/file f 7");
  });

  it("is ordered as `tar --sort=name` orders the same tree", async () => {
    const ours = (await execa("tar", ["-tzf", join(work, "a.wsl")])).stdout;
    const copy = join(work, "sorted-copy");
    mkdirSync(copy);
    await execa("tar", ["--numeric-owner", "-xzf", join(work, "a.wsl"), "-C", copy]);
    const reference = (await execa("sh", ["-c", 'tar --sort=name -C "$1" -cf - . | tar -tf -', "sh", copy])).stdout;
    expect(ours).toBe(reference);
  });

  it("unpacks with plain tar into the files, owners and distribution conf meant", async () => {
    const root = join(unpacked, "root");
    const extract = await execa("tar", ["--numeric-owner", "-xzf", join(work, "a.wsl"), "-C", root], { reject: false });
    expect(extract.exitCode, extract.stderr).toBe(0);
    const owner = (path: string) => {
      const stats = lstatSync(join(root, path));
      return `${stats.uid}:${stats.gid}`;
    };
    expect(readFileSync(join(root, "home/nixos/.config/greeting"), "utf8")).toBe("hello from --extra-files\n");
    expect(owner("home/nixos/.config/greeting")).toBe("1000:100");
    expect(owner("home/nixos/.config")).toBe("1000:100");
    expect(owner("srv/shared/deep/file")).toBe("1000:100");
    expect(owner("srv")).toBe("0:0"); // new from --extra-files, outside every --chown
    expect(owner("etc/motd")).toBe("0:0");
    expect(owner("root")).toBe("0:0");
    expect(lstatSync(join(root, "root")).mode & 0o7777).toBe(0o700);
    expect(lstatSync(join(root, "tmp")).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(root, "etc/wsl-distribution.conf"), "utf8")).toBe("[oobe]\ndefaultName = NixOS\ndefaultUid = 1000\n");
    expect(sha(readFileSync(join(root, fake.storePath(1), "big-data")))).toBe(sha(big));
    expect(lstatSync(join(root, "nix/store/.links-nixos-version")).ino).toBe(lstatSync(join(root, fake.storePath(1), "nixos-version")).ino);
    expect(lstatSync(join(root, "dev/null")).isCharacterDevice()).toBe(true);
    expect(lstatSync(join(root, "run/fifo")).isFIFO()).toBe(true);
    expect(lstatSync(join(root, "etc/passwd")).mtimeMs).toBe(1000); // every entry: mtime 1
    // Apart from what the image adds, the tree is ROOT's.
    const diff = await execa("diff", ["-r", "--no-dereference", fake.root, root], { reject: false });
    // (diff does not compare devices and FIFOs, it only names them: of the same kind on both sides here.)
    const differences = diff.stdout.split("\n").filter((line) => !/^File .* is a (.*) while file .* is a \1$/.test(line));
    expect(differences.sort()).toEqual(
      [`Only in ${root}: srv`, `Only in ${root}/etc: motd`, `Only in ${root}/etc: wsl-distribution.conf`, `Only in ${root}/home/nixos: .config`].sort(),
    );
  });

  it("boots unpacked, with the shim as /sbin/init, to a running systemd", async () => {
    const container = await Container.boot(unpacked);
    try {
      expect(["running", "degraded"]).toContain(await container.systemState());
      expect((await container.exec(["cat", "/etc/wsl-distribution.conf"])).stdout).toContain("defaultUid = 1000");
    } finally {
      await container.stop();
    }
  });
});
