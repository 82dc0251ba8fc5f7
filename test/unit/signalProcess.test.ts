// The one mechanism for signals to children (src/signalProcess.ts), with real
// processes: sending to one that is gone, passing a signal on with a grace
// and then SIGKILL, and no SIGKILL once the child has ended or for a signal
// passed on without a grace.
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { endsWithinGrace, PassOn, sendSignal, sendSignalEach } from "../../src/signalProcess.ts";

const started: Array<ReturnType<typeof execa>> = [];
afterEach(async () => {
  for (const child of started.splice(0)) {
    child.kill("SIGKILL");
    await child.catch(() => {});
  }
});

/** A child that ignores SIGTERM (as an interactive bash does) and SIGHUP. */
/** A child that ignores SIGTERM and SIGHUP, once its trap is set (it says so). */
async function stubborn() {
  const child = execa("sh", ["-c", 'trap "" TERM HUP; echo trapped; exec sleep 30'], { reject: false });
  started.push(child);
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  return { child }; // wrapped: the child is a promise itself, which an async function would wait for
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("signals to children", () => {
  it("sends to a live process, and passes over one that is gone", async () => {
    const child = execa("sleep", ["30"], { reject: false });
    started.push(child);
    expect(sendSignal(child.pid!, "SIGTERM")).toBe(true);
    expect((await child).signal).toBe("SIGTERM");
    expect(sendSignal(child.pid!, "SIGTERM")).toBe(false);
    expect(() => sendSignalEach([child.pid!, 0x3fffffff], "SIGTERM")).not.toThrow();
  });

  it("passes a signal on at once and kills after the grace, once, however many signals come", async () => {
    const { child } = await stubborn();
    const events: string[] = [];
    const passOn = new PassOn({
      signal: (signal) => {
        events.push(`passed ${signal}`);
        child.kill(signal);
      },
      graceMs: 300,
      kill: (signal) => {
        events.push(`killed after ${signal}`);
        child.kill("SIGKILL");
      },
    });
    const at = Date.now();
    passOn.pass("SIGTERM");
    passOn.pass("SIGHUP", false);
    passOn.pass("SIGTERM");
    const result = await child;
    passOn.ended();
    expect(result.signal).toBe("SIGKILL");
    expect(Date.now() - at).toBeGreaterThanOrEqual(290);
    expect(events).toEqual(["passed SIGTERM", "passed SIGHUP", "passed SIGTERM", "killed after SIGTERM"]);
  });

  it("kills nothing once the child has ended, nor for a signal passed on without a grace", async () => {
    const kills: string[] = [];
    const ended = new PassOn({ signal: () => {}, graceMs: 100, kill: (signal) => kills.push(signal) });
    ended.pass("SIGTERM");
    ended.ended();
    ended.pass("SIGTERM"); // after its end: nothing
    const noGrace = new PassOn({ signal: () => {}, graceMs: 100, kill: (signal) => kills.push(signal) });
    noGrace.pass("SIGHUP", false);
    noGrace.pass("SIGCONT", false);
    await sleep(250);
    expect(kills).toEqual([]);
  });

  it("waits a grace for a child's end, then kills it and waits again", async () => {
    const quick = execa("sleep", ["0.05"], { reject: false });
    expect(await endsWithinGrace(quick, 2_000, () => quick.kill("SIGKILL"))).toBe(true);
    const { child } = await stubborn();
    const at = Date.now();
    expect(await endsWithinGrace(child, 200, () => child.kill("SIGKILL"))).toBe(false);
    expect((await child).signal).toBe("SIGKILL");
    expect(Date.now() - at).toBeGreaterThanOrEqual(190);
  });
});
