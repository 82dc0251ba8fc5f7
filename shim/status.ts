// `nixos-wsl-init status [--json]`: how this system booted, from the native
// shim's boot record, or from legacy mode's record of its systemd.
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { describeBudget, type SystemdTime, parseSystemdTimes } from "./wsl/budget.ts";
import { type AssessmentNow, formatBootRecord, readBootRecord } from "./native/bootRecord.ts";
import { recordOf } from "../src/bootAssessment.ts";
import { readBootState } from "../src/bootState.ts";
import { DEFAULT_SETTINGS, loadSettings } from "../src/config.ts";
import { parseArgs } from "@pkgjs/parseargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";
import { askSystemctl, failedUnits } from "./legacy/systemctl.ts";
import { BOOT_RECORD, RECOVERY_COMMAND } from "../src/paths.ts";
import { errorCode } from "../src/stepError.ts";
import { currentLegacyCgroup } from "./legacy/cgroup.ts";
import { findTool, toolDirectories } from "./legacy/tools.ts";
import { isAlive, LEGACY_STATE, type LegacyState, NAMESPACE_DIR, readState, type StateRecord, SYSTEMD_LOG } from "./legacy/state.ts";
import { type FoundSystemd, findStartedSystemds, findSystemdTools, isSame, socketExists } from "./legacy/systemdProcess.ts";

const HELP = `Usage: nixos-wsl-init status [--json]
How this system booted, from /run/nixos-wsl: the native shim's boot.json, or,
in legacy mode, legacy.json and what systemd itself answers (systemctl
is-system-running, asked inside its namespaces; run it as root).

Exit codes in native mode: 0 the boot record was read; 1 it cannot be read.
Exit codes in legacy mode (state in --json):
  0  running    systemd runs and has finished starting, no unit failed
  1  degraded   systemd runs, but units failed (listed; failedUnits in --json),
                or it says maintenance or stopping, or does not answer
  2  starting   systemd is still starting (shells may already get in when
                waitFor names a unit that is ready)
  3  stopped    nothing recorded and no systemd runs: the next shell starts one
  4  gone       the recorded systemd is gone (or the record is damaged) and
                none runs: stale state, which the next shell clears
  5  unknown    cannot tell: not root, or the record cannot be read
A bad command line exits 2 with this usage on stderr.
`;

export function runStatus(args: readonly string[], recordPath = BOOT_RECORD): number | Promise<number> {
  let json: boolean;
  try {
    const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write(HELP);
      return EXIT_OK;
    }
    json = values.json === true;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init status: ${(error as Error).message}\nUsage: nixos-wsl-init status [--json]\n`);
    return EXIT_USAGE;
  }
  if (!existsSync(recordPath)) return showLegacy(recordPath, json);
  try {
    const record = readBootRecord(recordPath);
    const now = assessmentNow(record.generation.storePath);
    process.stdout.write(json ? `${JSON.stringify({ ...record, assessmentNow: now }, null, 2)}\n` : formatBootRecord(record, now, budgetLine(record)));
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init: cannot read the boot record ${recordPath}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

/** How the boot spent WSL's budget, with systemd's own start read from systemd now; null for records without a budget. */
function budgetLine(record: { readonly shimMs: number; readonly activation: { readonly durationMs: number }; readonly budgetMs?: number }): string | null {
  if (record.budgetMs === undefined) return null;
  return describeBudget({ shimMs: record.shimMs, activationMs: record.activation.durationMs, budgetMs: record.budgetMs, systemd: systemdTime() }).line;
}

function systemdTime(): SystemdTime {
  // The system's own systemctl: `wsl --exec` gives a PATH without the NixOS system's programs.
  const systemctl = findTool("systemctl");
  if (systemctl === null) return { kind: "unknown", why: `no systemctl in ${toolDirectories().join(", ")}` };
  const result = spawnSync(systemctl, ["show", "-p", "UserspaceTimestampMonotonic", "-p", "FinishTimestampMonotonic"], { encoding: "utf8", timeout: 3_000 });
  if (result.error) return { kind: "unknown", why: `systemctl could not be run: ${result.error.message}` };
  if (result.status !== 0) return { kind: "unknown", why: `systemctl show failed: ${(result.stderr || "").trim() || `exit code ${result.status}`}` };
  return parseSystemdTimes(result.stdout);
}

/** Why there is no boot record, when /sbin/init is what kept the shim from running. */
function initNotExecutable(): string | null {
  try {
    accessSync("/sbin/init", constants.X_OK);
    return null;
  } catch (error) {
    return (
      `/sbin/init is not executable (${errorCode(error) ?? (error as Error).message}): WSL then boots the distribution without systemd, ` +
      "so the native shim did not run. Make /sbin/init an executable link to nixos-wsl-init again (as root: nixos-rebuild switch, " +
      `or from Windows: ${RECOVERY_COMMAND}), then restart the distribution (wsl --terminate NixOS).`
    );
  }
}

/** The running generation's boot assessment as the state file has it now (blessed after the boot, or not). */
function assessmentNow(storePath: string): AssessmentNow {
  const { state, warning } = readBootState("/");
  if (warning) complain(`warning: ${warning}`);
  let attempts = DEFAULT_SETTINGS.bootAttempts;
  try {
    attempts = loadSettings().bootAttempts;
  } catch (error) {
    complain(`warning: ${(error as Error).message}; assuming bootAttempts = ${attempts}`);
  }
  return { record: recordOf(state, storePath), attempts, bootOnce: state.bootOnce?.link ?? null };
}

const NEXT_SHELL = "the next shell (wsl, which runs syschdemd as root)";

function complain(message: string): void {
  process.stderr.write(`nixos-wsl-init: ${message}\n`);
}

/** The systemds legacy mode started, from /proc; empty when they cannot be looked for. */
function lookInProc(): FoundSystemd[] {
  try {
    return findStartedSystemds(currentLegacyCgroup());
  } catch {
    return []; // status only reports; the shell that starts systemd looks again and says why it cannot
  }
}

/** Legacy mode's states and their exit codes (see HELP). */
export const LEGACY_EXIT = { running: 0, degraded: 1, starting: 2, stopped: 3, gone: 4, unknown: 5 } as const;
export type LegacyStatus = keyof typeof LEGACY_EXIT;

/** The state for what `systemctl is-system-running` printed (null: no control socket yet, so still starting). */
export function legacyStatusOf(systemState: string | null): LegacyStatus {
  if (systemState === null || systemState === "initializing" || systemState === "starting") return "starting";
  return systemState === "running" ? "running" : "degraded";
}

interface Asked {
  readonly status: LegacyStatus;
  /** What systemctl is-system-running printed; null when it was not asked (no control socket yet) or did not answer. */
  readonly systemState: string | null;
  readonly failedUnits: string[] | null;
  readonly note: string | null;
}

/** Ask a running systemd how it is, inside its namespaces. */
async function askSystemd(systemd: { pid: number; startTime: string; system: string }): Promise<Asked> {
  if (!socketExists(systemd.pid)) return { status: "starting", systemState: null, failedUnits: null, note: "no control socket yet (systemd has just started)" };
  let tools: ReturnType<typeof findSystemdTools>;
  try {
    tools = findSystemdTools(systemd.system);
  } catch (error) {
    return { status: "degraded", systemState: null, failedUnits: null, note: `cannot ask it: ${(error as Error).message.split("\n")[0]}` };
  }
  const answer = await askSystemctl(tools, systemd.pid, ["is-system-running"]);
  const word = answer.stdout.split("\n")[0]?.trim() ?? "";
  if (!isSame(systemd)) return { status: "gone", systemState: null, failedUnits: null, note: "it ended while being asked" };
  if (word === "" || word === "offline" || word === "unknown") {
    return { status: "degraded", systemState: word || null, failedUnits: null, note: `systemctl is-system-running did not answer (${answer.stderr || `status ${answer.exitCode}`})` };
  }
  const failed = await failedUnits(tools, systemd.pid);
  return { status: legacyStatusOf(word), systemState: word, failedUnits: failed, note: null };
}

/** How each state reads, after "State:". */
function describeStatus(asked: Asked): string {
  const failed = asked.failedUnits && asked.failedUnits.length > 0 ? `; failed units: ${asked.failedUnits.join(", ")}` : "";
  const said = asked.systemState ? ` (systemctl is-system-running: ${asked.systemState})` : asked.note ? ` (${asked.note})` : "";
  switch (asked.status) {
    case "running":
      return `running${said}`;
    case "degraded":
      return `DEGRADED${said}${failed}${asked.systemState && asked.note ? `; ${asked.note}` : ""}${failed ? "; see: systemctl --failed" : ""}`;
    case "starting":
      return `STARTING${said}${failed}`;
    default:
      return asked.status;
  }
}

/** Legacy mode keeps no boot record: what it recorded of the systemd it started, and what that systemd says. */
async function showLegacy(recordPath: string, json: boolean): Promise<number> {
  if (process.geteuid?.() !== 0) {
    complain(`in legacy mode, status reads ${LEGACY_STATE} and asks systemd inside its namespaces: run it as root (sudo nixos-wsl-init status).`);
    return LEGACY_EXIT.unknown;
  }
  let record: StateRecord;
  try {
    record = readState();
  } catch (error) {
    const hint = errorCode(error) === "EACCES" ? "run nixos-wsl-init status as root" : `remove it (rm -r ${LEGACY_STATE}) and open a new shell`;
    complain(`cannot read ${LEGACY_STATE}: ${(error as Error).message}; ${hint}`);
    return LEGACY_EXIT.unknown;
  }
  if (record.kind === "valid" && isAlive(record.state)) {
    const asked = await askSystemd(record.state);
    if (asked.status !== "gone") return showState(record.state, asked, json);
  }

  const [running] = lookInProc();
  const problem =
    record.kind === "invalid"
      ? `${LEGACY_STATE} is not a valid record (${record.problem})`
      : record.kind === "valid"
        ? `the systemd recorded in ${LEGACY_STATE} (PID ${record.state.pid}) is gone`
        : null;
  if (running === undefined) {
    const status: LegacyStatus = record.kind === "none" ? "stopped" : "gone";
    if (json) {
      const recorded = record.kind === "valid" ? { ...record.state, alive: false } : {};
      process.stdout.write(`${JSON.stringify({ mode: "legacy", state: status, systemState: null, failedUnits: [], record: record.kind, problem, runningPid: null, ...recorded }, null, 2)}\n`);
    } else if (status === "stopped") {
      complain(initNotExecutable() ?? `no boot record at ${recordPath}: this system was not started by the native shim, and legacy mode has not started systemd.`);
      process.stdout.write(
        "Mode:        legacy, or no mode at all: no boot record of the native shim, and nothing recorded by legacy mode\n" +
          `State:       stopped: no systemd started by legacy mode runs; ${NEXT_SHELL} starts one\n`,
      );
    } else {
      process.stdout.write(`Mode:        legacy (systemd started by syschdemd, root's login shell)\nState:       GONE: ${problem}, and none runs; ${NEXT_SHELL} clears the record and starts a new one\n`);
    }
    return LEGACY_EXIT[status];
  }

  let asked = await askSystemd(running);
  if (asked.status === "gone") asked = { status: record.kind === "none" ? "stopped" : "gone", systemState: null, failedUnits: [], note: asked.note };
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ mode: "legacy", state: asked.status, systemState: asked.systemState, failedUnits: asked.failedUnits ?? [], record: record.kind, problem, runningPid: running.pid }, null, 2)}\n`,
    );
    return LEGACY_EXIT[asked.status];
  }
  complain(`${problem ?? `${LEGACY_STATE} is missing`}.\nsystemd started by legacy mode runs as PID ${running.pid} (found in /proc); ${NEXT_SHELL} records it again.`);
  process.stdout.write(`Mode:        legacy (systemd started by syschdemd, root's login shell)\nState:       ${describeStatus(asked)}\nsystemd:     PID ${running.pid} (as WSL sees it, found in /proc)\n`);
  return LEGACY_EXIT[asked.status];
}

function showState(state: LegacyState, asked: Asked, json: boolean): number {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ mode: "legacy", state: asked.status, systemState: asked.systemState, failedUnits: asked.failedUnits ?? [], record: "valid", problem: null, alive: true, ...state }, null, 2)}\n`,
    );
    return LEGACY_EXIT[asked.status];
  }
  const systemd =
    state.phase === "starting"
      ? `PID ${state.pid} (as WSL sees it), STARTING since ${state.startedAt}; the next shell waits for it`
      : `PID ${state.pid} (as WSL sees it), started ${state.startedAt}`;
  const lines = [
    "Mode:        legacy (systemd started by syschdemd, root's login shell)",
    `State:       ${describeStatus(asked)}`,
    `systemd:     ${systemd}`,
    `System:      ${state.system || "unknown (found in /proc, its command line does not say)"}`,
    `Namespaces:  ${NAMESPACE_DIR}/{pid,mnt${state.cgroupNamespace ? ",cgroup" : ""}}`,
    `Its output:  ${SYSTEMD_LOG}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return LEGACY_EXIT[asked.status];
}
