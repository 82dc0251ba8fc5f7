// Legacy mode when starting systemd goes wrong: messages that give the real
// cause and time, failures that repeat without piling up mounts, tools looked
// for where they are, and files that cannot be read named as such.
import { describe, expect, it } from "vitest";
import { addSlowUnit, processesNamed, runLoginShell, SLOW_UNIT_STARTED, startLoginShell, systemdsIn, waitForFile } from "../harness/legacy.ts";
import { legacyDistroPerTest } from "../harness/legacyDistros.ts";
import { sleep } from "../harness/proc.ts";

describe("legacy mode: when starting systemd fails", () => {
  const boot = legacyDistroPerTest();

  it("says that systemd was killed, and when, rather than that it timed out", async () => {
    const distro = await boot({ settings: { defaultUser: "nixos" } }); // the default readiness timeout: 90 s
    addSlowUnit(distro.fake, 60);
    const started = Date.now();
    const shell = await startLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
    await waitForFile(distro.container, SLOW_UNIT_STARTED);
    await sleep(Math.max(0, 2000 - (Date.now() - started)));
    const [systemd] = await systemdsIn(distro.container);
    // systemd's age when killed, from the kernel's own record of its start (field 22 of stat, in clock ticks).
    const ageScript = 'read up _ < /proc/uptime; start=$(cut -d" " -f22 /proc/$1/stat); kill -KILL $1; echo "$up $start $(getconf CLK_TCK)"';
    const killed = Date.now();
    const [uptime, startTicks, ticksPerSecond] = (await distro.container.exec(["sh", "-c", ageScript, "sh", String(systemd)])).stdout.split(" ").map(Number);
    const killedAfter = uptime! - startTicks! / ticksPerSecond!;
    const run = await shell.result;
    const noticedWithin = (Date.now() - killed) / 1000;
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).not.toContain("within 90 s");
    const said = /systemd was killed by SIGKILL before it was running, ([\d.]+) s after it started/.exec(run.stderr);
    expect(said, run.stderr).not.toBeNull();
    // Counted from systemd's start, as the kernel counts it (to its clock ticks), up to when the shell noticed.
    expect(Number(said![1])).toBeGreaterThan(killedAfter - 0.5);
    expect(Number(said![1])).toBeLessThanOrEqual(killedAfter + noticedWithin + 0.1);
    expect(await systemdsIn(distro.container)).toEqual([]);
  });

  it("binds the store read-only once, however often the start fails, and fails as fast the twelfth time", async () => {
    const distro = await boot({
      // An activation that leaves no /run/current-system, so that every shell activates (and binds the store) again.
      generations: [{ number: 1, activate: "rm /run/current-system", systemdScript: "echo 'simulated: cannot start' >&2; exit 1" }],
    });
    for (let attempt = 1; attempt <= 12; attempt++) {
      const started = Date.now();
      const run = await runLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
      const tookMs = Date.now() - started;
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("systemd exited (status 1) before it was running");
      expect(run.stderr).toContain("simulated: cannot start");
      if (attempt === 12) expect(tookMs).toBeLessThan(3000);
    }
    const store = (await distro.container.mounts()).filter((mount) => mount.mountPoint === "/nix/store");
    expect(store).toHaveLength(1);
    expect(store[0]!.options).toContain("ro");
    expect(await systemdsIn(distro.container)).toEqual([]);
  });

  it("finds systemctl the way it finds unshare and nsenter: the generation's sw/bin first, then PATH", async () => {
    const distro = await boot();
    await distro.container.exec(["rm", `${distro.fake.storePath(1)}/sw/bin/systemctl`]);
    const run = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    expect(run.stderr).toBe("");
    expect(["running", "degraded"]).toContain(run.stdout);
  });

  it("names the step, what is missing and what to do when there is no systemctl, and starts nothing", async () => {
    const distro = await boot();
    const generation = distro.fake.storePath(1);
    await distro.container.exec(["rm", `${generation}/sw/bin/systemctl`]);
    // Hide the host's too (in the container's own mount namespace): no systemctl anywhere.
    await distro.container.exec(["mount", "--bind", "/dev/null", "/usr/bin/systemctl"]);
    const run = await runLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`starting systemd: cannot find systemctl (systemd); looked in ${generation}/sw/bin, /usr/local/bin, /usr/bin, /bin`);
    expect(run.stderr).toContain("systemctl asks whether it is running");
    expect(run.stderr).toContain("wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery");
    expect(await systemdsIn(distro.container)).toEqual([]);
    expect((await distro.container.exec(["ls", "/run/nixos-wsl"])).stdout.split("\n")).not.toContain("legacy.json");
  });

  it.each([
    ["/etc/passwd", "reading the user database /etc/passwd: EISDIR", 0],
    ["/etc/group", "reading the group database /etc/group: EISDIR", 1000],
  ])("reports an unreadable %s as what it is, not as missing", async (file, message, uid) => {
    const distro = await boot({ settings: { defaultUser: uid === 0 ? "root" : "nixos" } });
    // systemd running first, unharmed: the shell alone is to meet the broken file.
    expect((await runLoginShell(distro.container, { args: ["-c", "true"] })).exitCode).toBe(0);
    await distro.container.exec(["sh", "-c", `mv ${file} ${file}.saved && mkdir ${file}`]);
    const run = await runLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/unexpected error|^\s+at /m);
  });

  it("stops a hung activation at its deadline, names what it was stuck in, and opens the shell", async () => {
    const { container } = await boot({
      settings: { defaultUser: "nixos", activationTimeoutSeconds: 2 },
      generations: [{ number: 1, activate: "sleep 1000.25" }],
    });
    const started = Date.now();
    const run = await runLoginShell(container, { args: ["-c", "echo inside; cat /proc/1/comm"] });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("inside\nsystemd");
    expect(run.stderr).toContain("the activation STOPPED at its deadline of 2 s, stuck in: sleep 1000.25");
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(container.kmsg()).toMatch(/^<3>nixos-wsl-init: the activation did not finish within 2 s; it is stuck in: sleep 1000\.25\./m);
    expect(await processesNamed(container, "sleep")).toEqual([1]); // only the container's own PID 1
  });
});
