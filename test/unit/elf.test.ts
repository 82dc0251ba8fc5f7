// The recovery entry's loader rewrite, on real copies of the compiled executable.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { installRecoveryEntry } from "../../recovery/installEntry.ts";
import { fhsInterpreter, readInterpreter, writeInterpreter } from "../../src/elf.ts";
import { requireBinary } from "../harness/paths.ts";

const BINARY = requireBinary();
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
    expect(interpreter?.path).toBe(fhsInterpreter(interpreter!.machine));
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
    expect(installRecoveryEntry(nixBuilt, entry)).toEqual({ interpreter: "/lib64/ld-linux-x86-64.so.2", patched: true });
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
    expect(first.stdout).toBe(`installed ${entry} (loader /lib64/ld-linux-x86-64.so.2)`);
    expect(readFileSync(stamp, "utf8")).toBe(`${realpathSync(BINARY)} -> ${entry}\n`);
    const second = await execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);
    expect(second.stdout).toBe(`${entry} is up to date`);
    rmSync(entry);
    const third = await execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);
    expect(third.stdout).toMatch(/^installed /);
    const missingDir = await execa(BINARY, ["install-recovery", join(dir, "no/such/dir/entry")], { reject: false });
    expect(missingDir.exitCode).toBe(1);
    expect(missingDir.stderr).toContain("does ");
    const usage = await execa(BINARY, ["install-recovery"], { reject: false });
    expect(usage.exitCode).toBe(2);
  });
});
