// bun runs a signal's handler on a turn of the event loop, never in the middle
// of synchronous work: a signal that came during such work (a mount, a PAM
// call, a file written) is only seen once the loop has turned.

/** Take one turn of the event loop, so that the handlers of signals that came meanwhile have run. */
export function afterPendingSignals(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
