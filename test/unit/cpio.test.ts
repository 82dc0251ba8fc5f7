// The initramfs writer (test/harness/cpio.ts), read back by GNU cpio.
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, expect, it } from "vitest";
import { writeCpio } from "../harness/cpio.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it("writes a newc archive that cpio lists and unpacks: parents first, modes, links, odd sizes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cpio-test-"));
  dirs.push(dir);
  const source = join(dir, "source");
  const big = Buffer.alloc((9 << 20) + 3, 7); // over one read chunk, and not a multiple of 4
  writeFileSync(source, big, { mode: 0o751 });
  const archive = join(dir, "test.cpio");
  writeCpio(archive, [
    { kind: "file", path: "/init", text: "#!/bin/sh\n", mode: 0o755 },
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    { kind: "file", path: "/etc/deep/er/name-of-odd-length", text: "abcde" },
    { kind: "copy", path: "/opt/big", from: source },
    { kind: "symlink", path: "/nix/var/nix/profiles/system", target: "system-1-link" },
  ]);

  const listed = await execa("cpio", ["-it", "--quiet"], { inputFile: archive });
  expect(listed.stdout.split("\n")).toEqual(["init", "tmp", "etc", "etc/deep", "etc/deep/er", "etc/deep/er/name-of-odd-length", "opt", "opt/big", "nix", "nix/var", "nix/var/nix", "nix/var/nix/profiles", "nix/var/nix/profiles/system"]);

  const out = join(dir, "out");
  await execa("cpio", ["-id", "--quiet", "--no-absolute-filenames", "-D", out], { inputFile: archive });
  expect(readFileSync(join(out, "init"), "utf8")).toBe("#!/bin/sh\n");
  expect(lstatSync(join(out, "init")).mode & 0o7777).toBe(0o755);
  expect(lstatSync(join(out, "tmp")).mode & 0o7777).toBe(0o1777);
  expect(readFileSync(join(out, "etc/deep/er/name-of-odd-length"), "utf8")).toBe("abcde");
  expect(readFileSync(join(out, "opt/big")).equals(big)).toBe(true);
  expect(lstatSync(join(out, "opt/big")).mode & 0o7777).toBe(0o751);
  expect(readlinkSync(join(out, "nix/var/nix/profiles/system"))).toBe("system-1-link");
});

it("refuses a path given twice", () => {
  const dir = mkdtempSync(join(tmpdir(), "cpio-test-"));
  dirs.push(dir);
  expect(() => writeCpio(join(dir, "a.cpio"), [{ kind: "file", path: "/a", text: "" }, { kind: "file", path: "a", text: "" }])).toThrow(/a is in the archive twice/);
});
