// Shared by both boot paths (native and legacy): boot assessment at a start.
// The boot state is read and the generation chosen under the state's lock;
// the start is counted (written) later, while the activation runs, and the
// lock let go. What was decided is said the same way on both paths.
import { type BootDecision, type BootState, decideBoot } from "../../src/bootAssessment.ts";
import { BOOT_STATE, readBootState, writeBootState } from "../../src/bootState.ts";
import { BOOT_WAIT_MS, type BootStateLock, lockBootState } from "../../src/bootStateLock.ts";
import { bootFacts } from "../../src/generations.ts";
import { RECOVERY_COMMAND } from "../../src/paths.ts";

export interface ChoiceReport {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface BootChoice {
  readonly decision: BootDecision;
  /** Warnings for the boot record (and status): what the boot did without. */
  readonly warnings: string[];
  /**
   * Count this start: write the new state (when it changed) and let go of the
   * lock. Never throws; a state that cannot be written is a warning, said
   * and added to `warnings`. Does its work once.
   */
  count(): void;
  /**
   * Let go of the lock without counting (a start given up before anything
   * ran); a one-time boot already used up is asked for again. Never throws.
   */
  abandon(): void;
}

/**
 * Which generation this start boots. A pending one-time boot is used only
 * when its use is recorded at once: a one-time choice that cannot be used up
 * (a read-only or full /var) would otherwise boot at every start, so then the
 * start boots as if none were asked, and says why.
 */
export function chooseGeneration(attempts: number, report: ChoiceReport, root = "/"): BootChoice {
  const warnings: string[] = [];
  const warn = (message: string) => {
    report.warn(message);
    warnings.push(message);
  };
  const lock: BootStateLock = lockBootState(root, BOOT_WAIT_MS);
  try {
    return choose(attempts, report, root, lock, warnings, warn);
  } catch (error) {
    if (lock.held) lock.release();
    throw error;
  }
}

function choose(attempts: number, report: ChoiceReport, root: string, lock: BootStateLock, warnings: string[], warn: (message: string) => void): BootChoice {
  const assessed = readBootState(root);
  if (assessed.warning) report.warn(assessed.warning);
  let before: BootState = assessed.state;
  // Set when the one-time boot's use was written at once: a start given up puts the request back.
  let usedUpOnce = false;
  let decision = decideBoot(bootFacts(root), before, attempts);
  // null: not written yet; otherwise why the state cannot be written at this start.
  let unwritable: string | null = lock.held ? null : lock.problem;

  const once = before.bootOnce;
  if (once !== null) {
    if (unwritable === null) {
      try {
        writeBootState(root, decision.state);
        before = decision.state; // written: nothing left to count
        usedUpOnce = true;
      } catch (error) {
        unwritable = `${BOOT_STATE} cannot be written (${(error as Error).message})`;
      }
    }
    if (unwritable !== null) {
      warn(
        `the one-time boot of ${once.link} is not used: ${unwritable}, so it could not be used up and would boot at every start. ` +
          "This start boots as if none were asked; the one-time boot stays asked for, and the first start that can record its use boots it",
      );
      before = { ...before, bootOnce: null };
      decision = decideBoot(bootFacts(root), before, attempts);
    }
  }
  sayDecision(decision, report);

  let counted = false;
  const count = () => {
    if (counted) return;
    counted = true;
    try {
      if (decision.state === before) return;
      if (unwritable !== null) throw new Error(unwritable);
      try {
        writeBootState(root, decision.state);
      } catch (error) {
        throw new Error(`${BOOT_STATE} cannot be written: ${(error as Error).message}`);
      }
    } catch (error) {
      warn(`could not count this start (${(error as Error).message}); booting without boot counting`);
    } finally {
      if (lock.held) lock.release();
    }
  };
  const abandon = () => {
    if (counted) return;
    counted = true;
    try {
      // Nothing booted: the one-time boot stays asked for.
      if (usedUpOnce) writeBootState(root, assessed.state);
    } catch (error) {
      warn(`the one-time boot of ${once?.link} was given up with this start, but ${BOOT_STATE} could not be put back (${(error as Error).message}): ask for it again with boot-once`);
    } finally {
      if (lock.held) lock.release();
    }
  };
  return { decision, warnings, count, abandon };
}

/** What the decision was, as both boot paths say it (the kernel log, or a legacy shell's stderr). */
function sayDecision(decision: BootDecision, report: ChoiceReport): void {
  if (decision.kind === "none") return;
  const { generation } = decision;
  if (decision.kind === "default") for (const note of decision.notes) report.warn(note);
  if (decision.kind === "once") report.info(`booting ${generation.link} this once, as asked (--boot-once); the next start boots the default again`);
  if (decision.kind === "fallback") {
    report.error(`the default generation is not booted: ${decision.reason}`);
    report.error(
      `FALLING BACK to ${generation.link} (${generation.storePath}). To keep it as the default, run from Windows: ` +
        `${RECOVERY_COMMAND} --rollback --generation ${generation.number}`,
    );
  }
}
