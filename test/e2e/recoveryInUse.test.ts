// nixos-wsl-recovery the way a person uses it: commands that run for
// seconds, an interactive shell on a terminal with Ctrl-C, a closed terminal
// window, and distros whose disk is read-only or a caller without the
// capability to mount.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { sleep, waitFor } from "../harness/proc.ts";
import { runFromSystemDistro, TerminalSession } from "../harness/systemDistro.ts";

const BINARY = requireBinary();

let distro: FakeRoot;
beforeAll(async () => {
  distro = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
  await execa(BINARY, ["install-recovery", join(distro.root, "bin/nixos-wsl-recovery")]);
});
afterAll(() => distro.remove());

/** PIDs of processes anywhere on the machine whose command line is exactly this. */
function processesRunning(commandLine: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ") === commandLine;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function expectNoCrash(output: string): void {
  expect(output).not.toContain("Bun has crashed");
  expect(output).not.toMatch(/^\s+at /m); // no JavaScript stack trace
}

describe("recovery with commands that take their time", () => {
  it("keeps the exit code of a command that runs for several seconds, and returns only when it has ended", async () => {
    const run = await runFromSystemDistro(distro.root, ["--silent", "-c", "sleep 3; echo done-after-3-s; exit 5"]);
    expectNoCrash(run.stderr);
    expect(run.exitCode).toBe(5);
    expect(run.stdout).toBe("done-after-3-s\n");
    expect(run.mountsUnchanged).toBe(true);
  });

  it("gives an interactive login shell on a terminal that stays usable, passes Ctrl-C and Ctrl-\\ to it, and returns the exit code typed", async () => {
    const terminal = await TerminalSession.start(distro.root, []);
    try {
      await terminal.type("echo alive-$((6*7))");
      await terminal.waitForText("alive-42");
      await sleep(10_000); // bun used to abort about a second in
      await terminal.type("echo still-$((7*7))");
      await terminal.waitForText("still-49");
      await terminal.type("sleep 600; echo sleep-was-not-interrupted");
      await sleep(500);
      await terminal.press("C-c");
      await terminal.type("echo after-interrupt-$?");
      const screen = await terminal.waitForText("after-interrupt-130");
      expect(screen).not.toMatch(/^sleep-was-not-interrupted$/m);
      expect(screen).toMatch(/^after-interrupt-130$/m);
      // Ctrl-\ quits the command in the foreground, not the recovery around the shell.
      await terminal.type("sleep 600");
      await sleep(500);
      await terminal.press("C-\\");
      await terminal.type("echo after-quit-$?");
      await terminal.waitForText(/^after-quit-131$/m);
      await terminal.type("echo still-$((8*8))");
      await terminal.waitForText("still-64");
      await terminal.type("exit 7");
      const run = await terminal.finished();
      expectNoCrash(run.stdout);
      expect(run.exitCode).toBe(7);
      expect(run.mountsUnchanged).toBe(true);
    } finally {
      await terminal.stop();
    }
  });

  it("stops everything inside when the terminal window is closed", async () => {
    const marker = "sleep 987.125";
    const terminal = await TerminalSession.start(distro.root, ["--silent", "-c", marker]);
    try {
      await waitFor("the command inside to start", 20_000, () => processesRunning(marker).length > 0);
    } finally {
      await terminal.stop(); // the tmux server goes, and with it the terminal: a hangup
    }
    await waitFor("the command inside to be gone", 10_000, () => processesRunning(marker).length === 0);
  });
});

describe("recovery on a read-only disk, and without the capability to mount", () => {
  it("makes a read-only filesystem read-only again when the terminal window is closed", async () => {
    const marker = "sleep 987.375";
    const terminal = await TerminalSession.start(distro.root, ["--silent", "-c", marker], { disk: "read-only-filesystem" });
    try {
      await waitFor("the command inside to start", 30_000, () => processesRunning(marker).length > 0);
      await terminal.hangUp();
      const run = await terminal.finished();
      expect(run.distroMountBefore).toMatch(/ ro$/);
      expect(run.distroMountAfter).toBe(run.distroMountBefore);
      await waitFor("the command inside to be gone", 10_000, () => processesRunning(marker).length === 0);
    } finally {
      await terminal.stop();
    }
  });

  it.each([
    // The shell traps SIGTERM and answers it: its exit code is the recovery's.
    ["passes a SIGTERM on to the command inside", "trap 'echo got-TERM; exit 5' TERM; sleep 987.5 & wait", "sleep 987.5", 5, "got-TERM\n"],
    // The shell ignores it (as an interactive bash does): killed 2 s later, with everything inside.
    ["kills a command that ignores SIGTERM after 2 s", "trap '' TERM; sleep 987.625", "sleep 987.625", 137, ""],
  ])("%s, and makes the filesystem read-only again", async (_what, command, marker, exitCode, stdout) => {
    const args = ["--silent", "-c", command];
    const running = runFromSystemDistro(distro.root, args, { disk: "read-only-filesystem" });
    await waitFor("the command inside to start", 30_000, () => processesRunning(marker).length > 0);
    const [recovery] = processesRunning(["/mnt/wslg/distro/bin/nixos-wsl-recovery", ...args].join(" "));
    expect(recovery).toBeDefined();
    const sent = Date.now();
    process.kill(recovery!, "SIGTERM");
    const run = await running;
    expectNoCrash(run.stderr);
    expect({ exitCode: run.exitCode, stdout: run.stdout }, run.stderr).toEqual({ exitCode, stdout });
    if (exitCode === 137) expect(Date.now() - sent).toBeGreaterThanOrEqual(1900);
    expect(run.distroMountBefore).toMatch(/ ro$/);
    expect(run.distroMountAfter).toBe(run.distroMountBefore);
    expect(processesRunning(marker)).toEqual([]);
  });

  it("lets an activation interrupted by SIGTERM finish, then does not run the command (143)", async () => {
    const slow = makeFakeRoot({ generations: [{ number: 1, activate: "sleep 2.375; touch /activation-finished" }] });
    try {
      await execa(BINARY, ["install-recovery", join(slow.root, "bin/nixos-wsl-recovery")]);
      const args = ["-c", "touch /command-ran"];
      const running = runFromSystemDistro(slow.root, args);
      await waitFor("the activation to run", 30_000, () => processesRunning("sleep 2.375").length > 0);
      const [recovery] = processesRunning(["/mnt/wslg/distro/bin/nixos-wsl-recovery", ...args].join(" "));
      process.kill(recovery!, "SIGTERM");
      const run = await running;
      expectNoCrash(run.stderr);
      expect(run.exitCode, run.stderr).toBe(143);
      expect(run.stderr).toMatch(/interrupted by SIGTERM before \S+ --login -c touch \/command-ran was started; the activation of generation 1 had finished; the command was not run/);
      expect(existsSync(join(slow.root, "activation-finished"))).toBe(true);
      expect(existsSync(join(slow.root, "command-ran"))).toBe(false);
      expect(run.mountsUnchanged).toBe(true);
    } finally {
      slow.remove();
    }
  });

  it("makes a read-only filesystem writable for its work, and read-only again afterwards", async () => {
    const entered = await runFromSystemDistro(distro.root, ["--silent", "-c", "touch /written && echo wrote"], { disk: "read-only-filesystem" });
    expect(entered.exitCode).toBe(0);
    expect(entered.stdout).toBe("wrote\n");
    expect(entered.distroMountBefore).toMatch(/ ro$/);
    expect(entered.distroMountAfter).toBe(entered.distroMountBefore);
    expect(entered.mountsUnchanged).toBe(true);

    const rolledBack = await runFromSystemDistro(distro.root, ["--rollback", "--generation", "1"], { disk: "read-only-filesystem" });
    expect(rolledBack.exitCode).toBe(0);
    expect(rolledBack.stdout).toContain("default system: system-2-link -> system-1-link");
    expect(rolledBack.distroMountAfter).toBe(rolledBack.distroMountBefore);
  });

  it.each([
    ["--rollback", ["--rollback", "--generation", "1"]],
    ["entering", ["-c", "true"]],
  ])("explains a read-only device when %s, and changes nothing", async (_what, args) => {
    const run = await runFromSystemDistro(distro.root, args, { disk: "read-only-device" });
    expectNoCrash(run.stderr);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("making the read-only filesystem under /mnt/wslg/distro writable: ");
    expect(run.stderr).toContain("The disk itself is read-only");
    expect(run.stderr).not.toContain("unexpected error");
    expect(run.mountsUnchanged).toBe(true);
  });

  it("explains a caller without CAP_SYS_ADMIN", async () => {
    for (const args of [["-c", "true"], ["--rollback", "--generation", "1"]]) {
      const run = await runFromSystemDistro(distro.root, args, { withoutSysAdmin: true });
      expectNoCrash(run.stderr);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain("making a private mount namespace: unshare: Operation not permitted");
      expect(run.stderr).toContain("Recovery needs root with CAP_SYS_ADMIN");
      expect(run.stderr).not.toContain("unexpected error");
    }
  });
});
