// The writers of the boot state (issue 20, items 1 and 3): `bless` and
// `boot-once` inside the running system, and recovery's --boot-once from the
// system distribution (another PID and mount namespace), started at the same
// moment, each keep their change; a one-time boot that cannot be used up
// because /var is read-only does not boot at every start.
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import type { BootState } from "../../src/bootAssessment.ts";
import { bootState, installBlessUnit, recordIn } from "../harness/assessment.ts";
import { runCleanups } from "../harness/cleanups.ts";
import { Container } from "../harness/container.ts";
import { bootLegacyDistro, runInit, runLoginShell, startLoginShell } from "../harness/legacy.ts";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { waitFor, waitForAsync } from "../harness/proc.ts";
import { runFromSystemDistro } from "../harness/systemDistro.ts";

const BINARY = requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

const STATE = "var/lib/nixos-wsl-init/boot-state.json";

function distro(): FakeRoot {
  const fake = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
  cleanups.push(() => fake.remove());
  installBlessUnit(fake);
  return fake;
}

async function start(fake: FakeRoot, nspawnArgs: readonly string[] = []): Promise<Container> {
  const container = await Container.boot(fake.dir, { nspawnArgs });
  cleanups.push(() => container.stop());
  return container;
}

/** The state file replaced from outside, as a writer would (a new file renamed over it). */
function writeState(fake: FakeRoot, state: BootState): void {
  const path = join(fake.root, STATE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.test`, `${JSON.stringify(state)}\n`);
  renameSync(`${path}.test`, path);
}

/** The requests queued on a flock of this inode that wait (the lines with "->" in /proc/locks). */
function waitersOn(inode: number): number {
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .filter((line) => line.includes("->") && line.includes(`:${inode} `)).length;
}

/** A legacy distro (generations 1 and 2, no PAM) whose boot state asks for generation 1 once. */
async function legacyWithOneTimeBoot(nspawnArgs?: (root: string) => string[]) {
  const distro = await bootLegacyDistro({ generations: [{ number: 1 }, { number: 2 }], pam: false, ...(nspawnArgs ? { nspawnArgs } : {}) });
  cleanups.push(async () => {
    await distro.container.stop();
    distro.fake.remove();
  });
  const { fake } = distro;
  const once = { link: "/nix/var/nix/profiles/system-1-link", storePath: fake.storePath(1) };
  writeState(fake, { format: 1, generations: {}, bootOnce: once });
  return { distro, fake, once };
}

/** A writer that took the boot state's lock and hangs (held by the open file that sleep inherits); killed, the kernel lets go of it. */
async function holdBootStateLock(fake: FakeRoot) {
  const lock = join(fake.root, "var/lib/nixos-wsl-init/boot-state.lock");
  mkdirSync(dirname(lock), { recursive: true });
  writeFileSync(lock, "", { flag: "a" });
  const holder = execa("bash", ["-c", 'exec 9>>"$1" && flock -x 9 && exec sleep 600', "bash", lock], { reject: false });
  cleanups.push(async () => {
    holder.kill("SIGKILL");
    await holder;
  });
  const inode = statSync(lock).ino;
  await waitFor("the other writer's lock", 5_000, () => readFileSync("/proc/locks", "utf8").includes(`:${inode} `));
  return { holder }; // wrapped: the child is a promise itself, which an async function would wait for
}

/** Whether the process has this file open (its path as the process sees it). */
function holdsOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false;
  }
}

async function waitForRecord(container: Container): Promise<BootRecord> {
  return waitForAsync("the boot record", 20_000, async () => JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord);
}

describe("the boot state's writers", () => {
  it("keeps both changes of bless and boot-once started at one moment, 12 times, inside and from the system distribution", async () => {
    const fake = distro();
    await execa(BINARY, ["install-recovery", join(fake.root, "bin/nixos-wsl-recovery.real")]);
    // The recovery entry waits for the same start signal as the commands inside, then runs as itself.
    writeFileSync(
      join(fake.root, "bin/nixos-wsl-recovery"),
      '#!/usr/bin/bash\nflock -s /mnt/wslg/distro/go-signal true || exit 99\nexec -a /mnt/wslg/distro/bin/nixos-wsl-recovery /mnt/wslg/distro/bin/nixos-wsl-recovery.real "$@"\n',
    );
    chmodSync(join(fake.root, "bin/nixos-wsl-recovery"), 0o755);
    const go = join(fake.root, "go-signal");
    writeFileSync(go, "");
    const inode = statSync(go).ino;

    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    await waitFor("the blessing at boot", 10_000, () => recordIn(fake, 2)?.blessed === true);

    const lost: string[] = [];
    for (let round = 1; round <= 12; round++) {
      // The running generation not yet good, no one-time boot: each pair makes both changes.
      writeState(fake, { format: 1, generations: { [fake.storePath(2)]: { tries: 1, blessed: false } }, bootOnce: null });
      // The start signal: every writer waits for a shared lock that this exclusive one holds.
      const gate = execa("flock", ["-x", go, "cat"], { stdin: "pipe", reject: false });
      await waitFor("the start signal's lock", 5_000, () => readFileSync("/proc/locks", "utf8").includes(`:${inode} `));
      const bless = container.exec(["/usr/bin/sh", "-c", "flock -s /go-signal true || exit 99; exec /bin/nixos-wsl-init bless"]);
      const fromSystemDistro = round % 2 === 0;
      const once = fromSystemDistro
        ? runFromSystemDistro(fake.root, ["--boot-once", "--generation", "1"])
        : container.exec(["/usr/bin/sh", "-c", "flock -s /go-signal true || exit 99; exec /bin/nixos-wsl-init boot-once 1"]);
      await waitFor("both writers to wait for the start signal", 20_000, () => waitersOn(inode) === 2);
      gate.stdin?.end();
      await gate;
      const [blessed, onced] = await Promise.all([bless, once]);
      expect(blessed.exitCode, `round ${round}: bless: ${blessed.stderr}`).toBe(0);
      expect(onced.exitCode, `round ${round}: boot-once: ${onced.stderr}`).toBe(0);
      expect(blessed.stdout).toContain(`marked ${fake.storePath(2)} as good`);
      expect(onced.stdout).toContain("the next start boots generation 1");
      const state = bootState(fake);
      if (state?.generations[fake.storePath(2)]?.blessed !== true) lost.push(`round ${round}: the blessing`);
      if (state?.bootOnce?.storePath !== fake.storePath(1)) lost.push(`round ${round}: the one-time boot${fromSystemDistro ? " (from the system distribution)" : ""}`);
    }
    expect(lost, "changes reported as made but lost").toEqual([]);
  });

  it("a one-time boot that cannot be used up (/var read-only) is not used, says why, and does not boot at every start", async () => {
    const fake = distro();
    const once = { link: "/nix/var/nix/profiles/system-1-link", storePath: fake.storePath(1) };
    writeState(fake, { format: 1, generations: { [fake.storePath(2)]: { tries: 0, blessed: true } }, bootOnce: once });
    // /var read-only inside the container only: a read-only bind in nspawn's own mount namespace.
    const readOnlyVar = [`--bind-ro=${join(fake.root, "var")}:/var`];

    for (let start_ = 1; start_ <= 2; start_++) {
      const container = await start(fake, readOnlyVar);
      const record = await waitForRecord(container);
      expect(record, `start ${start_}: kernel log:\n${container.kmsg()}`).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
      expect(container.kmsg()).toMatch(/^<4>nixos-wsl-init: the one-time boot of \/nix\/var\/nix\/profiles\/system-1-link is not used: .*cannot be written .*would boot at every start/m);
      expect(["running", "degraded"]).toContain(await container.systemState());
      const status = await container.exec(["/bin/nixos-wsl-init", "status"]);
      expect(status.stdout).toMatch(/^Warning: +the one-time boot of \/nix\/var\/nix\/profiles\/system-1-link is not used/m);
      await container.stop();
    }
    // Still asked for: the first start that can record its use boots it, once.
    expect(bootState(fake)?.bootOnce).toEqual(once);
    let container = await start(fake);
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 1 }, chosenBy: "once" });
    await container.stop();
    container = await start(fake);
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
  });

  it("the same in legacy mode: the one-time boot is not used while /var is read-only, at each start of systemd", async () => {
    const { distro, fake, once } = await legacyWithOneTimeBoot((root) => [`--bind-ro=${join(root, "var")}:/var`]);
    for (let start_ = 1; start_ <= 2; start_++) {
      const shell = await runLoginShell(distro.container, { args: ["-c", "readlink /run/current-system"] });
      expect(shell.exitCode, shell.stderr).toBe(0);
      expect(shell.stdout.trim()).toBe(fake.storePath(2));
      expect(shell.stderr).toMatch(/the one-time boot of \/nix\/var\/nix\/profiles\/system-1-link is not used: .*cannot be written .*would boot at every start/);
      const stopped = await runInit(distro.container, ["legacy", "--shutdown"]);
      expect(stopped.exitCode, stopped.stderr).toBe(0);
    }
    expect(bootState(fake)?.bootOnce).toEqual(once);
  });

  it("legacy mode: a start given up (SIGTERM) after the one-time boot was chosen puts the request back, and the next start boots it", async () => {
    const { distro, fake, once } = await legacyWithOneTimeBoot();
    // Another writer holds the lock, so the shell is caught choosing: the signal comes while it waits.
    const { holder } = await holdBootStateLock(fake);
    const shell = await startLoginShell(distro.container, { args: ["-c", "readlink /run/current-system"] });
    const pid = await shell.shellPid();
    // It polls for the lock (flock with LOCK_NB), so it waits once it holds the lock file open.
    await waitFor("the shell to wait for the lock", 10_000, () => holdsOpen(pid, "/var/lib/nixos-wsl-init/boot-state.lock"));
    process.kill(pid, "SIGTERM");
    holder.kill("SIGKILL"); // the shell gets the lock, chooses, and only then sees the signal
    const given = await shell.result;
    expect(given.exitCode, given.stderr).toBe(143);
    expect(given.stderr).not.toContain("is not used"); // it had the lock: the one-time boot was chosen and used up first
    expect(bootState(fake)?.bootOnce).toEqual(once);

    const next = await runLoginShell(distro.container, { args: ["-c", "readlink /run/current-system"] });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout.trim()).toBe(fake.storePath(1));
    expect(bootState(fake)?.bootOnce).toBeNull();
  });

  it("a writer stuck with the lock: a command fails after 10 s changing nothing, a start boots without counting; killed, it holds nothing", async () => {
    const fake = distro();
    // Not yet good: this start has a count to write (and the blessing unit a blessing).
    const before: BootState = { format: 1, generations: { [fake.storePath(2)]: { tries: 1, blessed: false } }, bootOnce: null };
    writeState(fake, before);
    const { holder } = await holdBootStateLock(fake);

    const container = await start(fake);
    const record = await waitForRecord(container);
    expect(record).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
    expect(record.shimMs).toBeGreaterThan(1_900); // waited its 2 s for the lock, no more
    expect(record.shimMs).toBeLessThan(5_000);
    expect(container.kmsg()).toMatch(/^<4>nixos-wsl-init: could not count this start \(another process has held the lock \/var\/lib\/nixos-wsl-init\/boot-state.lock for more than 2 s .*\); booting without boot counting$/m);
    expect(["running", "degraded"]).toContain(await container.systemState());

    const at = Date.now();
    const refused = await container.exec(["/bin/nixos-wsl-init", "boot-once", "1"]);
    expect(refused.exitCode).toBe(1);
    expect(Date.now() - at).toBeGreaterThan(9_500);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^nixos-wsl-init: changing \/var\/lib\/nixos-wsl-init\/boot-state.json: another process has held the lock .* for more than 10 s .*Nothing was changed/);
    expect(bootState(fake)).toEqual(before);

    holder.kill("SIGKILL"); // the kernel lets go of its lock
    await holder;
    const done = await container.exec(["/bin/nixos-wsl-init", "boot-once", "1"]);
    expect(done.exitCode, done.stderr).toBe(0);
    expect(bootState(fake)?.bootOnce?.storePath).toBe(fake.storePath(1));
  });
});
