// Sending signals to processes, and passing a caught signal on to a child
// with a grace before SIGKILL: one mechanism for every holder of a child
// (legacy mode's session holder, recovery's command and inner process,
// legacy mode's systemd, the activation). Plain TypeScript: no bun:ffi.

/** Send `signal` to `pid` (negative: its process group); false when it is gone already (or not ours to signal). */
export function sendSignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Send `signal` to each of `pids`; the ones already gone are passed over. */
export function sendSignalEach(pids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pid of pids) sendSignal(pid, signal);
}

/** Where a caught signal goes, how long the child has to end after it, and how to end it then. */
export interface PassOnTarget<S extends NodeJS.Signals = NodeJS.Signals> {
  signal(signal: S): void;
  readonly graceMs: number;
  /** After the grace: end it for good (SIGKILL, and say so). */
  kill(signal: S): void;
  /** true: the grace alone does not keep this process alive (a holder that may return before its child starts). */
  readonly unref?: boolean;
}

/**
 * A child that signals are passed on to: each at once, and `kill` once, a
 * grace after the first, unless the child has ended by then (`ended()`).
 */
export class PassOn<S extends NodeJS.Signals = NodeJS.Signals> {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private done = false;

  constructor(private readonly target: PassOnTarget<S>) {}

  /** Pass `signal` on; `withGrace` false passes it on without ever killing for it (SIGCONT, SIGHUP where a hangup is enough). */
  pass(signal: S, withGrace = true): void {
    if (this.done) return;
    this.target.signal(signal);
    if (!withGrace || this.timer !== null) return;
    this.timer = setTimeout(() => {
      if (!this.done) this.target.kill(signal);
    }, this.target.graceMs);
    if (this.target.unref) this.timer.unref?.();
  }

  /** The child has ended: nothing more to pass on or kill. */
  ended(): void {
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Wait for `exited` at most `graceMs`, then `kill()` and wait for it; true when it ended within the grace. */
export async function endsWithinGrace(exited: Promise<unknown>, graceMs: number, kill: () => void): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
  clearTimeout(timer);
  if (inTime) return true;
  kill();
  await exited;
  return false;
}
