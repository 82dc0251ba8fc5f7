// The recovery entry's loader rewrite, on real copies of the compiled executable.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { entryProblem, fileDigest, formatStamp, installRecoveryEntry, parseStamp } from "../../recovery/installEntry.ts";
import { fhsInterpreter, readInterpreter, writeInterpreter } from "../../recovery/elf.ts";
import { requireBinary } from "../harness/paths.ts";

const BINARY = requireBinary();
/** The FHS loader and ELF machine of the machine the tests run on: the executable is built for it. */
const HOST: { loader: string; machine: number } = (() => {
  switch (process.arch) {
    case "x64":
      return { loader: "/lib64/ld-linux-x86-64.so.2", machine: 62 };
    case "arm64":
      return { loader: "/lib/ld-linux-aarch64.so.1", machine: 183 };
    default:
      throw new Error(`no FHS loader known for ${process.arch}: the executable is built for x86_64 and aarch64 only`);
  }
})();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "elf-"));
  dirs.push(dir);
  return dir;
}

describe("ELF interpreter", () => {
  it("reads the loader of the compiled executable", () => {
    const interpreter = readInterpreter(BINARY);
    expect(interpreter).toMatchObject({ machine: HOST.machine, path: HOST.loader });
    expect(fhsInterpreter(HOST.machine)).toBe(HOST.loader);
    expect(interpreter!.size).toBeGreaterThan(interpreter!.path.length);
  });

  it("turns a Nix-built executable (loader in /nix/store) into one that runs without /nix", async () => {
    const dir = tempDir();
    // What a Nix build looks like: the same executable naming a loader under /nix/store, which does not run here.
    const nixBuilt = join(dir, "nix-built");
    copyFileSync(BINARY, nixBuilt);
    writeInterpreter(nixBuilt, readInterpreter(nixBuilt)!, "/nix/store/x-glibc/ld.so");
    expect(readInterpreter(nixBuilt)?.path).toBe("/nix/store/x-glibc/ld.so");
    await expect(execa(nixBuilt, ["--version"])).rejects.toThrow(/ENOENT/);

    const entry = join(dir, "nixos-wsl-recovery");
    expect(installRecoveryEntry(nixBuilt, entry)).toEqual({ interpreter: HOST.loader, patched: true });
    const { stdout } = await execa(entry, ["--help"]);
    expect(stdout).toContain("Usage:\n  nixos-wsl-recovery");
  });

  it("refuses a loader path that does not fit, and leaves the file as it was", () => {
    const dir = tempDir();
    const copy = join(dir, "copy");
    copyFileSync(BINARY, copy);
    const interpreter = readInterpreter(copy)!;
    expect(() => writeInterpreter(copy, interpreter, `/${"x".repeat(interpreter.size)}`)).toThrow(/does not fit/);
    expect(readInterpreter(copy)?.path).toBe(interpreter.path);
  });

  it("rejects files that are not ELF", () => {
    const dir = tempDir();
    const script = join(dir, "script");
    copyFileSync(join(import.meta.dirname, "elf.test.ts"), script);
    expect(() => readInterpreter(script)).toThrow(/not an ELF file/);
    expect(() => installRecoveryEntry(script, join(dir, "entry"))).toThrow(/not an ELF file/);
  });

  it("copies again only when the executable changed, with --stamp (activation runs at every boot)", async () => {
    const dir = tempDir();
    const entry = join(dir, "bin/nixos-wsl-recovery");
    const stamp = join(dir, "var/lib/nixos-wsl-init/recovery-entry");
    mkdirSync(join(dir, "bin"));
    const first = await execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);
    expect(first.stdout).toBe(`installed ${entry} (loader ${HOST.loader})`);
    expect(parseStamp(readFileSync(stamp, "utf8"))).toEqual({ source: realpathSync(BINARY), destination: entry, ...fileDigest(entry) });
    expect(statSync(entry).size).toBe(statSync(BINARY).size);
    const second = await execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);
    expect(second.stdout).toBe(`${entry} is up to date`);
    rmSync(entry);
    const third = await execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);
    expect(third.stdout).toBe(`installed ${entry} (loader ${HOST.loader}); written again because it was missing`);
    const missingDir = await execa(BINARY, ["install-recovery", join(dir, "no/such/dir/entry")], { reject: false });
    expect(missingDir.exitCode).toBe(1);
    expect(missingDir.stderr).toContain("does ");
    const usage = await execa(BINARY, ["install-recovery"], { reject: false });
    expect(usage.exitCode).toBe(2);
  });
});

describe("the install-recovery stamp", () => {
  function setup(): { source: string; entry: string; stamp: string } {
    const dir = tempDir();
    const source = join(dir, "source");
    const entry = join(dir, "entry");
    writeFileSync(source, "the executable");
    writeFileSync(entry, "0123456789abcdef");
    chmodSync(entry, 0o755);
    const stamp = join(dir, "stamp");
    writeFileSync(stamp, formatStamp({ source: realpathSync(source), destination: entry, ...fileDigest(entry) }));
    return { source, entry, stamp };
  }

  it("reads back what it wrote, and nothing else", () => {
    const stamp = { source: "/nix/store/x/bin/nixos-wsl-init", destination: "/bin/nixos-wsl-recovery", size: 5, sha256: "a".repeat(64) };
    expect(parseStamp(formatStamp(stamp))).toEqual(stamp);
    expect(parseStamp("/nix/store/x/bin/nixos-wsl-init -> /bin/nixos-wsl-recovery\n")).toBeNull(); // the format before v2
    expect(parseStamp(formatStamp(stamp).replace("size 5", "size five"))).toBeNull();
    expect(parseStamp(formatStamp(stamp).replace("a".repeat(64), "a".repeat(63)))).toBeNull();
  });

  it("is up to date only while the entry is exactly what was written", () => {
    const { source, entry, stamp } = setup();
    expect(entryProblem(stamp, source, entry)).toBeNull();
    writeFileSync(entry, "0123456789abcdeF"); // same size, one byte changed
    expect(entryProblem(stamp, source, entry)).toEqual({ reason: "its content does not match what was installed (damaged)" });
    writeFileSync(entry, "0123456789abcdef");
    expect(entryProblem(stamp, source, entry)).toBeNull();
    truncateSync(entry, 4);
    expect(entryProblem(stamp, source, entry)).toEqual({ reason: "it had 4 bytes instead of 16 (truncated or damaged)" });
    rmSync(entry);
    expect(entryProblem(stamp, source, entry)).toEqual({ reason: "it was missing" });
  });

  it("is not up to date for another executable, another destination, no stamp or an old one", () => {
    const { source, entry, stamp } = setup();
    chmodSync(entry, 0o644);
    expect(entryProblem(stamp, source, entry)).toEqual({ reason: "its mode was 644 instead of 755" });
    expect(entryProblem(stamp, source, `${entry}-elsewhere`)).toEqual({ reason: null });
    expect(entryProblem(stamp, BINARY, entry)).toEqual({ reason: null });
    expect(entryProblem(`${stamp}-none`, source, entry)).toEqual({ reason: null });
    writeFileSync(stamp, `${realpathSync(source)} -> ${entry}\n`);
    expect(entryProblem(stamp, source, entry)).toEqual({ reason: `its stamp ${stamp} is from an older version or damaged` });
  });
});
