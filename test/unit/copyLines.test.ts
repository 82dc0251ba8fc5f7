import { describe, expect, it } from "vitest";
import { copyLines } from "../../shim/boot/copyLines.ts";

/** A stream that delivers exactly these chunks, in this order. */
function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function linesOf(chunks: readonly Uint8Array[]): Promise<string[]> {
  const lines: string[] = [];
  await copyLines(streamOf(chunks), { info: (line) => lines.push(line) });
  return lines;
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("copyLines (the activation's output, a record per line)", () => {
  it("gives one line per newline, whatever the chunks", async () => {
    expect(await linesOf([bytes("setting up /etc...\nupdating gr"), bytes("oups\n"), bytes("\n")])).toEqual(["setting up /etc...", "updating groups", ""]);
  });

  it("keeps a last line that has no newline", async () => {
    expect(await linesOf([bytes("first\nlast without newline")])).toEqual(["first", "last without newline"]);
  });

  it("does not break a character split between two chunks", async () => {
    const text = bytes("Grüße ✓\n");
    const cut = 3; // inside ü's two bytes
    expect(await linesOf([text.slice(0, cut), text.slice(cut)])).toEqual(["Grüße ✓"]);
  });

  it("gives nothing for no output", async () => {
    expect(await linesOf([])).toEqual([]);
  });
});
