import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  chooseBootGeneration,
  defaultGenerationNumber,
  executableProblem,
  generationNumbers,
  isMisspelledGenerationName,
  listGenerations,
  parseGenerationNumber,
  readDefaultProfile,
  resolveGeneration,
} from "../../src/generations.ts";
import { resolveInRoot, RootPathError } from "../../src/rootPath.ts";
import { type FakeRoot, makeFakeRoot, nixosVersion } from "../harness/fakeRoot.ts";

const roots: FakeRoot[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) root.remove();
});
/** A fake root whose /usr has the systemd its generations link to (nspawn binds the host's /usr there instead). */
function fakeRoot(...args: Parameters<typeof makeFakeRoot>): FakeRoot {
  const root = makeFakeRoot(...args);
  roots.push(root);
  mkdirSync(join(root.root, "usr/lib/systemd"), { recursive: true });
  writeFileSync(join(root.root, "usr/lib/systemd/systemd"), "#!/bin/sh\n");
  chmodSync(join(root.root, "usr/lib/systemd/systemd"), 0o755);
  return root;
}

describe("generation discovery", () => {
  it("parses system-N-link names only", () => {
    expect(parseGenerationNumber("/nix/var/nix/profiles/system-42-link")).toBe(42);
    expect(parseGenerationNumber("system-7-link")).toBe(7);
    expect(parseGenerationNumber("system")).toBeNull();
    expect(parseGenerationNumber("system-x-link")).toBeNull();
    expect(parseGenerationNumber("per-user-3-link")).toBeNull();
  });

  it("takes N only as Nix writes it: decimal, no leading zeros", () => {
    expect(parseGenerationNumber("system-10-link")).toBe(10);
    expect(parseGenerationNumber("system-007-link")).toBeNull();
    expect(parseGenerationNumber("system-0-link")).toBeNull();
    expect(parseGenerationNumber("system-+7-link")).toBeNull();
    expect(parseGenerationNumber("system-99999999999999999999-link")).toBeNull();
    expect(isMisspelledGenerationName("/nix/var/nix/profiles/system-007-link")).toBe(true);
    expect(isMisspelledGenerationName("system-7-link")).toBe(false);
    expect(isMisspelledGenerationName("system")).toBe(false);
  });

  it("lists system-7-link once beside a system-007-link, and never takes system-007-link for generation 7", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 7 }] });
    const profiles = join(root.root, "nix/var/nix/profiles");
    symlinkSync(root.storePath(1), join(profiles, "system-007-link"));
    expect(generationNumbers(root.root)).toEqual([7, 1]);
    expect(listGenerations(root.root).map((g) => g.number)).toEqual([7, 1]);
    expect(resolveGeneration(root.root, "/nix/var/nix/profiles/system-007-link")).toEqual({
      number: null,
      link: "/nix/var/nix/profiles/system-007-link",
      storePath: root.storePath(1),
    });
    // A default pointing at the misspelled name is no numbered generation either.
    rmSync(join(profiles, "system"));
    symlinkSync("system-007-link", join(profiles, "system"));
    expect(defaultGenerationNumber(root.root)).toBeNull();
  });

  it("numbers only links of the profiles directory", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    mkdirSync(join(root.root, "elsewhere"));
    symlinkSync(root.storePath(1), join(root.root, "elsewhere/system-3-link"));
    expect(resolveGeneration(root.root, "/elsewhere/system-3-link").number).toBeNull();
    expect(resolveGeneration(root.root, "/nix/var/nix/profiles/../profiles/system-1-link").number).toBe(1);
  });

  it("boots the default generation when it is bootable", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
    expect(chooseBootGeneration(root.root)).toEqual({
      kind: "default",
      generation: { number: 2, link: "/nix/var/nix/profiles/system", storePath: root.storePath(2) },
    });
  });

  it("falls back to the newest older bootable generation, skipping newer and broken ones", () => {
    const root = fakeRoot({
      generations: [{ number: 1 }, { number: 2, activate: null }, { number: 3, systemd: false }, { number: 4 }],
      defaultGeneration: 3,
    });
    expect(chooseBootGeneration(root.root)).toEqual({
      kind: "fallback",
      generation: { number: 1, link: "/nix/var/nix/profiles/system-1-link", storePath: root.storePath(1) },
      reason: "/nix/var/nix/profiles/system/systemd/lib/systemd/systemd is missing",
    });
  });

  it("does not boot a systemd that is not executable", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    chmodSync(join(root.root, "usr/lib/systemd/systemd"), 0o644);
    expect(chooseBootGeneration(root.root)).toMatchObject({
      kind: "none",
      reasons: ["/nix/var/nix/profiles/system/systemd/lib/systemd/systemd is not executable"],
    });
  });

  it("explains why nothing can boot", () => {
    const root = fakeRoot({ generations: [{ number: 1, activate: null }, { number: 2, systemd: false }] });
    const choice = chooseBootGeneration(root.root);
    expect(choice).toEqual({
      kind: "none",
      reasons: [
        "/nix/var/nix/profiles/system/systemd/lib/systemd/systemd is missing",
        "/nix/var/nix/profiles/system-1-link/activate is missing",
      ],
    });
  });

  it("lists generations newest first with date, version and the default", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 3 }], defaultGeneration: 1 });
    symlinkSync("/nix/store/does-not-exist", join(root.root, "nix/var/nix/profiles/system-5-link"));
    const list = listGenerations(root.root);
    expect(list.map((g) => g.number)).toEqual([5, 3, 1]);
    expect(list[0]).toMatchObject({ number: 5, problem: expect.stringContaining("does not exist") });
    expect(list[1]).toMatchObject({ number: 3, isDefault: false, nixosVersion: nixosVersion(3) });
    expect(list[2]).toMatchObject({ number: 1, isDefault: true, created: new Date(Date.UTC(2026, 0, 1)) });
  });
});

describe("a system profile that is not a link", () => {
  it("is read as no default, and boots the newest bootable generation", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
    const profile = join(root.root, "nix/var/nix/profiles/system");
    rmSync(profile);
    mkdirSync(profile);
    expect(readDefaultProfile(root.root)).toEqual({ kind: "not-a-link", what: "a directory" });
    expect(defaultGenerationNumber(root.root)).toBeNull();
    expect(listGenerations(root.root).map((g) => ("isDefault" in g ? g.isDefault : "broken"))).toEqual([false, false]);
    expect(chooseBootGeneration(root.root)).toMatchObject({ kind: "fallback", generation: { number: 2 } });
    rmSync(profile, { recursive: true });
    expect(readDefaultProfile(root.root)).toEqual({ kind: "absent" });
  });
});

describe("only ENOENT means missing", () => {
  it("reports a profiles directory that is a file (ENOTDIR) instead of 'no generations'", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    const profiles = join(root.root, "nix/var/nix/profiles");
    rmSync(profiles, { recursive: true });
    expect(generationNumbers(root.root)).toEqual([]); // really absent: none
    writeFileSync(profiles, "");
    expect(() => generationNumbers(root.root)).toThrow(/cannot read the system generations in .*\/nix\/var\/nix\/profiles: ENOTDIR \(not a directory\)/);
    expect(() => listGenerations(root.root)).toThrow(/ENOTDIR/);
    expect(() => readDefaultProfile(root.root)).toThrow(/cannot read \/nix\/var\/nix\/profiles\/system inside .*: ENOTDIR/);
    // The boot path never throws: it explains.
    const choice = chooseBootGeneration(root.root);
    expect(choice.kind).toBe("none");
    expect(choice.kind === "none" && choice.reasons.join("\n")).toMatch(/ENOTDIR/);
  });

  it("reports a profiles directory behind a symlink loop (ELOOP)", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    const nix = join(root.root, "nix/var/nix");
    rmSync(join(nix, "profiles"), { recursive: true });
    symlinkSync("profiles-b", join(nix, "profiles"));
    symlinkSync("profiles", join(nix, "profiles-b"));
    expect(() => generationNumbers(root.root)).toThrow(/too many symlinks/);
    expect(chooseBootGeneration(root.root)).toMatchObject({ kind: "none" });
  });

  it("says ENOTDIR, not 'missing', for a path through a file", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    let thrown: unknown;
    try {
      resolveInRoot(root.root, "/etc/NIXOS/activate");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RootPathError);
    expect(thrown).toMatchObject({ problem: "not-a-directory", code: "ENOTDIR" });
    expect((thrown as Error).message).toMatch(/cannot look up \/etc\/NIXOS\/activate inside .*: ENOTDIR \(not a directory\)/);
    expect(executableProblem(root.root, "/etc/NIXOS/activate")).toMatch(/^cannot be resolved: .*ENOTDIR/);
    expect(executableProblem(root.root, "/etc/no-such-file")).toBe("is missing");
    expect(executableProblem(root.root, "/etc")).toBe("is not a file");
    expect(executableProblem(root.root, "/etc/NIXOS")).toBe("is not executable");
  });

  it("lists a generation whose nixos-version cannot be read as broken, and one without it as of unknown version", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
    rmSync(join(root.root, root.storePath(1), "nixos-version"));
    rmSync(join(root.root, root.storePath(2), "nixos-version"));
    mkdirSync(join(root.root, root.storePath(2), "nixos-version"));
    const [second, first] = listGenerations(root.root);
    expect(second).toMatchObject({ number: 2, problem: expect.stringMatching(/cannot read .*\/nixos-version: EISDIR/) });
    expect(first).toMatchObject({ number: 1, nixosVersion: null });
  });
});

describe("a link chain that ends in a missing store path", () => {
  it("names the store path and the links that lead to it", () => {
    const root = fakeRoot({ generations: [{ number: 1 }, { number: 2 }, { number: 3 }] });
    rmSync(join(root.root, root.storePath(3)), { recursive: true });
    const chain = `/nix/var/nix/profiles/system -> system-3-link -> ${root.storePath(3)}`;
    expect(() => resolveInRoot(root.root, "/nix/var/nix/profiles/system")).toThrow(
      `the store path ${root.storePath(3)} does not exist inside ${root.root} (${chain})`,
    );
    const choice = chooseBootGeneration(root.root);
    expect(choice).toMatchObject({ kind: "fallback", generation: { number: 2 } });
    expect(choice.kind === "fallback" && choice.reason).toBe(
      `/nix/var/nix/profiles/system cannot be resolved: the store path ${root.storePath(3)} does not exist inside ${root.root} (${chain})`,
    );
  });

  it("names them at the real root too, where the kernel resolves (the boot path)", () => {
    const dir = mkdtempSync(join(tmpdir(), "root-chain-"));
    try {
      symlinkSync(`${dir}/gone`, join(dir, "gen-3"));
      symlinkSync("gen-3", join(dir, "profile"));
      expect(() => resolveInRoot("/", `${dir}/profile`)).toThrow(`${dir}/gone does not exist (${dir}/profile -> gen-3 -> ${dir}/gone)`);
      writeFileSync(join(dir, "file"), "");
      expect(() => resolveInRoot("/", `${dir}/file/x`)).toThrow(/ENOTDIR/);
      symlinkSync("loop-b", join(dir, "loop-a"));
      symlinkSync("loop-a", join(dir, "loop-b"));
      expect(() => resolveInRoot("/", `${dir}/loop-a`)).toThrow(/too many symlinks/);
      mkdirSync(join(dir, "sub"));
      expect(resolveInRoot("/", `/..${dir}/sub/..`)).toBe(dir);
      // Where the kernel fails and the walk explains, ".." of / is / as well (no "climbs above the root").
      expect(() => resolveInRoot("/", `/..${dir}/gone`)).toThrow(`${dir}/gone does not exist`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("resolveInRoot", () => {
  it("follows absolute links inside the root, never on the host", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    expect(resolveInRoot(root.root, "/nix/var/nix/profiles/system")).toBe(root.storePath(1));
    // The host has no /nix/store: resolving there would fail.
    symlinkSync("/etc", join(root.root, "host-etc"));
    expect(resolveInRoot(root.root, "/host-etc/NIXOS")).toBe("/etc/NIXOS");
  });

  it("refuses relative links that climb out of the root, and missing paths", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    mkdirSync(join(root.root, "a/b"), { recursive: true });
    symlinkSync("../../../../outside", join(root.root, "a/b/escape"));
    expect(() => resolveInRoot(root.root, "/a/b/escape")).toThrow(/points to \.\.\/\.\.\/\.\.\/\.\.\/outside, which leaves the root/);
    expect(() => resolveInRoot(root.root, "/../etc")).toThrow(/climbs above the root/);
    expect(() => resolveInRoot(root.root, "/nix/var/nix/profiles/system-9-link")).toThrow(/does not exist inside/);
  });

  it("stops at symlink loops", () => {
    const root = fakeRoot({ generations: [{ number: 1 }] });
    symlinkSync("loop-b", join(root.root, "loop-a"));
    symlinkSync("loop-a", join(root.root, "loop-b"));
    expect(() => resolveInRoot(root.root, "/loop-a")).toThrow(/too many symlinks/);
  });
});
