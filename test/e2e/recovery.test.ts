// nixos-wsl-recovery, run as WSL's system distribution runs it: from
// /mnt/wslg/distro/bin, on a NixOS root mounted read-only there.
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import { Container } from "../harness/container.ts";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { runFromSystemDistro } from "../harness/systemDistro.ts";

const BINARY = requireBinary();

/** A distro with generations 1, 2 and 42 (the default), and the recovery entry the NixOS module would install. */
async function makeDistro(): Promise<FakeRoot> {
  const distro = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }, { number: 42 }] });
  await execa(BINARY, ["install-recovery", join(distro.root, "bin/nixos-wsl-recovery")]);
  return distro;
}

function proof(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.trim().split("\n").filter((l) => l.includes("=")).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
}

const SHOW = "cat /run/activation-proof; echo current=$(readlink /run/current-system)";

describe("nixos-wsl-recovery entering a generation", () => {
  let distro: FakeRoot;
  beforeAll(async () => {
    distro = await makeDistro();
  });
  afterAll(() => distro.remove());

  it("enters the default generation after running its activation, and leaves no mount behind", async () => {
    const run = await runFromSystemDistro(distro.root, ["-c", `${SHOW}; touch /entered-by-recovery; exit 7`]);
    expect(run.exitCode).toBe(7);
    const seen = proof(run.stdout);
    expect(seen).toMatchObject({ generation: "42", in_nixos_enter: "1", current: distro.storePath(42) });
    expect(seen.locale_archive).toBe(`${distro.storePath(42)}/sw/lib/locale/locale-archive`);
    // The read-only mount was made writable inside: the file landed in the distro.
    expect(existsSync(join(distro.root, "entered-by-recovery"))).toBe(true);
    expect(run.stderr).toContain("made the read-only mount /mnt/wslg/distro writable");
    expect(run.stderr).toContain("fake-activation: generation 42 activating");
    expect(run.mountsUnchanged).toBe(true);
  });

  it("gives the chroot /dev, /sys, a /proc of its own PID namespace, a fresh /run and the system distro's resolv.conf", async () => {
    const script = [
      "test -c /dev/null && echo dev-ok",
      "test -d /sys/kernel && echo sys-ok",
      "echo pid1=$(cat /proc/1/comm)",
      "echo self=$(readlink /proc/self)",
      "cat /etc/resolv.conf",
    ].join("; ");
    const run = await runFromSystemDistro(distro.root, ["--silent", "-c", script]);
    expect(run.exitCode).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines.slice(0, 2)).toEqual(["dev-ok", "sys-ok"]);
    expect(lines[2]).toBe("pid1=nixos-wsl-init"); // the recovery's inner process, PID 1 of the new namespace
    expect(Number(lines[3]!.replace("self=", ""))).toBeLessThan(20);
    expect(run.stdout).toContain(readFileSync("/etc/resolv.conf", "utf8").trim());
    expect(run.mountsUnchanged).toBe(true);
  });

  it("enters the generation --system names, following its links inside the distro", async () => {
    const run = await runFromSystemDistro(distro.root, ["--system", "/nix/var/nix/profiles/system-2-link", "--command", SHOW]);
    expect(run.exitCode).toBe(0);
    expect(proof(run.stdout)).toMatchObject({ generation: "2", current: distro.storePath(2) });
    expect(run.mountsUnchanged).toBe(true);
  });

  it("takes --generation N, --previous, and a command after --, with its exit code", async () => {
    const byNumber = await runFromSystemDistro(distro.root, ["--generation", "1", "--silent", "--", "cat", "/run/activation-proof"]);
    expect(byNumber.exitCode).toBe(0);
    expect(proof(byNumber.stdout).generation).toBe("1");
    expect(byNumber.stderr).toBe(""); // --silent: no banner, no activation output

    const previous = await runFromSystemDistro(distro.root, ["--previous", "--", "bash", "-c", "cat /run/activation-proof; exit 3"]);
    expect(previous.exitCode).toBe(3);
    expect(proof(previous.stdout).generation).toBe("2");

    const missingCommand = await runFromSystemDistro(distro.root, ["--", "no-such-command"]);
    expect(missingCommand.exitCode).toBe(127);
    expect(missingCommand.stderr).toContain("cannot run no-such-command inside generation 42");
  });

  it("goes on when the activation fails, and says so", async () => {
    const broken = makeFakeRoot({ generations: [{ number: 5, activate: "exit 4" }] });
    try {
      await execa(BINARY, ["install-recovery", join(broken.root, "bin/nixos-wsl-recovery")]);
      const run = await runFromSystemDistro(broken.root, ["-c", "echo still-here"]);
      expect(run.exitCode).toBe(0);
      expect(run.stdout.trim()).toBe("still-here");
      expect(run.stderr).toContain("the activation script of generation 5 failed (status 4)");
    } finally {
      broken.remove();
    }
  });
});

describe("nixos-wsl-recovery refusing bad input", () => {
  let distro: FakeRoot;
  beforeAll(async () => {
    distro = await makeDistro();
    const profiles = join(distro.root, "nix/var/nix/profiles");
    // A relative link that climbs out of the root, and an absolute one that names a generation on the host only.
    symlinkSync("../../../../../../../../etc", join(profiles, "system-66-link"));
    const hostGeneration = join(distro.dir, "host-generation");
    mkdirSync(hostGeneration);
    writeFileSync(join(hostGeneration, "activate"), "#!/bin/sh\n", { mode: 0o755 });
    symlinkSync(hostGeneration, join(profiles, "system-77-link"));
  });
  afterAll(() => distro.remove());

  it.each([
    [["--system", "/nix/var/nix/profiles/system-66-link"], "which leaves the root /mnt/wslg/distro"],
    [["--system", "/nix/var/nix/profiles/system-77-link"], "does not exist inside /mnt/wslg/distro"],
    [["--generation", "9"], "/nix/var/nix/profiles/system-9-link cannot be used"],
    [["--system", "/etc"], "/etc is not a NixOS system: its activate is missing"],
    [["--system", "nix/var/nix/profiles/system-2-link"], "must be an absolute path inside the root"],
  ])("refuses %j with the generations that are there", async (args, message) => {
    const before = readlinkSync(join(distro.root, "nix/var/nix/profiles/system"));
    const run = await runFromSystemDistro(distro.root, [...args, "-c", "touch /should-not-exist"]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toMatch(/System generations in \/mnt\/wslg\/distro:\n[^]*\n42 +\S+ \S+ +24\.05\.42 \(Uakari\) +default/);
    expect(existsSync(join(distro.root, "should-not-exist"))).toBe(false);
    expect(readlinkSync(join(distro.root, "nix/var/nix/profiles/system"))).toBe(before);
    expect(run.mountsUnchanged).toBe(true);
  });

  it("refuses to run inside NixOS, and names the command to use instead", async () => {
    const run = await runFromSystemDistro(distro.root, ["--list"], { insideNixos: true });
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("this is a NixOS system itself");
    expect(run.stderr).toContain("wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery");
  });

  it("refuses a caller that is not root", async () => {
    const run = await runFromSystemDistro(distro.root, ["--list"], { user: 65534 });
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("recovery needs root");
  });

  it("refuses a root that is not NixOS, with exit 126", async () => {
    const run = await runFromSystemDistro(distro.root, ["--root", "/usr", "--list"]);
    expect(run.exitCode).toBe(126);
    expect(run.stderr).toContain("/usr is not a NixOS installation (it has no etc/NIXOS)");
  });

  it("explains bad usage with exit 2", async () => {
    const unknown = await runFromSystemDistro(distro.root, ["--frobnicate"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate' (a command and its own options go after '--')");
    expect(unknown.stderr).toContain("nixos-wsl-recovery --help");
    const both = await runFromSystemDistro(distro.root, ["--generation", "1", "--previous"]);
    expect(both.exitCode).toBe(2);
    const help = await runFromSystemDistro(distro.root, ["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("nixos-wsl-recovery --rollback (--generation N | --previous | --system PATH)");
  });
});

describe("nixos-wsl-recovery --list and --rollback", () => {
  it("lists generations as a table and as JSON", async () => {
    const distro = await makeDistro();
    try {
      const table = await runFromSystemDistro(distro.root, ["--list"]);
      expect(table.exitCode).toBe(0);
      const lines = table.stdout.trim().split("\n");
      expect(lines[0]).toBe("System generations in /mnt/wslg/distro:");
      expect(lines.slice(2)).toEqual([
        expect.stringMatching(/^42 +2026-02-11 00:00 +24\.05\.42 \(Uakari\) +default$/),
        expect.stringMatching(/^2 +2026-01-02 00:00 +24\.05\.2 \(Uakari\)$/),
        expect.stringMatching(/^1 +2026-01-01 00:00 +24\.05\.1 \(Uakari\)$/),
      ]);
      const json = await runFromSystemDistro(distro.root, ["--list", "--json"]);
      expect(JSON.parse(json.stdout)).toEqual([42, 2, 1].map((n) => ({
        number: n,
        link: `/nix/var/nix/profiles/system-${n}-link`,
        storePath: distro.storePath(n),
        created: new Date(Date.UTC(2026, 0, n)).toISOString(),
        nixosVersion: `24.05.${n} (Uakari)`,
        default: n === 42,
        blessed: false,
        unblessedTries: 0,
        bootOnce: false,
      })));
      expect(table.mountsUnchanged && json.mountsUnchanged).toBe(true);
    } finally {
      distro.remove();
    }
  });

  it("rolls back to generation N, which the native shim then boots", async () => {
    const distro = await makeDistro();
    let container: Container | undefined;
    try {
      const run = await runFromSystemDistro(distro.root, ["--rollback", "--generation", "1"]);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain(`default system: system-42-link -> system-1-link (${distro.storePath(1)})`);
      expect(run.mountsUnchanged).toBe(true);
      const profile = join(distro.root, "nix/var/nix/profiles/system");
      expect(lstatSync(profile).isSymbolicLink()).toBe(true);
      expect(readlinkSync(profile)).toBe("system-1-link");
      expect(lstatSync(join(distro.root, "nix/var/nix/profiles/system-42-link")).isSymbolicLink()).toBe(true); // nothing deleted

      const again = await runFromSystemDistro(distro.root, ["--rollback", "--generation", "1"]);
      expect(again.stdout).toContain("generation 1 is already the default");

      container = await Container.boot(distro.dir);
      expect(["running", "degraded"]).toContain(await container.systemState());
      const record = JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord;
      expect(record.generation).toMatchObject({ number: 1, storePath: distro.storePath(1) });
    } finally {
      await container?.stop();
      distro.remove();
    }
  });

  it("refuses to make an unbootable generation the default", async () => {
    const distro = makeFakeRoot({ generations: [{ number: 1, systemd: false }, { number: 2 }] });
    try {
      await execa(BINARY, ["install-recovery", join(distro.root, "bin/nixos-wsl-recovery")]);
      const run = await runFromSystemDistro(distro.root, ["--rollback", "--previous"]);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("generation 1 cannot boot, so it is not made the default");
      expect(readlinkSync(join(distro.root, "nix/var/nix/profiles/system"))).toBe("system-2-link");
    } finally {
      distro.remove();
    }
  });
});
