// --chown PATH UID:GID: owners set recursively in the image, as `chown -R`
// would after copying (symlinks themselves, never followed). Names are looked
// up in the image's own /etc/passwd and /etc/group, never the host's.
import { parseGroups, parsePasswd } from "../../shim/legacy/passwd.ts";
import { StepError } from "../../src/stepError.ts";
import { type ImageView, normalise } from "./tree.ts";

export interface ChownRule {
  readonly path: string;
  readonly owner: string;
}

export interface Accounts {
  readonly users: ReadonlyMap<string, number>;
  readonly groups: ReadonlyMap<string, number>;
}

/** The image's users and groups by name (empty when it has no passwd or group file). */
export function imageAccounts(view: ImageView): Accounts {
  const passwd = view.read("/etc/passwd");
  const group = view.read("/etc/group");
  return {
    users: new Map(passwd ? parsePasswd(passwd.data.toString()).map((user) => [user.name, user.uid]) : []),
    groups: new Map(group ? parseGroups(group.data.toString()).map((entry) => [entry.name, entry.gid]) : []),
  };
}

function idOf(part: string, names: ReadonlyMap<string, number>, what: string, spec: string): number {
  if (/^\d+$/.test(part)) return Number(part);
  const id = names.get(part);
  if (id === undefined) throw new StepError(`--chown ${spec}`, `the image has no ${what} '${part}' (its /etc/${what === "user" ? "passwd" : "group"} was read)`, "Give numbers, e.g. 1000:100.");
  return id;
}

/** "1000:100", or "alice:users" looked up in the image. */
export function parseOwner(spec: string, accounts: Accounts): { uid: number; gid: number } {
  const match = /^([^:]+):([^:]+)$/.exec(spec);
  if (!match) throw new StepError(`--chown ${spec}`, "the owner must be UID:GID (or USER:GROUP of the image)");
  return { uid: idOf(match[1]!, accounts.users, "user", spec), gid: idOf(match[2]!, accounts.groups, "group", spec) };
}

/** Apply the rules in order: each sets the owner of PATH and of everything under it. */
export function applyChown(view: ImageView, rules: readonly ChownRule[]): void {
  if (rules.length === 0) return;
  const accounts = imageAccounts(view);
  for (const rule of rules) {
    const { uid, gid } = parseOwner(rule.owner, accounts);
    const path = normalise(rule.path);
    if (view.get(path) === undefined) {
      throw new StepError(`--chown ${rule.path} ${rule.owner}`, `/${path} is not in the image`, "Give a path as it is inside the image, e.g. /home/nixos.");
    }
    const prefix = path === "" ? "" : `${path}/`;
    for (const entry of view.entries) {
      if (entry.path === path || entry.path.startsWith(prefix)) {
        entry.uid = uid;
        entry.gid = gid;
      }
    }
  }
}
