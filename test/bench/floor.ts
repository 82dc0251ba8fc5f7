// The least a bun-compiled PID 1 can do: exec the stand-in systemd at once.
// Compiled by the benchmark so that the shim's figure can be read against
// what the bun runtime itself costs.
import { dlopen, FFIType, ptr } from "bun:ffi";

const { symbols } = dlopen("libc.so.6", { execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
const program = Buffer.from(`${process.argv[2] ?? "/usr/bin/true"}\0`);
symbols.execve(program, new BigUint64Array([BigInt(ptr(program)), 0n]), new BigUint64Array([0n]));
process.exit(127);
