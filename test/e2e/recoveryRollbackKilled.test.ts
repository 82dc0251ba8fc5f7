// `nixos-wsl-recovery --rollback` killed with SIGKILL at random moments, many
// times: the system profile is always the old link or the new one, and no
// temporary link is ever left in /nix/var/nix/profiles, where Nix would take
// it for a GC root. To make the moment between making the new link and
// renaming it over the profile wide enough to be hit, strace delays every
// rename(2) of the run by 300 ms (the process, its files and its kill are real).
import { lstatSync, lutimesSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { sleep, waitFor } from "../harness/proc.ts";

const BINARY = requireBinary();
const RUNS = 24;
const RENAME_DELAY_US = 300_000;

// In a mount namespace of its own: the host's /usr in the root (the generations' systemd links into it),
// then the entry under strace, its PID written down for the kill.
const SCRIPT = `
set -e
root=$1 pidfile=$2 entry=$3 generation=$4 delay=$5
mount --bind -o ro /usr "$root/usr"
exec strace -f -qq -o /dev/null -e inject=rename,renameat,renameat2:delay_enter=$delay sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$entry" --root "$root" --rollback --generation "$generation"
`;

describe("--rollback killed at random moments", () => {
  let fake: FakeRoot;
  let work: string;
  let entry: string;
  const profiles = () => join(fake.root, "nix/var/nix/profiles");
  const target = () => readlinkSync(join(profiles(), "system"));

  beforeAll(() => {
    fake = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
    work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-rollback-killed-"));
    writeFileSync(join(work, "run.sh"), SCRIPT);
    entry = join(work, "nixos-wsl-recovery");
    symlinkSync(BINARY, entry);
  });
  afterAll(() => {
    fake.remove();
    rmSync(work, { recursive: true, force: true });
  });

  async function rollbackTo(generation: number, killAfterMs: number | null): Promise<{ killed: boolean; stderr: string }> {
    const pidfile = join(work, "pid");
    rmSync(pidfile, { force: true });
    const child = execa("unshare", ["--mount", "--propagation", "private", "sh", join(work, "run.sh"), fake.root, pidfile, entry, String(generation), String(RENAME_DELAY_US)], {
      reject: false,
    });
    let killed = false;
    if (killAfterMs !== null) {
      await waitFor("the rollback to start", 10_000, () => {
        try {
          return readdirSync(work).includes("pid") && lstatSync(pidfile).size > 0;
        } catch {
          return false;
        }
      });
      const pid = Number((await execa("cat", [pidfile])).stdout.trim());
      await sleep(killAfterMs);
      try {
        process.kill(pid, "SIGKILL");
        killed = true;
      } catch {
        // it had ended already
      }
    }
    const result = await child;
    return { killed: killed && result.exitCode !== 0, stderr: result.stderr };
  }

  it("always leaves the profile old or new, and no temporary link among the profiles", async () => {
    let killedMidway = 0;
    for (let run = 0; run < RUNS; run++) {
      const old = target();
      const wanted = old === "system-1-link" ? 2 : 1;
      const { killed } = await rollbackTo(wanted, Math.floor(Math.random() * 550));
      if (killed) killedMidway++;
      expect(readdirSync(profiles()).sort(), `run ${run}: what is in the profiles directory`).toEqual(["system", "system-1-link", "system-2-link"]);
      expect(lstatSync(join(profiles(), "system")).isSymbolicLink()).toBe(true);
      expect([old, `system-${wanted}-link`], `run ${run}`).toContain(target());
    }
    expect(killedMidway, "runs killed before they ended").toBeGreaterThan(RUNS / 4);

    // What a killed run left outside the profiles (in /nix/var/nix) goes with the next run once a minute old.
    const nixVar = join(fake.root, "nix/var/nix");
    const minuteAgo = new Date(Date.now() - 61_000);
    for (const name of readdirSync(nixVar)) if (name.startsWith(".system.new-")) lutimesSync(join(nixVar, name), minuteAgo, minuteAgo);
    const wanted = target() === "system-1-link" ? 2 : 1;
    const last = await rollbackTo(wanted, null);
    expect(target(), last.stderr).toBe(`system-${wanted}-link`);
    expect(readdirSync(nixVar).filter((name) => name.startsWith("."))).toEqual([]);
    expect(readdirSync(profiles()).sort()).toEqual(["system", "system-1-link", "system-2-link"]);
  });
});
