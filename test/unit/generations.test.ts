import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chooseBootGeneration, listGenerations, parseGenerationNumber } from "../../src/generations.ts";
import { resolveInRoot } from "../../src/rootPath.ts";
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
