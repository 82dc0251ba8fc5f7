// The systemd of legacy mode as a process: starting it as PID 1 of a new PID,
// mount (and cgroup) namespace, in a session of its own; waiting for it to
// report running or degraded; stopping it (with everything in its namespace);
// and finding it again from what the kernel says, when no record names it.
//
// The namespaces are made by util-linux's unshare, not by this process:
// bun aborts when a process that unshared its PID namespace starts a second
// child in it, and the waiting needs children of its own.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Subprocess } from "bun";
import { RECOVERY_COMMAND, SYSTEMD_BINARY } from "../../src/paths.ts";
import { StepError } from "../../src/stepError.ts";
import { endsWithinGrace, sendSignal } from "../../src/signalProcess.ts";
import { findTool, toolDirectories } from "./tools.ts";
import { cgroupBinds, type LegacyCgroup, isUnderLegacyCgroup, joinCgroup, leaveCgroup } from "./cgroup.ts";
import { SYSTEMD_PID1_INNER } from "../../src/invocation.ts";
import type { SystemdPid1Request } from "./systemdPid1.ts";
import { isRunning, processStartTime, readProcFile, SYSTEMD_LOG } from "./state.ts";
import { describeUnfinished, stopNsenter, systemctlArgv } from "./systemctl.ts";

export interface SystemdTools {
  readonly systemd: string;
  readonly systemctl: string;
  readonly unshare: string;
  readonly nsenter: string;
}

/** The programs that start and ask systemd: the generation's own first (an empty system: the current one's). */
export function findSystemdTools(system: string): SystemdTools {
  const firstIn = system ? [`${system}/sw/bin`] : undefined;
  const wanted = { unshare: "util-linux", nsenter: "util-linux", systemctl: "systemd" } as const;
  const found: Partial<Record<keyof typeof wanted, string>> = {};
  const missing: string[] = [];
  for (const [name, from] of Object.entries(wanted) as [keyof typeof wanted, string][]) {
    const path = findTool(name, process.env, firstIn);
    if (path) found[name] = path;
    else missing.push(`${name} (${from})`);
  }
  if (missing.length > 0) {
    throw new StepError(
      "starting systemd",
      `cannot find ${missing.join(", ")}; looked in ${toolDirectories(process.env, firstIn).join(", ")}`,
      `The generation${system ? ` ${system}` : ""} should have them in sw/bin (unshare and nsenter start systemd in its namespaces, ` +
        `systemctl asks whether it is running): boot another one from Windows with: ${RECOVERY_COMMAND}`,
    );
  }
  return { systemd: system ? `${system}/${SYSTEMD_BINARY}` : "", ...(found as Omit<SystemdTools, "systemd">) };
}

/** A systemd being started, or found running. */
export interface SystemdProcess {
  /** Its PID as WSL's namespace sees it. */
  readonly pid: number;
  /** Field 22 of /proc/PID/stat: with the PID, it names this process and no later one. */
  readonly startTime: string;
  /** When it started (ms since the epoch): the readiness timeout counts from here. */
  readonly startedMs: number;
  readonly cgroupNamespace: boolean;
  /** unshare, its parent, when this shell started it: unshare's end tells how systemd ended. */
  readonly unshare?: Subprocess;
}

/** A SIGHUP, SIGINT or SIGTERM this shell got, once it got one. */
export interface Interruption {
  readonly signal: NodeJS.Signals | null;
  readonly happened: Promise<NodeJS.Signals>;
}

export type Started = { readonly ok: true; readonly systemd: SystemdProcess } | { readonly ok: false; readonly reason: string; readonly output: string };

export type Readiness =
  | { readonly kind: "running"; readonly state: string; readonly warning?: string }
  | { readonly kind: "failed"; readonly reason: string; readonly output: string; readonly unfinished?: string }
  | { readonly kind: "interrupted"; readonly signal: NodeJS.Signals };

const POLL_MS = 5;
/** How often systemd's life is checked while systemctl waits for the end of its start. */
const WATCH_MS = 50;
/** unshare forks systemd at once; this long without a child means it is stuck. */
const FORK_LIMIT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function childOf(pid: number): number | null {
  const first = readProcFile(`/proc/${pid}/task/${pid}/children`)?.trim().split(" ")[0];
  return first ? Number(first) : null;
}

export function socketExists(pid: number): boolean {
  try {
    // Through /proc/PID/root: the socket as systemd's own mount namespace has it.
    return statSync(`/proc/${pid}/root/run/systemd/private`).isSocket();
  } catch {
    return false; // not yet there (or systemd gone, which the caller checks)
  }
}

function readLog(): string {
  try {
    return readFileSync(SYSTEMD_LOG, "utf8");
  } catch {
    return ""; // no output is also an answer; the caller says "printed nothing"
  }
}

/** What systemd printed, less unshare's own line after a SIGKILL (see howItEnded). */
function systemdOutput(): string {
  return readLog()
    .split("\n")
    .filter((line) => !line.includes(UNSHARE_AFTER_SIGKILL))
    .join("\n");
}

/** Whether `systemd` is still that process (a zombie, or a reused PID, is not). */
export function isSame(systemd: Pick<SystemdProcess, "pid" | "startTime">): boolean {
  return isRunning(systemd.pid) && processStartTime(systemd.pid) === systemd.startTime;
}

function unshareArgv(tools: SystemdTools, cgroup: LegacyCgroup | null): string[] {
  // With a cgroup namespace, this executable runs first inside, to show systemd its cgroups as they are there.
  const request: SystemdPid1Request | null = cgroup ? { systemd: tools.systemd, cgroupBinds: cgroupBinds(cgroup) } : null;
  return [
    tools.unshare,
    "--fork",
    "--pid",
    "--mount",
    "--propagation=private", // systemd's mounts stay in its namespace, and WSL's never reach it
    "--mount-proc",
    ...(request ? ["--cgroup", "--", process.execPath, SYSTEMD_PID1_INNER, JSON.stringify(request)] : ["--", tools.systemd]),
  ];
}

/**
 * Start systemd and return as soon as its PID is known, so that it can be
 * recorded before anything else happens. Only for when no systemd of legacy
 * mode runs (the caller looked, in the record and in /proc).
 */
export async function spawnSystemd(tools: SystemdTools, cgroup: LegacyCgroup | null): Promise<Started> {
  // A dead systemd's control socket would answer "connection refused" to the new one's waiters.
  rmSync("/run/systemd", { recursive: true, force: true });
  // The new cgroup namespace is rooted where unshare stands when it makes it: put it there, then step back out.
  const joined = cgroup ? joinCgroup(cgroup) : null;
  let unshare: Subprocess;
  try {
    const logFd = openSync(SYSTEMD_LOG, "w", 0o600);
    try {
      // detached: a session of its own, so the hangup of WSL's terminal never reaches systemd.
      unshare = Bun.spawn(unshareArgv(tools, joined), { stdio: ["ignore", logFd, logFd], env: {}, detached: true });
    } finally {
      closeSync(logFd);
    }
  } finally {
    if (joined) leaveCgroup(joined);
  }
  const startedMs = Date.now();
  for (;;) {
    const pid = childOf(unshare.pid);
    const startTime = pid === null ? null : processStartTime(pid);
    if (pid !== null && startTime !== null) {
      return { ok: true, systemd: { pid, startTime, startedMs, cgroupNamespace: cgroup !== null, unshare } };
    }
    // Gone before its child was seen: systemd (or unshare itself, which says so in the log) ended at once.
    if (unshare.exitCode !== null || unshare.signalCode !== null) return { ok: false, reason: howItEnded(unshare, Date.now() - startedMs), output: systemdOutput() };
    if (Date.now() - startedMs > FORK_LIMIT_MS) {
      unshare.kill("SIGKILL");
      return { ok: false, reason: `${tools.unshare} did not start systemd within ${FORK_LIMIT_MS / 1000} s`, output: systemdOutput() };
    }
    await sleep(POLL_MS);
  }
}

/**
 * unshare ends as systemd did: with its status, or killed by the same signal.
 * But util-linux 2.38's cannot pass SIGKILL on (signal(SIGKILL) fails): it
 * exits 1 with this line instead, which only a SIGKILL of systemd causes.
 */
const UNSHARE_AFTER_SIGKILL = "sigprocmask unblock failed";

function howItEnded(unshare: Subprocess, ranMs: number): string {
  const after = `${seconds(ranMs)} s after it started`;
  const signal = unshare.signalCode ?? (unshare.exitCode === 1 && lastLine(readLog()).includes(UNSHARE_AFTER_SIGKILL) ? "SIGKILL" : null);
  if (signal) return `systemd was killed by ${signal} before it was running, ${after}`;
  return `systemd exited (status ${unshare.exitCode}) before it was running, ${after}`;
}

function lastLine(text: string): string {
  return text.trimEnd().split("\n").at(-1) ?? "";
}

/**
 * The command that waits for the end of the start: for the whole system,
 * `is-system-running --wait` (systemd tells it when the start is over); for
 * one unit (waitFor), `start` of that unit, which joins the start job the
 * boot already queued (or queues one) and returns when that job is done:
 * both wait for systemd's own events rather than polling. --job-mode=fail
 * never turns a pending job of the boot around.
 */
export function readinessArgs(target: string | null): string[] {
  return target === null ? ["is-system-running", "--wait"] : ["start", "--job-mode=fail", "--no-ask-password", "--", target];
}

/**
 * Wait until systemd reports running or degraded (or, with a target, until
 * that unit's start job is done), it dies, the deadline (ms since the epoch)
 * passes, or this shell is interrupted. A systemd that dies or misses the
 * deadline is stopped (after asking it what it was still doing); an
 * interrupted wait leaves it be.
 */
export async function waitUntilRunning(
  tools: SystemdTools,
  systemd: SystemdProcess,
  deadline: number,
  timeoutSeconds: number,
  interruption: Interruption,
  target: string | null = null,
): Promise<Readiness> {
  const failed = async (reason: string, unfinished?: string): Promise<Readiness> => {
    await stopSystemd(systemd);
    return { kind: "failed", reason, output: systemdOutput(), ...(unfinished ? { unfinished } : {}) };
  };
  const goal = target === null ? `reach "running"` : `start ${target} (waitFor)`;
  const timedOut = async () => {
    // Before it is killed: what it was still doing, as systemctl says it (nothing to ask before its control socket exists).
    const unfinished = socketExists(systemd.pid) && isSame(systemd) ? await describeUnfinished(tools, systemd.pid).catch(() => "") : "";
    return failed(
      `systemd did not ${goal} within ${timeoutSeconds} s of its start (gave up after ${seconds(Date.now() - systemd.startedMs)} s). ` +
        "The limit is wsl.init.legacy.readinessTimeout (readinessTimeoutSeconds in /etc/nixos-wsl-init.json)",
      unfinished,
    );
  };

  // The control socket appears early in systemd's start; before it, systemctl has nobody to ask.
  while (!socketExists(systemd.pid)) {
    if (!isSame(systemd)) return failed(await endReason(systemd));
    if (interruption.signal) return { kind: "interrupted", signal: interruption.signal };
    if (Date.now() > deadline) return timedOut();
    await sleep(POLL_MS);
  }

  const ask = Bun.spawn(systemctlArgv(tools, systemd.pid, readinessArgs(target)), { stdio: ["ignore", "pipe", "pipe"], env: {} });
  let watching = true;
  const died = (async () => {
    while (watching && isSame(systemd)) await sleep(WATCH_MS);
    return "died" as const;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), Math.max(0, deadline - Date.now()));
  });
  const first = await Promise.race([ask.exited.then(() => "answered" as const), died, interruption.happened.then(() => "interrupted" as const), late]);
  watching = false;
  clearTimeout(timer);
  if (first !== "answered") await stopNsenter(ask.pid, ask.exited);
  if (first === "interrupted") return { kind: "interrupted", signal: interruption.signal! };
  if (first === "late") return timedOut();
  if (first === "died") return failed(await endReason(systemd));

  const state = (await new Response(ask.stdout).text()).trim();
  if (target === null && (state === "running" || state === "degraded")) return { kind: "running", state };
  if (target !== null && ask.exitCode === 0) return { kind: "running", state: "ready" };
  // Killing systemd kills everything in its namespace, systemctl included: that is no answer.
  if (await endsWithin(systemd, 1000)) return failed(await endReason(systemd));
  const detail = (await new Response(ask.stderr).text()).trim();
  if (target !== null) {
    // systemd runs, only the unit did not start: like "degraded", the shell goes in, told why.
    return {
      kind: "running",
      state: "degraded",
      warning: `${target} (waitFor) did not start${detail ? `: ${detail.split("\n").join(" ")}` : ` (systemctl exited ${ask.exitCode})`}; opening the shell anyway. See: systemctl status ${target}`,
    };
  }
  return failed(`systemd reports "${state || "nothing"}" instead of running${detail ? ` (${detail})` : ""}`);
}

async function endsWithin(systemd: SystemdProcess, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isSame(systemd)) {
    if (Date.now() > until) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/** How a systemd that is gone ended: from unshare's status when this shell started it. */
async function endReason(systemd: SystemdProcess): Promise<string> {
  const ranMs = Date.now() - systemd.startedMs;
  const { unshare } = systemd;
  if (unshare) {
    await Promise.race([unshare.exited, sleep(2000)]);
    if (unshare.exitCode !== null || unshare.signalCode !== null) return howItEnded(unshare, ranMs);
  }
  return `systemd (PID ${systemd.pid}) ended before it was running, ${seconds(ranMs)} s after it started`;
}

/** Stop systemd: as PID 1 of its namespace, it takes everything in there along; unshare, its parent, then ends. */
export async function stopSystemd(systemd: SystemdProcess): Promise<void> {
  if (isSame(systemd)) sendSignal(systemd.pid, "SIGKILL");
  await endsWithin(systemd, 2000);
  const { unshare } = systemd;
  if (unshare && unshare.exitCode === null && unshare.signalCode === null) await endsWithinGrace(unshare.exited, 2000, () => unshare.kill("SIGKILL"));
}

/** A systemd started by legacy mode, found from /proc. */
export interface FoundSystemd extends SystemdProcess {
  /** The generation, from its command line ("" when it does not say). */
  readonly system: string;
}

/** The PIDs of a process in each PID namespace it belongs to, outermost first (from "NSpid:" of /proc/PID/status). */
export function nsPidsOf(status: string): number[] {
  const line = status.split("\n").find((l) => l.startsWith("NSpid:"));
  return line ? line.split(/\s+/).slice(1).filter(Boolean).map(Number) : [];
}

function parentOf(status: string): number {
  return Number(status.split("\n").find((l) => l.startsWith("PPid:"))?.split(/\s+/)[1] ?? 0);
}

/**
 * Whether a command line is a systemd legacy mode starts: systemd itself,
 * a script standing in for it, or unshare about to exec it.
 */
export function looksLikeSystemd(commandLine: readonly string[]): boolean {
  return commandLine.some((word) => basename(word) === "systemd");
}

/** The generation a systemd came from: /nix/store/…-system in …-system/systemd/lib/systemd/systemd. */
export function systemOf(commandLine: readonly string[]): string {
  const binary = commandLine.find((word) => word.endsWith(`/${SYSTEMD_BINARY}`));
  return binary ? binary.slice(0, -SYSTEMD_BINARY.length - 1) : "";
}

/** The epoch (ms) of a start time in clock ticks since boot (USER_HZ is 100 on Linux). */
function startedMsOf(startTime: string): number {
  const btime = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1];
  return btime ? Number(btime) * 1000 + Number(startTime) * 10 : Date.now();
}

/**
 * The systemds legacy mode started, oldest first, from what the kernel says:
 * PID 1 of a PID namespace one level below ours, whose command line is a
 * systemd, and which (or whose parent, unshare) is in legacy mode's
 * sub-cgroup (systemd moves on to init.scope; unshare stays). Without a
 * cgroup hierarchy, a parent named unshare has to do.
 */
export function findStartedSystemds(cgroup: LegacyCgroup | null): FoundSystemd[] {
  const ourLevels = nsPidsOf(readFileSync("/proc/self/status", "utf8")).length;
  const ourCgroupNamespace = readlinkSync("/proc/self/ns/cgroup");
  const found: FoundSystemd[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const status = readProcFile(`/proc/${pid}/status`);
    if (status === null) continue;
    const levels = nsPidsOf(status);
    if (levels.length !== ourLevels + 1 || levels.at(-1) !== 1 || !isRunning(pid)) continue;
    const commandLine = (readProcFile(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean);
    if (!looksLikeSystemd(commandLine)) continue;
    const parent = parentOf(status);
    const ours = cgroup ? isUnderLegacyCgroup(pid, cgroup) || isUnderLegacyCgroup(parent, cgroup) : readProcFile(`/proc/${parent}/comm`)?.trim() === "unshare";
    const startTime = processStartTime(pid);
    if (!ours || startTime === null) continue;
    let cgroupNamespace = false;
    try {
      cgroupNamespace = readlinkSync(`/proc/${pid}/ns/cgroup`) !== ourCgroupNamespace;
    } catch {
      continue; // gone meanwhile
    }
    found.push({ pid, startTime, startedMs: startedMsOf(startTime), cgroupNamespace, system: systemOf(commandLine) });
  }
  return found.sort((a, b) => Number(a.startTime) - Number(b.startTime));
}
