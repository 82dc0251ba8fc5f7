// The activation's output, a line at a time: one kernel log record per line.
// A module of its own, importing nothing: the bench's least /sbin/init
// (test/bench/floorActivation.ts) copies with this very code.

/** Where the lines go (a Logger is one). */
export interface LineSink {
  info(line: string): void;
}

/** Copy a child's output into `output`, a line at a time; a last line without its newline too. */
export async function copyLines(stream: ReadableStream<Uint8Array>, output: LineSink): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  // A reader rather than for-await: it costs less to start, and this runs on PID 1's boot path.
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) output.info(line);
  }
  pending += decoder.decode();
  if (pending !== "") output.info(pending);
}
