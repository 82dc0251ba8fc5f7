// Legacy mode's lifecycle, with real systemd: `legacy --shutdown` stops it
// (poweroff inside, a kill when that hangs) and clears the state; `status`
// exits by what systemd says (0 running, 1 degraded, 2 starting, 3 stopped,
// 4 gone); waitFor lets shells in once one unit is ready; and a start that
// times out names the jobs systemd was still running.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  addFailingUnit,
  addSlowUnit,
  addUnstoppableUnit,
  FAILING_UNIT,
  type LegacyDistro,
  maskContainerFailures,
  processesNamed,
  runInit,
  runLoginShell,
  SLOW_UNIT_STARTED,
  startLoginShell,
  systemdsIn,
  waitForFile,
} from "../harness/legacy.ts";
import { legacyDistroPerTest } from "../harness/legacyDistros.ts";
import { waitForAsync } from "../harness/proc.ts";

const RECORD = "/run/nixos-wsl/legacy.json";

async function stateFiles(distro: LegacyDistro): Promise<string[]> {
  return (await distro.container.exec(["ls", "/run/nixos-wsl"])).stdout.split("\n").filter(Boolean);
}

async function recordedPid(distro: LegacyDistro): Promise<number> {
  return (JSON.parse(await distro.container.readFile(RECORD)) as { pid: number }).pid;
}

async function status(distro: LegacyDistro): Promise<{ exitCode: number; text: string; json: Record<string, unknown> }> {
  const text = await runInit(distro.container, ["status"]);
  const json = await runInit(distro.container, ["status", "--json"]);
  expect(json.exitCode, json.stderr).toBe(text.exitCode);
  expect(text.stderr + text.stdout).not.toMatch(/undefined|^\s+at /m);
  return { exitCode: text.exitCode!, text: text.stdout, json: JSON.parse(json.stdout) as Record<string, unknown> };
}

describe("legacy mode: --shutdown", () => {
  const boot = legacyDistroPerTest();

  it("powers systemd off, ends the shells inside it, clears the state, and the next shell starts a new systemd", async () => {
    const distro = await boot();
    const first = await runLoginShell(distro.container, { args: ["-c", "true"] });
    expect(first.exitCode).toBe(0);
    const [before] = await systemdsIn(distro.container);
    const open = await startLoginShell(distro.container, { args: ["-c", "exec sleep 1000"] });
    await waitForAsync("the open shell's sleep", 10_000, async () => (await processesNamed(distro.container, "sleep")).length === 2);

    const started = Date.now();
    const stop = await runInit(distro.container, ["legacy", "--shutdown"]);
    expect(stop.stderr).toBe("");
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain(`systemd (PID ${before}) powered off cleanly in`);
    // The open shell was told first, so systemd's final stage does not wait out its 10 s for it.
    expect(Date.now() - started).toBeLessThan(9000);
    expect(stop.stdout).toContain("the next shell starts a new systemd");
    expect(await systemdsIn(distro.container)).toEqual([]);
    const ended = await open.result;
    // Hung up, then terminated, before the poweroff, as when its terminal closes: 128 + SIGHUP or SIGTERM, whichever the shell took first.
    expect([129, 143]).toContain(ended.exitCode);
    expect(ended.timedOut).toBe(false);
    expect(await processesNamed(distro.container, "sleep")).toEqual([1]); // only the container's own PID 1
    expect(await stateFiles(distro)).not.toContain("legacy.json");
    expect(await stateFiles(distro)).not.toContain("ns");

    const next = await runLoginShell(distro.container, { args: ["-c", "echo works; systemctl is-system-running || true"] });
    expect(next.stderr).toBe("");
    expect(next.exitCode).toBe(0);
    const [works, state] = next.stdout.split("\n");
    expect(works).toBe("works");
    expect(["running", "degraded"]).toContain(state);
    const after = await systemdsIn(distro.container);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
    expect(await recordedPid(distro)).toBe(after[0]);

    // As root's login shell, by its own name: the same.
    const again = await runLoginShell(distro.container, { argv0: "syschdemd", args: ["--shutdown"] });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(`systemd (PID ${after[0]}) powered off cleanly`);
    expect(await systemdsIn(distro.container)).toEqual([]);

    const nothing = await runInit(distro.container, ["legacy", "--shutdown"]);
    expect(nothing.exitCode).toBe(0);
    expect(nothing.stdout).toBe("nixos-wsl-init: nothing to stop: no systemd started by legacy mode runs.");
  });

  it("says that the recorded systemd had already ended, clears its record, and exits 0", async () => {
    const distro = await boot();
    await runLoginShell(distro.container, { args: ["-c", "true"] });
    const [systemd] = await systemdsIn(distro.container);
    await distro.container.exec(["kill", "-KILL", String(systemd)]);
    await distro.container.exec(["sh", "-c", `while [ -e /proc/${systemd} ] && [ "$(cut -d' ' -f3 /proc/${systemd}/stat)" != Z ]; do sleep 0.01; done`]);
    const stop = await runInit(distro.container, ["legacy", "--shutdown"]);
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain(`nothing to stop: no systemd started by legacy mode runs (the systemd recorded (PID ${systemd}) had already ended; its record is cleared)`);
    expect(await stateFiles(distro)).not.toContain("legacy.json");
  });

  it("kills a systemd that does not power off in time, and everything in it", async () => {
    const distro = await boot();
    addUnstoppableUnit(distro.fake);
    expect((await runLoginShell(distro.container, { args: ["-c", "true"] })).exitCode).toBe(0);
    const [systemd] = await systemdsIn(distro.container);
    // Only the poweroff gets 3 s: the start had the usual 30, whatever the machine's load.
    // The settings are read again by each run.
    writeFileSync(join(distro.fake.root, "etc/nixos-wsl-init.json"), JSON.stringify({ mode: "legacy", defaultUser: "nixos", readinessTimeoutSeconds: 3 }));
    const started = Date.now();
    const stop = await runInit(distro.container, ["legacy", "--shutdown"]);
    expect(stop.exitCode).toBe(0);
    expect(stop.stderr, stop.stdout).toContain(`stopping systemd (PID ${systemd}): it did not power off within 3 s of systemctl poweroff`);
    expect(stop.stderr).toContain("killing it (SIGKILL), and with it everything in its namespace");
    expect(stop.stdout).toContain(`systemd (PID ${systemd}) killed after`);
    expect(Date.now() - started).toBeLessThan(3000 + 4000);
    expect(await systemdsIn(distro.container)).toEqual([]);
    expect(await processesNamed(distro.container, "sleep")).toEqual([1]);
    expect(await stateFiles(distro)).not.toContain("legacy.json");
  });

  it("waits for a shell that is starting systemd, then stops that systemd", async () => {
    const distro = await boot();
    addSlowUnit(distro.fake, 3);
    const starting = await startLoginShell(distro.container, { args: ["-c", "echo first-shell-ran"] });
    await waitForFile(distro.container, SLOW_UNIT_STARTED);
    const stop = await runInit(distro.container, ["legacy", "--shutdown"]);
    const first = await starting.result;
    // The start was not cut short under it: the shell got in (and ran, unless the shutdown hung it up right after).
    expect(first.stderr).not.toMatch(/starting systemd:|interrupted/);
    // Hung up by the shutdown right after it got in: ended by a signal, or with 128 + the signal;
    // or it reached nsenter only once systemd had gone (exit 1, in nsenter's words).
    if (first.stdout !== "first-shell-ran") {
      const hungUp = first.signal !== undefined || [129, 143].includes(first.exitCode ?? -1);
      const tooLate = first.exitCode === 1 && /nsenter:/.test(first.stderr);
      expect(hungUp || tooLate, `exit ${first.exitCode}, signal ${first.signal}: ${first.stderr}`).toBe(true);
    }
    expect(stop.stderr).toMatch(/waiting for another shell \(PID \d+\) that is (starting systemd|waiting for systemd)/);
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain("powered off cleanly");
    expect(await systemdsIn(distro.container)).toEqual([]);
  });

  it("refuses a caller that is not root, and one inside systemd's namespaces (exit 3)", async () => {
    const distro = await boot();
    const user = await distro.container.exec(["setpriv", "--reuid=1000", "--regid=100", "--clear-groups", "--", "/sbin/syschdemd", "--shutdown"]);
    expect(user.exitCode).toBe(3);
    expect(user.stderr).toContain("--shutdown stops the systemd legacy mode started, so it must run as root");
    const inside = await runLoginShell(distro.container, { args: ["-c", "NIXOS_WSL_INIT_INSIDE=1 /sbin/syschdemd --shutdown; echo exit=$?"] });
    expect(inside.stdout).toBe("exit=3");
    expect(inside.stderr).toContain("--shutdown stops systemd from outside its namespaces");
    expect(inside.stderr).toContain("wsl -d NixOS --user root --exec /sbin/syschdemd --shutdown");
    expect(await systemdsIn(distro.container)).toHaveLength(1);
  });
});

describe("legacy mode: status exits by systemd's state", () => {
  const boot = legacyDistroPerTest();

  it("3 stopped: nothing recorded, nothing running", async () => {
    const distro = await boot();
    const { exitCode, text, json } = await status(distro);
    expect(exitCode).toBe(3);
    expect(text).toContain("State:       stopped: no systemd started by legacy mode runs");
    expect(json).toMatchObject({ mode: "legacy", state: "stopped", record: "none", runningPid: null, failedUnits: [] });
    const user = await distro.container.exec(["setpriv", "--reuid=1000", "--regid=100", "--clear-groups", "--", "/sbin/nixos-wsl-init", "status"]);
    expect(user.exitCode).toBe(5);
    expect(user.stderr).toContain("run it as root");
  });

  it("0 running, then 4 gone once systemd is killed and its record left", async () => {
    const distro = await boot();
    maskContainerFailures(distro.fake);
    const shell = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running; systemctl --failed --plain --no-legend"] });
    expect(shell.stdout).toBe("running");
    const running = await status(distro);
    expect(running.exitCode, running.text).toBe(0);
    expect(running.text).toContain("State:       running (systemctl is-system-running: running)");
    expect(running.json).toMatchObject({ mode: "legacy", state: "running", systemState: "running", failedUnits: [], alive: true });

    const [systemd] = await systemdsIn(distro.container);
    await distro.container.exec(["kill", "-KILL", String(systemd)]);
    await distro.container.exec(["sh", "-c", `while [ -e /proc/${systemd} ] && [ "$(cut -d' ' -f3 /proc/${systemd}/stat)" != Z ]; do sleep 0.01; done`]);
    const gone = await status(distro);
    expect(gone.exitCode).toBe(4);
    expect(gone.text).toContain(`State:       GONE: the systemd recorded in ${RECORD} (PID ${systemd}) is gone, and none runs`);
    expect(gone.json).toMatchObject({ mode: "legacy", state: "gone", record: "valid", pid: systemd, alive: false });
  });

  it("1 degraded, naming the failed unit", async () => {
    const distro = await boot();
    maskContainerFailures(distro.fake);
    addFailingUnit(distro.fake);
    await runLoginShell(distro.container, { args: ["-c", "true"] });
    const degraded = await status(distro);
    expect(degraded.exitCode).toBe(1);
    expect(degraded.text).toContain(`State:       DEGRADED (systemctl is-system-running: degraded); failed units: ${FAILING_UNIT}; see: systemctl --failed`);
    expect(degraded.json).toMatchObject({ state: "degraded", systemState: "degraded", failedUnits: [FAILING_UNIT] });
  });

  it("2 starting, asked from another process while a first shell waits for a slow unit", async () => {
    const distro = await boot();
    addSlowUnit(distro.fake, 20);
    const waiting = await startLoginShell(distro.container, { args: ["-c", "true"] });
    await waiting.shellPid();
    await waitForFile(distro.container, SLOW_UNIT_STARTED);
    const starting = await status(distro);
    expect(starting.exitCode).toBe(2);
    expect(starting.text).toContain("State:       STARTING (systemctl is-system-running: starting)");
    expect(starting.text).toMatch(/^systemd: +PID \d+ \(as WSL sees it\), STARTING since 20/m);
    expect(starting.json).toMatchObject({ state: "starting", systemState: "starting", phase: "starting" });
  });

  it("explains every exit code in --help", async () => {
    const distro = await boot();
    const help = await runInit(distro.container, ["status", "--help"]);
    expect(help.exitCode).toBe(0);
    for (const line of ["0  running", "1  degraded", "2  starting", "3  stopped", "4  gone", "5  unknown"]) expect(help.stdout).toContain(line);
  });
});

describe("legacy mode: the readiness target (waitFor)", () => {
  const boot = legacyDistroPerTest();

  it("lets shells in once the named target is active, long before a slow unit it does not need ends", async () => {
    const distro = await boot({ settings: { defaultUser: "nixos", readinessTimeoutSeconds: 30, waitFor: "basic.target" } });
    addSlowUnit(distro.fake, 20);
    const started = Date.now();
    const run = await runLoginShell(distro.container, { args: ["-c", "systemctl is-active basic.target; systemctl is-active test-slow.service || true"] });
    const tookMs = Date.now() - started;
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("active\nactivating");
    expect(tookMs).toBeLessThan(8000);
    expect(JSON.parse(await distro.container.readFile(RECORD))).toMatchObject({ phase: "running" });
    // The system as a whole is still starting, and status says so.
    expect((await status(distro)).exitCode).toBe(2);
    // A second shell goes straight in.
    const second = await runLoginShell(distro.container, { args: ["-c", "echo second"] });
    expect(second.stdout).toBe("second");
    expect(Date.now() - started).toBeLessThan(12_000);
  });

  it("without waitFor, waits for the slow unit, within the timeout", async () => {
    const distro = await boot({ settings: { defaultUser: "nixos", readinessTimeoutSeconds: 30 } });
    addSlowUnit(distro.fake, 6);
    const started = Date.now();
    const run = await runLoginShell(distro.container, { args: ["-c", "systemctl is-active test-slow.service || true; systemctl is-system-running || true"] });
    const tookMs = Date.now() - started;
    expect(run.exitCode).toBe(0);
    const [slow, system] = run.stdout.split("\n");
    expect(slow).toBe("inactive"); // a oneshot that has run to its end
    expect(["running", "degraded"]).toContain(system);
    expect(tookMs).toBeGreaterThan(6000);
  });

  it("opens the shell with a warning when the named unit fails", async () => {
    const distro = await boot({ settings: { defaultUser: "nixos", readinessTimeoutSeconds: 30, waitFor: FAILING_UNIT } });
    addFailingUnit(distro.fake);
    const run = await runLoginShell(distro.container, { args: ["-c", "echo in"] });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("in");
    expect(run.stderr).toContain(`warning: ${FAILING_UNIT} (waitFor) did not start: `);
    expect(run.stderr).toContain(`See: systemctl status ${FAILING_UNIT}`);
  });
});

describe("legacy mode: a start that times out", () => {
  const boot = legacyDistroPerTest();

  it.each([
    ["the whole start", null, 'systemd did not reach "running" within 3 s'],
    ["the waitFor target", "multi-user.target", "systemd did not start multi-user.target (waitFor) within 3 s"],
  ])("names the job still running (%s)", async (_what, waitFor, said) => {
    const distro = await boot({ settings: { defaultUser: "nixos", readinessTimeoutSeconds: 3, waitFor } });
    addSlowUnit(distro.fake, 30, { early: true });
    const run = await runLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(said);
    expect(run.stderr).toMatch(/Still running \(systemctl list-jobs\): [^\n]*test-slow\.service \(start\)/);
    expect(run.stderr).toMatch(/Waiting for them: \d+ jobs? \([^\n]*multi-user\.target \(start\)/);
    expect(run.stderr).toMatch(/Failed units \(systemctl --failed\): /);
    expect(run.stderr).toContain("systemd printed");
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(await systemdsIn(distro.container)).toEqual([]);
  });
});
