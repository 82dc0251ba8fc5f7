// `nixos-wsl-init tarball` when it cannot finish: a root that is not NixOS, an
// output directory that does not exist, a full disk (a small tmpfs in a private
// mount namespace), SIGINT or SIGTERM in the middle, and bad usage. Each says
// what failed and what to do, leaves no OUT.wsl and no partial file, and
// leaves ROOT as it was.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { sleep, waitFor } from "../harness/proc.ts";

const BINARY = requireBinary();

async function listing(root: string): Promise<string> {
  return (await execa("find", [root, "-printf", "%P %y %s %T@ %m %U:%G %l\n"])).stdout.split("\n").sort().join("\n");
}

/** Send `signal` to `child` the moment a partial image appears in `out`, before it has any data. */
function signalWhenPartialAppears(out: string, child: { kill(signal: NodeJS.Signals): boolean }, signal: NodeJS.Signals): () => void {
  const watcher = watch(out, (_event, name) => {
    if (String(name).startsWith(".nixos.wsl.new-")) {
      child.kill(signal);
      watcher.close();
    }
  });
  return () => watcher.close();
}

/** Readable, without a JavaScript stack trace or "unexpected error". */
function expectClean(stderr: string): void {
  expect(stderr).not.toContain("unexpected error");
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe("failures of the image builder", () => {
  let fake: FakeRoot;
  let work: string;
  let before: string;
  let count = 0;
  const outDir = () => {
    const dir = join(work, `out-${++count}`);
    mkdirSync(dir);
    return dir;
  };

  beforeAll(async () => {
    fake = makeFakeRoot({ generations: [{ number: 1 }] });
    // 160 MiB that do not compress: packing takes long enough to be interrupted, and fills a small disk.
    const data = join(fake.root, fake.storePath(1), "data");
    mkdirSync(data);
    for (let i = 0; i < 10; i++) writeFileSync(join(data, `blob-${i}`), randomBytes(16 * 1024 * 1024));
    work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-image-failures-"));
    before = await listing(fake.root);
  });
  afterAll(() => {
    fake.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it("refuses a root without etc/NIXOS with exit 126, and one that does not exist", async () => {
    const notNixos = join(work, "debian-root");
    await execa("cp", ["-a", "--", fake.root, notNixos]);
    rmSync(join(notNixos, "etc/NIXOS"));
    const notBefore = await listing(notNixos);
    const out = outDir();
    const run = await execa(BINARY, ["tarball", notNixos, join(out, "nixos.wsl")], { reject: false });
    expect(run.exitCode).toBe(126);
    expect(run.stderr).toContain(`${notNixos} is not a NixOS root: it has no etc/NIXOS.`);
    expect(run.stderr).toContain("nixos-install --root");
    expectClean(run.stderr);
    expect(readdirSync(out)).toEqual([]);
    expect(await listing(notNixos)).toBe(notBefore);
    rmSync(notNixos, { recursive: true });

    const missing = await execa(BINARY, ["tarball", join(work, "no-such-root"), join(out, "nixos.wsl")], { reject: false });
    expect(missing.exitCode).toBe(126);
    expect(missing.stderr).toContain("is not a NixOS root: it does not exist");
  });

  it("refuses an output in a directory that does not exist, before reading anything", async () => {
    const target = join(work, "missing-dir/sub/nixos.wsl");
    const run = await execa(BINARY, ["tarball", fake.root, target], { reject: false });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`writing ${target}: the directory ${join(work, "missing-dir/sub")} does not exist`);
    expect(run.stderr).toContain("mkdir -p");
    expectClean(run.stderr);
    expect(existsSync(join(work, "missing-dir"))).toBe(false);
    expect(await listing(fake.root)).toBe(before);
  });

  it("stops on a full disk with the cause and what to do, and leaves no partial file", async () => {
    const out = outDir();
    // A 4 MiB tmpfs over the output directory, in a mount namespace of this command's own.
    const script = 'mount -t tmpfs -o size=4m image-test "$1" && "$2" tarball "$3" "$1/nixos.wsl"; rc=$?; echo "left: $(ls -A "$1")"; exit $rc';
    const run = await execa("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", out, BINARY, fake.root], { reject: false });
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/writing .*\.nixos\.wsl\.new-\d+: ENOSPC/);
    expect(run.stderr).toContain(`The file system of ${out} is full: free some space there or write the image elsewhere.`);
    expect(run.stderr).toContain(`${join(out, "nixos.wsl")} was not written; ROOT is unchanged.`);
    expectClean(run.stderr);
    expect(run.stdout.trim()).toBe("left:"); // nothing, inside the full file system
    expect(readdirSync(out)).toEqual([]);
    expect(await listing(fake.root)).toBe(before);
  });

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`on ${signal} in the middle removes the partial file and exits ${code}`, async () => {
      const out = outDir();
      const child = execa(BINARY, ["tarball", fake.root, join(out, "nixos.wsl")], { reject: false });
      // Wait until the partial file has data in it: the packing is under way.
      await waitFor("the partial image to grow", 20_000, () =>
        readdirSync(out).some((name) => name.startsWith(".nixos.wsl.new-") && statSync(join(out, name), { throwIfNoEntry: false })?.size! > 1024 * 1024),
      );
      child.kill(signal);
      const result = await child;
      expect(result.exitCode, result.stderr).toBe(code);
      expect(result.stderr).toMatch(new RegExp(`interrupted by ${signal}: removed the partial .*\\.nixos\\.wsl\\.new-\\d+; .*nixos\\.wsl was not written and ROOT is unchanged`));
      expectClean(result.stderr);
      await sleep(50);
      expect(readdirSync(out)).toEqual([]);
      expect(await listing(fake.root)).toBe(before);
    });
  }

  it("tidies the partial file of a pack killed with SIGKILL: the next pack to the same place removes it once it is a minute old", async () => {
    // Before the fix, a SIGKILLed pack's hidden partial file (here over 1 MiB, in use hundreds) stayed for good.
    const out = outDir();
    const child = execa(BINARY, ["tarball", fake.root, join(out, "nixos.wsl")], { reject: false });
    await waitFor("the partial image to grow", 20_000, () =>
      readdirSync(out).some((name) => name.startsWith(".nixos.wsl.") && statSync(join(out, name), { throwIfNoEntry: false })?.size! > 1024 * 1024),
    );
    child.kill("SIGKILL");
    const killed = await child;
    expect(killed.signal).toBe("SIGKILL");
    const left = readdirSync(out);
    expect(left, "what the SIGKILLed pack left").toHaveLength(1);
    expect(left[0]).toMatch(/^\.nixos\.wsl\./);
    // The writer may have been of another PID namespace, where its PID means nothing here: only one idle for a minute goes.
    const minuteAgo = new Date(Date.now() - 61_000);
    utimesSync(join(out, left[0]!), minuteAgo, minuteAgo);
    const next = await execa(BINARY, ["tarball", fake.root, join(out, "nixos.wsl")], { reject: false });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(["nixos.wsl"]);
    expect(await listing(fake.root)).toBe(before);
  });

  it("keeps an existing OUT.wsl as it was when interrupted the moment its partial file appears, 8 times of each signal", async () => {
    // Before the fix, a signal in the instant between creating the partial file and
    // handling signals ended the process by default and left the partial file.
    const out = outDir();
    writeFileSync(join(out, "nixos.wsl"), "the previous image");
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const child = execa(BINARY, ["tarball", fake.root, join(out, "nixos.wsl")], { reject: false });
        const stopWatching = signalWhenPartialAppears(out, child, signal);
        const result = await child;
        stopWatching();
        expect({ exitCode: result.exitCode, signal: result.signal }, `${signal} #${attempt}: ${result.stderr}`).toEqual({ exitCode: code, signal: undefined });
        expect(result.stderr).toMatch(new RegExp(`interrupted by ${signal}: removed the partial .*; .*nixos\\.wsl was not written and ROOT is unchanged`));
        expect(readdirSync(out)).toEqual(["nixos.wsl"]);
        expect(statSync(join(out, "nixos.wsl")).size).toBe("the previous image".length);
      }
    }
  });

  it("answers --help with usage and exit codes, and bad usage with exit 2", async () => {
    const help = await execa(BINARY, ["tarball", "--help"], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Usage: nixos-wsl-init tarball [OPTIONS] ROOT OUT.wsl");
    expect(help.stdout).toContain("--extra-files");
    expect(help.stdout).toMatch(/Exit codes: 0 written; 1 failed or refused/);
    for (const args of [[], [fake.root], [fake.root, "a.wsl", "extra"], [fake.root, "a.wsl", "--chown", "/home"], [fake.root, "a.wsl", "--nope"]]) {
      const run = await execa(BINARY, ["tarball", ...args], { reject: false });
      expect(run.exitCode, args.join(" ")).toBe(2);
      expect(run.stderr).toContain("Run 'nixos-wsl-init tarball --help' for usage.");
    }
    expect((await execa(BINARY, ["--help"])).stdout).toContain("tarball ROOT OUT.wsl");
  });
});
