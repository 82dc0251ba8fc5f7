// The Nix package as a user gets it: evaluated as callPackage calls it, its
// npm dependencies' hash recomputed from package-lock.json, and its build
// steps (read back from the derivation, not copied) replayed here offline
// with a bun processed the way nixpkgs processes it. The executable they make
// then passes the end-to-end smoke tests (test/nix/nixBuilt.smoke.ts).
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nixpkgsProcessedBun } from "../harness/nixpkgsBun.ts";
import { PROJECT_DIR } from "../harness/paths.ts";

const NIXPKGS_LIB = process.env.NIXPKGS_LIB;
const work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-package-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const nixEnv = { NIX_STATE_DIR: join(work, "nix-state"), NIX_LOG_DIR: join(work, "nix-log") };

function evaluate(file: string, attribute: string) {
  return execa(
    "nix-instantiate",
    ["--readonly-mode", "--eval", "--strict", "--json", join(PROJECT_DIR, file), "--arg", "lib", `import ${NIXPKGS_LIB}`, "-A", attribute],
    { reject: false, env: nixEnv },
  );
}

async function evaluated<T>(file: string, attribute: string): Promise<T> {
  const result = await evaluate(file, attribute);
  if (result.exitCode !== 0) throw new Error(`evaluating ${attribute} of ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface Replay {
  buildPhase: string;
  installPhase: string;
  installCheckPhase: string;
  npmModules: string;
  version: string;
  sourceFiles: string[];
  nativeBuildInputs: string[];
  npmDeps: { buildPhase: string; npmSpecs: string[]; outputHash: string; nativeBuildInputs: string[] };
}

/** A shell word that stands for `value` exactly. */
const quoted = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** stdenv's runHook, as far as a derivation without hooks needs it. */
const RUN_HOOK = "runHook() { :; }";

// The tools stdenvNoCC puts on PATH, as static busybox applets: in the replay
// no program can use the host's dynamic loader, as in the Nix sandbox.
const STDENV_TOOLS = ["mkdir", "tar", "gzip", "ln", "cp", "rm", "mv", "cat", "chmod", "ls", "sed", "grep", "head", "tail", "tr", "env", "true", "false", "test", "["];

describe.skipIf(!NIXPKGS_LIB)("Nix evaluation with nixpkgs' lib: the package as callPackage gives it (needs NIXPKGS_LIB)", () => {
  let replay: Replay;
  beforeAll(async () => {
    replay = await evaluated<Replay>("nix/tests/package-tests.nix", "replay");
  });

  it("evaluates with no argument to find: every attribute forced, the flake's default, checks and overlay, the module's default, the templates", async () => {
    expect(await evaluated("nix/tests/package-tests.nix", "failures")).toEqual([]);
    expect(await evaluated("nix/tests/template-tests.nix", "failures")).toEqual([]);
    const drvPaths = await evaluated<Record<string, string>>("nix/tests/package-tests.nix", "drvPaths");
    expect(drvPaths.flakeDefault).toBe(drvPaths.package);
    expect(drvPaths.overlay).toBe(drvPaths.package);
    for (const path of Object.values(drvPaths)) expect(path).toMatch(/^\/nix\/store\/[0-9a-z]{32}-nixos-wsl-init-.*\.drv$/);
  });

  it("refuses a bun older than the one package.json pins, saying which is needed and why", async () => {
    const result = await evaluate("nix/tests/package-tests.nix", "withOldBun.drvPath");
    expect(result.exitCode).not.toBe(0);
    const pinned = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")).devDependencies.bun;
    expect(result.stderr).toContain(`needs bun ${pinned} or newer, and this nixpkgs has bun 1.3.14`);
    expect(result.stderr).toContain("crash before main on WSL's kernels");
  });

  let npmDeps = "";
  it("fetches the runtime dependencies to the hash in nix/npm-deps.hash (recomputed here from package-lock.json)", async () => {
    expect(replay.npmDeps.nativeBuildInputs.map((name) => name.replace(/-[0-9.]+$/, ""))).toEqual(["nodejs"]);
    npmDeps = join(work, "npm-deps");
    const buildTop = join(work, "npm-deps-build");
    mkdirSync(buildTop);
    // Network on (a fixed-output derivation has it), HOME as the sandbox leaves it, only node on PATH.
    const nodeDir = join(work, "node-bin");
    mkdirSync(nodeDir);
    for (const tool of ["node", "npm", "mkdir"]) symlinkSync((await execa("sh", ["-c", `command -v ${tool}`])).stdout, join(nodeDir, tool));
    const run = await execa("/bin/bash", ["-euo", "pipefail", "-c", `${RUN_HOOK}\n${replay.npmDeps.buildPhase}`], {
      cwd: buildTop,
      reject: false,
      extendEnv: false,
      env: { PATH: nodeDir, HOME: "/homeless-shelter", TMPDIR: buildTop, out: npmDeps, npmSpecs: replay.npmDeps.npmSpecs.join(" ") },
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const hash = await execa("nix", ["--extra-experimental-features", "nix-command", "hash", "path", npmDeps], { env: nixEnv });
    const committed = readFileSync(join(PROJECT_DIR, "nix", "npm-deps.hash"), "utf8").trim();
    expect(committed).toBe(replay.npmDeps.outputHash);
    expect(
      hash.stdout.trim(),
      `package-lock.json's runtime dependencies give another hash: write ${hash.stdout.trim()} to nix/npm-deps.hash`,
    ).toBe(committed);
  });

  let built = "";
  it("builds offline with a bun processed as nixpkgs does (no network, no /lib64 loader, HOME not writable, only stdenv's tools and bun on PATH)", async () => {
    expect(npmDeps, "the npm-deps step above must have run").not.toBe("");
    expect(replay.nativeBuildInputs.map((name) => name.replace(/-[0-9.]+$/, ""))).toEqual(["bun"]);
    const { bun } = await nixpkgsProcessedBun();

    // The source as the package's fileset gives it, and a PATH of stdenv's tools and bun only.
    const source = join(work, "source");
    for (const file of replay.sourceFiles) cpSync(join(PROJECT_DIR, file), join(source, file), { recursive: true });
    const tools = join(work, "stdenv-bin");
    mkdirSync(tools);
    symlinkSync("/bin/bash-static", join(tools, "bash"));
    symlinkSync("/bin/bash-static", join(tools, "sh"));
    for (const tool of STDENV_TOOLS) symlinkSync("/bin/busybox", join(tools, tool));
    const bunDir = join(work, "bun-bin");
    mkdirSync(bunDir);
    copyFileSync(bun, join(bunDir, "bun"));
    chmodSync(join(bunDir, "bun"), 0o755);
    const readOnly = join(work, "read-only");
    mkdirSync(readOnly);
    const emptyDir = join(work, "empty");
    mkdirSync(emptyDir);
    built = join(work, "out");
    const buildTop = join(work, "build-top");
    mkdirSync(buildTop);

    // The phases run under a static bash with a cleared environment, after the
    // host's loader is hidden: nothing dynamic from the host can start.
    const environment: Record<string, string> = {
      PATH: `${tools}:${bunDir}`,
      HOME: join(readOnly, "homeless-shelter"),
      TMPDIR: buildTop,
      NIX_BUILD_TOP: buildTop,
      out: built,
      npmDeps,
      npmModules: replay.npmModules,
    };
    const script = [
      ...Object.entries(environment).map(([name, value]) => `export ${name}=${quoted(value)}`),
      RUN_HOOK,
      // Proof that the sandbox's conditions hold before anything is built.
      `if /usr/bin/true 2>/dev/null; then echo "replay: the host's loader is still reachable" >&2; exit 90; fi`,
      `if mkdir "$HOME" 2>/dev/null; then echo "replay: HOME is writable" >&2; exit 91; fi`,
      `cd ${quoted(source)}`,
      replay.buildPhase,
      replay.installPhase,
      replay.installCheckPhase,
    ].join("\n");
    writeFileSync(join(work, "phases.sh"), script);
    const hideLoader = [
      `mount -t tmpfs -o ro tmpfs ${quoted(readOnly)}`,
      // Last: after it, no dynamic program of the host starts.
      `mount --bind ${quoted(emptyDir)} /usr/lib64`,
      `exec -c /bin/bash-static -euo pipefail ${quoted(join(work, "phases.sh"))}`,
    ].join(" && ");
    const run = await execa("unshare", ["--net", "--mount", "--propagation", "private", "--fork", "bash", "-c", hideLoader], { reject: false, all: true });
    expect(run.exitCode, run.all).toBe(0);

    expect(existsSync(join(built, "bin", "nixos-wsl-init"))).toBe(true);
    for (const role of ["systemd-shim", "syschdemd", "nixos-wsl-recovery", "nixos-wsl-shell"]) {
      expect((await execa("readlink", [join(built, "bin", role)])).stdout).toBe("nixos-wsl-init");
    }
    // Its loader is the private glibc's, as a Nix-built one names the store's.
    const interpreter = await execa("patchelf", ["--print-interpreter", join(built, "bin", "nixos-wsl-init")]);
    expect(dirname(interpreter.stdout)).not.toMatch(/^\/(usr\/)?lib/);
    const version = await execa(join(built, "bin", "nixos-wsl-init"), ["--version"]);
    expect(version.stdout).toBe(`nixos-wsl-init ${replay.version}`);
  });

  it("the executable it built passes the end-to-end smoke tests (a native boot of real systemd, recovery from the system distribution)", async () => {
    expect(built, "the offline build above must have run").not.toBe("");
    const smoke = await execa("npx", ["vitest", "run", "--config", "test/nix/smoke.config.ts"], {
      cwd: PROJECT_DIR,
      reject: false,
      all: true,
      env: { NIXOS_WSL_INIT_BINARY: join(built, "bin", "nixos-wsl-init"), NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    expect(smoke.exitCode, smoke.all).toBe(0);
    // Both smoke tests ran, and nothing else.
    expect(smoke.all).toMatch(/Tests\s+2 passed \|/);
  }, 600_000);
});
