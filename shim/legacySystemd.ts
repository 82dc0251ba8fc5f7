// Starting systemd for legacy mode: as PID 1 of a new PID, mount (and cgroup)
// namespace, in a session of its own, then waiting for it to report running
// or degraded. A systemd that dies or misses the deadline is killed (with
// everything in its namespace) and its output shown.
//
// The namespaces are made by util-linux's unshare, not by this process:
// bun aborts when a process that unshared its PID namespace starts a second
// child in it, and the waiting needs children of its own.
import { closeSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { type CgroupPlan, currentCgroupPlan, joinCgroup, leaveCgroup } from "./legacyCgroup.ts";
import { SYSTEMD_LOG } from "./legacyState.ts";

export interface SystemdTools {
  readonly systemd: string;
  readonly systemctl: string;
  readonly unshare: string;
  readonly nsenter: string;
}

export type StartResult =
  | { readonly ok: true; readonly pid: number; readonly cgroupNamespace: boolean; readonly state: string }
  | { readonly ok: false; readonly reason: string; readonly output: string };

const POLL_MS = 5;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function childOf(pid: number): number | null {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

function socketExists(pid: number): boolean {
  try {
    // Through /proc/PID/root: the socket as systemd's own mount namespace has it.
    return statSync(`/proc/${pid}/root/run/systemd/private`).isSocket();
  } catch {
    return false;
  }
}

function unshareArgv(tools: SystemdTools, cgroupNamespace: boolean): string[] {
  return [
    tools.unshare,
    "--fork",
    "--pid",
    "--mount",
    "--propagation=private", // systemd's mounts stay in its namespace, and WSL's never reach it
    "--mount-proc",
    ...(cgroupNamespace ? ["--cgroup"] : []),
    "--",
    tools.systemd,
  ];
}

export async function startSystemd(tools: SystemdTools, timeoutMs: number): Promise<StartResult> {
  const deadline = Date.now() + timeoutMs;
  // /run outlives a systemd that died: its control socket would answer "connection refused" to the new one's waiters.
  rmSync("/run/systemd", { recursive: true, force: true });
  const cgroup: CgroupPlan | null = currentCgroupPlan();
  // The new cgroup namespace is rooted where unshare stands when it makes it: put it there, then step back out.
  if (cgroup) joinCgroup(cgroup);
  const logFd = openSync(SYSTEMD_LOG, "w", 0o600);
  // detached: a session of its own, so the hangup of WSL's terminal never reaches systemd.
  const unshare = Bun.spawn(unshareArgv(tools, cgroup !== null), { stdio: ["ignore", logFd, logFd], env: {}, detached: true });
  closeSync(logFd);
  if (cgroup) leaveCgroup(cgroup);

  let ended = false;
  const exited = unshare.exited.then(() => {
    ended = true;
  });
  let systemdPid: number | null = null;
  const fail = async (reason: string): Promise<StartResult> => {
    if (!ended) {
      // systemd is PID 1 of its namespace: killing it takes everything in there along,
      // and unshare, its parent, reaps it and ends. Without a systemd yet, unshare itself goes.
      if (systemdPid !== null) process.kill(systemdPid, "SIGKILL");
      else unshare.kill("SIGKILL");
      const stubborn = setTimeout(() => unshare.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(stubborn);
    }
    return { ok: false, reason, output: readLog() };
  };
  const diedReason = () => `systemd exited (status ${unshare.exitCode ?? unshare.signalCode}) before it was running`;
  const timeoutReason = `systemd did not reach "running" within ${Math.round(timeoutMs / 1000)} s`;

  // The control socket appears early in systemd's start; before it, systemctl has nobody to ask.
  while (systemdPid === null || !socketExists(systemdPid)) {
    if (ended) return fail(diedReason());
    if (Date.now() > deadline) return fail(timeoutReason);
    systemdPid ??= childOf(unshare.pid);
    await sleep(POLL_MS);
  }

  const ask = Bun.spawn(
    [tools.nsenter, "--target", String(systemdPid), "--mount", "--pid", "--", tools.systemctl, "is-system-running", "--wait"],
    { stdio: ["ignore", "pipe", "pipe"], env: {} },
  );
  const timer = setTimeout(() => ask.kill("SIGKILL"), Math.max(0, deadline - Date.now()));
  await Promise.race([ask.exited, exited]);
  clearTimeout(timer);
  if (ended) {
    ask.kill("SIGKILL");
    return fail(diedReason());
  }
  if (ask.signalCode === "SIGKILL") return fail(timeoutReason);
  const state = (await new Response(ask.stdout).text()).trim();
  if (state !== "running" && state !== "degraded") {
    const detail = (await new Response(ask.stderr).text()).trim();
    return fail(`systemd reports "${state || "nothing"}" instead of running${detail ? ` (${detail})` : ""}`);
  }
  return { ok: true, pid: systemdPid, cgroupNamespace: cgroup !== null, state };
}

function readLog(): string {
  try {
    return readFileSync(SYSTEMD_LOG, "utf8");
  } catch {
    return "";
  }
}
