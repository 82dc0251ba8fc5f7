// Legacy mode while systemd starts: a shell closed (SIGHUP), interrupted
// (SIGINT) or terminated (SIGTERM) then must leave one recorded systemd that
// the next shell uses, never an unrecorded one beside a second; and a shell
// queued behind the one starting systemd says what it waits for.
import { describe, expect, it } from "vitest";
import {
  addSlowUnit,
  type LegacyDistro,
  runLoginShell,
  SLOW_UNIT_STARTED,
  slowSystemd,
  startLoginShell,
  systemdsIn,
  waitForFile,
  WRAPPER_STARTED,
} from "../harness/legacy.ts";
import { legacyDistroPerTest } from "../harness/legacyDistros.ts";
import { nsPids } from "../harness/proc.ts";

const EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

describe("legacy mode: a shell interrupted while systemd starts", () => {
  const boot = legacyDistroPerTest();

  /** The recorded systemd's PID (as the container sees it). */
  async function recordedPid(distro: LegacyDistro): Promise<number> {
    return (JSON.parse(await distro.container.readFile("/run/nixos-wsl/legacy.json")) as { pid: number }).pid;
  }

  // Two moments: before systemd's control socket exists (a wrapper that sleeps, then execs systemd),
  // and after it, while a unit holds back "running" (systemctl is-system-running --wait is waiting).
  const moments = [
    ["before systemd's control socket exists", WRAPPER_STARTED],
    ["while systemd runs its units", SLOW_UNIT_STARTED],
  ] as const;
  const cases = (["SIGHUP", "SIGINT", "SIGTERM"] as const).flatMap((signal) => moments.map(([moment, marker]) => [signal, moment, marker] as const));

  it.each(cases)("%s %s: the next shell uses the same systemd, and no second one starts", async (signal, _moment, marker) => {
    const slowWrapper = marker === WRAPPER_STARTED;
    const distro = await boot(slowWrapper ? { generations: [slowSystemd(3)] } : {});
    if (!slowWrapper) addSlowUnit(distro.fake, 3);
    const first = await startLoginShell(distro.container, { args: ["-c", "echo first-shell-ran"] });
    const firstPid = await first.shellPid();
    await waitForFile(distro.container, marker);
    process.kill(firstPid, signal);
    const interrupted = await first.result;
    expect(interrupted.exitCode).toBe(EXIT_CODES[signal]);
    expect(interrupted.stdout).toBe("");
    expect(interrupted.stderr).toMatch(new RegExp(`interrupted by ${signal} while systemd \\(PID \\d+\\) was starting: it goes on starting`));

    const next = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    expect(next.exitCode).toBe(0);
    expect(["running", "degraded"]).toContain(next.stdout);
    const systemds = await systemdsIn(distro.container);
    expect(systemds).toHaveLength(1);
    expect(await recordedPid(distro)).toBe(systemds[0]);
  });

  it.each(moments)("SIGKILL %s, and no record: the next shell finds that systemd in /proc and waits for it", async (_moment, marker) => {
    const slowWrapper = marker === WRAPPER_STARTED;
    const distro = await boot(slowWrapper ? { generations: [slowSystemd(3)] } : {});
    if (!slowWrapper) addSlowUnit(distro.fake, 3);
    const first = await startLoginShell(distro.container, { args: ["-c", "true"] });
    const firstPid = await first.shellPid();
    await waitForFile(distro.container, marker);
    process.kill(firstPid, "SIGKILL");
    expect((await first.result).signal).toBe("SIGKILL");
    // As if it had been killed between starting systemd and recording it.
    await distro.container.exec(["rm", "/run/nixos-wsl/legacy.json"]);

    const next = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    expect(["running", "degraded"]).toContain(next.stdout);
    const systemds = await systemdsIn(distro.container);
    expect(systemds).toHaveLength(1);
    expect(next.stderr).toContain(`/run/nixos-wsl/legacy.json is missing, but systemd (PID ${systemds[0]}) started by legacy mode runs: recording it again`);
    expect(await recordedPid(distro)).toBe(systemds[0]);
  });

  it("lets an activation that was interrupted finish, and starts nothing", async () => {
    const distro = await boot({ generations: [{ number: 1, activate: "sleep 2" }] });
    const first = await startLoginShell(distro.container, { args: ["-c", "true"] });
    const firstPid = await first.shellPid();
    await waitForFile(distro.container, "/run/activation-proof");
    process.kill(firstPid, "SIGHUP");
    const interrupted = await first.result;
    expect(interrupted.exitCode).toBe(EXIT_CODES.SIGHUP);
    expect(interrupted.stderr).toContain("interrupted by SIGHUP while activating: the activation finished, systemd was not started");
    expect(await systemdsIn(distro.container)).toEqual([]);

    const next = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    expect(["running", "degraded"]).toContain(next.stdout);
    expect(await systemdsIn(distro.container)).toHaveLength(1);
    // Activated once: the next shell found /run/current-system and did not run the script again.
    expect(distro.container.kmsg().match(/fake-activation: generation 1 activating/g)).toHaveLength(1);
  });

  it("tells a shell queued behind the one starting systemd, in one line, what it waits for", async () => {
    const distro = await boot({ generations: [slowSystemd(2)] });
    const first = await startLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    const firstInContainer = nsPids(await first.shellPid()).at(-1);
    await waitForFile(distro.container, WRAPPER_STARTED);
    const second = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    const firstRun = await first.result;
    for (const run of [firstRun, second]) {
      expect(run.exitCode).toBe(0);
      expect(["running", "degraded"]).toContain(run.stdout);
    }
    expect(firstRun.stderr).toBe("");
    const systemd = await recordedPid(distro);
    expect(second.stderr).toBe(`nixos-wsl-init: waiting for another shell (PID ${firstInContainer}) that is starting systemd (PID ${systemd}) ...`);
    expect(await systemdsIn(distro.container)).toEqual([systemd]);
  });

  it("says nothing to a shell that waits only for another's quick look at the record", async () => {
    const distro = await boot();
    await runLoginShell(distro.container, { args: ["-c", "true"] });
    const runs = await Promise.all([1, 2, 3].map(() => runLoginShell(distro.container, { args: ["-c", "echo ok"] })));
    for (const run of runs) expect(run).toMatchObject({ exitCode: 0, stdout: "ok", stderr: "" });
    expect(await systemdsIn(distro.container)).toHaveLength(1);
  });
});
