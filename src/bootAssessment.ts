// Automatic boot assessment, as systemd-boot's boot counting does it, for a
// platform with no boot menu: every start of a generation is counted until
// the generation is blessed (marked good once it booted); a default
// generation tried `attempts` times without a blessing is passed over for an
// older one. A one-time boot picks a generation for the next start only.
// Everything here is pure: the facts come in, the decision and the new state go out.
import type { Generation } from "./generations.ts";

export interface GenerationRecord {
  /** Starts since it was last blessed (or first seen). */
  readonly tries: number;
  readonly blessed: boolean;
}

export interface BootState {
  readonly format: 1;
  /** By store path: a new generation (a new store path) starts counting afresh. */
  readonly generations: Readonly<Record<string, GenerationRecord>>;
  /** The generation the next start boots, once. */
  readonly bootOnce: { readonly link: string; readonly storePath: string } | null;
}

export const EMPTY_BOOT_STATE: BootState = { format: 1, generations: {}, bootOnce: null };

/** How many generations' records are kept: the newest ones, which are the ones that boot. */
const KEPT_RECORDS = 32;

/** A generation as the decision sees it: resolved and checked, or why it could not be. */
export type Candidate =
  | { readonly generation: Generation; readonly problem: string | null }
  | { readonly link: string; readonly error: string };

export interface BootFacts {
  /** The default profile, resolved and checked. */
  readonly defaultProfile: Candidate;
  /** The generations older than the default, newest first; read only when needed. */
  older(): readonly Candidate[];
  /** The generation a link names now, checked. */
  resolve(link: string): Candidate;
}

export type BootDecision =
  /** `notes`: what the decision passed over on the way (a skipped one-time boot, a fallback with nowhere to go). */
  | { readonly kind: "default"; readonly generation: Generation; readonly state: BootState; readonly notes: readonly string[] }
  | { readonly kind: "once"; readonly generation: Generation; readonly state: BootState }
  | { readonly kind: "fallback"; readonly generation: Generation; readonly reason: string; readonly state: BootState }
  | { readonly kind: "none"; readonly reasons: readonly string[]; readonly state: BootState };

export function recordOf(state: BootState, storePath: string): GenerationRecord {
  return state.generations[storePath] ?? { tries: 0, blessed: false };
}

function withRecord(state: BootState, storePath: string, record: GenerationRecord): BootState {
  const { [storePath]: _old, ...others } = state.generations;
  // Re-inserted last: insertion order is recency, and only the newest records are kept.
  const entries = [...Object.entries(others), [storePath, record] as const].slice(-KEPT_RECORDS);
  return { ...state, generations: Object.fromEntries(entries) };
}

/**
 * One more start of a generation. A blessed one stays blessed, and its state
 * is returned as it was (the same object): counting only matters until the
 * first good boot, and a state that did not change need not be written.
 */
export function countStart(state: BootState, storePath: string): BootState {
  const record = recordOf(state, storePath);
  return record.blessed ? state : withRecord(state, storePath, { tries: record.tries + 1, blessed: false });
}

/** The generation booted well: good from now on. */
export function bless(state: BootState, storePath: string): BootState {
  return withRecord(state, storePath, { tries: 0, blessed: true });
}

export function setBootOnce(state: BootState, generation: Generation): BootState {
  return { ...state, bootOnce: { link: generation.link, storePath: generation.storePath } };
}

function usable(candidate: Candidate): candidate is { generation: Generation; problem: null } {
  return "generation" in candidate && candidate.problem === null;
}

function whyNot(candidate: Candidate): string {
  return "error" in candidate ? `${candidate.link} cannot be resolved: ${candidate.error}` : `${candidate.problem}`;
}

/** The newest older generation that was blessed, else the newest older one that can boot. */
function olderChoice(facts: BootFacts, state: BootState, reasons: string[]): Generation | null {
  const older = facts.older();
  const blessed = older.find((candidate) => usable(candidate) && recordOf(state, candidate.generation.storePath).blessed);
  if (blessed && usable(blessed)) return blessed.generation;
  for (const candidate of older) {
    if (usable(candidate)) return candidate.generation;
    reasons.push(whyNot(candidate));
  }
  return null;
}

/**
 * Which generation this start boots, and the state to record before it does.
 * `attempts` is how many unblessed starts the default gets (0: no fallback for that reason).
 */
export function decideBoot(facts: BootFacts, stateBefore: BootState, attempts: number): BootDecision {
  const reasons: string[] = [];
  // A one-time boot is used up by this start, whatever it comes to.
  let state: BootState = stateBefore.bootOnce === null ? stateBefore : { ...stateBefore, bootOnce: null };
  if (stateBefore.bootOnce !== null) {
    const once = facts.resolve(stateBefore.bootOnce.link);
    if (usable(once) && once.generation.storePath === stateBefore.bootOnce.storePath) {
      return { kind: "once", generation: once.generation, state: countStart(state, once.generation.storePath) };
    }
    reasons.push(
      usable(once)
        ? `the one-time boot of ${stateBefore.bootOnce.link} was skipped: it now points at ${once.generation.storePath}, not ${stateBefore.bootOnce.storePath}`
        : `the one-time boot of ${stateBefore.bootOnce.link} was skipped: ${whyNot(once)}`,
    );
  }

  const profile = facts.defaultProfile;
  if (usable(profile)) {
    const record = recordOf(state, profile.generation.storePath);
    if (attempts === 0 || record.blessed || record.tries < attempts) {
      return { kind: "default", generation: profile.generation, state: countStart(state, profile.generation.storePath), notes: reasons };
    }
    reasons.push(
      `${describe(profile.generation)} was started ${record.tries} times without being marked good (it never reached the point where nixos-wsl-init bless runs)`,
    );
  } else {
    reasons.push(whyNot(profile));
  }

  // Why the default is passed over; what is wrong with older ones matters only when none can boot.
  const reason = reasons.join("; ");
  const fallback = olderChoice(facts, state, reasons);
  if (fallback !== null) return { kind: "fallback", generation: fallback, reason, state: countStart(state, fallback.storePath) };
  // Nothing older can boot: a default that failed to be marked good is still better than no boot at all.
  if (usable(profile)) {
    const notes = [...reasons, `no older generation can boot instead, so ${describe(profile.generation)} boots again`];
    return { kind: "default", generation: profile.generation, state: countStart(state, profile.generation.storePath), notes };
  }
  return { kind: "none", reasons, state };
}

function describe(generation: Generation): string {
  return generation.number === null ? generation.link : `generation ${generation.number}`;
}

/** A state file's content, or the reason it cannot be used (a damaged file never stops a boot: it counts as empty). */
export function parseBootState(text: string): BootState | { readonly problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { problem: `not valid JSON (${(error as Error).message})` };
  }
  const value = raw as Partial<BootState> | null;
  if (typeof value !== "object" || value === null || value.format !== 1) return { problem: "not a format-1 boot state" };
  const generations: Record<string, GenerationRecord> = {};
  for (const [storePath, record] of Object.entries(value.generations ?? {})) {
    const { tries, blessed } = (record ?? {}) as Partial<GenerationRecord>;
    if (typeof tries !== "number" || !Number.isInteger(tries) || tries < 0 || typeof blessed !== "boolean") {
      return { problem: `the record of ${storePath} is damaged` };
    }
    generations[storePath] = { tries, blessed };
  }
  const once = value.bootOnce;
  const bootOnce = once && typeof once.link === "string" && typeof once.storePath === "string" ? { link: once.link, storePath: once.storePath } : null;
  return { format: 1, generations, bootOnce };
}
