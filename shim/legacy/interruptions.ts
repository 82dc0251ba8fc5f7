// SIGHUP (the terminal window closed), SIGINT and SIGTERM while a shell
// starts systemd: caught, so that each step can leave the state consistent
// before the shell ends with 128 + the signal.
import type { Interruption } from "./systemdProcess.ts";

const SIGNALS = ["SIGHUP", "SIGINT", "SIGTERM"] as const;

/** Catch SIGHUP, SIGINT and SIGTERM until stop(): each step decides when to act on them. */
export function catchInterruptions(): Interruption & { stop(): void } {
  let resolve!: (signal: NodeJS.Signals) => void;
  const caught = {
    signal: null as NodeJS.Signals | null,
    happened: new Promise<NodeJS.Signals>((r) => {
      resolve = r;
    }),
    stop: () => {
      for (const signal of SIGNALS) process.off(signal, handler);
    },
  };
  const handler = (signal: NodeJS.Signals) => {
    if (caught.signal !== null) return;
    caught.signal = signal;
    resolve(signal);
  };
  for (const signal of SIGNALS) process.on(signal, handler);
  return caught;
}
