// A generation that does not boot is rolled back by itself: starts counted by
// the shim, blessed by a unit once the boot is done, a fallback after too many
// unblessed starts, and one-time boots. Each case starts the same root again
// and again, as `wsl --terminate` followed by a new start does.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import { BOOT_STATE } from "../../src/bootState.ts";
import { bootState, COMPLETES, defaultLink, installBlessUnit, makeDefault, NEVER_COMPLETES, recordIn } from "../harness/assessment.ts";
import { Container } from "../harness/container.ts";
import { type FakeRoot, type FakeRootOptions, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { sleep, waitFor, waitForAsync } from "../harness/proc.ts";
import { runFromSystemDistro } from "../harness/systemDistro.ts";
import { runCleanups } from "../harness/cleanups.ts";

const BINARY = requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

function distro(options: FakeRootOptions, settings?: object): FakeRoot {
  const fake = makeFakeRoot(options);
  cleanups.push(() => fake.remove());
  installBlessUnit(fake);
  if (settings) writeFileSync(join(fake.root, "etc/nixos-wsl-init.json"), JSON.stringify(settings));
  return fake;
}

/** One start of the distro; stopped by the next call or at the end of the test. */
async function start(fake: FakeRoot): Promise<Container> {
  const container = await Container.boot(fake.dir);
  cleanups.push(() => container.stop());
  return container;
}

/** A good start: running, and the generation marked good within seconds. */
async function goodStart(fake: FakeRoot, number: number): Promise<Container> {
  const container = await start(fake);
  expect(["running", "degraded"]).toContain(await container.systemState());
  await waitFor(`generation ${number} to be marked good`, 10_000, () => recordIn(fake, number)?.blessed === true);
  await container.stop();
  return container;
}

describe("boot assessment: counting, blessing, falling back", () => {
  it("falls back to the blessed generation after two starts of one whose boot never completes", async () => {
    const fake = distro({ generations: [{ number: 1, activate: COMPLETES }, { number: 2, activate: NEVER_COMPLETES }], defaultGeneration: 1 });
    await goodStart(fake, 1);
    makeDefault(fake, 2); // nixos-rebuild switch to a generation that hangs at boot

    for (const tries of [1, 2]) {
      const container = await start(fake);
      await container.leader();
      const record = await waitForRecord(container);
      expect(record).toMatchObject({ generation: { number: 2 }, chosenBy: "default", fallbackReason: null });
      await waitForAsync("the unit that never finishes", 20_000, async () => (await container.exec(["systemctl", "is-active", "never-done.service"])).stdout === "activating");
      expect(recordIn(fake, 2)).toEqual({ tries, blessed: false });
      await container.stop();
    }

    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    const record = await waitForRecord(container);
    expect(record).toMatchObject({ generation: { number: 1, storePath: fake.storePath(1) }, chosenBy: "fallback" });
    expect(record.fallbackReason).toContain("generation 2 was started 2 times without being marked good");
    expect(container.kmsg()).toMatch(/^<3>nixos-wsl-init: FALLING BACK to \/nix\/var\/nix\/profiles\/system-1-link .*--rollback --generation 1$/m);
    const status = await container.exec(["/bin/nixos-wsl-init", "status"]);
    expect(status.stdout).toMatch(/^Fallback: +YES, the default generation could not boot: generation 2 was started 2 times/m);
    expect(status.stdout).toMatch(/^Keep it: +wsl -d NixOS .* --rollback --generation 1$/m);
    expect(status.stdout).toMatch(/^Assessment: +good \(blessed\)/m);
    expect(defaultLink(fake)).toBe("system-2-link"); // the shim never changes the default
  });

  it("falls back the same way from a generation whose systemd exits at once", async () => {
    const fake = distro({ generations: [{ number: 1 }, { number: 2, systemdScript: "echo 'simulated: systemd gives up' >&2; exit 1" }], defaultGeneration: 1 });
    await goodStart(fake, 1);
    makeDefault(fake, 2);
    for (const tries of [1, 2]) {
      const container = await start(fake);
      const { exitCode } = await container.exited();
      expect(exitCode).not.toBe(0);
      expect(recordIn(fake, 2)).toEqual({ tries, blessed: false });
    }
    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 1 }, chosenBy: "fallback" });
    expect(defaultLink(fake)).toBe("system-2-link");
  });

  it("blesses a good generation within seconds of running, and never falls back from it", async () => {
    const fake = distro({ generations: [{ number: 1 }, { number: 2 }] });
    for (let i = 0; i < 3; i++) {
      const container = await start(fake);
      expect(["running", "degraded"]).toContain(await container.systemState());
      const started = Date.now();
      await waitFor("the blessing", 10_000, () => recordIn(fake, 2)?.blessed === true);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await waitForRecord(container)).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
      await container.stop();
    }
    expect(recordIn(fake, 2)).toEqual({ tries: 0, blessed: true });
  });

  it("refuses to bless when the boot record is damaged, and changes nothing", async () => {
    const fake = distro({ generations: [{ number: 1 }, { number: 2 }] });
    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    // The module's unit has blessed it by then: nothing else writes the state meanwhile.
    await waitFor("the blessing", 10_000, () => recordIn(fake, 2)?.blessed === true);
    const before = readFileSync(join(fake.root, BOOT_STATE), "utf8");
    for (const damage of ["{", '{"format": 1}']) {
      await container.exec(["sh", "-c", 'printf %s "$1" > /run/nixos-wsl/boot.json', "sh", damage]);
      const run = await container.exec(["/bin/nixos-wsl-init", "bless"]);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("nixos-wsl-init: marking the running generation good: /run/nixos-wsl/boot.json is damaged (");
      expect(run.stderr).toContain("which generation booted is not known; it is written anew at the next start");
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
    expect(readFileSync(join(fake.root, BOOT_STATE), "utf8")).toBe(before);
  });

  it("never falls back with bootAttempts = 0", async () => {
    const fake = distro({ generations: [{ number: 1, activate: COMPLETES }, { number: 2, activate: NEVER_COMPLETES }], defaultGeneration: 1 }, { bootAttempts: 0 });
    await goodStart(fake, 1);
    makeDefault(fake, 2);
    for (const tries of [1, 2, 3, 4]) {
      const container = await start(fake);
      expect(await waitForRecord(container)).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
      expect(recordIn(fake, 2)).toEqual({ tries, blessed: false });
      await container.stop();
    }
  });
});

describe("boot assessment: one-time boots", () => {
  it("boots an older generation once, from the system distribution or from inside, then the default again", async () => {
    const fake = distro({ generations: [{ number: 1 }, { number: 2 }, { number: 3 }] });
    await execa(BINARY, ["install-recovery", join(fake.root, "bin/nixos-wsl-recovery")]);

    const asked = await runFromSystemDistro(fake.root, ["--boot-once", "--generation", "1"]);
    expect(asked.exitCode).toBe(0);
    expect(asked.stdout).toContain("the next start boots generation 1");
    expect(asked.mountsUnchanged).toBe(true);
    const listed = await runFromSystemDistro(fake.root, ["--list", "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ number: 1, bootOnce: true })]));

    let container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 1 }, chosenBy: "once" });
    // From inside the running system, as root: the next start boots generation 2 once.
    const inside = await container.exec(["/bin/nixos-wsl-init", "boot-once", "2"]);
    expect(inside.exitCode).toBe(0);
    await container.stop();

    container = await start(fake);
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 2 }, chosenBy: "once" });
    await container.stop();
    container = await start(fake);
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 3 }, chosenBy: "default" });
    expect(defaultLink(fake)).toBe("system-3-link");
  });

  it("after a one-time boot that fails, the next start is back on the default", async () => {
    const fake = distro({ generations: [{ number: 1, systemdScript: "exit 1" }, { number: 2 }] });
    await execa(BINARY, ["install-recovery", join(fake.root, "bin/nixos-wsl-recovery")]);
    expect((await runFromSystemDistro(fake.root, ["--boot-once", "--generation", "1"])).exitCode).toBe(0);
    const failing = await start(fake);
    expect((await failing.exited()).exitCode).not.toBe(0);
    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(await waitForRecord(container)).toMatchObject({ generation: { number: 2 }, chosenBy: "default" });
  });
});

describe("boot assessment under kills", () => {
  it("still boots, with a sane count, after the shim is killed at random moments 20 times", async () => {
    const fake = distro({ generations: [{ number: 1, activate: "sleep 0.02" }] });
    for (let i = 0; i < 20; i++) {
      const container = await start(fake);
      await container.leader();
      await sleep(Math.floor(Math.random() * 40));
      await container.stop(); // SIGKILL to the container's PID 1, the shim
    }
    const state = bootState(fake);
    if (state !== null) {
      expect(state.format).toBe(1);
      expect(recordIn(fake, 1)?.tries ?? 0).toBeLessThanOrEqual(20);
    }
    const container = await start(fake);
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(container.kmsg()).not.toContain("is damaged");
    await waitFor("the blessing", 10_000, () => recordIn(fake, 1)?.blessed === true);
  });
});

/** This start's boot record, once the shim has written it (through /proc/PID/root: the container's own /run). */
async function waitForRecord(container: Container): Promise<BootRecord> {
  return waitForAsync("the boot record", 20_000, async () => JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord);
}
