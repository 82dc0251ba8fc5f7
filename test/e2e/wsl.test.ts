// Native boot as WSL really drives it (issue #10): the WSL stand-in boots fake
// NixOS roots with real systemd, runs WSL's /bin/sh check every 250 ms, and
// starts shells the WSL way through the login-shell wrapper.
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../harness/proc.ts";
import { type FakeGeneration, makeFakeRoot, storeName } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { BINARY_ASIDE, installBinLine, prepareWslRoot, type WslRootOptions, WslStandIn } from "../harness/wslStandIn.ts";
import { runCleanups } from "../harness/cleanups.ts";

requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

const SET_ENVIRONMENT = 'export __NIXOS_SET_ENVIRONMENT_DONE=1\nexport NIXOS_FROM_SET_ENVIRONMENT="set by /etc/set-environment"\nexport PATH="/run/current-system/sw/bin:$PATH"\n';
const storePath = (n: number) => `/nix/store/${storeName(n)}`;
/** The activation of generation 1, which installs /bin's entries and then runs `extra`. */
const activation = (extra = "") => `${installBinLine(storePath(1))}\n${extra}`;

async function bootLikeWsl(generation: FakeGeneration, options: WslRootOptions = {}, binaryAt?: string, pam = false) {
  const fake = makeFakeRoot({ generations: [generation], pam });
  cleanups.push(() => fake.remove());
  const { shellPath } = prepareWslRoot(fake, [generation.number], { setEnvironment: SET_ENVIRONMENT, ...options });
  const wsl = await WslStandIn.boot(fake, { binaryAt });
  cleanups.push(() => wsl.stop());
  return { fake, wsl, shellPath };
}

describe("native boot driven like WSL", () => {
  it("passes WSL's /bin/sh check within the budget after install-bin; /bin/true units and WSL-way shells work", async () => {
    const { fake, wsl } = await bootLikeWsl({ number: 1, activate: activation() }, { config: { shells: { nixos: "/run/current-system/sw/bin/bash" } } });
    const check = await wsl.waitForSystemd();
    expect(check.passed, `WSL's check did not pass within 10 s:\n${wsl.kmsg()}`).toBe(true);
    expect(check.ms).toBeLessThan(10_000);

    // /bin/sh finds systemctl and grep through the system even with no FHS directory holding them.
    expect(await wsl.container.exec(["/usr/bin/env", "-i", "PATH=/sbin:/bin", "/bin/sh", "-c", 'systemctl is-system-running | grep -E "running|degraded"'])).toMatchObject({ exitCode: 0 });
    for (const name of ["true", "mount", "login"]) {
      expect((await wsl.container.exec(["readlink", `/bin/${name}`])).stdout).toBe(`${fake.storePath(1)}/sw/bin/${name}`);
    }

    // A unit as WSL generates them, calling /bin/true.
    const unit = await wsl.container.exec(["systemd-run", "--wait", "--quiet", "-p", "Type=oneshot", "/bin/true"]);
    expect(unit.exitCode, unit.stderr).toBe(0);

    // `wsl CMD`: SHELL -c CMD through the wrapper sees /etc/set-environment's variables; the exit code comes back.
    const env = await wsl.shell("nixos", { command: "env; id -u; exit 3" });
    expect(env.exitCode, env.stderr).toBe(3);
    expect(env.stdout).toContain("NIXOS_FROM_SET_ENVIRONMENT=set by /etc/set-environment");
    expect(env.stdout).toMatch(/^PATH=\/run\/current-system\/sw\/bin:/m);
    expect(env.stdout).toMatch(/^1000$/m);
    // An interactive login shell (argv0 -nixos-wsl-shell) is the real shell as a login shell.
    const login = await wsl.shell("nixos", { login: true, input: 'echo "$0 login=$(shopt -q login_shell && echo yes) $NIXOS_FROM_SET_ENVIRONMENT"; exit 5\n' });
    expect(login.exitCode, login.stderr).toBe(5);
    expect(login.stdout).toContain("-bash login=yes set by /etc/set-environment");

    const status = await wsl.status();
    expect(status.stdout).toMatch(/^Budget: +shim \d+ ms, activation \d+(\.\d)? m?s, systemd \d+(\.\d)? m?s: \d+(\.\d)? m?s of the 10 s WSL waits$/m);
    expect(wsl.kmsg()).toMatch(/^<6>nixos-wsl-init: WSL waits up to 10\.0 s for systemd/m);
  });

  it("bash given -c imports /etc/set-environment itself: one bash, and nothing of the import left to its children", async () => {
    // How each shell got the import: from the file BASH_ENV named (bash itself), or in a bash of the wrapper's own.
    const recording = `${SET_ENVIRONMENT}export IMPORTED_VIA="\${BASH_SOURCE[1]:-a bash of its own}"\n`;
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation() }, { setEnvironment: recording, config: { shells: { nixos: "/run/current-system/sw/bin/bash" } } });
    expect((await wsl.waitForSystemd()).passed, wsl.kmsg()).toBe(true);

    const report = 'echo "$IMPORTED_VIA|$NIXOS_FROM_SET_ENVIRONMENT|${BASH_ENV-unset}|$(ls -l /proc/$$/fd | grep -c memfd)"; bash -c \'echo "child ${BASH_ENV-unset}"\'; exit 3';
    const command = await wsl.shell("nixos", { command: report, stdin: "null" });
    expect(command.exitCode, command.stderr).toBe(3);
    expect(command.stderr).toBe("");
    const [first, child] = command.stdout.split("\n");
    expect(first).toMatch(/^\/proc\/self\/fd\/\d+\|set by \/etc\/set-environment\|unset\|0$/);
    expect(child).toBe("child unset");

    // With stdin a socket (a program piping into it), bash reads bashrc instead of BASH_ENV: imported in a bash of its own.
    const piped = await wsl.shell("nixos", { command: report });
    expect(piped.exitCode, piped.stderr).toBe(3);
    expect(piped.stdout).toBe("a bash of its own|set by /etc/set-environment|unset|0\nchild unset");

    // A BASH_ENV of the caller's own is still read: the import then runs in a bash of its own, as before.
    await wsl.container.exec(["sh", "-c", "echo 'echo \"mine was read\"' > /home/nixos/mine.sh"]);
    const theirs = await wsl.shell("nixos", { command: 'echo "$IMPORTED_VIA|$NIXOS_FROM_SET_ENVIRONMENT"', env: { BASH_ENV: "/home/nixos/mine.sh" }, stdin: "null" });
    expect(theirs.exitCode, theirs.stderr).toBe(0);
    expect(theirs.stdout).toBe("mine was read\na bash of its own|set by /etc/set-environment");

    // An interactive login shell reads no BASH_ENV: imported in a bash of its own.
    const login = await wsl.shell("nixos", { login: true, input: 'echo "$IMPORTED_VIA|$NIXOS_FROM_SET_ENVIRONMENT"; exit 5\n' });
    expect(login.exitCode, login.stderr).toBe(5);
    expect(login.stdout).toContain("a bash of its own|set by /etc/set-environment");

    // A failing /etc/set-environment: said in one line, and the command runs with what it did set.
    await wsl.container.exec(["sh", "-c", "printf 'export PARTLY=yes\\nfalse\\n' > /etc/set-environment"]);
    const failing = await wsl.shell("nixos", { command: 'echo "partly=$PARTLY"; exit 7', stdin: "null" });
    expect(failing.exitCode, failing.stderr).toBe(7);
    expect(failing.stdout).toBe("partly=yes");
    expect(failing.stderr).toBe("nixos-wsl-shell: /etc/set-environment failed (exit code 1); going on without all of it");
  });

  it("starts the user session as WSL does: /bin/login -f with PAM gets logind a session and user@1000 goes active", async () => {
    const { fake, wsl } = await bootLikeWsl({ number: 1, activate: activation() }, {}, undefined, true);
    const check = await wsl.waitForSystemd();
    expect(check.passed, `WSL's check did not pass within 10 s:\n${wsl.kmsg()}`).toBe(true);
    expect((await wsl.container.exec(["readlink", "/bin/login"])).stdout).toBe(`${fake.storePath(1)}/sw/bin/login`);

    const session = await wsl.startUserSession("nixos");
    const why = async () =>
      `login's terminal:\n${wsl.loginTranscript()}\nuser@1000: ${session.state}\n` +
      (await wsl.container.exec(["journalctl", "-b", "--no-pager", "-n", "80", "-o", "short-monotonic"])).stdout;
    expect(session.active, await why()).toBe(true);
    expect(session.state).toBe("active");
    expect(session.ms).toBeLessThan(10_000);

    // logind has the login's session, on its terminal, for nixos; the user manager runs as nixos.
    const sessions = await wsl.container.exec(["loginctl", "list-sessions", "--no-legend"]);
    expect(sessions.stdout).toMatch(/^\s*\S+\s+1000\s+nixos\b.*pts\/\d+/m);
    const user = await wsl.container.exec(["loginctl", "show-user", "nixos", "-p", "State", "-p", "RuntimePath"]);
    expect(user.stdout).toMatch(/^State=(active|online)$/m);
    expect(user.stdout).toMatch(/^RuntimePath=\/run\/user\/1000$/m);
    const manager = await wsl.container.exec(["systemctl", "show", "user@1000", "-p", "MainPID", "--value"]);
    expect((await wsl.container.exec(["ps", "-o", "user=,args=", "-p", manager.stdout.trim()])).stdout).toMatch(/^nixos\s+.*systemd --user/);
    // WSL keeps the login alive: its process is still there, holding the session.
    expect((await wsl.container.exec(["pgrep", "-u", "root", "-x", "login"])).exitCode).toBe(0);
  }, 60_000);

  it("without pam_systemd, login -f opens no logind session and the stand-in reports the user session as failed", async () => {
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation() }, {}, undefined, true);
    expect((await wsl.waitForSystemd()).passed).toBe(true);
    expect((await wsl.container.exec(["sed", "-i", "/pam_systemd/d", "/etc/pam.d/common-session"])).exitCode).toBe(0);
    const session = await wsl.startUserSession("nixos", 2_000); // where WSL says "Failed to start the systemd user session"
    expect(session.active).toBe(false);
    expect(session.state).toBe("inactive");
    // It asked again and again (every 250 ms, or as fast as systemctl answers on a busy machine) for its whole budget.
    expect(session.checks).toBeGreaterThanOrEqual(2);
    expect(session.ms).toBeGreaterThanOrEqual(2_000);
    expect((await wsl.container.exec(["loginctl", "list-sessions", "--no-legend"])).stdout.trim()).toBe("");
  }, 60_000);

  it("a shell started during a 5 s activation waits for it, then runs with the NixOS environment", async () => {
    const extra = `rm -f /run/current-system; touch /run/test-unlinked; sleep 5; ln -sfn ${storePath(1)} /run/current-system`;
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation(extra) });
    const leader = await wsl.container.leader();
    // Once the activation has removed /run/current-system (the fake one links it first), and well before it ends.
    await waitFor("the activation to unlink /run/current-system", 10_000, () => existsSync(`/proc/${leader}/root/run/test-unlinked`));
    const shell = await wsl.shell("nixos", { command: 'test -e /run/current-system && echo "$NIXOS_FROM_SET_ENVIRONMENT"; exit 42' });
    expect(shell.exitCode, shell.stderr).toBe(42);
    expect(shell.stdout).toBe("set by /etc/set-environment");
    expect(shell.stderr).toContain("NixOS is still activating; waiting for it to finish");
    expect(shell.ms).toBeGreaterThan(2_500);
  });

  it("an activation of 12 s against the default budget: warned in the kernel log, flagged by status", async () => {
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation("sleep 12") });
    const check = await wsl.waitForSystemd();
    expect(check.passed).toBe(false);
    expect(wsl.kmsg()).toMatch(/^<4>nixos-wsl-init: the activation is still running after 5\.\d s, half of the 10 s WSL waits for systemd.*wsl\.init\.initTimeout \(\[boot\] initTimeout in \/etc\/wsl\.conf\)/m);
    expect(["running", "degraded"]).toContain(await wsl.container.systemState(30_000));
    const status = await wsl.status();
    expect(status.stdout).toMatch(/^Budget: +shim \d+ ms, activation 12\.\d s, systemd .*: 1\d\.\d s, OVER the 10 s WSL waits: .*wsl\.init\.initTimeout/m);
    const record = JSON.parse((await wsl.status("/sbin/init", "--json")).stdout) as { budgetMs: number };
    expect(record.budgetMs).toBe(10_000);
  }, 60_000);

  it("reads [boot] initTimeout from /etc/wsl.conf", async () => {
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation() }, { wslConf: "[boot]\nsystemd = true\ninitTimeout = 25000\n" });
    expect((await wsl.waitForSystemd(25_000)).passed).toBe(true);
    expect(wsl.kmsg()).toMatch(/WSL waits up to 25\.0 s for systemd/);
    expect((await wsl.status()).stdout).toMatch(/of the 25 s WSL waits$/m);
    // As `wsl --exec` runs it: a PATH of Windows directories only, without the system's programs.
    const fromWindows = await wsl.container.exec(["/usr/bin/env", "PATH=/mnt/c/WINDOWS/system32", "/usr/bin/bash", "-c", 'exec -a nixos-wsl-init /sbin/init status']);
    expect(fromWindows.stdout).not.toContain("systemd unknown");
    expect(fromWindows.stdout).toMatch(/^Budget: +shim \d+ ms, activation [\d.]+ m?s, systemd [^\n]*of the 25 s WSL waits$/m);
  });

  it("with a /sbin/init that is not executable, boots without systemd, and status says why", async () => {
    const { wsl } = await bootLikeWsl({ number: 1, activate: activation() }, {}, BINARY_ASIDE);
    const check = await wsl.waitForSystemd(1_500);
    expect(check.passed).toBe(false);
    expect(wsl.container.output()).toContain("booting without systemd");
    const leader = await wsl.container.leader();
    expect(await wsl.container.cmdline(leader)).toEqual(["/usr/bin/sleep", "infinity"]);
    const status = await wsl.status(BINARY_ASIDE);
    expect(status.exitCode).not.toBe(0);
    expect(status.stderr).toContain("the native shim did not run");
    expect(status.stderr).toContain("/sbin/init is not executable");
  });
});

describe("install-bin", () => {
  it("replaces the four entries by rename, leaves the rest of /bin alone, and refuses a system that lacks a program", async () => {
    const { execa } = await import("execa");
    const { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/nixos-wsl-init-test-");
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const system = `${dir}/system`;
    mkdirSync(`${system}/sw/bin`, { recursive: true });
    mkdirSync(`${dir}/root/bin`, { recursive: true });
    for (const tool of ["bash", "true", "mount", "login"]) symlinkSync(`/usr/bin/${tool}`, `${system}/sw/bin/${tool}`);
    writeFileSync(`${dir}/root/bin/other`, "mine\n");
    writeFileSync(`${dir}/root/bin/sh`, "old\n");
    const oldInode = lstatSync(`${dir}/root/bin/sh`).ino;
    const binary = requireBinary();
    const run = (...args: string[]) => execa("bash", ["-c", 'exec -a nixos-wsl-init "$0" install-bin "$@"', binary, ...args], { reject: false });

    const first = await run("--system", system, "--root", `${dir}/root`);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe(`install-bin: /bin/sh, /bin/mount, /bin/true, /bin/login now point into ${system}`);
    expect(lstatSync(`${dir}/root/bin/sh`).ino).not.toBe(oldInode);
    expect(readFileSync(`${dir}/root/bin/sh`, "utf8")).toContain(`exec -a "$0" ${system}/sw/bin/bash "$@"`);
    expect(readlinkSync(`${dir}/root/bin/true`)).toBe(`${system}/sw/bin/true`);
    expect(readFileSync(`${dir}/root/bin/other`, "utf8")).toBe("mine\n");
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(`${dir}/root/bin`).sort()).toEqual(["login", "mount", "other", "sh", "true"]);
    expect((await run("--system", system, "--root", `${dir}/root`)).stdout).toBe(""); // nothing to change

    rmSync(`${system}/sw/bin/login`);
    const missing = await run("--system", system, "--root", `${dir}/root`);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`checking the system: ${system}/sw/bin/login is missing, so /bin would point nowhere; nothing was changed`);
    expect((await run()).exitCode).toBe(2);
  });
});
