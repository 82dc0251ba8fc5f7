// Legacy mode's shells as logind sessions, with Debian's real systemd, logind,
// dbus and PAM in the fake root: what a user of user services sees inside
// (loginctl, XDG_RUNTIME_DIR, systemctl --user), on a terminal and through
// pipes, and the session's end with the shell. Then each way it cannot be
// opened, which must cost the user a clear line, never the shell.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inSystemd, type LegacyDistro, openLoginTerminal, runLoginShell, startLoginShell, WSL_LIKE_ENV } from "../harness/legacy.ts";
import { legacyDistroPerTest, sharedLegacyDistro } from "../harness/legacyDistros.ts";
import { sleep, waitForAsync } from "../harness/proc.ts";

const SETTINGS = { mode: "legacy", defaultUser: "nixos", readinessTimeoutSeconds: 30 };

/** The session IDs logind lists, by user. */
async function sessions(distro: LegacyDistro): Promise<{ id: string; user: string }[]> {
  const { stdout } = await inSystemd(distro.container, ["loginctl", "list-sessions", "--no-legend"]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3)
    .map(([id, , user]) => ({ id: id!, user: user! }));
}

async function waitUntilGone(distro: LegacyDistro, id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await sessions(distro)).some((session) => session.id === id)) {
    if (Date.now() > deadline) throw new Error(`logind still lists session ${id} 10 s after its shell ended`);
    await sleep(100);
  }
}

/** The processes left holding sessions (this executable as __login-session), as the container sees them. */
async function sessionHolders(distro: LegacyDistro): Promise<string[]> {
  const { stdout } = await distro.container.exec(["ps", "-e", "-o", "pid=,args="]);
  return stdout.split("\n").filter((line) => line.includes("__login-session"));
}

/** The PIDs of the session holders themselves, not of the nsenter that waits for each (whose command line names it too). */
async function holderPids(distro: LegacyDistro): Promise<string[]> {
  return (await sessionHolders(distro))
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => !fields[1]!.endsWith("nsenter"))
    .map((fields) => fields[0]!);
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

async function userManagerPid(distro: LegacyDistro): Promise<string> {
  return (await inSystemd(distro.container, ["systemctl", "show", "user@1000.service", "-p", "MainPID", "--value"])).stdout.trim();
}

describe("legacy mode: each shell is a logind session", () => {
  let distro!: LegacyDistro;
  sharedLegacyDistro((booted) => {
    distro = booted;
  });

  it("is listed by loginctl, has the user's XDG_RUNTIME_DIR and a running user manager, and ends with the shell", async () => {
    const run = await runLoginShell(distro.container, {
      args: [
        "-c",
        'loginctl list-sessions --no-legend; echo "id=$XDG_SESSION_ID runtime=$XDG_RUNTIME_DIR"; stat -c "%U %a" "$XDG_RUNTIME_DIR"; ' +
          "systemctl is-active user@1000.service; systemctl --user is-system-running; exit 7",
      ],
    });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(7);
    const [listed, ids, owner, manager, userState] = run.stdout.split("\n");
    const id = /^id=(\d+) runtime=\/run\/user\/1000$/.exec(ids!)?.[1];
    expect(id, run.stdout).toBeDefined();
    expect(listed!.trim().split(/\s+/).slice(0, 3)).toEqual([id, "1000", "nixos"]);
    expect(owner).toBe("nixos 700");
    expect(manager).toBe("active");
    expect(userState).toBe("running");
    await waitUntilGone(distro, id!);
  });

  it("gives a second shell, started while the first runs, a session of its own with the same user manager", async () => {
    // The first shell stays until the second has looked (or 30 s have passed: exit 9).
    const untilSecondIsDone = "for i in $(seq 300); do [ -e /tmp/test-second-done ] && exit 0; sleep 0.1; done; exit 9";
    const first = await startLoginShell(distro.container, { args: ["-c", `echo $XDG_SESSION_ID; ${untilSecondIsDone}`] });
    const deadline = Date.now() + 10_000;
    while ((await sessions(distro)).length === 0 && Date.now() < deadline) await sleep(100);
    const managerDuringFirst = await userManagerPid(distro);
    const second = await runLoginShell(distro.container, { args: ["-c", "echo $XDG_SESSION_ID; systemctl --user is-system-running; loginctl list-sessions --no-legend | wc -l; touch /tmp/test-second-done"] });
    expect(second.exitCode).toBe(0);
    const [secondId, userState, count] = second.stdout.split("\n");
    expect(userState).toBe("running");
    expect(count).toBe("2");
    expect(await userManagerPid(distro)).toBe(managerDuringFirst);
    expect(Number(managerDuringFirst)).toBeGreaterThan(0);
    const firstRun = await first.result;
    expect(firstRun.exitCode).toBe(0);
    expect(firstRun.stdout).toMatch(/^\d+$/);
    expect(firstRun.stdout).not.toBe(secondId);
    await waitUntilGone(distro, firstRun.stdout);
    await waitUntilGone(distro, secondId!);
  });

  it("passes pipes both ways and the exit code through the session", async () => {
    const run = await runLoginShell(distro.container, { args: ["-c", 'sort -r; echo "session $XDG_SESSION_ID" >&2; exit 3'], input: "a\nc\nb\n" });
    expect(run.stdout).toBe("c\nb\na");
    expect(run.stderr).toMatch(/^session \d+$/);
    expect(run.exitCode).toBe(3);
  });

  it("on a terminal: a tty session, Ctrl-C reaches only the command, exit 7 is the shell's, and the session ends with it", async () => {
    const { terminal, hangUp } = await openLoginTerminal(distro.container);
    try {
      await terminal.type('echo "tty=$(tty) session=$XDG_SESSION_ID"');
      const screen = await terminal.waitForText(/tty=\/dev\/(pts\/\d+) session=(\d+)/);
      const [, tty, id] = /tty=\/dev\/(pts\/\d+) session=(\d+)/.exec(screen)!;
      const shown = await inSystemd(distro.container, ["loginctl", "show-session", id!, "-p", "TTY", "-p", "Type", "-p", "Active"]);
      expect(shown.stdout.split("\n").sort()).toEqual(["Active=yes", `TTY=${tty}`, "Type=tty"]);
      await terminal.type("sleep 100");
      await sleep(500);
      await terminal.press("C-c");
      await terminal.type('echo "after Ctrl-C: $? in $XDG_SESSION_ID"');
      await terminal.waitForText(`after Ctrl-C: 130 in ${id}`);
      expect((await sessions(distro)).map((session) => session.id)).toContain(id);
      await terminal.type("exit 7");
      expect(await terminal.exitStatus()).toBe(7);
      await waitUntilGone(distro, id!);
    } finally {
      await hangUp();
    }
  });

  it("closing the terminal window ends the shell, then its session", async () => {
    const { terminal, hangUp } = await openLoginTerminal(distro.container);
    let id: string | undefined;
    try {
      await terminal.type('echo "session=$XDG_SESSION_ID"');
      id = /session=(\d+)/.exec(await terminal.waitForText(/session=\d+/))![1];
      await terminal.type("sleep 1000");
      await sleep(300);
    } finally {
      await hangUp();
    }
    await waitUntilGone(distro, id!);
    const left = await inSystemd(distro.container, ["sh", "-c", "ps -u 1000 -o comm= | grep -v -x -e systemd -e '(sd-pam)' || true"]);
    expect(left.stdout).toBe("");
    expect(await sessionHolders(distro)).toEqual([]);
  });

  it("a SIGTERM to the session's process ends an interactive shell that ignores it: SIGKILL 2 s later, exit 137, the session gone", async () => {
    const { terminal, hangUp } = await openLoginTerminal(distro.container);
    try {
      await terminal.type('echo "session=$XDG_SESSION_ID"');
      const id = /session=(\d+)/.exec(await terminal.waitForText(/session=\d+/))![1]!;
      const holders = await holderPids(distro);
      expect(holders, "exactly this shell's holder").toHaveLength(1);
      const pid = holders[0]!;
      const sent = Date.now();
      expect((await distro.container.exec(["kill", "-TERM", pid])).exitCode).toBe(0);
      expect(await terminal.exitStatus(10_000)).toBe(137);
      const took = Date.now() - sent;
      expect(took).toBeGreaterThanOrEqual(1900); // the shell had its grace: an interactive bash ignores SIGTERM
      expect(took).toBeLessThan(6000);
      await waitUntilGone(distro, id);
      expect(await sessionHolders(distro)).toEqual([]);
    } finally {
      await hangUp();
    }
  });

  it("wsl CMD on a terminal: Ctrl-C ends the command (130), and the session with it", async () => {
    const { terminal, hangUp } = await openLoginTerminal(distro.container, { args: ["-c", 'echo "session=$XDG_SESSION_ID"; exec sleep 100'] });
    try {
      const id = /session=(\d+)/.exec(await terminal.waitForText(/session=\d+/))![1]!;
      await sleep(300);
      await terminal.press("C-c");
      expect(await terminal.exitStatus()).toBe(130);
      await waitUntilGone(distro, id);
      await waitForAsync("the session's holder to end", 15_000, async () => (await sessionHolders(distro)).length === 0);
    } finally {
      await hangUp();
    }
  });

  it("wsl CMD on a terminal: closing the window ends the command and its session, and no holder is left", async () => {
    const { terminal, hangUp } = await openLoginTerminal(distro.container, { args: ["-c", 'echo "session=$XDG_SESSION_ID"; sleep 100; echo not reached'] });
    const id = /session=(\d+)/.exec(await terminal.waitForText(/session=\d+/))![1]!;
    await hangUp();
    await waitUntilGone(distro, id);
    await waitForAsync("the session's holder to end", 15_000, async () => (await sessionHolders(distro)).length === 0);
    expect((await distro.container.exec(["sh", "-c", "ps -e -o comm= | grep -c -x sleep || true"])).stdout).toBe("1"); // the container's own PID 1
  });

  it("under WSLg, links its Wayland socket into the session's runtime directory", async () => {
    mkdirSync(join(distro.fake.root, "mnt/wslg/runtime-dir"), { recursive: true });
    writeFileSync(join(distro.fake.root, "mnt/wslg/runtime-dir/wayland-0"), ""); // stands in for the socket
    const env = { ...WSL_LIKE_ENV, XDG_RUNTIME_DIR: "/mnt/wslg/runtime-dir", WAYLAND_DISPLAY: "wayland-0" };
    const run = await runLoginShell(distro.container, { env, args: ["-c", 'echo "$XDG_RUNTIME_DIR"; readlink "$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY"'] });
    expect(run).toMatchObject({ exitCode: 0, stderr: "", stdout: "/run/user/1000\n/mnt/wslg/runtime-dir/wayland-0" });
  });

  it("shows what a session module prints, adds what pam_env sets, and keeps the rules' PATH", async () => {
    const pamd = join(distro.fake.root, "etc/pam.d/nixos-wsl-init");
    const original = readFileSync(pamd, "utf8");
    writeFileSync(join(distro.fake.root, "etc/environment"), "FROM_PAM_ENV=yes\nPATH=/bogus\n");
    writeFileSync(join(distro.fake.root, "etc/security/pam_env.conf"), "");
    writeFileSync(pamd, `${original}session optional pam_env.so readenv=1\nsession optional pam_echo.so Welcome, %u\n`);
    try {
      const run = await runLoginShell(distro.container, { args: ["-c", 'echo "$FROM_PAM_ENV $PATH"; echo to-stderr >&2; exit 7'] });
      expect(run.exitCode).toBe(7);
      expect(run.stdout).toBe("yes /usr/local/bin:/usr/bin:/bin");
      expect(run.stderr).toBe("Welcome, nixos\nto-stderr");
    } finally {
      writeFileSync(pamd, original);
    }
  });
});

describe("legacy mode: the user manager after the last session", () => {
  const boot = legacyDistroPerTest();

  it("stops the user manager when the last session ends, unless the user lingers", async () => {
    const distro = await boot();
    // logind's delay before it stops a user manager that has no session left (10 s by default); read when the first shell starts systemd.
    mkdirSync(join(distro.fake.root, "etc/systemd"), { recursive: true });
    writeFileSync(join(distro.fake.root, "etc/systemd/logind.conf"), "[Login]\nUserStopDelaySec=1\n");
    const first = await runLoginShell(distro.container, { args: ["-c", "systemctl --user is-system-running"] });
    expect(first.stdout).toBe("running");
    const stopped = async () => (await inSystemd(distro.container, ["systemctl", "is-active", "user@1000.service"])).stdout.trim() !== "active";
    await runLoginShell(distro.container, { args: ["-c", "true"] });
    let deadline = Date.now() + 10_000;
    while (!(await stopped())) {
      if (Date.now() > deadline) throw new Error("user@1000 still runs 10 s after the last session ended");
      await sleep(200);
    }
    const linger = await runLoginShell(distro.container, { args: ["-c", "loginctl enable-linger nixos && systemctl --user is-system-running"] });
    expect(linger.stdout).toBe("running");
    deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      expect(await stopped()).toBe(false);
      await sleep(300);
    }
  });
});

describe("legacy mode: a shell without a session, and why", () => {
  const boot = legacyDistroPerTest();
  const probe = ["-c", 'echo "session=${XDG_SESSION_ID:-none}"; exit 7'];
  /** The shell ran anyway (its exit code, no session), after exactly one line of ours saying why. */
  const expectShellWithoutSession = (run: { exitCode?: number; stdout: string; stderr: string }) => {
    expect(run.exitCode).toBe(7);
    expect(run.stdout).toBe("session=none");
    expect(occurrences(run.stderr, "nixos-wsl-init:")).toBe(1);
  };

  it("says that there is no PAM service, and what to do, then runs the shell anyway", async () => {
    const distro = await boot({ pam: false });
    const run = await runLoginShell(distro.container, { args: probe });
    expectShellWithoutSession(run);
    expect(run.stderr).toContain("this shell has no login session (there is no PAM service /etc/pam.d/nixos-wsl-init)");
    expect(run.stderr).toContain("rebuild");
    expect(run.stderr).toContain("wsl.init.legacy.loginSession = false");
  });

  it("says that logind registered no session when the service lacks pam_systemd", async () => {
    const distro = await boot();
    writeFileSync(join(distro.fake.root, "etc/pam.d/nixos-wsl-init"), "auth sufficient pam_rootok.so\n@include common-account\nsession required pam_unix.so\n");
    const run = await runLoginShell(distro.container, { args: probe });
    expectShellWithoutSession(run);
    expect(run.stderr).toContain("PAM opened the session, but logind registered none");
    expect(run.stderr).toContain("pam_systemd.so");
    expect(run.stderr).toContain("journalctl -b");
  });

  it("names a libpam that cannot be loaded", async () => {
    const distro = await boot({ settings: { ...SETTINGS, pamLibrary: "/nonexistent/libpam.so.0" } });
    const run = await runLoginShell(distro.container, { args: probe });
    expectShellWithoutSession(run);
    expect(run.stderr).toContain("loading /nonexistent/libpam.so.0");
  });

  it("says that PAM refused the account, and how to see why, then runs the shell anyway", async () => {
    const distro = await boot();
    writeFileSync(join(distro.fake.root, "etc/pam.d/nixos-wsl-init"), "auth sufficient pam_rootok.so\naccount required pam_deny.so\n@include common-session\n");
    const run = await runLoginShell(distro.container, { args: probe });
    expectShellWithoutSession(run);
    expect(run.stderr).toContain("opening the PAM service nixos-wsl-init for nixos: pam_acct_mgmt:");
    expect(run.stderr).toContain("chage -l nixos");
  });

  it("opens the session at once when the user manager cannot start, and says so", async () => {
    const distro = await boot();
    mkdirSync(join(distro.fake.root, "etc/systemd/system"), { recursive: true });
    symlinkSync("/dev/null", join(distro.fake.root, "etc/systemd/system/user@.service"));
    await runLoginShell(distro.container, { args: ["-c", "true"] }); // systemd started, its timing apart
    const started = Date.now();
    const run = await runLoginShell(distro.container, { args: ["-c", 'echo "session=${XDG_SESSION_ID:+yes}"; exit 7'] });
    expect(Date.now() - started).toBeLessThan(8_000); // not the 10 s a user manager that is starting gets
    expect(run.exitCode).toBe(7);
    expect(run.stdout).toBe("session=yes");
    expect(run.stderr).toMatch(/user@1000\.service \(the user's systemd\) is \w+: systemctl --user will not work in this shell/);
    expect(run.stderr).toContain("wsl --terminate");
  });

  it("starts no shell when a SIGTERM comes while the session opens (the user manager still starting), and ends the session", async () => {
    const distro = await boot();
    // A user manager that takes 5 s to start: the session's process waits for it, holding the session.
    mkdirSync(join(distro.fake.root, "etc/systemd/system/user@.service.d"), { recursive: true });
    writeFileSync(join(distro.fake.root, "etc/systemd/system/user@.service.d/slow.conf"), "[Service]\nExecStartPre=/usr/bin/sleep 5\n");
    const shell = await startLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
    await waitForAsync("the user manager to be starting", 30_000, async () => {
      const state = (await inSystemd(distro.container, ["sh", "-c", "systemctl is-active user@1000.service || true"])).stdout.trim();
      return state === "activating" && (await holderPids(distro)).length === 1;
    });
    const [holder] = await holderPids(distro);
    await distro.container.exec(["kill", "-TERM", holder!]);
    const run = await shell.result;
    expect(run.exitCode, run.stderr).toBe(143);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("nixos-wsl-init: SIGTERM came while the login session opened: the shell was not started");
    expect(run.stderr).not.toMatch(/unexpected error|^\s+at /m);
    await waitForAsync("the session to end", 15_000, async () => (await sessions(distro)).length === 0);
    expect(await sessionHolders(distro)).toEqual([]);
  });

  it("opens no session and says nothing when loginSession is off", async () => {
    const distro = await boot({ settings: { ...SETTINGS, loginSession: false } });
    const run = await runLoginShell(distro.container, { args: probe });
    expect(run).toMatchObject({ exitCode: 7, stdout: "session=none", stderr: "" });
    expect(await sessions(distro)).toEqual([]);
  });
});
