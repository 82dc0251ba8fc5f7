// Just enough ELF to read and replace a program's interpreter (PT_INTERP).
// A bun executable built by Nix names the dynamic loader in /nix/store; the
// WSL system distribution has no /nix, so its copy must name the FHS loader.
import { closeSync, openSync, readSync, writeSync } from "node:fs";

const PT_INTERP = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** Where the standard glibc loader lives on FHS systems, per machine. */
const FHS_INTERPRETERS: Record<number, string> = {
  [EM_X86_64]: "/lib64/ld-linux-x86-64.so.2",
  [EM_AARCH64]: "/lib/ld-linux-aarch64.so.1",
};

export interface Interpreter {
  readonly machine: number;
  /** File offset and size of the PT_INTERP segment (the path and its padding). */
  readonly offset: number;
  readonly size: number;
  readonly path: string;
}

function readAt(file: string, fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, position);
  if (read !== length) throw new Error(`${file} is truncated: ${length} bytes expected at offset ${position}, ${read} there`);
  return buffer;
}

/** The interpreter of a 64-bit little-endian ELF file, or null for a static one. */
export function readInterpreter(file: string): Interpreter | null {
  const fd = openSync(file, "r");
  try {
    const header = Buffer.alloc(64);
    const headerRead = readSync(fd, header, 0, 64, 0);
    if (headerRead < 4 || header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
    if (headerRead < 64) throw new Error(`${file} is truncated: its ELF header has ${headerRead} of 64 bytes`);
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`);
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = readAt(file, fd, phoff, phentsize * phnum);
    for (let i = 0; i < phnum; i++) {
      const entry = i * phentsize;
      if (table.readUInt32LE(entry) !== PT_INTERP) continue;
      const offset = Number(table.readBigUInt64LE(entry + 8));
      const size = Number(table.readBigUInt64LE(entry + 32));
      const raw = readAt(file, fd, offset, size);
      const end = raw.indexOf(0);
      return { machine, offset, size, path: raw.subarray(0, end === -1 ? size : end).toString() };
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

export function fhsInterpreter(machine: number): string {
  const path = FHS_INTERPRETERS[machine];
  if (!path) throw new Error(`no known FHS dynamic loader for ELF machine ${machine}`);
  return path;
}

/** Overwrite the interpreter path in place; the new path must fit the segment (it is NUL-padded). */
export function writeInterpreter(file: string, interpreter: Interpreter, path: string): void {
  if (Buffer.byteLength(path) + 1 > interpreter.size) {
    throw new Error(`the interpreter ${path} does not fit the ${interpreter.size} bytes of ${file}'s PT_INTERP`);
  }
  const padded = Buffer.alloc(interpreter.size);
  padded.write(path);
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, padded, 0, padded.length, interpreter.offset);
  } finally {
    closeSync(fd);
  }
}
