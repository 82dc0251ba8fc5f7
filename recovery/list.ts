// --list: the generations of a root, as a table for people or JSON for programs.
import { type BrokenGeneration, type DefaultProfile, type GenerationInfo, readDefaultProfile } from "../src/generations.ts";
import { type BootState, EMPTY_BOOT_STATE, recordOf } from "../src/bootAssessment.ts";
import { SYSTEM_PROFILE } from "../src/paths.ts";

type Listed = GenerationInfo | BrokenGeneration;

function isBroken(entry: Listed): entry is BrokenGeneration {
  return "problem" in entry;
}

function formatDate(date: Date): string {
  return date.toISOString().replace("T", " ").slice(0, 16);
}

/** How to replace a system profile that is not a symlink (Nix always makes one), with generation `number` (or N). */
export function profileRepairAdvice(number: number | null): string {
  const n = number === null ? "N" : String(number);
  return (
    `To make generation ${n} the default, move it aside from inside that generation, then roll back:\n` +
    `  nixos-wsl-recovery --generation ${n} -- mv ${SYSTEM_PROFILE} ${SYSTEM_PROFILE}.moved-aside\n` +
    `  nixos-wsl-recovery --rollback --generation ${n}`
  );
}

/** Why no listed generation is the default, or null when one is. */
function defaultNote(root: string, generations: readonly Listed[]): string | null {
  if (generations.some((entry) => !isBroken(entry) && entry.isDefault)) return null;
  let profile: DefaultProfile;
  try {
    profile = readDefaultProfile(root);
  } catch (error) {
    return `No default generation: ${(error as Error).message}`;
  }
  switch (profile.kind) {
    case "absent":
      return `No default generation: ${SYSTEM_PROFILE} does not exist. Make one the default with --rollback --generation N.`;
    case "not-a-link":
      return (
        `No default generation: ${SYSTEM_PROFILE} is ${profile.what}, not a link to a generation as Nix makes it.\n` +
        `Enter a generation with --generation N. ${profileRepairAdvice(null)}`
      );
    case "link": {
      const where = `${SYSTEM_PROFILE} -> ${profile.target}`;
      if (profile.number === null) return `The default, ${where}, is not a numbered generation.`;
      const listed = generations.find((entry) => entry.number === profile.number);
      return listed
        ? `The default, ${where}, is broken (above). Make another one the default with --rollback --generation N.`
        : `The default, ${where}, does not exist. Make another one the default with --rollback --generation N.`;
    }
  }
}

/** A generation's boot assessment in a few words, or "" when there is nothing to say. */
function assessmentCell(entry: GenerationInfo, state: BootState): string {
  const { tries, blessed } = recordOf(state, entry.storePath);
  const once = state.bootOnce?.storePath === entry.storePath ? "boots once at the next start" : "";
  const record = blessed ? "good" : tries > 0 ? `started ${tries}x, not marked good` : "";
  return [record, once].filter(Boolean).join("; ");
}

export function formatGenerationTable(root: string, generations: readonly Listed[], state: BootState = EMPTY_BOOT_STATE): string {
  if (generations.length === 0) return `No system generations in ${root}/nix/var/nix/profiles.`;
  const assessed = generations.some((entry) => !isBroken(entry) && assessmentCell(entry, state) !== "");
  const header = ["GEN", "CREATED (UTC)", "NIXOS VERSION", assessed ? "DEFAULT" : "", ...(assessed ? ["BOOT ASSESSMENT"] : [])];
  const rows = generations.map((entry) =>
    isBroken(entry)
      ? [String(entry.number), "-", `BROKEN: ${entry.problem}`]
      : [
          String(entry.number),
          formatDate(entry.created),
          entry.nixosVersion ?? "(unknown version)",
          entry.isDefault ? "default" : "",
          ...(assessed ? [assessmentCell(entry, state)] : []),
        ],
  );
  // A broken entry's long explanation goes last on its line and does not widen the columns.
  const sized = [header, ...rows.filter((row) => row.length === header.length)];
  const widths = header.map((_, column) => Math.max(...sized.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join("  ").trimEnd();
  const note = defaultNote(root, generations);
  return [`System generations in ${root}:`, line(header), ...rows.map(line), ...(note === null ? [] : ["", note])].join("\n");
}

export function generationsJson(generations: readonly Listed[], state: BootState = EMPTY_BOOT_STATE): string {
  const entries = generations.map((entry) =>
    isBroken(entry)
      ? { number: entry.number, link: entry.link, problem: entry.problem }
      : {
          number: entry.number,
          link: entry.link,
          storePath: entry.storePath,
          created: entry.created.toISOString(),
          nixosVersion: entry.nixosVersion,
          default: entry.isDefault,
          blessed: recordOf(state, entry.storePath).blessed,
          unblessedTries: recordOf(state, entry.storePath).tries,
          bootOnce: state.bootOnce?.storePath === entry.storePath,
        },
  );
  return `${JSON.stringify(entries, null, 2)}\n`;
}
