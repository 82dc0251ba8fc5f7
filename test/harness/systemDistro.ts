// The host plays WSL's system distribution: in a private mount namespace a
// tmpfs covers /mnt, the fake NixOS root is mounted read-only at
// /mnt/wslg/distro (with the host's /usr inside it, for the programs its
// generations link to), and the recovery entry is run from there. The mount
// table is recorded before and after, to show that nothing was left behind.
//
// The distro can also live on a disk image: a filesystem mounted read-only
// (the kernel's flag on the filesystem, not only on the mount), or a
// read-only device. Their loop devices are released when the namespace ends.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { descendantsOf } from "../../src/processTree.ts";
import { waitFor } from "./proc.ts";
import { Terminal } from "./terminal.ts";

export interface SystemDistroRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether the namespace's mount table was the same after the run as before it. */
  readonly mountsUnchanged: boolean;
  /** The mount table lines of /mnt/wslg/distro before and after. */
  readonly distroMountBefore: string;
  readonly distroMountAfter: string;
}

/** How the distro is mounted: a read-only bind of a directory (as WSL does), or a disk image. */
export type DistroDisk = "directory" | "read-only-filesystem" | "read-only-device";

export interface SystemDistroOptions {
  /** Run as this uid/gid instead of root. */
  readonly user?: number;
  /** Run the entry chrooted into the NixOS root itself, i.e. "inside NixOS". */
  readonly insideNixos?: boolean;
  /** Run as root without CAP_SYS_ADMIN. */
  readonly withoutSysAdmin?: boolean;
  readonly disk?: DistroDisk;
}

const SCRIPT = `
set -eu
root=$1 work=$2 user=$3 inside=$4 caps=$5 disk=$6 terminal=$7; shift 7
mount -t tmpfs wslg-stand-in /mnt
mkdir -p /mnt/wslg/distro
case "$disk" in
  directory) mount --bind -o ro "$root" /mnt/wslg/distro ;;
  # A read-write loop device whose filesystem is then made read-only.
  read-only-filesystem) mount -o loop "$work/image" /mnt/wslg/distro; mount -o remount,ro /mnt/wslg/distro ;;
  # mount sets the loop device itself up read-only.
  read-only-device) mount -o loop,ro "$work/image" /mnt/wslg/distro ;;
esac
mount --bind -o ro /usr /mnt/wslg/distro/usr
# Inside a running NixOS, /proc is there.
if [ "$inside" = 1 ]; then mount -t proc proc /mnt/wslg/distro/proc; fi
cat /proc/self/mountinfo > "$work/before"
entry=/mnt/wslg/distro/bin/nixos-wsl-recovery
set +e
if [ "$inside" = 1 ]; then
  set -- chroot /mnt/wslg/distro /bin/nixos-wsl-recovery "$@"
elif [ "$user" != root ]; then
  set -- setpriv --reuid="$user" --regid="$user" --clear-groups "$entry" "$@"
elif [ "$caps" = drop ]; then
  set -- setpriv --bounding-set -sys_admin "$entry" "$@"
else
  set -- "$entry" "$@"
fi
if [ "$terminal" = 1 ]; then
  # As WSL runs it: the entry leads a session of its own with the terminal as its controlling
  # one, so a closed window hangs it up, while this script lives on to record what was left.
  echo $$ > "$work/script-pid"
  setsid --ctty --wait "$@"
else
  "$@" > "$work/stdout" 2> "$work/stderr"
fi
echo $? > "$work/rc"
cat /proc/self/mountinfo > "$work/after"
`;

function prepare(root: string, options: SystemDistroOptions): { work: string; args: (terminal: boolean, args: readonly string[]) => string[] } {
  const work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-sysdistro-"));
  writeFileSync(join(work, "script.sh"), SCRIPT);
  const disk = options.disk ?? "directory";
  const args = (terminal: boolean, rest: readonly string[]) => [
    "--mount",
    "--propagation",
    "private",
    "sh",
    join(work, "script.sh"),
    root,
    work,
    options.user === undefined ? "root" : String(options.user),
    options.insideNixos ? "1" : "0",
    options.withoutSysAdmin ? "drop" : "keep",
    disk,
    terminal ? "1" : "0",
    ...rest,
  ];
  return { work, args };
}

/** The mount table line of the distro itself. */
function distroLine(mountinfo: string): string {
  return mountinfo.split("\n").find((line) => line.split(" ")[4] === "/mnt/wslg/distro") ?? "";
}

function results(work: string, output: { stdout: string; stderr: string } | null): SystemDistroRun {
  const read = (name: string) => readFileSync(join(work, name), "utf8");
  return {
    exitCode: Number(read("rc").trim()),
    stdout: output?.stdout ?? read("stdout"),
    stderr: output?.stderr ?? read("stderr"),
    mountsUnchanged: read("before") === read("after"),
    distroMountBefore: distroLine(read("before")),
    distroMountAfter: distroLine(read("after")),
  };
}

/** A disk image holding the root, for the read-only disk kinds. */
async function makeImage(root: string, work: string): Promise<void> {
  await execa("truncate", ["-s", "512M", join(work, "image")]);
  await execa("mkfs.ext4", ["-q", "-d", root, join(work, "image")]);
}

/** SIGKILL to a process and everything under it, by PID. */
function killTree(pid: number): void {
  for (const each of [pid, ...descendantsOf(pid)]) {
    try {
      process.kill(each, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

const RUN_LIMIT_MS = 60_000;

export async function runFromSystemDistro(root: string, args: readonly string[], options: SystemDistroOptions = {}): Promise<SystemDistroRun> {
  const { work, args: unshareArgs } = prepare(root, options);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    if ((options.disk ?? "directory") !== "directory") await makeImage(root, work);
    const run = execa("unshare", unshareArgs(false, args));
    // Past the limit, the run and everything it started is stopped by PID, not only unshare.
    timer = setTimeout(() => killTree(run.pid!), RUN_LIMIT_MS);
    await run.catch((error: Error) => {
      throw new Error(`the run from the system distro failed or was stopped after ${RUN_LIMIT_MS / 1000} s: ${error.message}`);
    });
    return results(work, null);
  } finally {
    clearTimeout(timer);
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The recovery entry on a terminal, as a person meets it: a tmux session of
 * its own (its own server socket), driven with send-keys and read with
 * capture-pane. stop() ends the server and everything in it.
 */
export class TerminalSession {
  private constructor(
    private readonly terminal: Terminal,
    private readonly work: string,
  ) {}

  static async start(root: string, args: readonly string[], options: SystemDistroOptions = {}): Promise<TerminalSession> {
    const { work, args: unshareArgs } = prepare(root, options);
    if ((options.disk ?? "directory") !== "directory") await makeImage(root, work);
    return new TerminalSession(await Terminal.open(["unshare", ...unshareArgs(true, args)]), work);
  }

  type(text: string): Promise<void> {
    return this.terminal.type(text);
  }

  press(key: string): Promise<void> {
    return this.terminal.press(key);
  }

  screen(): Promise<string> {
    return this.terminal.screen();
  }

  /** Wait until the screen shows `text`. */
  waitForText(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
    return this.terminal.waitForText(text, timeoutMs);
  }

  /** The run's results once the entry has returned. */
  async finished(timeoutMs = 20_000): Promise<SystemDistroRun> {
    await waitFor("the recovery run to end", timeoutMs, () => {
      try {
        return readFileSync(join(this.work, "after"), "utf8").length > 0;
      } catch {
        return false;
      }
    });
    const screen = await this.screen().catch(() => ""); // gone with the terminal after a hangup
    return results(this.work, { stdout: screen, stderr: screen });
  }

  /** Close the terminal window: the tmux server goes, and what runs in it gets SIGHUP. */
  hangUp(): Promise<void> {
    return this.terminal.close();
  }

  /** Close the terminal, then stop by PID whatever a faulty run left behind, and remove the run's files. */
  async stop(): Promise<void> {
    await this.hangUp();
    let script: number | null = null;
    try {
      script = Number(readFileSync(join(this.work, "script-pid"), "utf8").trim());
    } catch {
      // it never started
    }
    // Only while that PID is still this run's script (a PID is reused once its process is gone).
    const stillOurs = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(this.work);
      } catch {
        return false;
      }
    };
    if (script && stillOurs(script)) killTree(script);
    rmSync(this.work, { recursive: true, force: true });
  }
}
