// `nixos-wsl-init legacy --shutdown` (or `syschdemd --shutdown`): stop the
// systemd legacy mode started, the way genie's --shutdown does. Under the
// same lock as a start (so it never races one), it asks systemd to power off
// inside its namespaces, waits for it to end, kills it (PID 1 of its
// namespace: everything in there goes with it) when it does not end in time,
// and clears the record, so that the next shell starts a fresh systemd.
import { closeSync, existsSync, readdirSync } from "node:fs";
import type { Settings } from "../../src/config.ts";
import { EXIT_FAILURE, EXIT_OK } from "../../src/exitCodes.ts";
import { errorCode, inStep } from "../../src/stepError.ts";
import { currentLegacyCgroup } from "./cgroup.ts";
import { takeLock } from "./lock.ts";
import { childrenOf } from "../../src/processTree.ts";
import { sendSignal, sendSignalEach } from "../../src/signalProcess.ts";
import { clearState, isAlive, isRunning, LEGACY_STATE, NAMESPACE_DIR, parentOf, processState, readProcFile, readState, recordActivity, SYSTEMD_LOG } from "./state.ts";
import { askSystemctl } from "./systemctl.ts";
import { findStartedSystemds, findSystemdTools, isSame, nsPidsOf } from "./systemdProcess.ts";

/** The longest a clean poweroff may take (a shorter readiness timeout is used instead). */
const SHUTDOWN_LIMIT_SECONDS = 30;
/** After SIGKILL, the kernel ends a namespace's processes at once; this long means something is stuck. */
const KILL_LIMIT_MS = 5000;

interface Target {
  readonly pid: number;
  readonly startTime: string;
  readonly system: string;
}

/** How many PID namespaces deep a process is (1: the first). */
function nsLevels(pid: number | "self"): number {
  return nsPidsOf(readProcFile(`/proc/${pid}/status`) ?? "").length;
}

/** Every process on this /proc. */
function allProcesses(): number[] {
  return readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number);
}

/**
 * Wake the shells' nsenter processes that stopped themselves. systemd's final
 * stage stops every process in its namespace (SIGSTOP, then SIGTERM and
 * SIGCONT); nsenter, outside it, sees its child stop and stops itself too, and
 * then never reaps that child: a zombie that holds systemd's namespace (and
 * systemd, even killed) and the shell's caller. A SIGCONT lets it reap and end.
 * Stopped processes of our namespace with a child one namespace deeper are such.
 */
function wakeStoppedParents(): void {
  const ours = nsLevels("self");
  for (const pid of allProcesses()) {
    if (processState(pid) !== "T" || nsLevels(pid) !== ours) continue;
    if (!childrenOf(pid).some((child) => nsLevels(child) > ours)) continue;
    sendSignal(pid, "SIGCONT");
  }
}

/**
 * The shells legacy mode entered into systemd's namespaces: processes in a
 * deeper namespace whose parent (nsenter) is in ours. systemd manages none of
 * them, and its final stage, which ends them, is not told when they go (their
 * parent is outside): it waits out its 10 s limit. Told first, as when their
 * terminal closes (SIGHUP, then SIGTERM), they end before the poweroff.
 */
async function hangUpEnteredShells(): Promise<void> {
  const ours = nsLevels("self");
  const entered = () =>
    allProcesses().filter((pid) => {
      const levels = nsPidsOf(readProcFile(`/proc/${pid}/status`) ?? "");
      // Deeper than ours, and not systemd itself (PID 1 in there, whose parent, unshare, is outside too).
      if (levels.length <= ours || levels.at(-1) === 1) return false;
      const parent = parentOf(pid);
      return parent !== null && nsLevels(parent) === ours && isRunning(pid);
    });
  const shells = entered();
  for (const signal of ["SIGHUP", "SIGTERM", "SIGCONT"] as const) sendSignalEach(shells, signal);
  const until = Date.now() + 1000;
  while (entered().length > 0 && Date.now() < until) await Bun.sleep(20);
}

async function endsWithin(systemd: Target, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  let nextWake = 0;
  while (isSame(systemd)) {
    if (Date.now() > until) return false;
    if (Date.now() >= nextWake) {
      wakeStoppedParents();
      nextWake = Date.now() + 100;
    }
    await Bun.sleep(20);
  }
  wakeStoppedParents(); // once more: one stopped as systemd went
  return true;
}

export async function shutdownSystemd(settings: Settings, say: (message: string) => void): Promise<number> {
  const lockFd = await takeLock(say);
  try {
    inStep("writing to the lock", () => recordActivity(lockFd, "stopping systemd (--shutdown)"));
    const record = inStep(`reading ${LEGACY_STATE}`, readState, (cause) =>
      errorCode(cause) === "EACCES" ? "Only root may read it." : `Remove it (rm -r ${LEGACY_STATE}); then look for systemd with: nixos-wsl-init status`,
    );
    const targets: Target[] = [];
    if (record.kind === "valid" && isAlive(record.state)) targets.push(record.state);
    const cgroup = inStep("reading the cgroup layout (/proc/self/mountinfo)", currentLegacyCgroup);
    // Any other systemd legacy mode started (an unrecorded one after a damaged record) goes too.
    for (const found of inStep("looking for a running systemd in /proc", () => findStartedSystemds(cgroup))) {
      if (!targets.some((target) => target.pid === found.pid)) targets.push(found);
    }

    if (targets.length === 0) {
      const stale = record.kind === "valid" ? `the systemd recorded (PID ${record.state.pid}) had already ended` : record.kind === "invalid" ? `${LEGACY_STATE} was damaged (${record.problem})` : null;
      const leftovers = record.kind !== "none" || existsSync(NAMESPACE_DIR);
      inStep(`clearing ${LEGACY_STATE}`, clearState);
      process.stdout.write(
        `nixos-wsl-init: nothing to stop: no systemd started by legacy mode runs${stale ? ` (${stale}; its record is cleared)` : leftovers ? " (stale state cleared)" : ""}.\n`,
      );
      return EXIT_OK;
    }

    const limitSeconds = Math.min(SHUTDOWN_LIMIT_SECONDS, settings.readinessTimeoutSeconds);
    let allStopped = true;
    for (const target of targets) {
      inStep("writing to the lock", () => recordActivity(lockFd, `stopping systemd (PID ${target.pid}, --shutdown)`));
      allStopped = (await stopOne(target, limitSeconds, say)) && allStopped;
    }
    if (!allStopped) {
      say(
        `stopping systemd: it is still there after SIGKILL, so its record in ${LEGACY_STATE} is kept. ` +
          "Look at it with: nixos-wsl-init status; if it stays, restart the distribution from Windows: wsl --terminate NixOS",
      );
      return EXIT_FAILURE;
    }
    inStep(`clearing ${LEGACY_STATE}`, clearState);
    process.stdout.write(`nixos-wsl-init: ${LEGACY_STATE} and ${NAMESPACE_DIR} cleared; the next shell starts a new systemd.\n`);
    return EXIT_OK;
  } finally {
    closeSync(lockFd);
  }
}

/** Power one systemd off, or kill it; whether it is gone. */
async function stopOne(target: Target, limitSeconds: number, say: (message: string) => void): Promise<boolean> {
  const started = Date.now();
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  let why: string;
  let tools: ReturnType<typeof findSystemdTools> | null = null;
  try {
    tools = findSystemdTools(target.system);
  } catch (error) {
    why = `cannot ask it to power off (${(error as Error).message.split("\n")[0]})`;
  }
  if (tools) {
    await hangUpEnteredShells();
    // --no-block: queued, not waited for; its end is watched here, with a limit.
    const answer = await askSystemctl(tools, target.pid, ["poweroff", "--no-block", "--no-ask-password"]);
    if (answer.exitCode === 0 || !isSame(target)) {
      if (await endsWithin(target, limitSeconds * 1000)) {
        process.stdout.write(`nixos-wsl-init: systemd (PID ${target.pid}) powered off cleanly in ${took()}; every process inside it has ended.\n`);
        return true;
      }
      why = `it did not power off within ${limitSeconds} s of systemctl poweroff (a unit that does not stop? see ${SYSTEMD_LOG})`;
    } else {
      why = `systemctl poweroff failed (${answer.stderr || `status ${answer.exitCode}`})`;
    }
  }
  say(`stopping systemd (PID ${target.pid}): ${why!}; killing it (SIGKILL), and with it everything in its namespace`);
  sendSignal(target.pid, "SIGKILL");
  if (await endsWithin(target, KILL_LIMIT_MS)) {
    process.stdout.write(`nixos-wsl-init: systemd (PID ${target.pid}) killed after ${took()}; every process inside it has ended.\n`);
    return true;
  }
  return false;
}
