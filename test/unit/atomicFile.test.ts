// replaceAtomically on real files: the new content in place, and the
// temporaries of writers killed half-way removed once they are old.
import { lutimesSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { replaceAtomically } from "../../src/atomicFile.ts";

describe("replaceAtomically", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-atomic-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("replaces the file and leaves no temporary", () => {
    writeFileSync(join(dir, "state.json"), "old");
    replaceAtomically(join(dir, "state.json"), (temporary) => writeFileSync(temporary, "new"), { durable: true });
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe("new");
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });

  it("removes an old temporary of a writer that is gone, and keeps a recent one and one of a live process", () => {
    const hourAgo = new Date(Date.now() - 3600_000);
    const deadPid = 2 ** 22 + 1; // above the kernel's largest PID: never running
    const dead = join(dir, `.state.json.new-${deadPid}`);
    const recent = join(dir, `.state.json.new-${deadPid + 1}`);
    const live = join(dir, ".state.json.new-1");
    const other = join(dir, `.other.json.new-${deadPid}`);
    for (const file of [dead, recent, live, other]) writeFileSync(file, "half");
    for (const file of [dead, live, other]) utimesSync(file, hourAgo, hourAgo);
    replaceAtomically(join(dir, "state.json"), (temporary) => writeFileSync(temporary, "new"));
    expect(readdirSync(dir).sort()).toEqual([`.other.json.new-${deadPid}`, `.state.json.new-${deadPid + 1}`, ".state.json.new-1", "state.json"].sort());
  });

  it("makes a durable symlink through a temporary in another directory of the same file system, and tidies leftovers there", () => {
    // As --rollback does: the profile's new link is made in /nix/var/nix, never among the profiles (GC roots).
    const profiles = join(dir, "profiles");
    mkdirSync(profiles);
    symlinkSync("system-1-link", join(profiles, "system"));
    const hourAgo = new Date(Date.now() - 3600_000);
    const leftover = join(dir, `.system.new-${2 ** 22 + 1}`);
    symlinkSync("system-9-link", leftover);
    lutimesSync(leftover, hourAgo, hourAgo);
    replaceAtomically(join(profiles, "system"), (temporary) => symlinkSync("system-2-link", temporary), { durable: true, temporaryDirectory: dir });
    expect(readlinkSync(join(profiles, "system"))).toBe("system-2-link");
    expect(readdirSync(profiles)).toEqual(["system"]);
    expect(readdirSync(dir)).toEqual(["profiles"]);
  });

  it("removes its own temporary when making the new file fails, and keeps the old file", () => {
    writeFileSync(join(dir, "state.json"), "old");
    expect(() =>
      replaceAtomically(join(dir, "state.json"), (temporary) => {
        writeFileSync(temporary, "half");
        throw new Error("disk full");
      }),
    ).toThrow("disk full");
    expect(readFileSync(join(dir, "state.json"), "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["state.json"]);
  });
});
