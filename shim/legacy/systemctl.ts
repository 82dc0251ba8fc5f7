// Asking legacy mode's systemd through systemctl, run inside its namespaces
// (nsenter into its PID and mount namespace, as the wait for it does): its
// state, its failed units, the jobs it still runs, and poweroff. Every
// question has a time limit, so that a systemd that hangs holds nobody.
import { descendantsOf } from "../../src/processTree.ts";
import { endsWithinGrace, sendSignal, sendSignalEach } from "../../src/signalProcess.ts";
import type { SystemdTools } from "./systemdProcess.ts";

export interface Answer {
  /** systemctl's exit code; null when it was stopped at the time limit or could not run. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How long one question may take before it counts as no answer. */
const QUESTION_MS = 5000;

/** The argv that runs systemctl `args` in the namespaces of systemd `pid`. */
export function systemctlArgv(tools: Pick<SystemdTools, "nsenter" | "systemctl">, pid: number, args: readonly string[]): string[] {
  return [tools.nsenter, "--target", String(pid), "--mount", "--pid", "--", tools.systemctl, ...args];
}

/**
 * Stop an nsenter that runs systemctl in systemd's namespaces: systemctl (in
 * there) first, so that nsenter reaps it and ends by itself. Killed first,
 * nsenter would leave systemctl to the init of nsenter's own namespace
 * (WSL's), and an unreaped zombie there keeps systemd's namespace, and
 * systemd, from ever ending.
 */
export async function stopNsenter(pid: number, exited: Promise<unknown>): Promise<void> {
  sendSignalEach(descendantsOf(pid).reverse(), "SIGKILL");
  await endsWithinGrace(exited, 2000, () => sendSignal(pid, "SIGKILL"));
}

/** Run systemctl `args` in systemd's namespaces; never throws. */
export async function askSystemctl(
  tools: Pick<SystemdTools, "nsenter" | "systemctl">,
  pid: number,
  args: readonly string[],
  timeoutMs = QUESTION_MS,
): Promise<Answer> {
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(systemctlArgv(tools, pid, args), { stdio: ["ignore", "pipe", "pipe"], env: {} });
  } catch (error) {
    return { exitCode: null, stdout: "", stderr: (error as Error).message };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  const output = Promise.all([new Response(child.stdout as ReadableStream).text(), new Response(child.stderr as ReadableStream).text()]);
  const first = await Promise.race([child.exited.then(() => "done" as const), late]);
  clearTimeout(timer);
  if (first === "late") {
    await stopNsenter(child.pid, child.exited);
    const [stdout, stderr] = await output;
    return { exitCode: null, stdout: stdout.trim(), stderr: `${stderr.trim()}${stderr.trim() ? " " : ""}(no answer within ${timeoutMs / 1000} s)`.trim() };
  }
  const [stdout, stderr] = await output;
  return { exitCode: child.exitCode, stdout: stdout.trim(), stderr: stderr.trim() };
}

/** The units listed by `systemctl list-units --failed --plain --no-legend` (the first word of each line). */
export function parseUnitList(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim().replace(/^[●*]\s*/, "").split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

/** The failed units, or null when systemd does not answer. */
export async function failedUnits(tools: Pick<SystemdTools, "nsenter" | "systemctl">, pid: number): Promise<string[] | null> {
  const answer = await askSystemctl(tools, pid, ["list-units", "--failed", "--plain", "--no-legend", "--no-pager"]);
  return answer.exitCode === 0 ? parseUnitList(answer.stdout) : null;
}

/** One job of `systemctl list-jobs --no-legend`: "JOB UNIT TYPE STATE". */
export interface Job {
  readonly unit: string;
  readonly type: string;
  readonly state: string;
}

export function parseJobs(text: string): Job[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words.length >= 4 && /^\d+$/.test(words[0]!))
    .map(([, unit, type, state]) => ({ unit: unit!, type: type!, state: state! }));
}

/**
 * What systemd still does and what failed, for the message of a start that
 * timed out: "systemctl list-jobs" (running jobs first) and "systemctl --failed".
 */
export async function describeUnfinished(tools: Pick<SystemdTools, "nsenter" | "systemctl">, pid: number): Promise<string> {
  const [jobsAnswer, failed] = await Promise.all([
    askSystemctl(tools, pid, ["list-jobs", "--no-legend", "--no-pager"], 3000),
    failedUnits(tools, pid),
  ]);
  const lines: string[] = [];
  if (jobsAnswer.exitCode === 0) {
    const jobs = parseJobs(jobsAnswer.stdout);
    const running = jobs.filter((job) => job.state === "running");
    const waiting = jobs.filter((job) => job.state !== "running");
    const list = (some: Job[]) => some.map((job) => `${job.unit} (${job.type})`).join(", ");
    if (jobs.length === 0) lines.push("Jobs (systemctl list-jobs): none left.");
    else {
      lines.push(`Still running (systemctl list-jobs): ${running.length > 0 ? list(running) : "none"}.`);
      if (waiting.length > 0) lines.push(`Waiting for them: ${waiting.length} job${waiting.length === 1 ? "" : "s"} (${list(waiting.slice(0, 8))}${waiting.length > 8 ? ", …" : ""}).`);
    }
  } else {
    lines.push(`systemctl list-jobs did not answer (${jobsAnswer.stderr || `status ${jobsAnswer.exitCode}`}).`);
  }
  if (failed === null) lines.push("systemctl --failed did not answer.");
  else lines.push(`Failed units (systemctl --failed): ${failed.length > 0 ? failed.join(", ") : "none"}.`);
  return lines.join("\n");
}
