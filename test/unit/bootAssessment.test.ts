// The boot decision as a table: counts, blessings, the one-time boot and the
// default profile, taken together.
import { describe, expect, it } from "vitest";
import {
  bless,
  type BootFacts,
  type BootState,
  type Candidate,
  countStart,
  decideBoot,
  EMPTY_BOOT_STATE,
  parseBootState,
  setBootOnce,
} from "../../src/bootAssessment.ts";
import type { Generation } from "../../src/generations.ts";

const gen = (n: number): Generation => ({ number: n, link: `/nix/var/nix/profiles/system-${n}-link`, storePath: `/nix/store/g${n}` });
const ok = (n: number): Candidate => ({ generation: gen(n), problem: null });
const broken = (n: number): Candidate => ({ generation: gen(n), problem: `system-${n}-link/systemd is missing` });

/** Generations newest first; the first is the default unless `defaultOf` says otherwise. */
function facts(candidates: Candidate[], defaultCandidate: Candidate = candidates[0]!): BootFacts {
  return {
    defaultProfile: defaultCandidate,
    older: () => candidates.filter((c) => c !== defaultCandidate),
    resolve: (link) => candidates.find((c) => "generation" in c && c.generation.link === link) ?? { link, error: "does not exist" },
  };
}

function state(records: Record<number, { tries: number; blessed: boolean }>, once: number | null = null): BootState {
  const generations = Object.fromEntries(Object.entries(records).map(([n, r]) => [`/nix/store/g${n}`, r]));
  return { format: 1, generations, bootOnce: once === null ? null : { link: gen(once).link, storePath: gen(once).storePath } };
}

describe("the boot decision", () => {
  it.each([
    // [case, candidates (newest first), state before, attempts, expected kind, expected generation, tries of the booted one after]
    ["a fresh default is booted and counted", [ok(3), ok(2)], state({}), 2, "default", 3, 1],
    ["a default tried once gets its second try", [ok(3), ok(2)], state({ 3: { tries: 1, blessed: false } }), 2, "default", 3, 2],
    ["a default tried twice unblessed falls back to the blessed older one", [ok(3), ok(2), ok(1)], state({ 3: { tries: 2, blessed: false }, 1: { tries: 0, blessed: true } }), 2, "fallback", 1, 0],
    ["with no blessed older one, the newest older bootable one", [ok(3), broken(2), ok(1)], state({ 3: { tries: 2, blessed: false } }), 2, "fallback", 1, 1],
    ["a blessed default is never passed over", [ok(3), ok(2)], state({ 3: { tries: 0, blessed: true } }), 2, "default", 3, 0],
    ["attempts 0: no fallback, ever", [ok(3), ok(2)], state({ 3: { tries: 9, blessed: false } }), 0, "default", 3, 10],
    ["an unbootable default falls back whatever the counts", [broken(3), ok(2)], state({}), 0, "fallback", 2, 1],
    ["an unblessed default with nothing older to fall back to still boots", [ok(3), broken(2)], state({ 3: { tries: 2, blessed: false } }), 2, "default", 3, 3],
    ["a one-time boot wins over the default", [ok(3), ok(2), ok(1)], state({}, 1), 2, "once", 1, 1],
    ["a one-time boot wins over a fallback", [ok(3), ok(2), ok(1)], state({ 3: { tries: 5, blessed: false } }, 1), 2, "once", 1, 1],
  ] as const)("%s", (_case, candidates, before, attempts, kind, number, tries) => {
    const decision = decideBoot(facts([...candidates]), before, attempts);
    expect(decision.kind).toBe(kind);
    if (decision.kind === "none") throw new Error("unexpected none");
    expect(decision.generation.number).toBe(number);
    expect(decision.state.generations[`/nix/store/g${number}`]?.tries).toBe(tries);
    expect(decision.state.bootOnce).toBeNull(); // used up by this start, whatever happened
  });

  it("falls back with the reason the default was passed over, and never changes the default's count further", () => {
    const before = state({ 3: { tries: 2, blessed: false }, 2: { tries: 0, blessed: true } });
    const decision = decideBoot(facts([ok(3), ok(2)]), before, 2);
    expect(decision).toMatchObject({ kind: "fallback", generation: { number: 2 } });
    if (decision.kind !== "fallback") return;
    expect(decision.reason).toBe("generation 3 was started 2 times without being marked good (it never reached the point where nixos-wsl-init bless runs)");
    expect(decision.state.generations["/nix/store/g3"]).toEqual({ tries: 2, blessed: false });
  });

  it("skips a one-time boot whose link now points elsewhere, and says so", () => {
    const before: BootState = { ...state({}), bootOnce: { link: gen(1).link, storePath: "/nix/store/old" } };
    const decision = decideBoot(facts([ok(3), ok(1)]), before, 2);
    expect(decision).toMatchObject({ kind: "default", generation: { number: 3 } });
    if (decision.kind === "default") {
      expect(decision.notes).toEqual([`the one-time boot of ${gen(1).link} was skipped: it now points at /nix/store/g1, not /nix/store/old`]);
    }
  });

  it("says why a default that ran out of attempts boots again when nothing older can", () => {
    const decision = decideBoot(facts([ok(3), broken(2)]), state({ 3: { tries: 2, blessed: false } }), 2);
    expect(decision.kind).toBe("default");
    if (decision.kind === "default") {
      expect(decision.notes.at(-1)).toBe("no older generation can boot instead, so generation 3 boots again");
      expect(decision.notes[0]).toContain("generation 3 was started 2 times without being marked good");
    }
  });

  it("says none when nothing can boot", () => {
    const decision = decideBoot(facts([broken(2), broken(1)]), EMPTY_BOOT_STATE, 2);
    expect(decision.kind).toBe("none");
    if (decision.kind === "none") expect(decision.reasons).toEqual(["system-2-link/systemd is missing", "system-1-link/systemd is missing"]);
  });

  it("a new generation (a new store path) starts counting afresh; a blessed one stays blessed", () => {
    let s = countStart(countStart(EMPTY_BOOT_STATE, "/nix/store/a"), "/nix/store/a");
    expect(s.generations["/nix/store/a"]).toEqual({ tries: 2, blessed: false });
    s = bless(s, "/nix/store/a");
    s = countStart(s, "/nix/store/a");
    expect(s.generations["/nix/store/a"]).toEqual({ tries: 0, blessed: true });
    expect(countStart(s, "/nix/store/b").generations["/nix/store/b"]).toEqual({ tries: 1, blessed: false });
    expect(setBootOnce(s, gen(7)).bootOnce).toEqual({ link: gen(7).link, storePath: gen(7).storePath });
  });

  it("reads a state file, and calls a damaged one damaged rather than failing", () => {
    const good = setBootOnce(bless(EMPTY_BOOT_STATE, "/nix/store/a"), gen(1));
    expect(parseBootState(JSON.stringify(good))).toEqual(good);
    expect(parseBootState('{"format":1,"generations":{"/nix/store/a":{"tries":"x"}}}')).toEqual({ problem: "the record of /nix/store/a is damaged" });
    expect(parseBootState('{"format":1,"gen')).toMatchObject({ problem: expect.stringMatching(/^not valid JSON/) });
    expect(parseBootState("")).toMatchObject({ problem: expect.stringMatching(/^not valid JSON/) });
  });
});
