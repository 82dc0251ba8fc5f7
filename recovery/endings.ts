// Signals caught before the recovery changes anything (a filesystem made
// writable), so that the process always lives to undo the change. A hangup or
// SIGTERM is passed on to the command once there is one, and kills it when it
// has not ended after a grace; one that comes earlier is remembered, so that
// the command is not started at all.
import { exitCodeFor } from "../src/exitStatus.ts";
import { afterPendingSignals } from "../src/pendingSignals.ts";
import { PassOn, type PassOnTarget } from "../src/signalProcess.ts";

const ENDINGS = ["SIGHUP", "SIGTERM"] as const;
const INTERRUPTS = ["SIGINT", "SIGQUIT"] as const;
const ALL = [...ENDINGS, ...INTERRUPTS] as const;

export type Ending = (typeof ALL)[number];

/** Where a caught signal goes once the command runs, how long it has to end, and how to end it then. */
export type EndingTarget = PassOnTarget<Ending>;

export class Endings {
  /** The first signal caught that ends the work, if any. */
  caught: Ending | null = null;
  private command: PassOn<Ending> | null = null;

  private readonly onEnding = (signal: Ending): void => {
    this.caught ??= signal;
    this.command?.pass(signal);
  };
  private readonly onInterrupt = (): void => {};

  /**
   * Catch from now on. `interrupts`: "ignore" when a command on the terminal
   * gets Ctrl-C itself (it must not end the processes in between); "end" for
   * a short change with no command, which then finishes first.
   */
  static catch({ interrupts }: { interrupts: "ignore" | "end" }): Endings {
    const endings = new Endings();
    for (const signal of ENDINGS) process.on(signal, endings.onEnding);
    for (const signal of INTERRUPTS) process.on(signal, interrupts === "end" ? endings.onEnding : endings.onInterrupt);
    return endings;
  }

  /** The signal caught so far, including one that came during synchronous work. */
  async settled(): Promise<Ending | null> {
    await afterPendingSignals();
    return this.caught;
  }

  /** The command now runs: pass endings on to it (one caught before is passed on at once). */
  passTo(target: EndingTarget): void {
    this.command = new PassOn(target);
    if (this.caught !== null) this.onEnding(this.caught);
  }

  /** The command has ended: nothing more to pass on or kill. */
  released(): void {
    this.command?.ended();
    this.command = null;
  }

  /** Stop catching, after a last look; returns 128 + the signal caught, if any. */
  async stop(): Promise<number | null> {
    const caught = await this.settled();
    this.released();
    for (const signal of ALL) {
      process.off(signal, this.onEnding);
      process.off(signal, this.onInterrupt);
    }
    return caught === null ? null : exitCodeFor(caught);
  }
}
