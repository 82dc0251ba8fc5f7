// The executable Nix makes: the project compiled by a bun processed the way
// nixpkgs processes bun (test/harness/nixpkgsBun.ts), beside the one
// `npm run build` makes with npm's bun. Both must have the ELF layout that
// kernels before 6.7 (WSL 2's 5.15 and 6.6) load, and both must run. The VM
// tier (test/e2e/vm.test.ts) runs them on such a kernel.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ElfLayout, readInterpreter, readLayout } from "../../recovery/elf.ts";
import { compileProject, layoutProblems, type NixpkgsBun, nixpkgsProcessedBun } from "../harness/nixpkgsBun.ts";
import { PROJECT_DIR, requireBinary } from "../harness/paths.ts";

const VERSION: string = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")).version;
let dir: string;
let processed: NixpkgsBun;
let nixBuilt: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nixpkgs-bun-test-"));
  processed = await nixpkgsProcessedBun();
  nixBuilt = join(dir, "nixos-wsl-init");
  compileProject(processed.bun, nixBuilt);
}, 180_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the layout check", () => {
  // The shape nixpkgs' bun 1.3.12 gave (opencode issue 26846's readelf): the
  // payload in a PT_LOAD of its own, first in the table and lowest in memory.
  const broken: ElfLayout = {
    machine: 62,
    programs: [
      { type: 1, flags: 4, offset: 0x6a00000, vaddr: 0x100000, filesz: 0x4d0000, memsz: 0x4d0000 },
      { type: 1, flags: 4, offset: 0, vaddr: 0x200000, filesz: 0x1838764, memsz: 0x1838764 },
      { type: 1, flags: 5, offset: 0x1838d00, vaddr: 0x1a40d00, filesz: 0x4e08f90, memsz: 0x4e08f90 },
      { type: 1, flags: 6, offset: 0x6641c90, vaddr: 0x684ac90, filesz: 0x1d248, memsz: 0x1d6848 },
    ],
    sections: [
      { name: ".text", addr: 0x1a40d00, offset: 0x1838d00, size: 0x100 },
      { name: ".bun", addr: 0x100000, offset: 0x6a00000, size: 0x4d0000 },
    ],
  };

  it("finds a payload mapped before the code, and PT_LOADs out of order", () => {
    expect(layoutProblems(broken)).toEqual([expect.stringMatching(/^the \.bun payload \(at 0x100000, in PT_LOAD 0\) comes before the code/)]);
    const swapped = { ...broken, programs: [broken.programs[1]!, broken.programs[0]!, ...broken.programs.slice(2)] };
    expect(layoutProblems(swapped)).toContainEqual("PT_LOAD 1 at 0x100000 is not above PT_LOAD 0 at 0x200000");
  });
});

describe.each([
  ["nixpkgs' bun (patchelf'd to a private glibc)", () => nixBuilt],
  ["npm's bun (npm run build)", () => requireBinary()],
])("the project compiled with %s", (_name, executable) => {
  it("has its PT_LOADs in ascending order and the .bun payload after the code", () => {
    const layout = readLayout(executable());
    expect(layout.programs.filter((program) => program.type === 1).length).toBeGreaterThanOrEqual(3);
    expect(layout.sections.map((section) => section.name)).toContain(".bun");
    expect(layoutProblems(layout)).toEqual([]);
  });

  it("runs: --version and --help exit 0", async () => {
    const version = await execa(executable(), ["--version"], { reject: false, timeout: 30_000 });
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout).toBe(`nixos-wsl-init ${VERSION}`);
    const help = await execa(executable(), ["--help"], { reject: false, timeout: 30_000 });
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toContain("boots NixOS under WSL 2");
  });
});

it("the nixpkgs-processed build names the private glibc as its loader, as a Nix build names the store's", () => {
  expect(readInterpreter(nixBuilt)?.path).toBe(join(processed.glibcLib, "ld-linux-x86-64.so.2"));
  expect(processed.glibcLib.length).toBe(`/nix/store/${"x".repeat(32)}-glibc-2.40-66/lib`.length);
  expect(readInterpreter(requireBinary())?.path).toBe("/lib64/ld-linux-x86-64.so.2");
});
