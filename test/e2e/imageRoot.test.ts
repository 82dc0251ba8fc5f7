// What `nixos-wsl-init tarball` does to ROOT and with it: nothing, not even an
// access time, on a file system mounted `strictatime` (where every read and
// every directory listing would otherwise set one); and a ROOT given through
// a symlink is packed as the directory it leads to, or refused with what is
// wrong with the link.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";

const BINARY = requireBinary();

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("ROOT, as the image builder reads it", () => {
  let fake: FakeRoot;
  let work: string;

  beforeAll(() => {
    fake = makeFakeRoot({ generations: [{ number: 1 }] });
    // Files the privacy check reads (an environment file, a history, a shadow file) and a deeper tree.
    writeFileSync(join(fake.root, "etc/shadow"), "root:!:19000::::::\n");
    mkdirSync(join(fake.root, "home/nixos/.config/app"), { recursive: true });
    writeFileSync(join(fake.root, "home/nixos/.bashrc"), "alias l=ls\n");
    writeFileSync(join(fake.root, "home/nixos/.bash_history"), "ls\n");
    writeFileSync(join(fake.root, "home/nixos/.config/app/settings"), "x=1\n");
    work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-image-root-"));
  });
  afterAll(() => {
    fake.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("leaves every access time in ROOT as it was, files and directories, on a file system mounted strictatime", async () => {
    // In a mount namespace of this command's own: a strictatime tmpfs holding a copy of
    // the root. The paths are listed once, before the access times are set to 2001; after
    // that only stat(1) looks at them (a lookup sets no access time, a listing would).
    const script = [
      "set -e",
      'mount -t tmpfs -o strictatime,size=64m image-atime "$1"',
      'cp -a "$2" "$1/root"',
      'find "$1/root" -printf "%p\\n" > "$1/list"',
      `xargs -d '\\n' touch -h -a -d 2001-01-01T00:00:00Z < "$1/list"`,
      `xargs -d '\\n' stat -c '%X %F %n' < "$1/list" > "$1/before"`,
      'echo "mount: $(grep " $1 " /proc/self/mountinfo)" >&2',
      'mkdir "$1/out"',
      '"$3" tarball "$1/root" "$1/out/nixos.wsl" >&2',
      `xargs -d '\\n' stat -c '%X %F %n' < "$1/list" > "$1/after"`,
      'echo BEFORE; cat "$1/before"; echo AFTER; cat "$1/after"',
    ].join("\n");
    const dir = join(work, "atime");
    mkdirSync(dir);
    const run = await execa("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, fake.root, BINARY], { reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
    // strictatime shows as neither relatime nor noatime among the mount's options.
    const mount = /^mount: .*$/m.exec(run.stderr)?.[0] ?? "";
    expect(mount).toContain(` ${dir} `);
    expect(mount).not.toMatch(/relatime|noatime/);
    expect(run.stderr).toMatch(/wrote .*nixos\.wsl/);
    const [beforeText, afterText] = run.stdout.split("\nAFTER\n");
    const before = beforeText!.replace(/^BEFORE\n/, "").split("\n");
    const after = afterText!.trim().split("\n");
    expect(before.length).toBeGreaterThan(30);
    expect(before.every((line) => line.startsWith("978307200 ")), before.join("\n")).toBe(true);
    // Symbolic links are left out: the kernel sets a link's access time on every readlink(2), and no flag avoids it.
    const changed = after.filter((line, index) => line !== before[index] && !line.includes(" symbolic link "));
    expect(changed, "entries whose access time the pack changed").toEqual([]);
    expect(after.some((line) => line.includes(" directory ") && line.startsWith("978307200 "))).toBe(true);
  });

  it("packs a ROOT given through a symlink as the directory it leads to, byte for byte", async () => {
    const dir = join(work, "linked");
    mkdirSync(dir);
    symlinkSync(fake.root, join(dir, "root-link"));
    symlinkSync("root-link", join(dir, "link-to-link"));
    const direct = await execa(BINARY, ["tarball", fake.root, join(dir, "direct.wsl")], { reject: false });
    expect(direct.exitCode, direct.stderr).toBe(0);
    for (const link of ["root-link", "link-to-link"]) {
      const run = await execa(BINARY, ["tarball", join(dir, link), join(dir, `${link}.wsl`)], { reject: false });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(sha(join(dir, `${link}.wsl`))).toBe(sha(join(dir, "direct.wsl")));
    }
  });

  it("says exactly what is wrong with a ROOT link that leads nowhere, to a file, round in a loop, or to a root without etc/NIXOS", async () => {
    const dir = join(work, "bad-links");
    mkdirSync(dir);
    writeFileSync(join(dir, "a-file"), "");
    mkdirSync(join(dir, "debian"));
    const cases: Array<[string, string, string]> = [
      ["dangling", join(dir, "no-such-root"), `it is a symlink to ${join(dir, "no-such-root")}, which leads nowhere: nothing exists there.`],
      ["to-file", "a-file", `it is a symlink to a-file, which is a regular file (${join(dir, "a-file")}), not a directory.`],
      ["loop", "loop", "it is a symlink to loop, and its links go round in a loop (ELOOP)."],
      ["to-debian", "debian", `it is a symlink to debian, and ${join(dir, "debian")} has no etc/NIXOS.`],
    ];
    for (const [name, target, expected] of cases) {
      symlinkSync(target, join(dir, name));
      const run = await execa(BINARY, ["tarball", join(dir, name), join(dir, `${name}.wsl`)], { reject: false });
      expect(run.exitCode, `${name}: ${run.stderr}`).toBe(126);
      expect(run.stderr).toContain(`${join(dir, name)} is not a NixOS root: ${expected} Give the directory 'nixos-install --root' installed into.`);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
