// Legacy mode with real systemd: the container's PID 1 is a plain process
// (WSL's init without systemd support), and the executable runs as root's
// login shell.
import { describe, expect, it } from "vitest";
import { type LegacyDistro, maskContainerFailures, processesNamed, runLoginShell, systemdsIn, WSL_LIKE_ENV } from "../harness/legacy.ts";
import { legacyDistroPerTest, sharedLegacyDistro } from "../harness/legacyDistros.ts";

describe("legacy mode: one systemd, the user's shell inside it", () => {
  let distro!: LegacyDistro;
  sharedLegacyDistro((booted) => {
    distro = booted;
    // Without the units that cannot work in a container, the system is exactly "running", as status must then say.
    maskContainerFailures(distro.fake);
  });
  /** Make sure systemd runs (it starts with the first shell), so that no test depends on one that ran before. */
  async function openShell(): Promise<void> {
    const run = await runLoginShell(distro.container, { args: ["-c", "true"] });
    expect(run.exitCode).toBe(0);
  }

  it("starts systemd in its own PID namespace and runs the command there as the default user", async () => {
    const run = await runLoginShell(distro.container, {
      argv0: "syschdemd",
      args: ["-c", "cat /proc/1/comm; systemctl is-system-running; readlink /proc/self/ns/pid; id -un; exit 7"],
    });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(7);
    const [pid1, state, pidNamespace, user] = run.stdout.split("\n");
    expect(pid1).toBe("systemd");
    expect(["running", "degraded"]).toContain(state);
    expect(user).toBe("nixos");
    const containerNamespace = (await distro.container.exec(["readlink", "/proc/self/ns/pid"])).stdout;
    expect(pidNamespace).toMatch(/^pid:\[\d+\]$/);
    expect(pidNamespace).not.toBe(containerNamespace);
    // As root, from outside: the recorded PID is systemd itself, PID 1 of its namespace.
    const record = JSON.parse(await distro.container.readFile("/run/nixos-wsl/legacy.json")) as { pid: number };
    const outside = await distro.container.exec(["sh", "-c", `readlink /proc/${record.pid}/exe; grep NSpid /proc/${record.pid}/status`]);
    expect(outside.stdout).toMatch(new RegExp(`^/usr/lib/systemd/systemd\nNSpid:\t${record.pid}\t1$`));
    // Detached from the shell that started it: its parent (unshare) leads a session of its own.
    const parent = (await distro.container.exec(["ps", "-o", "ppid=", "-p", String(record.pid)])).stdout.trim();
    expect((await distro.container.exec(["ps", "-o", "sid=", "-p", parent])).stdout.trim()).toBe(parent);
    const links = await distro.container.exec(["readlink", "/run/nixos-wsl/ns/pid", "/run/nixos-wsl/ns/mnt"]);
    expect(links.stdout).toBe(`/proc/${record.pid}/ns/pid\n/proc/${record.pid}/ns/mnt`);
  });

  it("activated the system first, with the store read-only, and keeps its state private", async () => {
    await openShell(); // a no-op after the other tests here: any order, or this test alone, sees the same
    const proof = await distro.container.readFile("/run/activation-proof");
    expect(proof).toContain("lang=C.UTF-8");
    expect(proof).toMatch(/^pid1=\/usr\/bin\/sleep$/m); // before systemd: WSL's init was still PID 1
    expect((await distro.container.exec(["readlink", "/run/current-system"])).stdout).toBe(distro.fake.storePath(1));
    const touch = await distro.container.exec(["touch", `${distro.fake.storePath(1)}/x`]);
    expect(touch.stderr).toContain("Read-only file system");
    expect((await distro.container.exec(["stat", "-c", "%a", "/run/nixos-wsl"])).stdout).toBe("700");
  });

  it("tells through nixos-wsl-init status which systemd it started", async () => {
    await openShell();
    const status = await distro.container.exec(["bash", "-c", "exec -a nixos-wsl-init /sbin/nixos-wsl-init status"]);
    expect(status.exitCode).toBe(0); // running
    expect(status.stdout).toContain("Mode:        legacy");
    expect(status.stdout).toMatch(/^systemd: +PID \d+ \(as WSL sees it\), started 20\d\d-/m);
    expect(status.stdout).toContain(`System:      ${distro.fake.storePath(1)}`);
    const json = await distro.container.exec(["bash", "-c", "exec -a nixos-wsl-init /sbin/nixos-wsl-init status --json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ mode: "legacy", alive: true, cgroupNamespace: true });
  });

  it("passes exit codes, stdin and stdout through", async () => {
    expect((await runLoginShell(distro.container, { args: ["-c", "exit 0"] })).exitCode).toBe(0);
    expect((await runLoginShell(distro.container, { args: ["-c", "exit 130"] })).exitCode).toBe(130);
    const piped = await runLoginShell(distro.container, { args: ["-c", "tr a-z A-Z; echo done >&2"], input: "through a pipe\nand back\n" });
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout).toBe("THROUGH A PIPE\nAND BACK");
    expect(piped.stderr).toBe("done");
  });

  it("runs a login shell reading commands from stdin when started as -syschdemd", async () => {
    const run = await runLoginShell(distro.container, { input: "echo interactive-ok; shopt -q login_shell && echo login; exit 3\n" });
    expect(run.stdout).toBe("interactive-ok\nlogin");
    expect(run.exitCode).toBe(3);
  });

  it("keeps the working directory, except /root which the user cannot enter", async () => {
    expect((await runLoginShell(distro.container, { cwd: "/tmp", args: ["-c", "pwd"] })).stdout).toBe("/tmp");
    expect((await runLoginShell(distro.container, { cwd: "/root", args: ["-c", "pwd"] })).stdout).toBe("/home/nixos");
  });

  it("passes the environment on, with the user's own HOME, LOGNAME, SHELL, USER and Windows paths in WSLPATH", async () => {
    const run = await runLoginShell(distro.container, { args: ["-c", "env"] });
    const env = Object.fromEntries(run.stdout.split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(env).toMatchObject({
      HOME: "/home/nixos",
      USER: "nixos",
      LOGNAME: "nixos",
      SHELL: "/run/current-system/sw/bin/bash",
      FOO: WSL_LIKE_ENV.FOO,
      WSL_DISTRO_NAME: "NixOS",
      TERM: "dumb",
      PATH: "/usr/local/bin:/usr/bin:/bin",
      WSLPATH: "/mnt/c/Windows/system32:/mnt/c/Users/alice/bin",
      NIXOS_WSL_INIT_INSIDE: "1",
    });
  });

  it("just runs the shell when already inside, never a second systemd", async () => {
    const run = await runLoginShell(distro.container, { args: ["-c", "/sbin/syschdemd -c 'echo inner $(id -un) $(cat /proc/1/comm)'"] });
    expect(run.stdout).toBe("inner nixos systemd");
    expect(await systemdsIn(distro.container)).toHaveLength(1);
  });

  it("starts a new systemd when the recorded one was killed", async () => {
    await runLoginShell(distro.container, { args: ["-c", "true"] });
    const [before] = await systemdsIn(distro.container);
    expect(before).toBeGreaterThan(1);
    await distro.container.exec(["kill", "-KILL", String(before)]);
    await distro.container.exec(["sh", "-c", `while [ -e /proc/${before} ] && [ "$(cut -d' ' -f3 /proc/${before}/stat)" != Z ]; do sleep 0.01; done`]);
    const run = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running"] });
    expect(run.stderr).toContain(`the systemd recorded in /run/nixos-wsl (PID ${before}) is gone; starting a new one`);
    expect(["running", "degraded"]).toContain(run.stdout);
    const after = await systemdsIn(distro.container);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before);
  });
});

describe("legacy mode: starting", () => {
  const boot = legacyDistroPerTest();

  it("shares one systemd between two shells started together", async () => {
    const { container } = await boot();
    const runs = await Promise.all([1, 2].map(() => runLoginShell(container, { args: ["-c", "systemctl is-system-running"] })));
    for (const run of runs) expect(["running", "degraded"]).toContain(run.stdout);
    expect(await systemdsIn(container)).toHaveLength(1);
  });

  it("reports a systemd that cannot start, with its output, and leaves nothing behind", async () => {
    const { container } = await boot({
      generations: [{ number: 1, systemdScript: "echo 'simulated: Failed to allocate manager object' >&2; exit 1" }],
    });
    const run = await runLoginShell(container, { args: ["-c", "echo should-not-run"] });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("systemd exited (status 1) before it was running");
    expect(run.stderr).toContain("simulated: Failed to allocate manager object");
    expect((await container.exec(["ls", "/run/nixos-wsl"])).stdout.split("\n")).not.toContain("legacy.json");
    expect(await processesNamed(container, "unshare")).toEqual([]);
  });

  it("gives up on a systemd that never gets ready, within the timeout", async () => {
    const { container } = await boot({
      generations: [{ number: 1, systemdScript: "echo starting-forever; exec sleep 1000" }],
      settings: { defaultUser: "nixos", readinessTimeoutSeconds: 2 },
    });
    const started = Date.now();
    const run = await runLoginShell(container, { args: ["-c", "true"] });
    const tookMs = Date.now() - started;
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('systemd did not reach "running" within 2 s');
    expect(run.stderr).toContain("starting-forever");
    expect(tookMs).toBeLessThan(2000 + 4000); // the deadline, plus starting and killing on a busy 2-core machine (the default would be 90 s)
    expect(await processesNamed(container, "sleep")).toEqual([1]); // only the container's own PID 1
  });

  it("opens the shell normally with a readiness timeout too large for a timer (it is clamped to an hour)", async () => {
    const { container } = await boot({ settings: { defaultUser: "nixos", readinessTimeoutSeconds: 3_000_000 } });
    const run = await runLoginShell(container, { args: ["-c", "echo $(id -un) $(systemctl is-system-running)"] });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^nixos (running|degraded)$/);
  });

  it("gives root, as the default user, a real shell rather than itself again", async () => {
    const { container } = await boot({ settings: { defaultUser: "root" } }); // the default user is nixos unless set
    const run = await runLoginShell(container, { args: ["-c", 'echo "$(id -u) $SHELL $HOME $PWD"; cat /proc/1/comm'] });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("0 /run/current-system/sw/bin/bash /root /root\nsystemd");
  });

  it("refuses a caller that is not root, saying how to make root the default user", async () => {
    const { container } = await boot();
    const run = await runLoginShell(container, { uid: 1000, args: ["-c", "true"] });
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("must run as root: make root the WSL default user");
    expect(await systemdsIn(container)).toEqual([]);
  });

  it("names an unknown default user", async () => {
    const { container } = await boot({ settings: { defaultUser: "nobody-here" } });
    const run = await runLoginShell(container, { args: ["-c", "true"] });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('the default user "nobody-here" (from /etc/nixos-wsl-init.json) does not exist');
  });

  it("explains a bad command line", async () => {
    const { container } = await boot();
    const run = await runLoginShell(container, { args: ["--frobnicate"] });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("unexpected argument '--frobnicate'");
  });
});
