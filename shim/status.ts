// `nixos-wsl-init status [--json]`: how this system booted, from the native
// shim's boot record, or from legacy mode's record of its systemd.
import { existsSync } from "node:fs";
import { type AssessmentNow, formatBootRecord, readBootRecord } from "./native/bootRecord.ts";
import { recordOf } from "../src/bootAssessment.ts";
import { readBootState } from "../src/bootState.ts";
import { DEFAULT_SETTINGS, loadSettings } from "../src/config.ts";
import { parseArgs } from "@pkgjs/parseargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";
import { BOOT_RECORD } from "../src/paths.ts";
import { errorCode } from "../src/stepError.ts";
import { currentLegacyCgroup } from "./legacy/cgroup.ts";
import { isAlive, LEGACY_STATE, type LegacyState, NAMESPACE_DIR, readState, type StateRecord, SYSTEMD_LOG } from "./legacy/state.ts";
import { type FoundSystemd, findStartedSystemds } from "./legacy/systemdProcess.ts";

export function runStatus(args: readonly string[], recordPath = BOOT_RECORD): number {
  let json: boolean;
  try {
    const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write("Usage: nixos-wsl-init status [--json]\nHow this system booted, from /run/nixos-wsl (the native shim's boot.json, or legacy mode's legacy.json).\n");
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
    process.stdout.write(json ? `${JSON.stringify({ ...record, assessmentNow: now }, null, 2)}\n` : formatBootRecord(record, now));
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init: cannot read the boot record ${recordPath}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
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

/** Legacy mode keeps no boot record: what it recorded of the systemd it started. */
function showLegacy(recordPath: string, json: boolean): number {
  let record: StateRecord;
  try {
    record = readState();
  } catch (error) {
    const hint = errorCode(error) === "EACCES" ? "run nixos-wsl-init status as root" : `remove it (rm -r ${LEGACY_STATE}) and open a new shell`;
    complain(`cannot read ${LEGACY_STATE}: ${(error as Error).message}; ${hint}`);
    return EXIT_FAILURE;
  }
  if (record.kind === "valid") return showState(record.state, json);

  const [running] = lookInProc();
  const problem = record.kind === "invalid" ? `${LEGACY_STATE} is not a valid record (${record.problem})` : null;
  if (problem === null && running === undefined) {
    complain(`no boot record at ${recordPath}: this system was not started by the native shim, and legacy mode has not started systemd.`);
    return EXIT_FAILURE;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ mode: "legacy", record: record.kind, problem, runningPid: running?.pid ?? null }, null, 2)}\n`);
    return EXIT_FAILURE;
  }
  const found = running
    ? `systemd started by legacy mode runs as PID ${running.pid} (found in /proc); ${NEXT_SHELL} records it again.`
    : `No systemd started by legacy mode runs; ${NEXT_SHELL} starts one.`;
  complain(`${problem ?? `${LEGACY_STATE} is missing`}.\n${found}`);
  return EXIT_FAILURE;
}

function showState(state: LegacyState, json: boolean): number {
  const alive = isAlive(state);
  if (json) {
    process.stdout.write(`${JSON.stringify({ mode: "legacy", alive, ...state }, null, 2)}\n`);
    return EXIT_OK;
  }
  const systemd = !alive
    ? `GONE (was PID ${state.pid}); the next shell starts a new one`
    : state.phase === "starting"
      ? `PID ${state.pid} (as WSL sees it), STARTING since ${state.startedAt}; the next shell waits for it`
      : `PID ${state.pid} (as WSL sees it), started ${state.startedAt}`;
  const lines = [
    "Mode:        legacy (systemd started by syschdemd, root's login shell)",
    `systemd:     ${systemd}`,
    `System:      ${state.system || "unknown (found in /proc, its command line does not say)"}`,
    `Namespaces:  ${NAMESPACE_DIR}/{pid,mnt${state.cgroupNamespace ? ",cgroup" : ""}}`,
    `Its output:  ${SYSTEMD_LOG}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return alive ? EXIT_OK : EXIT_FAILURE;
}
