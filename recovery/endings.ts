// Signals that would end the recovery while it has changed something (a
// filesystem made writable). They are caught before the change is made, so
// that the process always lives to undo it:
//   - when entering, Ctrl-C and Ctrl-\ belong to the command inside, so no
//     process in between dies of them; for a short step (--rollback) they are
//     endings like the others;
//   - a closed terminal (SIGHUP) or a SIGTERM is passed on to the command, once
//     there is one, and the command gets GRACE_MS to end before it is killed;
//     one that comes before the command runs is remembered, and the command is not started.
import { exitCodeFor } from "../src/exitCodes.ts";

const ENDINGS = ["SIGHUP", "SIGTERM"] as const;
const INTERRUPTS = ["SIGINT", "SIGQUIT"] as const;
const ALL = [...ENDINGS, ...INTERRUPTS] as const;
/** As legacy mode's session holder does: time for the command to end of the signal before SIGKILL. */
const GRACE_MS = 2000;

export type Ending = (typeof ALL)[number];

/** Where a caught SIGHUP or SIGTERM goes: the command, and how to kill it when the grace is over. */
export interface EndingTarget {
  signal(ending: Ending): void;
  kill(): void;
}

export class Endings {
  /** The first SIGHUP or SIGTERM caught, if any. */
  caught: Ending | null = null;
  private target: EndingTarget | null = null;
  private killTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly onEnding = (signal: Ending): void => {
    this.caught ??= signal;
    if (this.target === null) return;
    this.target.signal(signal);
    this.killTimer ??= setTimeout(() => this.target?.kill(), GRACE_MS);
  };
  private readonly onInterrupt = (): void => {};

  /**
   * Catch from now on. `interrupts`: "ignore" when a command on the terminal
   * gets Ctrl-C and Ctrl-\ itself; "end" when there is no such command.
   */
  static catch({ interrupts }: { interrupts: "ignore" | "end" }): Endings {
    const endings = new Endings();
    for (const signal of ENDINGS) process.on(signal, endings.onEnding);
    for (const signal of INTERRUPTS) process.on(signal, interrupts === "end" ? endings.onEnding : endings.onInterrupt);
    return endings;
  }

  /** The command now runs: pass endings on to it (one caught before is passed on at once). */
  passTo(target: EndingTarget): void {
    this.target = target;
    if (this.caught !== null) this.onEnding(this.caught);
  }

  /** The command has ended: nothing more to pass on or kill. */
  released(): void {
    this.target = null;
    if (this.killTimer !== null) clearTimeout(this.killTimer);
  }

  /**
   * Let a signal that came during synchronous work be handled (its handler runs
   * on the next turn of the event loop), then stop catching. Returns the exit
   * code for the ending caught, if any.
   */
  async stop(): Promise<number | null> {
    await new Promise((resolve) => setImmediate(resolve));
    this.released();
    for (const signal of ALL) {
      process.off(signal, this.onEnding);
      process.off(signal, this.onInterrupt);
    }
    return this.caught === null ? null : exitCodeFor(this.caught);
  }
}
