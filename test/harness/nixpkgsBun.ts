// npm's bun processed the way nixpkgs processes bun (autoPatchelfHook):
// a private copy of the glibc it needs, in a directory whose path is as long
// as a Nix store path's lib directory, and the bun copy's interpreter and
// RUNPATH set to that copy with patchelf. `bun build --compile` uses the
// running bun as the template of the executable it writes, so compiling with
// this bun makes the kind of executable `nix build` makes.
//
// Interface:
//   nixpkgsProcessedBun() -> { bun, glibcLib }
//     bun       the processed bun (runs here; its loader is glibcLib/ld-linux-x86-64.so.2)
//     glibcLib  the directory of the private glibc copy (the loader, libc and the
//               libraries `ldd` lists for bun), as long as /nix/store/<32>-glibc-2.40-66/lib
// Made once per bun version and kept under os.tmpdir() (about 110 MB), so test
// processes share it; a process that finds it half-made waits, or remakes it
// when its maker is gone. Executables compiled with it name glibcLib as their
// loader: whoever runs them elsewhere (a VM's root) puts the copy at that path.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { type ElfLayout, PF_X, PT_LOAD, readInterpreter } from "../../recovery/elf.ts";
import { PROJECT_DIR } from "./paths.ts";

export interface NixpkgsBun {
  /** The processed bun executable. */
  readonly bun: string;
  /** The private glibc copy it runs with (its interpreter and RUNPATH). */
  readonly glibcLib: string;
}

/** The lib directory of glibc in a real store path: /nix/store/<32 chars of hash>-glibc-2.40-66/lib. */
export const NIX_GLIBC_LIB_LENGTH = `/nix/store/${"0".repeat(32)}-glibc-2.40-66/lib`.length; // 61
// Debian's patchelf 0.14 sometimes writes a bun that crashes at start,
// depending on the length of the paths it writes. At 61 (the store path's
// length) the processed bun 1.4.5 runs here; if a bun version crashes at this
// length, change the length here and say which one works and why.
const PADDED_LENGTH = NIX_GLIBC_LIB_LENGTH;

/** npm's bun: the real binary behind node_modules/.bin/bun (a copy in node_modules/bun/bin, or the platform package's). */
export function npmBun(): string {
  const candidates = [
    join(PROJECT_DIR, "node_modules", ".bin", "bun"),
    join(PROJECT_DIR, "node_modules", "@oven", "bun-linux-x64", "bin", "bun"),
    join(PROJECT_DIR, "node_modules", "@oven", "bun-linux-x64-baseline", "bin", "bun"),
  ];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    // The .bin link may reach a JavaScript launcher on some installs; only an ELF file will do.
    if (readFileSync(real).subarray(0, 4).toString("latin1") === "\x7fELF") return real;
  }
  throw new Error(`processing npm's bun: no bun executable in ${join(PROJECT_DIR, "node_modules")} (looked at ${candidates.join(", ")}): run 'npm ci' (.ci/setup does)`);
}

function run(step: string, file: string, args: string[], fix: string): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], cwd: PROJECT_DIR, maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { code?: string; status?: number; signal?: string; stderr?: string };
    const cause = e.code === "ENOENT" ? `${file} is not installed` : `${file} ${args.join(" ")} failed (${e.signal ?? `exit ${e.status}`}): ${(e.stderr ?? "").trim()}`;
    throw new Error(`processing npm's bun: ${step}: ${cause}: ${fix}`);
  }
}

/** The libraries `ldd` resolves for a program (name -> file), without the loader and the vDSO. */
function libraries(program: string): Map<string, string> {
  const output = run("listing bun's libraries", "ldd", [program], "install Debian package libc-bin");
  const found = new Map<string, string>();
  for (const line of output.split("\n")) {
    const match = /^\s*(\S+) => (\/\S+) \(/.exec(line);
    if (match) found.set(match[1]!, match[2]!);
  }
  if (!found.has("libc.so.6")) throw new Error(`processing npm's bun: ldd ${program} lists no libc.so.6:\n${output}\nis it a glibc executable for this machine?`);
  return found;
}

function make(source: string, home: string, version: string): void {
  // home/<padding>-glibc-2.40-66/lib is PADDED_LENGTH long, like the store path it stands for.
  const fixed = join(home, "-glibc-2.40-66", "lib").length;
  const padding = PADDED_LENGTH - fixed;
  if (padding < 1) {
    throw new Error(`processing npm's bun: the cache directory ${home} is too long for a private glibc at a store path's length (${PADDED_LENGTH}): set TMPDIR to a shorter directory`);
  }
  const glibcLib = join(home, `${"0".repeat(padding)}-glibc-2.40-66`, "lib");
  mkdirSync(glibcLib, { recursive: true });
  const interpreter = readInterpreter(source);
  if (!interpreter) throw new Error(`processing npm's bun: ${source} has no ELF interpreter: it is not the dynamically linked bun from npm`);
  const loaderName = basename(interpreter.path);
  copyFileSync(realpathSync(interpreter.path), join(glibcLib, loaderName));
  chmodSync(join(glibcLib, loaderName), 0o755);
  for (const [name, file] of libraries(source)) copyFileSync(realpathSync(file), join(glibcLib, name));

  const staged = join(home, "bun.part");
  copyFileSync(source, staged);
  chmodSync(staged, 0o755);
  run("patching the copy", "patchelf", ["--set-interpreter", join(glibcLib, loaderName), "--set-rpath", glibcLib, staged], "install Debian package patchelf (.ci/setup does)");
  const ran = run("running the processed bun", staged, ["--version"], `patchelf wrote a bun that does not start; try another PADDED_LENGTH in ${join("test", "harness", "nixpkgsBun.ts")}`).trim();
  if (ran !== version) throw new Error(`processing npm's bun: the processed bun says ${ran}, the original ${version}`);
  renameSync(staged, join(home, "bun"));
  writeFileSync(join(home, "ready"), `${glibcLib}\n`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

let cached: Promise<NixpkgsBun> | undefined;

/** npm's bun, processed as nixpkgs processes it (see the top of this file). Made once, then reused. */
export function nixpkgsProcessedBun(): Promise<NixpkgsBun> {
  cached ??= (async () => {
    const source = npmBun();
    const version = run("asking npm's bun its version", source, ["--version"], "reinstall it with 'npm ci'").trim();
    const { size, mtimeMs } = statSync(source);
    const home = join(tmpdir(), `nwi-nixpkgs-bun-${version}`);
    const owner = join(home, "maker");
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (existsSync(join(home, "ready"))) {
        const glibcLib = readFileSync(join(home, "ready"), "utf8").trim();
        const stamp = existsSync(join(home, "source")) ? readFileSync(join(home, "source"), "utf8") : "";
        if (stamp === `${source} ${size} ${mtimeMs}` && existsSync(join(home, "bun")) && existsSync(glibcLib)) return { bun: join(home, "bun"), glibcLib };
        rmSync(home, { recursive: true, force: true }); // made from another bun of the same version: make it again
        continue;
      }
      try {
        mkdirSync(home); // who creates it makes it
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const maker = existsSync(owner) ? Number(readFileSync(owner, "utf8")) : NaN;
        if (Number.isInteger(maker) && !pidAlive(maker)) {
          rmSync(home, { recursive: true, force: true }); // its maker died half-way
          continue;
        }
        if (Date.now() > deadline) throw new Error(`processing npm's bun: ${home} has been half-made for 2 minutes by process ${maker}: remove it if that process is stuck`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      writeFileSync(owner, String(process.pid));
      try {
        writeFileSync(join(home, "source"), `${source} ${size} ${mtimeMs}`);
        make(source, home, version);
      } catch (error) {
        rmSync(home, { recursive: true, force: true });
        throw error;
      }
    }
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}

/**
 * What is wrong with a compiled executable's layout for kernels before 6.7:
 * every PT_LOAD must come in ascending virtual-address order, and the `.bun`
 * payload must not be mapped before the code (bun 1.3.12 to 1.3.x, processed
 * by nixpkgs, put it in a PT_LOAD of its own ahead of the others). Empty when
 * the layout is right.
 */
export function layoutProblems(layout: ElfLayout): string[] {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const problems: string[] = [];
  const loads = layout.programs.filter((program) => program.type === PT_LOAD);
  for (let i = 1; i < loads.length; i++) {
    if (loads[i]!.vaddr <= loads[i - 1]!.vaddr) problems.push(`PT_LOAD ${i} at ${hex(loads[i]!.vaddr)} is not above PT_LOAD ${i - 1} at ${hex(loads[i - 1]!.vaddr)}`);
  }
  const code = loads.findIndex((load) => (load.flags & PF_X) !== 0);
  if (code === -1) problems.push("no PT_LOAD is executable");
  const payload = layout.sections.find((section) => section.name === ".bun");
  if (!payload) {
    problems.push("no .bun section: not an executable made by bun build --compile");
  } else if (code !== -1) {
    const holder = loads.findIndex((load) => payload.addr >= load.vaddr && payload.addr < load.vaddr + load.memsz);
    if (holder === -1) problems.push(`the .bun section at ${hex(payload.addr)} is in no PT_LOAD`);
    else if (holder <= code || payload.addr < loads[code]!.vaddr) {
      problems.push(`the .bun payload (at ${hex(payload.addr)}, in PT_LOAD ${holder}) comes before the code (PT_LOAD ${code} at ${hex(loads[code]!.vaddr)})`);
    }
  }
  return problems;
}

/** package.json's "build" script as arguments to bun, with the output going to outfile instead of dist/. */
export function buildArguments(outfile: string): string[] {
  const script: unknown = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")).scripts?.build;
  if (typeof script !== "string") throw new Error("compiling the project: package.json has no \"build\" script");
  const words = script.trim().split(/\s+/);
  if (words[0] !== "bun" || words[1] !== "build" || /["'\\$&|;]/.test(script)) {
    throw new Error(`compiling the project: package.json's build script is not one plain 'bun build ...' command (${script}): teach buildArguments in test/harness/nixpkgsBun.ts its new form`);
  }
  const at = words.indexOf("--outfile");
  if (at === -1 || at + 1 >= words.length) throw new Error(`compiling the project: package.json's build script has no --outfile (${script})`);
  words[at + 1] = outfile;
  return words.slice(1);
}

/** Compile the project as `npm run build` does, but with the given bun and into outfile. */
export function compileProject(bun: string, outfile: string): void {
  run(`compiling the project with ${bun}`, bun, buildArguments(outfile), "see bun's message above");
}
