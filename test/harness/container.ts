// Boots a fake NixOS root in systemd-nspawn, standing in for WSL's init, and
// looks at it from outside. Every process started here is stopped by PID in
// stop(); nspawn's mounts live in its own namespace and die with it, and its
// cgroups (testCgroup.ts) are removed after it.
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { readInterpreter } from "../../recovery/elf.ts";
import { BINARY } from "./paths.ts";
import { childrenOf, isAlive, mountsOf, nsPids, sleep, waitFor, type MountEntry } from "./proc.ts";
import { makeTestCgroup, type TestCgroup } from "./testCgroup.ts";

/**
 * Plays WSL's init before it execs /sbin/init: / left private, and /dev/shm a
 * symlink to a tmpfs at /run/shm (with a marker file, to recognise it later).
 */
const WSL_STAND_IN = `#!/bin/sh
set -e
mount --make-rprivate /
umount /dev/shm
mkdir -p /run/shm
mount -t tmpfs -o mode=1777,nosuid,nodev wsl-shm /run/shm
echo "made by the WSL stand-in" > /run/shm/wsl-marker
rmdir /dev/shm
ln -s /run/shm /dev/shm
exec /sbin/init "$@"
`;

/**
 * An executable built against a private glibc (as Nix builds it, naming the
 * store's loader) brings that glibc into the container, at the same path.
 */
function privateLoaderBinds(): string[] {
  const loader = readInterpreter(BINARY)?.path;
  if (!loader || /^\/(usr\/)?lib(64)?\//.test(loader)) return [];
  return [`--bind-ro=${dirname(loader)}`];
}

export interface BootOptions {
  /** Arguments WSL's stand-in passes to /sbin/init. */
  readonly initArgs?: readonly string[];
  /** Where in the root the compiled executable is bound; /sbin/init by default. */
  readonly binaryAt?: string;
  /** Run this instead of the WSL stand-in as the container's PID 1 (legacy mode). */
  readonly command?: readonly string[];
  /** false leaves the container without /dev/kmsg, as nspawn does by default. */
  readonly kmsg?: boolean;
  /** More systemd-nspawn options (a read-only bind, …), before the command. */
  readonly nspawnArgs?: readonly string[];
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

let bootsStarted = 0;

export class Container {
  private collectedOutput = "";

  private constructor(
    readonly root: string,
    private readonly nspawn: ResultPromise<{ all: true; reject: false; stdin: "ignore" }>,
    private readonly kmsgReader: ResultPromise | null,
    private readonly kmsgLog: string,
    private readonly cgroup: TestCgroup,
  ) {
    nspawn.all?.on("data", (chunk: Buffer) => {
      this.collectedOutput += chunk.toString();
    });
  }

  /**
   * Start systemd-nspawn on `dir`/root with a FIFO as /dev/kmsg whose lines
   * collect in `dir`/kmsg-N.log (N counts the boots of this process, so one
   * root can be started again, as `wsl --terminate` and a new start do).
   */
  static async boot(dir: string, options: BootOptions = {}): Promise<Container> {
    const root = join(dir, "root");
    writeFileSync(join(root, "wsl-stand-in"), WSL_STAND_IN);
    chmodSync(join(root, "wsl-stand-in"), 0o755);

    const boot = ++bootsStarted;
    // First, as it may fail: nothing else is started yet.
    const cgroup = makeTestCgroup(`${process.pid}-${boot}`);
    const kmsgFifo = join(dir, `kmsg-${boot}.fifo`);
    const kmsgLog = join(dir, `kmsg-${boot}.log`);
    let kmsgReader: ResultPromise | null = null;
    if (options.kmsg !== false) {
      await execa("mkfifo", [kmsgFifo]);
      // Opened read-write, so neither side ever blocks on open and writers never see EPIPE.
      kmsgReader = execa("sh", ["-c", 'exec cat <>"$1" >"$2"', "sh", kmsgFifo, kmsgLog], { reject: false });
    }

    const inside = options.command ?? ["/wsl-stand-in", ...(options.initArgs ?? [])];
    // The shell moves itself into the container's cgroups, then becomes nspawn (same PID).
    const enterCgroups = 'for d in $TEST_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 125; done; unset TEST_CGROUPS; exec systemd-nspawn "$@"';
    const nspawn = execa(
      "sh",
      [
        "-c",
        enterCgroups,
        "sh",
        "--register=no",
        "--keep-unit",
        "-q",
        "-D",
        root,
        "--bind-ro=/usr",
        `--bind-ro=${BINARY}:${options.binaryAt ?? "/sbin/init"}`,
        ...privateLoaderBinds(),
        ...(kmsgReader ? [`--bind=${kmsgFifo}:/dev/kmsg`] : []),
        "--timezone=off",
        "--resolv-conf=off",
        "--kill-signal=SIGKILL",
        ...(options.nspawnArgs ?? []),
        ...inside,
      ],
      { all: true, reject: false, stdin: "ignore", env: { TEST_CGROUPS: cgroup.directories.join(" ") } },
    );
    return new Container(root, nspawn, kmsgReader, kmsgLog, cgroup);
  }

  get nspawnPid(): number {
    return this.nspawn.pid!;
  }

  /** The container's PID 1 as the host sees it, once it exists. */
  async leader(timeoutMs = 10_000): Promise<number> {
    return waitFor("the container's PID 1", timeoutMs, () => {
      if (!isAlive(this.nspawnPid)) throw new Error(`systemd-nspawn exited early:\n${this.output()}`);
      // The container's PID 1 once it is itself: nspawn's inner child sets up the root before it execs it.
      return childrenOf(this.nspawnPid).find((pid) => nsPids(pid).at(-1) === 1 && commOf(pid) !== "systemd-nspawn");
    });
  }

  /** Wait until PID 1 is systemd with its control socket, then ask it how it is. */
  async systemState(timeoutMs = 30_000): Promise<string> {
    const leader = await this.leader();
    await waitFor("systemd's control socket", timeoutMs, () => {
      if (!isAlive(leader)) throw new Error(`the container's PID 1 died:\n${this.output()}\nkmsg:\n${this.kmsg()}`);
      try {
        return statSync(`/proc/${leader}/root/run/systemd/private`).isSocket();
      } catch {
        return false;
      }
    });
    const result = await this.exec(["systemctl", "is-system-running", "--wait"], { timeout: timeoutMs });
    return result.stdout.trim();
  }

  /** Run a command inside the container's namespaces. */
  async exec(command: readonly string[], options: { timeout?: number; input?: string } = {}) {
    const leader = await this.leader();
    return execa("nsenter", ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "--", ...command], {
      reject: false,
      timeout: options.timeout ?? 30_000,
      input: options.input,
    });
  }

  /** A file as the container sees it (its mounts included). */
  async readFile(path: string): Promise<string> {
    return readFileSync(`/proc/${await this.leader()}/root${path}`, "utf8");
  }

  async mounts(): Promise<MountEntry[]> {
    return mountsOf(await this.leader());
  }

  async cmdline(pid: number): Promise<string[]> {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  }

  /** What the container's processes wrote to /dev/kmsg so far. */
  kmsg(): string {
    try {
      return readFileSync(this.kmsgLog, "utf8");
    } catch {
      return "";
    }
  }

  /** systemd-nspawn's own output, which includes the console of the container. */
  output(): string {
    return this.collectedOutput;
  }

  /** Wait for the container to end by itself (PID 1 exited); returns nspawn's result. */
  async exited(timeoutMs = 30_000) {
    const timer = setTimeout(() => this.nspawn.kill("SIGKILL"), timeoutMs);
    const result = await this.nspawn;
    clearTimeout(timer);
    await sleep(50); // let the kmsg reader drain the FIFO
    await this.cgroup.remove();
    return { exitCode: result.exitCode, output: this.collectedOutput };
  }

  /** Stop nspawn (its container's PID 1 gets SIGKILL) and the kmsg reader, by PID. */
  async stop(): Promise<void> {
    if (isAlive(this.nspawnPid)) {
      this.nspawn.kill("SIGTERM");
      const timer = setTimeout(() => this.nspawn.kill("SIGKILL"), 10_000);
      await this.nspawn;
      clearTimeout(timer);
    }
    if (this.kmsgReader) {
      await sleep(20);
      this.kmsgReader.kill("SIGKILL");
      await this.kmsgReader;
    }
    await this.cgroup.remove();
  }
}
