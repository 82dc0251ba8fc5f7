// The recovery's Endings with real signals, in a bun process of its own: a
// signal sent during synchronous work is not lost, is reported as 128 + N,
// and one caught before the command runs is passed on the moment it does.
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const BUN = join(import.meta.dirname, "../../node_modules/.bin/bun");
const ENDINGS = join(import.meta.dirname, "../../recovery/endings.ts");

async function runScript(body: string): Promise<{ exitCode: number | undefined; signal: string | undefined; stdout: string }> {
  const script = `import { Endings } from ${JSON.stringify(ENDINGS)};\n${body}`;
  const run = await execa(BUN, ["-e", script], { reject: false, timeout: 20_000 });
  return { exitCode: run.exitCode, signal: run.signal, stdout: run.stdout };
}

describe("Endings", () => {
  it("keeps a SIGTERM sent during synchronous work, and stop() answers 143", async () => {
    const run = await runScript(`
      const endings = Endings.catch({ interrupts: "end" });
      process.kill(process.pid, "SIGTERM");
      const until = Date.now() + 100; while (Date.now() < until) {} // a change under way
      console.log(await endings.stop());`);
    expect(run).toEqual({ exitCode: 0, signal: undefined, stdout: "143" });
  });

  it("ends a short change on Ctrl-C (130), but ignores it when a command has the terminal", async () => {
    const ended = await runScript(`
      const endings = Endings.catch({ interrupts: "end" });
      process.kill(process.pid, "SIGINT");
      console.log(await endings.stop());`);
    expect(ended.stdout).toBe("130");
    const ignored = await runScript(`
      const endings = Endings.catch({ interrupts: "ignore" });
      process.kill(process.pid, "SIGINT");
      console.log(await endings.stop());`);
    expect(ignored).toEqual({ exitCode: 0, signal: undefined, stdout: "null" });
  });

  it("passes a signal caught before the command runs on to it at once, and kills it after the grace", async () => {
    const run = await runScript(`
      const endings = Endings.catch({ interrupts: "ignore" });
      process.kill(process.pid, "SIGHUP");
      console.log("settled", await endings.settled());
      const started = Date.now();
      await new Promise((done) => endings.passTo({
        signal: (ending) => console.log("passed", ending),
        graceMs: 200,
        kill: (ending) => { console.log("killed after", ending, Date.now() - started >= 190); done(); },
      }));
      endings.released();
      console.log(await endings.stop());`);
    expect(run.stdout.split("\n")).toEqual(["settled SIGHUP", "passed SIGHUP", "killed after SIGHUP true", "129"]);
  });
});
