// The host plays WSL's system distribution: in a private mount namespace a
// tmpfs covers /mnt, the fake NixOS root is mounted read-only at
// /mnt/wslg/distro (with the host's /usr inside it, for the programs its
// generations link to), and the recovery entry is run from there. The mount
// table is recorded before and after, to show that nothing was left behind.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";

export interface SystemDistroRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether the namespace's mount table was the same after the run as before it. */
  readonly mountsUnchanged: boolean;
}

export interface SystemDistroOptions {
  /** Run as this uid/gid instead of root. */
  readonly user?: number;
  /** Run the entry chrooted into the NixOS root itself, i.e. "inside NixOS". */
  readonly insideNixos?: boolean;
}

const SCRIPT = `
set -eu
root=$1 work=$2 user=$3 inside=$4; shift 4
mount -t tmpfs wslg-stand-in /mnt
mkdir -p /mnt/wslg/distro
mount --bind -o ro "$root" /mnt/wslg/distro
mount --bind -o ro /usr /mnt/wslg/distro/usr
# Inside a running NixOS, /proc is there.
if [ "$inside" = 1 ]; then mount -t proc proc /mnt/wslg/distro/proc; fi
cat /proc/self/mountinfo > "$work/before"
set +e
if [ "$inside" = 1 ]; then
  chroot /mnt/wslg/distro /bin/nixos-wsl-recovery "$@" > "$work/stdout" 2> "$work/stderr"
elif [ "$user" != root ]; then
  setpriv --reuid="$user" --regid="$user" --clear-groups /mnt/wslg/distro/bin/nixos-wsl-recovery "$@" > "$work/stdout" 2> "$work/stderr"
else
  /mnt/wslg/distro/bin/nixos-wsl-recovery "$@" > "$work/stdout" 2> "$work/stderr"
fi
echo $? > "$work/rc"
cat /proc/self/mountinfo > "$work/after"
`;

export async function runFromSystemDistro(root: string, args: readonly string[], options: SystemDistroOptions = {}): Promise<SystemDistroRun> {
  const work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-sysdistro-"));
  try {
    writeFileSync(join(work, "script.sh"), SCRIPT);
    const user = options.user === undefined ? "root" : String(options.user);
    await execa("unshare", ["--mount", "--propagation", "private", "sh", join(work, "script.sh"), root, work, user, options.insideNixos ? "1" : "0", ...args], {
      timeout: 60_000,
    });
    const read = (name: string) => readFileSync(join(work, name), "utf8");
    return {
      exitCode: Number(read("rc").trim()),
      stdout: read("stdout"),
      stderr: read("stderr"),
      mountsUnchanged: read("before") === read("after"),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
