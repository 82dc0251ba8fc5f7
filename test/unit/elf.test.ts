// The recovery entry's loader rewrite, on real copies of the compiled executable.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
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
});
