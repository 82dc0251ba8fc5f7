// The least a bun-compiled /sbin/init can do and still do the native shim's
// one indispensable step: run the activation script (the first argument) with
// its output copied, line by line, into the kernel log (by the shim's own
// copyLines), wait for it, then exec the rest of the arguments (systemd). No
// node:fs (libc's calls instead), no settings, no generation choice, no
// mounts, no record: what is left of the shim's cost over this is the shim's
// own logic. Compiled by the benchmark as the shim is built.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { copyLines } from "../../shim/boot/copyLines.ts";

const { symbols: libc } = dlopen("libc.so.6", {
  execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
});
const O_WRONLY = 1;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;

const cString = (text: string) => Buffer.from(`${text}\0`);
const kernelLog = libc.open(cString("/dev/kmsg"), O_WRONLY | O_APPEND | O_CLOEXEC);

/** Each line one kernel log record, as the shim's logger writes them (less its splitting of long lines). */
const kernelRecords = {
  info(line: string): void {
    const record = Buffer.from(`<6>nixos-wsl-activate: ${line}\n`);
    libc.write(kernelLog, record, record.length);
  },
};

const [activate, ...systemd] = process.argv.slice(2);
const child = Bun.spawn([activate!], { stdio: ["ignore", "pipe", "pipe"], detached: true });
await Promise.all([copyLines(child.stdout, kernelRecords), copyLines(child.stderr, kernelRecords), child.exited]);

const pointers = (strings: readonly string[]) => {
  const buffers = strings.map(cString);
  const array = new BigUint64Array(buffers.length + 1);
  buffers.forEach((buffer, index) => {
    array[index] = BigInt(ptr(buffer));
  });
  return { buffers, array };
};
const argv = pointers(systemd);
const envp = pointers(Object.entries(process.env).map(([name, value]) => `${name}=${value}`));
libc.execve(argv.buffers[0]!, argv.array, envp.array);
process.exit(127);
