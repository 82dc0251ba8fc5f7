// The machine's real kernel log, and the native shim run as PID 1 of a
// private PID and mount namespace that writes to it. /dev/kmsg enforces what
// a FIFO does not: 10 records per open file and 5 s, and about 1 KB a record.
import { execa } from "execa";
import { BINARY } from "./paths.ts";

export interface KernelRecord {
  readonly sequence: number;
  readonly level: number;
  readonly text: string;
}

/** Every record in the kernel's ring buffer, read without waiting (dd stops at EAGAIN). */
export async function readKernelLog(): Promise<KernelRecord[]> {
  const { stdout } = await execa("dd", ["if=/dev/kmsg", "iflag=nonblock", "bs=8192", "status=none"], { reject: false, stripFinalNewline: false });
  return stdout
    .split("\n")
    .filter((line) => /^\d+,\d+,/.test(line))
    .map((line) => {
      const [prefix, ...text] = line.split(";");
      const [priority, sequence] = prefix!.split(",");
      return { sequence: Number(sequence), level: Number(priority) & 7, text: text.join(";") };
    });
}

/** The last sequence number the kernel log holds now: records after it are new. */
export async function kernelLogMark(): Promise<number> {
  return (await readKernelLog()).at(-1)?.sequence ?? -1;
}

/**
 * Run the compiled shim as /sbin/init, PID 1 of a new PID namespace, chrooted
 * into the fake root, with the host's /dev (and so its real /dev/kmsg) bound
 * in. Everything lives in a private mount namespace that ends with the run.
 */
export async function runShimWithRealKmsg(root: string, timeoutMs = 60_000) {
  const script = `
set -eu
root=$1 binary=$2
mount --bind /dev "$root/dev"
mount --bind -o ro /usr "$root/usr"
mount --bind "$binary" "$root/sbin/init"
exec unshare --pid --fork --mount-proc --root="$root" /sbin/init`;
  return execa("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", root, BINARY], { reject: false, timeout: timeoutMs, all: true });
}
