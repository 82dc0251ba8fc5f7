// Just enough ELF to read and replace a program's interpreter (PT_INTERP),
// and to read its layout (program and section headers) for the tests.
// A bun executable built by Nix names the dynamic loader in /nix/store; the
// WSL system distribution has no /nix, so its copy must name the FHS loader.
import { closeSync, openSync, readSync, writeSync } from "node:fs";

export const PT_LOAD = 1;
const PT_INTERP = 3;
export const PF_X = 1;
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

interface ElfHeader {
  readonly machine: number;
  readonly phoff: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shoff: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

function readHeader(file: string, fd: number): ElfHeader {
  const header = Buffer.alloc(64);
  const headerRead = readSync(fd, header, 0, 64, 0);
  if (headerRead < 4 || header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  if (headerRead < 64) throw new Error(`${file} is truncated: its ELF header has ${headerRead} of 64 bytes`);
  if (header[4] !== 2 || header[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`);
  return {
    machine: header.readUInt16LE(18),
    phoff: Number(header.readBigUInt64LE(32)),
    shoff: Number(header.readBigUInt64LE(40)),
    phentsize: header.readUInt16LE(54),
    phnum: header.readUInt16LE(56),
    shentsize: header.readUInt16LE(58),
    shnum: header.readUInt16LE(60),
    shstrndx: header.readUInt16LE(62),
  };
}

/** One entry of the program header table (Elf64_Phdr). */
export interface ProgramHeader {
  readonly type: number;
  /** PF_X 1, PF_W 2, PF_R 4. */
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

function programHeaders(file: string, fd: number, header: ElfHeader): ProgramHeader[] {
  const table = readAt(file, fd, header.phoff, header.phentsize * header.phnum);
  return Array.from({ length: header.phnum }, (_, i) => {
    const entry = i * header.phentsize;
    return {
      type: table.readUInt32LE(entry),
      flags: table.readUInt32LE(entry + 4),
      offset: Number(table.readBigUInt64LE(entry + 8)),
      vaddr: Number(table.readBigUInt64LE(entry + 16)),
      filesz: Number(table.readBigUInt64LE(entry + 32)),
      memsz: Number(table.readBigUInt64LE(entry + 40)),
    };
  });
}

/** One entry of the section header table (Elf64_Shdr), with its name. */
export interface SectionHeader {
  readonly name: string;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
}

export interface ElfLayout {
  readonly machine: number;
  readonly programs: readonly ProgramHeader[];
  /** Empty when the file has no section header table. */
  readonly sections: readonly SectionHeader[];
}

/** The program headers and the named sections of a 64-bit little-endian ELF file. */
export function readLayout(file: string): ElfLayout {
  const fd = openSync(file, "r");
  try {
    const header = readHeader(file, fd);
    const programs = programHeaders(file, fd, header);
    if (header.shoff === 0 || header.shnum === 0) return { machine: header.machine, programs, sections: [] };
    const table = readAt(file, fd, header.shoff, header.shentsize * header.shnum);
    const raw = Array.from({ length: header.shnum }, (_, i) => {
      const entry = i * header.shentsize;
      return {
        nameOffset: table.readUInt32LE(entry),
        addr: Number(table.readBigUInt64LE(entry + 16)),
        offset: Number(table.readBigUInt64LE(entry + 24)),
        size: Number(table.readBigUInt64LE(entry + 32)),
      };
    });
    const names = raw[header.shstrndx];
    if (!names) throw new Error(`${file}: its section name table (index ${header.shstrndx}) is not among its ${header.shnum} sections`);
    const strings = readAt(file, fd, names.offset, names.size);
    const sections = raw.map(({ nameOffset, addr, offset, size }) => {
      const end = strings.indexOf(0, nameOffset);
      return { name: strings.subarray(nameOffset, end === -1 ? strings.length : end).toString(), addr, offset, size };
    });
    return { machine: header.machine, programs, sections };
  } finally {
    closeSync(fd);
  }
}

/** The interpreter of a 64-bit little-endian ELF file, or null for a static one. */
export function readInterpreter(file: string): Interpreter | null {
  const fd = openSync(file, "r");
  try {
    const header = readHeader(file, fd);
    const interp = programHeaders(file, fd, header).find((program) => program.type === PT_INTERP);
    if (!interp) return null;
    const raw = readAt(file, fd, interp.offset, interp.filesz);
    const end = raw.indexOf(0);
    return { machine: header.machine, offset: interp.offset, size: interp.filesz, path: raw.subarray(0, end === -1 ? interp.filesz : end).toString() };
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
