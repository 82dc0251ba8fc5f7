// NixOS-WSL's shape inside a fake root, for the tests of what happens beside
// it: its modules/systemd/native/wrap-shell.nix gives every user (root too) a
// copy of its shell-wrapper as login shell, in a store directory of its own
// whose `shell` link names the real shell (nixosWslShellWrapper.c stands in
// for the wrapper and behaves as its Rust source does).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "nixosWslShellWrapper.c");

/**
 * Build NixOS-WSL's wrapper of `shell` into the root, as wrap-shell.nix's
 * `wrapShell` does: /nix/store/HASH-wrapped-NAME/{wrapper, shell -> SHELL}.
 * Returns the wrapper's path inside the root (what /etc/passwd names).
 */
export function wrapShellLikeNixosWsl(root: string, shell: string, hash: string): string {
  const name = shell.slice(shell.lastIndexOf("/") + 1);
  const dir = `/nix/store/${hash.padEnd(32, "w").slice(0, 32)}-wrapped-${name}`;
  mkdirSync(join(root, dir), { recursive: true });
  try {
    execFileSync("gcc", ["-O2", "-Wall", "-o", join(root, dir, "wrapper"), SOURCE], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(
      `building the stand-in of NixOS-WSL's shell-wrapper (${SOURCE}) with gcc failed: ${(error as Error).message}\n${stderr}` +
        "Install gcc and libc6-dev (.ci/setup does), then run the test again.",
    );
  }
  symlinkSync(shell, join(root, dir, "shell"));
  return `${dir}/wrapper`;
}

/** Give `user` this login shell in the root's /etc/passwd (the user must be there). */
export function setLoginShell(root: string, user: string, shell: string): void {
  const path = join(root, "etc/passwd");
  const before = readFileSync(path, "utf8");
  const after = before.replace(new RegExp(`^(${user}:(?:[^:\\n]*:){5})[^:\\n]*$`, "m"), `$1${shell}`);
  if (after === before) throw new Error(`setting ${user}'s login shell: ${user} is not in ${path} (or has that shell already); add the user to the fake root first`);
  writeFileSync(path, after);
}

/**
 * PAM for `su -` and `runuser -l` as root (pam_rootok), which the fake root's
 * PAM (`other` denies everything) lacks, as NixOS has them.
 */
export function allowRootSwitchUser(root: string): void {
  const pam = join(root, "etc/pam.d");
  mkdirSync(pam, { recursive: true });
  const service = "#%PAM-1.0\nauth sufficient pam_rootok.so\naccount required pam_permit.so\nsession required pam_permit.so\n";
  for (const name of ["su", "su-l", "runuser", "runuser-l"]) writeFileSync(join(pam, name), service);
}
