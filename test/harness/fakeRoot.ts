// Fake NixOS roots: just enough of a NixOS install for the shim, real systemd
// and the recovery tool to act on. Host binaries come in through a bind of
// /usr made by whoever uses the root (the root's /lib and /lib64 point into it).
import { chmodSync, chownSync, lutimesSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOST_SYSTEMD } from "./paths.ts";

export interface FakeGeneration {
  readonly number: number;
  /** Shell lines appended to the activation script; null leaves the generation without one. */
  readonly activate?: string | null;
  /** false leaves the generation without systemd. */
  readonly systemd?: boolean;
  /** A shell script to stand in for systemd (one that fails, or never gets ready). */
  readonly systemdScript?: string;
  /** Creation date of the system-N-link. */
  readonly created?: Date;
}

export interface FakeRootOptions {
  readonly generations: readonly FakeGeneration[];
  /** The generation the system profile points at; the newest when not given. */
  readonly defaultGeneration?: number;
}

export interface FakeRoot {
  /** The directory holding the root and the test's other files. */
  readonly dir: string;
  readonly root: string;
  storePath(number: number): string;
  remove(): void;
}

export function storeName(number: number): string {
  return `${String(number).padStart(4, "0")}aaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-wsl-24.05.${number}`;
}

export function nixosVersion(number: number): string {
  return `24.05.${number} (Uakari)`;
}

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/**
 * The activation script of a fake generation. It leaves proof of when and
 * how it ran in /run/activation-proof (PID 1's executable shows whether
 * systemd had started yet) and prints a line that belongs in the kernel log.
 */
function activateScript(number: number, storePath: string, extra: string): string {
  return `#!/bin/sh
export PATH=/usr/bin:$PATH
echo "fake-activation: generation ${number} activating with LANG=$LANG"
mkdir -p /run
{
  echo "generation=${number}"
  echo "lang=$LANG"
  echo "pid1=$(readlink /proc/1/exe)"
  echo "in_nixos_enter=\${IN_NIXOS_ENTER:-}"
  echo "locale_archive=\${LOCALE_ARCHIVE:-}"
} > /run/activation-proof
ln -sfn ${storePath} /run/current-system
${extra}
`;
}

export function makeFakeRoot(options: FakeRootOptions, parent = tmpdir()): FakeRoot {
  const dir = mkdtempSync(join(parent, "nixos-wsl-init-test-"));
  const root = join(dir, "root");
  for (const sub of ["bin", "etc", "sbin", "dev", "proc", "sys", "run", "tmp", "var", "root", "usr", "home", "nix/store", "nix/var/nix/profiles", "mnt"]) {
    mkdirSync(join(root, sub), { recursive: true });
  }
  chmodSync(join(root, "tmp"), 0o1777);
  // As on NixOS, /bin holds little (here /bin/sh); the loader and libraries come from the bound /usr.
  symlinkSync("/usr/bin/sh", join(root, "bin/sh"));
  for (const [link, target] of [["lib", "usr/lib"], ["lib64", "usr/lib64"]] as const) {
    symlinkSync(target, join(root, link));
  }
  writeFileSync(join(root, "etc/NIXOS"), "");
  writeFileSync(join(root, "etc/os-release"), 'NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS (fake, for tests)"\n');
  // An initialised machine-id keeps systemd's first-boot wizard from waiting for a key press.
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  writeFileSync(join(root, "sbin/init"), "");
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:System administrator:/root:/bin/sh\nnixos:x:1000:100::/home/nixos:/run/current-system/sw/bin/bash\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nusers:x:100:\nwheel:x:1:nixos\n");
  mkdirSync(join(root, "home/nixos"), { recursive: true });
  chownSync(join(root, "home/nixos"), 1000, 100);
  chmodSync(join(root, "root"), 0o700);

  const storePath = (number: number): string => `/nix/store/${storeName(number)}`;
  for (const generation of options.generations) addGeneration(root, generation, storePath(generation.number));

  const newest = Math.max(...options.generations.map((g) => g.number));
  symlinkSync(`system-${options.defaultGeneration ?? newest}-link`, join(root, "nix/var/nix/profiles/system"));

  return {
    dir,
    root,
    storePath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function addGeneration(root: string, generation: FakeGeneration, storePath: string): void {
  const path = join(root, storePath);
  mkdirSync(join(path, "sw/bin"), { recursive: true });
  if (generation.activate !== null) {
    writeExecutable(join(path, "activate"), activateScript(generation.number, storePath, generation.activate ?? ""));
  }
  if (generation.systemd !== false) {
    mkdirSync(join(path, "systemd/lib/systemd"), { recursive: true });
    if (generation.systemdScript) writeExecutable(join(path, "systemd/lib/systemd/systemd"), `#!/bin/sh\n${generation.systemdScript}\n`);
    else symlinkSync(HOST_SYSTEMD, join(path, "systemd/lib/systemd/systemd"));
  }
  writeFileSync(join(path, "nixos-version"), `${nixosVersion(generation.number)}\n`);
  writeFileSync(join(path, "kernel-params"), "");
  // The generation's own tools, as NixOS puts them in sw/bin (here the host's, through /usr).
  for (const tool of ["bash", "sh", "cat", "env", "id", "readlink", "touch", "ls", "pwd", "systemctl", "nsenter", "setpriv", "sleep", "unshare"]) symlinkSync(`/usr/bin/${tool}`, join(path, "sw/bin", tool));
  symlinkSync("/usr/bin/systemd-tmpfiles", join(path, "sw/bin/systemd-tmpfiles"));

  const link = join(root, "nix/var/nix/profiles", `system-${generation.number}-link`);
  symlinkSync(storePath, link);
  const created = generation.created ?? new Date(Date.UTC(2026, 0, generation.number));
  lutimesSync(link, created, created);
}
