// --list: the generations of a root, as a table for people or JSON for programs.
import type { GenerationInfo } from "../src/generations.ts";

type Listed = GenerationInfo | { number: number; link: string; problem: string };

function isBroken(entry: Listed): entry is { number: number; link: string; problem: string } {
  return "problem" in entry;
}

function formatDate(date: Date): string {
  return date.toISOString().replace("T", " ").slice(0, 16);
}

export function formatGenerationTable(root: string, generations: readonly Listed[]): string {
  if (generations.length === 0) return `No system generations in ${root}/nix/var/nix/profiles.`;
  const header = ["GEN", "CREATED (UTC)", "NIXOS VERSION", ""];
  const rows = generations.map((entry) =>
    isBroken(entry)
      ? [String(entry.number), "-", `BROKEN: ${entry.problem}`]
      : [String(entry.number), formatDate(entry.created), entry.nixosVersion ?? "(unknown version)", entry.isDefault ? "default" : ""],
  );
  // A broken entry's long explanation goes last on its line and does not widen the columns.
  const sized = [header, ...rows.filter((row) => row.length === header.length)];
  const widths = header.map((_, column) => Math.max(...sized.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column]!) : cell)).join("  ").trimEnd();
  return [`System generations in ${root}:`, line(header), ...rows.map(line)].join("\n");
}

export function generationsJson(generations: readonly Listed[]): string {
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
        },
  );
  return `${JSON.stringify(entries, null, 2)}\n`;
}
