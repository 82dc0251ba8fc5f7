// Boot assessment in fake roots: the blessing unit the NixOS module installs,
// activation snippets for a generation whose boot never completes, and the
// state file read from outside.
import { mkdirSync, readFileSync, readlinkSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootState } from "../../src/bootAssessment.ts";
import type { FakeRoot } from "./fakeRoot.ts";

/** As the module's unit: once multi-user.target is reached, the running generation is marked good. */
export function installBlessUnit(fake: FakeRoot): void {
  const units = join(fake.root, "etc/systemd/system");
  mkdirSync(join(units, "multi-user.target.wants"), { recursive: true });
  writeFileSync(
    join(units, "nixos-wsl-init-bless.service"),
    "[Unit]\nDescription=Mark this generation good\nAfter=multi-user.target\n\n[Service]\nType=oneshot\nExecStart=/bin/nixos-wsl-init bless\n",
  );
  symlinkSync("../nixos-wsl-init-bless.service", join(units, "multi-user.target.wants/nixos-wsl-init-bless.service"));
  // The executable under its own name (the container binds it at /sbin/init).
  symlinkSync("/sbin/init", join(fake.root, "bin/nixos-wsl-init"));
}

/** Activation lines of a generation whose boot never completes: multi-user.target waits on a unit that never finishes. */
export const NEVER_COMPLETES = `
mkdir -p /etc/systemd/system/multi-user.target.wants
printf '[Unit]\\nBefore=multi-user.target\\n[Service]\\nType=oneshot\\nExecStart=/usr/bin/sleep infinity\\n' > /etc/systemd/system/never-done.service
ln -sfn ../never-done.service /etc/systemd/system/multi-user.target.wants/never-done.service`;

/** Activation lines of a good generation: it removes what a bad one left in /etc (activation builds /etc on NixOS). */
export const COMPLETES = "rm -f /etc/systemd/system/never-done.service /etc/systemd/system/multi-user.target.wants/never-done.service";

/** What nixos-rebuild switch does to the default: the profile link replaced atomically. */
export function makeDefault(fake: FakeRoot, number: number): void {
  const profile = join(fake.root, "nix/var/nix/profiles/system");
  symlinkSync(`system-${number}-link`, `${profile}.new`);
  renameSync(`${profile}.new`, profile);
}

export function defaultLink(fake: FakeRoot): string {
  return readlinkSync(join(fake.root, "nix/var/nix/profiles/system"));
}

export function bootState(fake: FakeRoot): BootState | null {
  try {
    return JSON.parse(readFileSync(join(fake.root, "var/lib/nixos-wsl-init/boot-state.json"), "utf8")) as BootState;
  } catch {
    return null;
  }
}

export function recordIn(fake: FakeRoot, number: number): { tries: number; blessed: boolean } | undefined {
  return bootState(fake)?.generations[fake.storePath(number)];
}
