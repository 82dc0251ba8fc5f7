// The passwd database, read from /etc/passwd as NixOS writes it. A file that
// cannot be read is an error with its cause (EACCES, EIO, …) kept in `code`;
// only a missing /etc/group means "no groups".
import { readFileSync } from "node:fs";
import { errorCode } from "../../src/stepError.ts";

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

/** The colon-separated records of a passwd-style file that have at least `fields` fields. */
function records(text: string, fields: number): string[][] {
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(":"))
    .filter((record) => record.length >= fields);
}

export function parsePasswd(text: string): PasswdEntry[] {
  return records(text, 7).map(([name, , uid, gid, , home, shell]) => ({
    name: name!,
    uid: Number(uid),
    gid: Number(gid),
    home: home!,
    shell: shell || "/bin/sh",
  }));
}

export function readPasswd(path = "/etc/passwd"): PasswdEntry[] {
  return parsePasswd(readFileSync(path, "utf8"));
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export function parseGroups(text: string): GroupEntry[] {
  return records(text, 4).map(([name, , gid, members]) => ({ name: name!, gid: Number(gid), members: members ? members.split(",") : [] }));
}

export function readGroups(path = "/etc/group"): GroupEntry[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return [];
    throw error;
  }
  return parseGroups(text);
}
