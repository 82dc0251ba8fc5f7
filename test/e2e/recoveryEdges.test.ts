// nixos-wsl-recovery and install-recovery on distros that are odd or damaged
// in the ways real ones get (issues #8 and #9): generation names Nix never
// writes, a system profile that is a directory, a link chain ending in a
// missing store path, a profiles "directory" that is a file, and a recovery
// entry that was truncated or corrupted on disk. Each is run the way the user
// meets it: from the system distribution, with the compiled executable.
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { runFromSystemDistro, type SystemDistroRun } from "../harness/systemDistro.ts";

const BINARY = requireBinary();
const PROFILES = "nix/var/nix/profiles";

async function makeDistro(generations: number[], defaultGeneration?: number): Promise<FakeRoot> {
  const distro = makeFakeRoot({ generations: generations.map((number) => ({ number })), defaultGeneration });
  await execa(BINARY, ["install-recovery", join(distro.root, "bin/nixos-wsl-recovery")]);
  return distro;
}

/** An error the user can act on: no JavaScript stack trace, no "unexpected error". */
function expectCleanFailure(run: SystemDistroRun): void {
  expect(run.exitCode).toBe(1);
  expect(run.stderr).not.toContain("unexpected error");
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.mountsUnchanged).toBe(true);
}

describe("generation names as Nix writes them (system-N-link, no leading zeros)", () => {
  let distro: FakeRoot;
  const profile = () => join(distro.root, PROFILES, "system");
  beforeAll(async () => {
    distro = await makeDistro([1, 2]);
    // A name Nix never writes, leading to a real generation.
    symlinkSync(distro.storePath(1), join(distro.root, PROFILES, "system-007-link"));
  });
  afterAll(() => distro.remove());

  it("--list shows every generation once and no system-007-link", async () => {
    const table = await runFromSystemDistro(distro.root, ["--list"]);
    expect(table.exitCode).toBe(0);
    const rows = table.stdout.trim().split("\n").slice(2);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual(["2", "1"]);
    expect(table.stdout).not.toContain("BROKEN");
    const json = await runFromSystemDistro(distro.root, ["--list", "--json"]);
    expect((JSON.parse(json.stdout) as Array<{ number: number }>).map((g) => g.number)).toEqual([2, 1]);
  });

  it("--rollback refuses system-007-link and leaves the default alone", async () => {
    const run = await runFromSystemDistro(distro.root, ["--rollback", "--system", "/nix/var/nix/profiles/system-007-link"]);
    expectCleanFailure(run);
    expect(run.stderr).toContain("not a generation name as Nix writes it: system-N-link");
    expect(run.stdout).not.toContain("default system:");
    expect(readlinkSync(profile())).toBe("system-2-link");
    expect(existsSync(join(distro.root, PROFILES, "system-7-link"))).toBe(false);
  });

  it("enters system-007-link as a plain path, never as generation 7", async () => {
    const run = await runFromSystemDistro(distro.root, ["--system", "/nix/var/nix/profiles/system-007-link", "-c", "cat /run/activation-proof"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("generation=1"); // the store path it leads to
    expect(run.stderr).toContain(`entering /nix/var/nix/profiles/system-007-link (${distro.storePath(1)})`);
    expect(run.stderr).not.toContain("generation 7");
    expect(run.mountsUnchanged).toBe(true);
  });
});

describe("a system profile that is a directory, not a link", () => {
  let distro: FakeRoot;
  const profile = () => join(distro.root, PROFILES, "system");
  beforeAll(async () => {
    distro = await makeDistro([1, 2]);
    rmSync(profile());
    mkdirSync(profile());
  });
  afterAll(() => distro.remove());

  it("--list lists the generations, none as the default, and says why", async () => {
    const run = await runFromSystemDistro(distro.root, ["--list"]);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe("");
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toBe("System generations in /mnt/wslg/distro:");
    expect(lines[2]).toMatch(/^2 +\S+ \S+ +24\.05\.2 \(Uakari\)$/);
    expect(lines[3]).toMatch(/^1 +\S+ \S+ +24\.05\.1 \(Uakari\)$/);
    expect(run.stdout).toContain("/nix/var/nix/profiles/system is a directory, not a link to a generation");
    const json = await runFromSystemDistro(distro.root, ["--list", "--json"]);
    expect((JSON.parse(json.stdout) as Array<{ default: boolean }>).map((g) => g.default)).toEqual([false, false]);
  });

  it("--rollback refuses to replace the directory and says what to do", async () => {
    const run = await runFromSystemDistro(distro.root, ["--rollback", "--generation", "1"]);
    expectCleanFailure(run);
    expect(run.stderr).toContain("/nix/var/nix/profiles/system is a directory");
    expect(run.stderr).toContain("nixos-wsl-recovery --generation 1 -- mv /nix/var/nix/profiles/system");
    expect(lstatSync(profile()).isDirectory()).toBe(true);
  });

  it("entering the default refuses clearly, and --generation N still enters", async () => {
    const run = await runFromSystemDistro(distro.root, ["-c", "touch /should-not-exist"]);
    expectCleanFailure(run);
    expect(run.stderr).toContain("/nix/var/nix/profiles/system is a directory, not a link to a generation");
    expect(run.stderr).toContain("--generation N");
    expect(existsSync(join(distro.root, "should-not-exist"))).toBe(false);

    const byNumber = await runFromSystemDistro(distro.root, ["--generation", "1", "--silent", "-c", "cat /run/activation-proof"]);
    expect(byNumber.exitCode).toBe(0);
    expect(byNumber.stdout).toContain("generation=1");
  });
});

describe("a default generation whose store path is gone", () => {
  let distro: FakeRoot;
  beforeAll(async () => {
    distro = await makeDistro([1, 2, 3]);
    rmSync(join(distro.root, distro.storePath(3)), { recursive: true });
  });
  afterAll(() => distro.remove());

  it("names the missing store path and the link chain, and what to do", async () => {
    const run = await runFromSystemDistro(distro.root, ["-c", "true"]);
    expectCleanFailure(run);
    expect(run.stderr).toContain(`the store path ${distro.storePath(3)} does not exist inside /mnt/wslg/distro`);
    expect(run.stderr).toContain(`/nix/var/nix/profiles/system -> system-3-link -> ${distro.storePath(3)}`);
    expect(run.stderr).toContain("--generation N");
    expect(run.stderr).not.toMatch(/\/nix\/var\/nix\/profiles\/system does not exist/);
  });

  it("--list shows generation 3 as broken, for the same reason", async () => {
    const run = await runFromSystemDistro(distro.root, ["--list"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^3 +- +BROKEN: the store path ${distro.storePath(3)} does not exist`, "m"));
  });
});

describe("a profiles directory that cannot be read", () => {
  it("reports ENOTDIR with the path instead of 'no generations'", async () => {
    const distro = await makeDistro([1]);
    try {
      const profiles = join(distro.root, PROFILES);
      rmSync(profiles, { recursive: true });
      writeFileSync(profiles, "not a directory\n");
      const list = await runFromSystemDistro(distro.root, ["--list"]);
      expectCleanFailure(list);
      expect(list.stderr).toContain("ENOTDIR");
      expect(list.stderr).toContain("/nix/var/nix/profiles");
      expect(list.stdout).not.toContain("No system generations");

      const enter = await runFromSystemDistro(distro.root, ["-c", "true"]);
      expectCleanFailure(enter);
      expect(enter.stderr).toContain("ENOTDIR");
    } finally {
      distro.remove();
    }
  });
});

describe("install-recovery --stamp checks the entry itself", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function setup(): { entry: string; stamp: string } {
    const dir = mkdtempSync(join(tmpdir(), "install-recovery-"));
    dirs.push(dir);
    mkdirSync(join(dir, "bin"));
    return { entry: join(dir, "bin/nixos-wsl-recovery"), stamp: join(dir, "var/lib/nixos-wsl-init/recovery-entry") };
  }
  const install = (entry: string, stamp: string) => execa(BINARY, ["install-recovery", entry, "--stamp", stamp]);

  it("writes a truncated entry again, and the result runs", async () => {
    const { entry, stamp } = setup();
    await install(entry, stamp);
    const size = statSync(entry).size;
    const half = Math.floor(size / 2);
    truncateSync(entry, half);
    const again = await install(entry, stamp);
    expect(again.stdout).toMatch(/^installed /);
    expect(again.stdout).toContain(`${half} bytes instead of ${size}`);
    expect(statSync(entry).size).toBe(size);
    expect((await execa(entry, ["--help"])).exitCode).toBe(0);
    expect((await install(entry, stamp)).stdout).toBe(`${entry} is up to date`);
  });

  it("writes an entry with one corrupted byte (same size) again, and the result runs", async () => {
    const { entry, stamp } = setup();
    await install(entry, stamp);
    const size = statSync(entry).size;
    const fd = openSync(entry, "r+");
    try {
      const byte = Buffer.alloc(1);
      const middle = Math.floor(size / 2);
      readSync(fd, byte, 0, 1, middle);
      byte[0] = byte[0]! ^ 0xff;
      writeSync(fd, byte, 0, 1, middle);
    } finally {
      closeSync(fd);
    }
    const again = await install(entry, stamp);
    expect(again.stdout).toMatch(/^installed /);
    expect(again.stdout).toContain("its content does not match");
    expect((await execa(entry, ["--help"])).exitCode).toBe(0);
    expect((await install(entry, stamp)).stdout).toBe(`${entry} is up to date`);
  });

  it("takes a stamp in the old format as not up to date", async () => {
    const { entry, stamp } = setup();
    await install(entry, stamp);
    // What versions before the entry check wrote: only the source and the destination.
    writeFileSync(stamp, `${realpathSync(BINARY)} -> ${entry}\n`);
    const again = await install(entry, stamp);
    expect(again.stdout).toMatch(/^installed /);
    expect((await install(entry, stamp)).stdout).toBe(`${entry} is up to date`);
  });
});

// envfs binds a FUSE filesystem over /bin once systemd is up: at `nixos-rebuild
// switch` the activation's install-recovery finds /bin a read-only mount of its
// own, while the system distribution reads the directory beneath it on disk.
describe("install-recovery when a mount covers the entry's directory (envfs on /bin)", () => {
  it("writes the entry beneath the mount, on the disk, keeps its stamp there, and leaves no mount or directory behind", async () => {
    const dir = mkdtempSync(join(tmpdir(), "install-recovery-covered-"));
    try {
      // A read-only tmpfs stands in for envfs's mount, in a mount namespace of the test's own.
      const script = [
        "set -u",
        'mount -t tmpfs -o ro,size=1m envfs-stand-in "$1/bin"',
        'before=$(cat /proc/self/mountinfo)',
        'for run in first second; do "$2" install-recovery "$1/bin/nixos-wsl-recovery" --stamp "$1/stamp"; echo "rc=$?"; done',
        '[ "$before" = "$(cat /proc/self/mountinfo)" ] && echo mounts-unchanged',
        'ls -A "$1/bin" | sed "s/^/seen-on-the-mount: /"',
        'umount "$1/bin"',
      ].join("\n");
      mkdirSync(join(dir, "bin"));
      const leftoversBefore = readdirSync(tmpdir()).filter((name) => name.startsWith("nixos-wsl-init-beneath-"));
      const run = await execa("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", dir, BINARY], { reject: false, all: true });
      const entry = join(dir, "bin/nixos-wsl-recovery");
      expect(run.all).toContain(`installed ${entry} (beneath the filesystem mounted there, on the distro's disk)`);
      expect(run.all).toContain(`${entry} (beneath the filesystem mounted there, on the distro's disk) is up to date`);
      expect(run.all!.match(/^rc=0$/gm)).toHaveLength(2);
      expect(run.all).toContain("mounts-unchanged");
      expect(run.all).not.toContain("seen-on-the-mount:");
      // Beneath: the entry the system distribution runs, and it runs.
      expect(statSync(entry).mode & 0o777).toBe(0o755);
      expect((await execa(entry, ["--help"])).exitCode).toBe(0);
      expect(readdirSync(tmpdir()).filter((name) => name.startsWith("nixos-wsl-init-beneath-"))).toEqual(leftoversBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
