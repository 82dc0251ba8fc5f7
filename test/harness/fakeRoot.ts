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
  /**
   * true adds what `/bin/login -f USER` and legacy mode's shells need to open
   * a logind session and start the user's systemd (user@UID): /etc/pam.d
   * (login, nixos-wsl-init, common-*, with the
   * host's pam_unix.so and pam_systemd.so from Debian's libpam-systemd),
   * /etc/shadow, and the messagebus user the system dbus runs as. Off by default.
   */
  readonly pam?: boolean;
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
  if (options.pam) addPam(root);

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

/**
 * PAM for `login` and for the user manager (the host's
 * /usr/lib/pam.d/systemd-user includes common-account and
 * common-session-noninteractive from here), as Debian has them, less what a
 * container cannot do or a test does not need (lastlog, motd, mail, SELinux).
 * The system dbus and logind come from the host's /usr and are pulled in by
 * its multi-user.target and sockets.target.
 */
function addPam(root: string): void {
  const pam = join(root, "etc/pam.d");
  mkdirSync(pam, { recursive: true });
  const files: Record<string, string> = {
    "common-auth": "auth    [success=1 default=ignore] pam_unix.so nullok\nauth    requisite pam_deny.so\nauth    required pam_permit.so\n",
    "common-account": "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\naccount requisite pam_deny.so\naccount required pam_permit.so\n",
    "common-password": "password [success=1 default=ignore] pam_unix.so obscure yescrypt\npassword requisite pam_deny.so\npassword required pam_permit.so\n",
    "common-session": "session [default=1] pam_permit.so\nsession requisite pam_deny.so\nsession required pam_permit.so\nsession required pam_unix.so\nsession optional pam_systemd.so\n",
    "common-session-noninteractive": "session [default=1] pam_permit.so\nsession requisite pam_deny.so\nsession required pam_permit.so\nsession required pam_unix.so\n",
    login: "#%PAM-1.0\nauth requisite pam_nologin.so\n@include common-auth\n@include common-account\nsession required pam_loginuid.so\nsession required pam_limits.so\nsession optional pam_keyinit.so force revoke\n@include common-session\n@include common-password\n",
    // Debian's equivalent of what the NixOS module declares for legacy mode's shells (security.pam.services.nixos-wsl-init, startSession = true).
    "nixos-wsl-init": "#%PAM-1.0\nauth sufficient pam_rootok.so\n@include common-auth\n@include common-account\nsession required pam_loginuid.so\nsession required pam_limits.so\n@include common-session\n",
    other: "#%PAM-1.0\nauth required pam_deny.so\naccount required pam_deny.so\npassword required pam_deny.so\nsession required pam_deny.so\n",
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(pam, name), text);
  // pam_limits (in login and in the host's /usr/lib/pam.d/systemd-user) fails the session without it.
  mkdirSync(join(root, "etc/security"), { recursive: true });
  writeFileSync(join(root, "etc/security/limits.conf"), "");
  // No passwords: `login -f` does not ask for one.
  writeFileSync(join(root, "etc/shadow"), "root:*:20000:0:99999:7:::\nnixos:*:20000:0:99999:7:::\nmessagebus:*:20000:0:99999:7:::\n", { mode: 0o640 });
  writeFileSync(join(root, "etc/passwd"), "messagebus:x:101:101::/nonexistent:/usr/sbin/nologin\n", { flag: "a" });
  writeFileSync(join(root, "etc/group"), "messagebus:x:101:\n", { flag: "a" });
  writeFileSync(join(root, "etc/login.defs"), "LOGIN_TIMEOUT 60\nENV_PATH PATH=/run/current-system/sw/bin:/usr/bin:/bin\n");
}
