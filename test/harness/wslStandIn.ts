// A stand-in for WSL's own init around a fake NixOS root booted in
// systemd-nspawn (container.ts): it does what WSL does at start, in that order
// and with that timing. The container's command is a small script that, like
// WSL, checks that /sbin/init is executable (or boots without systemd: a plain
// PID 1), and execs it with argv ["/sbin/init"] and only WSL's three variables.
// From outside, through nsenter, it then runs WSL's check every 250 ms with a
// bare FHS PATH, starts the default user's session as WSL does (a kept-alive
// `/bin/login -f USER`, then `systemctl is-active user@UID` every 250 ms), and
// starts shells the WSL way (the passwd shell, no PAM).
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { Container } from "./container.ts";
import type { FakeRoot } from "./fakeRoot.ts";
import { sleep } from "./proc.ts";

export const FHS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** What WSL runs through popen (so /bin/sh -c) to learn whether systemd is up. */
export const WSL_CHECK = 'systemctl is-system-running | grep -E "running|degraded"';
export const WSL_CHECK_INTERVAL_MS = 250;
export const HOST_VERSION = "2.6.1.0";
/** Where the executable is bound when /sbin/init must stay a plain, non-executable file. */
export const BINARY_ASIDE = "/nix/nixos-wsl-init";

const STAND_IN = `#!/usr/bin/sh
set -e
mount --make-rprivate /
umount /dev/shm
mkdir -p /run/shm
mount -t tmpfs -o mode=1777,nosuid,nodev wsl-shm /run/shm
rmdir /dev/shm
ln -s /run/shm /dev/shm
env="container=wsl container_host_id=windows container_host_version_id=${HOST_VERSION}"
if [ -f /sbin/init ] && [ -x /sbin/init ]; then
  exec /usr/bin/env -i $env /sbin/init
fi
echo "wsl-stand-in: /sbin/init is not executable: booting without systemd"
exec /usr/bin/env -i $env /usr/bin/sleep infinity
`;

/** The activation line that installs /bin's entries, as the NixOS module's activation does (the executable is /sbin/init here). */
export function installBinLine(storePath: string, binary = "/sbin/init"): string {
  return `/usr/bin/bash -c 'exec -a nixos-wsl-init "$1" install-bin --system "$2"' bash ${binary} ${storePath}`;
}

export interface WslRootOptions {
  /** Written to /etc/set-environment (shell lines). */
  readonly setEnvironment?: string;
  /** /etc/wsl.conf's text, when one is wanted. */
  readonly wslConf?: string;
  /** /etc/nixos-wsl-init.json's object. */
  readonly config?: object;
  /** Where the wrapper binary is reached from the root: /sbin/init unless the binary is bound aside. */
  readonly binary?: string;
}

/**
 * Make a fake root what a NixOS system with this project's module looks like
 * to WSL: the generations' sw/bin hold grep, true, mount, login and
 * nixos-wsl-shell, and the user nixos has the wrapper as login shell (by its
 * store path, which exists before the activation has run).
 */
export function prepareWslRoot(fake: FakeRoot, generations: readonly number[], options: WslRootOptions = {}): { shellPath: string } {
  const binary = options.binary ?? "/sbin/init";
  for (const number of generations) {
    const sw = join(fake.root, fake.storePath(number), "sw/bin");
    for (const tool of ["grep", "true", "mount", "login", "id"]) {
      if (!existsSync(join(sw, tool))) symlinkSync(`/usr/bin/${tool}`, join(sw, tool));
    }
    symlinkSync(binary, join(sw, "nixos-wsl-shell"));
  }
  const newest = Math.max(...generations);
  const shellPath = `${fake.storePath(newest)}/sw/bin/nixos-wsl-shell`;
  // root and nixos as the module makes them; other users (messagebus, with PAM) stay.
  const others = readFileSync(join(fake.root, "etc/passwd"), "utf8")
    .split("\n")
    .filter((line) => line !== "" && !/^(root|nixos):/.test(line));
  writeFileSync(
    join(fake.root, "etc/passwd"),
    `root:x:0:0:System administrator:/root:/bin/sh\nnixos:x:1000:100::/home/nixos:${shellPath}\n${others.map((line) => `${line}\n`).join("")}`,
  );
  writeFileSync(join(fake.root, "etc/set-environment"), options.setEnvironment ?? "export __NIXOS_SET_ENVIRONMENT_DONE=1\n");
  if (options.wslConf !== undefined) writeFileSync(join(fake.root, "etc/wsl.conf"), options.wslConf);
  if (options.config !== undefined) writeFileSync(join(fake.root, "etc/nixos-wsl-init.json"), JSON.stringify(options.config));
  return { shellPath };
}

export interface CheckOutcome {
  /** true when WSL's check passed within the budget. */
  readonly passed: boolean;
  /** Milliseconds from the stand-in's start to the check that passed (or to giving up). */
  readonly ms: number;
  readonly checks: number;
}

export interface UserSessionOutcome {
  /** true when `systemctl is-active user@UID` said active within the budget. */
  readonly active: boolean;
  /** Milliseconds from forking `/bin/login -f` to the check that passed (or to giving up). */
  readonly ms: number;
  readonly checks: number;
  /** What the last `systemctl is-active user@UID` printed. */
  readonly state: string;
}

export interface ShellResult {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export class WslStandIn {
  /** The kept-alive `/bin/login -f USER` (nsenter, then script holding its pty), once started. */
  private login: ResultPromise | null = null;
  private loginOutput = "";

  private constructor(
    readonly container: Container,
    /** When the stand-in was started (performance.now()), WSL's clock. */
    readonly startedAt: number,
  ) {}

  static async boot(fake: FakeRoot, options: { binaryAt?: string } = {}): Promise<WslStandIn> {
    writeFileSync(join(fake.root, "wsl-like-init"), STAND_IN);
    chmodSync(join(fake.root, "wsl-like-init"), 0o755);
    const startedAt = performance.now();
    const container = await Container.boot(fake.dir, { command: ["/wsl-like-init"], binaryAt: options.binaryAt });
    return new WslStandIn(container, startedAt);
  }

  /** WSL's wait for systemd: the check every 250 ms until it passes or `budgetMs` have passed since the start. */
  async waitForSystemd(budgetMs = 10_000, check = WSL_CHECK, path = FHS_PATH): Promise<CheckOutcome> {
    let checks = 0;
    for (;;) {
      const tick = performance.now();
      checks++;
      const result = await this.container.exec(["/usr/bin/env", "-i", `PATH=${path}`, "/bin/sh", "-c", check], { timeout: 5_000 });
      const ms = performance.now() - this.startedAt;
      if (result.exitCode === 0) return { passed: true, ms, checks };
      if (ms > budgetMs) return { passed: false, ms, checks };
      await sleep(Math.max(0, WSL_CHECK_INTERVAL_MS - (performance.now() - tick)));
    }
  }

  /**
   * WSL's start of the default user's session, after its /bin/sh check: it
   * forks `/bin/login -f USER` and keeps it alive (here under `script`, which
   * gives login the terminal it insists on, inside the container's
   * namespaces), then runs `systemctl is-active user@UID` every 250 ms until it
   * succeeds or `budgetMs` have passed since the fork. When it fails, WSL tells
   * the user "Failed to start the systemd user session".
   */
  async startUserSession(user = "nixos", budgetMs = 10_000): Promise<UserSessionOutcome> {
    if (this.login) throw new Error("the user session was started already");
    const { uid } = await this.passwdEntry(user);
    const leader = await this.container.leader();
    const forked = performance.now();
    this.login = execa(
      "nsenter",
      ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "--", "/usr/bin/env", "-i", `PATH=${FHS_PATH}`, "TERM=xterm-256color", "SHELL=/bin/sh", "/usr/bin/script", "-qfec", `exec /bin/login -f ${user}`, "/dev/null"],
      { reject: false, all: true, stdin: "pipe" }, // stdin stays open: the session's shell waits on it, as WSL's does
    );
    this.login.all?.on("data", (chunk: Buffer) => {
      this.loginOutput += chunk.toString();
    });
    let checks = 0;
    for (;;) {
      const tick = performance.now();
      checks++;
      const result = await this.container.exec(["/usr/bin/env", "-i", `PATH=${FHS_PATH}`, "systemctl", "is-active", `user@${uid}`], { timeout: 5_000 });
      const ms = performance.now() - forked;
      const state = result.stdout.trim();
      if (result.exitCode === 0) return { active: true, ms, checks, state };
      if (ms > budgetMs) return { active: false, ms, checks, state };
      await sleep(Math.max(0, WSL_CHECK_INTERVAL_MS - (performance.now() - tick)));
    }
  }

  /** What the kept-alive login wrote to its terminal so far (and nsenter's own errors). */
  loginTranscript(): string {
    return this.loginOutput;
  }

  /** A user's shell from the container's /etc/passwd. */
  async passwdEntry(user: string): Promise<{ uid: number; gid: number; home: string; shell: string }> {
    const line = (await this.container.readFile("/etc/passwd")).split("\n").find((l) => l.startsWith(`${user}:`));
    if (!line) throw new Error(`${user} is not in the container's /etc/passwd`);
    const [, , uid, gid, , home, shell] = line.split(":");
    return { uid: Number(uid), gid: Number(gid), home: home!, shell: shell! };
  }

  /**
   * Start `user`'s shell as WSL does, without PAM: `-NAME` as argv0 for an
   * interactive login (stdin given as `input`), or `SHELL -c CMD` for `wsl CMD`
   * (with `env` added to the environment WSL gives it, and stdin a socket or /dev/null).
   */
  async shell(
    user: string,
    how: { command: string; env?: Record<string, string>; stdin?: "socket" | "null" } | { login: true; input: string },
    timeoutMs = 30_000,
  ): Promise<ShellResult> {
    const entry = await this.passwdEntry(user);
    const extra = "env" in how && how.env ? Object.entries(how.env).map(([name, value]) => `${name}=${value}`) : [];
    const env = [`HOME=${entry.home}`, `USER=${user}`, `LOGNAME=${user}`, `SHELL=${entry.shell}`, `PATH=${FHS_PATH}`, "TERM=xterm-256color", ...extra];
    const name = entry.shell.slice(entry.shell.lastIndexOf("/") + 1);
    const start =
      "command" in how ? ["/usr/bin/env", "-i", ...env, entry.shell, "-c", how.command] : ["/usr/bin/env", "-i", ...env, "/usr/bin/bash", "-c", `cd; exec -a -${name} "$0"`, entry.shell];
    const leader = await this.container.leader();
    const started = performance.now();
    const result = await execa("nsenter", ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", `--setuid=${entry.uid}`, `--setgid=${entry.gid}`, "--", ...start], {
      reject: false,
      timeout: timeoutMs,
      // By default stdin is a socket, as Node gives a child (and bash then takes itself for a remote shell).
      ...("stdin" in how && how.stdin === "null" ? { stdin: "ignore" as const } : { input: "input" in how ? how.input : "" }),
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr, ms: performance.now() - started };
  }

  /** `nixos-wsl-init status` inside, under the name a person uses. */
  status(binary = "/sbin/init", ...args: string[]) {
    return this.container.exec(["/usr/bin/bash", "-c", 'exec -a nixos-wsl-init "$0" status "$@"', binary, ...args]);
  }

  kmsg(): string {
    return this.container.kmsg();
  }

  async stop(): Promise<void> {
    try {
      await this.container.stop();
    } finally {
      // The container's end takes login with it; nsenter, outside it, is stopped by its PID.
      if (this.login) {
        this.login.kill("SIGKILL");
        await this.login;
      }
    }
  }
}
