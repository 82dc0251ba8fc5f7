// Old WSL, without systemd: a container whose PID 1 is a plain process
// standing in for WSL's init, and the executable run the way WSL runs root's
// login shell (as -syschdemd, or syschdemd -c CMD).
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { Container } from "./container.ts";
import { HOST_SYSTEMD } from "./paths.ts";
import { childrenOf, waitFor } from "./proc.ts";
import { descendantsOf } from "../../src/processTree.ts";
import { type FakeGeneration, type FakeRoot, makeFakeRoot } from "./fakeRoot.ts";
import { Terminal } from "./terminal.ts";

export interface LegacyDistro {
  readonly fake: FakeRoot;
  readonly container: Container;
}

/**
 * nspawn's hybrid cgroup layout: v1 controllers and name=systemd, and cgroup2
 * at /sys/fs/cgroup/unified, as old WSL 2 has it (less name=systemd). There
 * systemd learns that a unit's processes are all gone (v1 alone tells a
 * systemd in a nested namespace nothing: a stopping user manager would wait
 * out its timeout). nspawn picks this layout for a root whose systemd it
 * recognises by this file; the bind of the host's /usr then covers it.
 */
export function giveHybridCgroups(root: string): void {
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  writeFileSync(join(root, "usr/lib/systemd/libsystemd-shared-252.so"), "");
}

/**
 * `pam` (on by default) gives the root Debian's PAM, dbus and logind, so that
 * shells get login sessions as on NixOS with the module; off, the root has no
 * PAM service for them.
 */
export async function bootLegacyDistro(
  options: { settings?: object; generations?: FakeGeneration[]; pam?: boolean; nspawnArgs?: (root: string) => readonly string[] } = {},
): Promise<LegacyDistro> {
  const fake = makeFakeRoot({ generations: options.generations ?? [{ number: 1 }], pam: options.pam ?? true });
  giveHybridCgroups(fake.root);
  // As NixOS-WSL has it, no console getty: Debian's would restart every second (no agetty here) and keep systemd busy.
  mkdirSync(join(fake.root, "etc/systemd/system"), { recursive: true });
  symlinkSync("/dev/null", join(fake.root, "etc/systemd/system/console-getty.service"));
  writeFileSync(join(fake.root, "sbin/nixos-wsl-init"), "");
  symlinkSync("nixos-wsl-init", join(fake.root, "sbin/syschdemd"));
  // As the NixOS module sets it up: root's login shell is syschdemd.
  const passwd = readFileSync(join(fake.root, "etc/passwd"), "utf8").replace(/^(root:.*:)[^:\n]*$/m, "$1/sbin/syschdemd");
  writeFileSync(join(fake.root, "etc/passwd"), passwd);
  const settings = options.settings ?? { mode: "legacy", defaultUser: "nixos", readinessTimeoutSeconds: 30 };
  writeFileSync(join(fake.root, "etc/nixos-wsl-init.json"), JSON.stringify(settings));
  let container: Container | null = null;
  try {
    container = await Container.boot(fake.dir, { command: ["/usr/bin/sleep", "infinity"], binaryAt: "/sbin/nixos-wsl-init", nspawnArgs: options.nspawnArgs?.(fake.root) });
    await container.leader();
    return { fake, container };
  } catch (error) {
    // Nobody else holds them yet.
    await container?.stop().catch(() => {});
    fake.remove();
    throw error;
  }
}

export interface ShellRun {
  /** Arguments after the program name, e.g. ["-c", "exit 7"]. */
  readonly args?: readonly string[];
  /** argv[0]: "-syschdemd" is how WSL starts a login shell. */
  readonly argv0?: string;
  readonly cwd?: string;
  /** The whole environment the shell starts with. */
  readonly env?: Readonly<Record<string, string>>;
  readonly uid?: number;
  readonly input?: string;
  readonly timeoutMs?: number;
}

export const WSL_LIKE_ENV = {
  PATH: "/usr/local/bin:/usr/bin:/bin:/mnt/c/Windows/system32:/mnt/c/Users/alice/bin",
  HOME: "/root",
  USER: "root",
  LOGNAME: "root",
  SHELL: "/sbin/syschdemd",
  TERM: "dumb",
  WSL_DISTRO_NAME: "NixOS",
  FOO: "bar baz",
};

export interface StartedShell {
  /** The shell's PID as the host sees it, once it is this executable (nsenter's child, after bash's exec). */
  shellPid(): Promise<number>;
  /** Its end: exit code and output. */
  readonly result: ReturnType<typeof execa<{ reject: false; input: string; timeout: number }>>;
}

/** The host's command line that runs the executable inside the container as WSL would (root's login shell). */
async function loginShellArgv(container: Container, run: ShellRun): Promise<string[]> {
  const leader = await container.leader();
  const env = Object.entries(run.env ?? WSL_LIKE_ENV).map(([key, value]) => `${key}=${value}`);
  const uid = String(run.uid ?? 0);
  return [
    "nsenter",
    ...["--target", String(leader), "-m", "-u", "-i", "-n", "-p", "--root", `--wdns=${run.cwd ?? "/root"}`],
    ...["--setuid", uid, "--setgid", uid],
    "--",
    ...["/usr/bin/env", "-i", ...env],
    ...["/usr/bin/bash", "-c", 'exec -a "$0" /sbin/syschdemd "$@"', run.argv0 ?? "-syschdemd", ...(run.args ?? [])],
  ];
}

/** Start the executable inside the container as WSL would, without waiting for it. */
export async function startLoginShell(container: Container, run: ShellRun = {}): Promise<StartedShell> {
  const [program, ...args] = await loginShellArgv(container, run);
  const result = execa(program!, args, { reject: false, input: run.input ?? "", timeout: run.timeoutMs ?? 60_000 });
  const shellPid = () =>
    waitFor("the shell to start", 10_000, () => childrenOf(result.pid!).find((pid) => commOf(pid) === "syschdemd"));
  return { shellPid, result };
}

/** A terminal window of the distro's own, with the login shell in it. */
export interface LoginTerminal {
  readonly terminal: Terminal;
  /**
   * Close the window as WSL does: the distro's pty loses its other end, and
   * the shell's session gets the hangup (SIGKILL to script, which holds that
   * end; closing tmux alone would only hang up the host's pty).
   */
  hangUp(): Promise<void>;
}

/**
 * The login shell in a terminal window, as a person opens it from Windows
 * (TERM from the terminal). As WSL's, the terminal is one of the distro's own
 * (a pty of the container's /dev/pts, through script), not the host's.
 */
export async function openLoginTerminal(container: Container, run: ShellRun = {}): Promise<LoginTerminal> {
  const argv = await loginShellArgv(container, { ...run, env: run.env ?? { ...WSL_LIKE_ENV, TERM: "xterm" } });
  const split = argv.indexOf("--");
  const inside = argv.slice(split + 1).map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  const terminal = await Terminal.open([...argv.slice(0, split + 1), "/usr/bin/env", "SHELL=/usr/bin/sh", "/usr/bin/script", "-qfec", `exec ${inside}`, "/dev/null"]);
  const hangUp = async () => {
    // The window runs nsenter, whose child (in the container) became script.
    for (const pid of descendantsOf(await terminal.commandPid()).filter((pid) => commOf(pid) === "script")) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ended meanwhile
      }
    }
    await terminal.close();
  };
  return { terminal, hangUp };
}

/** A command run as root inside legacy mode's systemd namespaces (mount and PID), as from one of its shells. */
export async function inSystemd(container: Container, argv: readonly string[]) {
  const { pid } = JSON.parse(await container.readFile("/run/nixos-wsl/legacy.json")) as { pid: number };
  return container.exec(["nsenter", "--target", String(pid), "--mount", "--pid", "--", ...argv]);
}

/** Run the executable inside the container as WSL would, and wait for it. */
export async function runLoginShell(container: Container, run: ShellRun = {}) {
  return (await startLoginShell(container, run)).result;
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

/** The PIDs (as the container sees them) of live processes with this command name (zombies left out). */
export async function processesNamed(container: Container, name: string): Promise<number[]> {
  const { stdout } = await container.exec(["ps", "-e", "-o", "pid=,stat=,comm="]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, stat, comm]) => comm === name && !stat!.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

/** Touched by slowSystemd's wrapper when it starts, and by addSlowUnit's unit. */
export const WRAPPER_STARTED = "/run/test-systemd-wrapper-started";
export const SLOW_UNIT_STARTED = "/run/test-slow-unit-started";

/** A generation whose systemd is a wrapper that sleeps `seconds` (before systemd's control socket exists), then execs the real one. */
export function slowSystemd(seconds: number, number = 1): FakeGeneration {
  return { number, systemdScript: `touch ${WRAPPER_STARTED}; sleep ${seconds}; exec ${HOST_SYSTEMD}` };
}

/**
 * A unit that keeps systemd from reaching "running" for `seconds` once its control socket is up.
 * `early`: it starts at once instead of after basic.target (DefaultDependencies=no), so that it
 * is the one job still running a few seconds in, however slowly the rest of the start goes;
 * Before= keeps multi-user.target waiting for it (a target orders itself only after units with default dependencies).
 */
export function addSlowUnit(fake: FakeRoot, seconds: number, { early = false } = {}): void {
  const units = join(fake.root, "etc/systemd/system");
  mkdirSync(join(units, "multi-user.target.wants"), { recursive: true });
  writeFileSync(
    join(units, "test-slow.service"),
    `[Unit]\nDescription=Holds back the end of the start (test)\n${early ? "DefaultDependencies=no\nBefore=multi-user.target\n" : ""}` +
      `[Service]\nType=oneshot\nExecStart=/bin/sh -c "touch ${SLOW_UNIT_STARTED}; exec sleep ${seconds}"\n`,
  );
  symlinkSync("../test-slow.service", join(units, "multi-user.target.wants/test-slow.service"));
}

/** Wait for a file to exist inside the container. */
export async function waitForFile(container: Container, path: string, timeoutMs = 20_000): Promise<void> {
  const root = `/proc/${await container.leader()}/root`;
  await waitFor(path, timeoutMs, () => existsSync(`${root}${path}`));
}

/**
 * Every system manager (systemd, or a stand-in named systemd) running in the
 * container, PID 1 of legacy mode's namespace or not; user managers
 * (`systemd --user`, started for login sessions) are not counted.
 */
export async function systemdsIn(container: Container): Promise<number[]> {
  const { stdout } = await container.exec(["ps", "-e", "-o", "pid=,stat=,comm=,args="]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, stat, comm, ...args]) => comm === "systemd" && !stat!.startsWith("Z") && !args.includes("--user"))
    .map(([pid]) => Number(pid));
}

/** Touched by addFailingUnit's unit. */
export const FAILING_UNIT = "test-fail.service";

/** A unit, wanted by multi-user.target, that fails: systemd ends its start "degraded". */
export function addFailingUnit(fake: FakeRoot): void {
  const units = join(fake.root, "etc/systemd/system");
  mkdirSync(join(units, "multi-user.target.wants"), { recursive: true });
  writeFileSync(join(units, FAILING_UNIT), `[Unit]\nDescription=Fails (test)\n[Service]\nType=oneshot\nExecStart=/bin/false\n`);
  symlinkSync(`../${FAILING_UNIT}`, join(units, `multi-user.target.wants/${FAILING_UNIT}`));
}

/**
 * Debian's units that fail in these containers (kernel file systems nspawn does
 * not let mount): masked, so that systemd can end its start "running" rather than "degraded".
 */
export const CONTAINER_FAILURES = ["dev-hugepages.mount", "sys-fs-fuse-connections.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-kernel-config.mount"];

export function maskContainerFailures(fake: FakeRoot): void {
  const units = join(fake.root, "etc/systemd/system");
  mkdirSync(units, { recursive: true });
  for (const unit of CONTAINER_FAILURES) symlinkSync("/dev/null", join(units, unit));
}

/** A unit whose stop never ends by itself (TimeoutStopSec=infinity), wanted by multi-user.target. */
export function addUnstoppableUnit(fake: FakeRoot): void {
  const units = join(fake.root, "etc/systemd/system");
  mkdirSync(join(units, "multi-user.target.wants"), { recursive: true });
  writeFileSync(
    join(units, "test-unstoppable.service"),
    `[Unit]\nDescription=Never stops (test)\n[Service]\nExecStart=/usr/bin/sleep 1000\nExecStop=/usr/bin/sleep 1000\nTimeoutStopSec=infinity\n`,
  );
  symlinkSync("../test-unstoppable.service", join(units, "multi-user.target.wants/test-unstoppable.service"));
}

/** `nixos-wsl-init ARGS` as root in the container, outside systemd's namespaces (as from Windows: wsl --exec). */
export function runInit(container: Container, args: readonly string[], timeoutMs = 60_000) {
  return container.exec(["bash", "-c", 'exec -a nixos-wsl-init /sbin/nixos-wsl-init "$@"', "nixos-wsl-init", ...args], { timeout: timeoutMs });
}
