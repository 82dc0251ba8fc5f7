// The Nix code: every file parses, and with nixpkgs' lib at hand
// (NIXPKGS_LIB=/path/to/nixpkgs/lib) the module and the lock preparation
// evaluate with the real module system.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../harness/paths.ts";

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name.startsWith(".") ? [] : nixFiles(path);
    return entry.name.endsWith(".nix") ? [path] : [];
  });
}

// Nix keeps its state in temporary directories, and never writes to the store.
const nixState = mkdtempSync(join(tmpdir(), "nixos-wsl-init-nix-"));
afterAll(() => rmSync(nixState, { recursive: true, force: true }));
const nixEnv = { NIX_STATE_DIR: join(nixState, "state"), NIX_LOG_DIR: join(nixState, "log") };

/**
 * Nix succeeded: exit status 0 and no error on stderr. Warnings are allowed:
 * Debian's nix-bin without its recommended packages has no `nixbld` group, and
 * Nix warns about that on every run.
 */
function expectSuccess(result: { exitCode?: number; stderr: string }) {
  const errors = result.stderr.split("\n").filter((line) => /^error\b/.test(line));
  expect(errors, result.stderr).toEqual([]);
  expect(result.exitCode, result.stderr).toBe(0);
}

describe("Nix files", () => {
  const files = nixFiles(PROJECT_DIR);

  it("include the package, the module, the flake and their tests", () => {
    expect(files.map((file) => relative(PROJECT_DIR, file)).sort()).toEqual(
      expect.arrayContaining([
        "flake.nix",
        "nix/module.nix",
        "nix/package.nix",
        "nix/npm-lock.nix",
        "nix/tests/package-tests.nix",
        "nix/tests/template-tests.nix",
        "nix/templates/alone/flake.nix",
        "nix/templates/beside-nixos-wsl/flake.nix",
        "nix/tests/module-tests.nix",
        "nix/tests/nixos-stand-in.nix",
        "nix/tests/nixos-wsl-stand-in.nix",
      ]),
    );
  });

  it.each(files.map((file) => [relative(PROJECT_DIR, file), file]))("%s parses", async (_name, file) => {
    const result = await execa("nix-instantiate", ["--parse", file], { reject: false, env: nixEnv });
    expectSuccess(result);
  });
});

const NIXPKGS_LIB = process.env.NIXPKGS_LIB;
if (!NIXPKGS_LIB) {
  console.warn("nix.test.ts: evaluation tests SKIPPED: set NIXPKGS_LIB=/path/to/nixpkgs/lib to evaluate the module with nixpkgs' module system");
}

function evaluate(file: string, attribute: string) {
  return execa(
    "nix-instantiate",
    ["--readonly-mode", "--eval", "--strict", "--json", join(PROJECT_DIR, file), "--arg", "lib", `import ${NIXPKGS_LIB}`, "-A", attribute],
    { reject: false, env: nixEnv },
  );
}

// .ci/run finds these tests by this title, to say whether they ran or were skipped.
describe.skipIf(!NIXPKGS_LIB)("Nix evaluation with nixpkgs' lib (needs NIXPKGS_LIB)", () => {
  it("the NixOS module, alone and beside NixOS-WSL: defaults, both modes, one wsl.conf, one /sbin/init writer, the recovery entry, /bin (install-bin), initTimeout, the login-shell wrapper and users' shells, the JSON settings, the bless unit, the image builder, assertions, documentation", async () => {
    const result = await evaluate("nix/tests/module-tests.nix", "failures");
    expectSuccess(result);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it("the NixOS module rejects a bad mode with a clear type error", async () => {
    const result = await evaluate("nix/tests/module-tests.nix", "badMode");
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("A definition for option `wsl.init.mode' is not of type `one of \"native\", \"legacy\"'");
    expect(result.stderr).toContain('"systemd"');
  });

  it("the NixOS module refuses a readiness timeout over an hour with a clear type error", async () => {
    const result = await evaluate("nix/tests/module-tests.nix", "badReadinessTimeout");
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(
      "A definition for option `wsl.init.legacy.readinessTimeout' is not of type `integer between 1 and 3600 (both inclusive)'",
    );
    expect(result.stderr).toContain("3000000");
  });
});
