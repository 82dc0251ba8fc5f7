// The least a bun-compiled executable can do: exec the program named by its
// arguments at once. Compiled by the benchmark (built as the shim is) and put
// in front of each role's baseline, so that every figure can be read against
// what the bun runtime itself costs: "bun's floor".
import { dlopen, FFIType, ptr } from "bun:ffi";

const { symbols } = dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
const args = (process.argv.length > 2 ? process.argv.slice(2) : ["/usr/bin/true"]).map((arg) => Buffer.from(`${arg}\0`));
const argv = new BigUint64Array(args.length + 1);
args.forEach((arg, index) => {
  argv[index] = BigInt(ptr(arg));
});
const environment = Object.entries(process.env).map(([name, value]) => Buffer.from(`${name}=${value}\0`));
const envp = new BigUint64Array(environment.length + 1);
environment.forEach((entry, index) => {
  envp[index] = BigInt(ptr(entry));
});
symbols.execve(args[0]!, argv, envp);
process.exit(127);
