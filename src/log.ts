// Logging for code that runs before any log daemon exists: each line goes to
// the kernel log (/dev/kmsg, read with `dmesg` from the WSL system distro),
// tagged with a program name and a kernel log level. Where /dev/kmsg cannot
// be opened (containers, tests), lines go to stderr instead, so nothing is lost.
//
// /dev/kmsg has two limits a real kernel enforces and a test FIFO does not:
// each open file may write 10 records per 5 s (the rest are dropped without
// an error), and a record longer than about 1 KB is refused. So a logger
// opens a fresh handle every RECORDS_PER_HANDLE records, and splits long lines.
import { closeSync, constants, openSync, writeSync } from "node:fs";

export const LOG_TAG = "nixos-wsl-init";
/** The tag of the activation script's own output: a logger of its own, so it never uses up the shim's allowance. */
export const ACTIVATION_TAG = "nixos-wsl-activate";

/** The kernel's devkmsg rate limit lets 10 records through per open file and 5 s: stay under it. */
export const RECORDS_PER_HANDLE = 9;
/** Bytes of text per record: the kernel refuses a record over 1024 bytes less its prefix, so stay well under. */
export const MAX_RECORD_TEXT = 900;

/** Kernel log levels, as in <linux/kern_levels.h>. */
export const enum Level {
  Error = 3,
  Warning = 4,
  Info = 6,
}

const LEVEL_NAMES: Record<Level, string> = {
  [Level.Error]: "error",
  [Level.Warning]: "warning",
  [Level.Info]: "info",
};

export interface Logger {
  /** Whether lines reach the kernel log (false: the stderr fallback). */
  readonly toKernel: boolean;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** An error the user must see even if nobody reads the kernel log: written to kmsg and stderr. */
  fatal(message: string): void;
  close(): void;
}

/** One kmsg record: the kernel stores each write as one record. */
export function formatKmsgLine(level: Level, line: string, tag = LOG_TAG): string {
  return `<${level}>${tag}: ${line}\n`;
}

export function formatStderrLine(level: Level, line: string, tag = LOG_TAG): string {
  return `${tag}: ${LEVEL_NAMES[level]}: ${line}\n`;
}

/** A message as records: one per line, and a long line cut into pieces of at most `max` bytes (never inside a character). */
export function splitRecords(message: string, max = MAX_RECORD_TEXT): string[] {
  const records: string[] = [];
  for (const line of message.split("\n")) {
    if (Buffer.byteLength(line) <= max) {
      records.push(line);
      continue;
    }
    let piece = "";
    let bytes = 0;
    for (const character of line) {
      const size = Buffer.byteLength(character);
      if (bytes + size > max) {
        records.push(piece);
        piece = "";
        bytes = 0;
      }
      piece += character;
      bytes += size;
    }
    records.push(piece);
  }
  return records;
}

function openDevice(path: string): number | null {
  try {
    // No O_CREAT: a missing /dev/kmsg must not become a regular file.
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY);
  } catch {
    return null;
  }
}

export function openKernelLog(path = "/dev/kmsg", tag = LOG_TAG): Logger {
  let fd = openDevice(path);
  let writtenOnHandle = 0;

  const toStderr = (level: Level, message: string): void => {
    for (const line of message.split("\n")) process.stderr.write(formatStderrLine(level, line, tag));
  };
  const writeRecord = (level: Level, text: string): void => {
    if (writtenOnHandle >= RECORDS_PER_HANDLE) {
      // A new open file starts with a new rate-limit allowance.
      const fresh = openDevice(path);
      if (fresh !== null) {
        closeSync(fd!);
        fd = fresh;
        writtenOnHandle = 0;
      }
    }
    writeSync(fd!, formatKmsgLine(level, text, tag));
    writtenOnHandle++;
  };
  const write = (level: Level, message: string): void => {
    if (fd === null) return toStderr(level, message);
    try {
      for (const record of splitRecords(message)) writeRecord(level, record);
    } catch {
      toStderr(level, message);
    }
  };

  return {
    get toKernel() {
      return fd !== null;
    },
    info: (message) => write(Level.Info, message),
    warn: (message) => write(Level.Warning, message),
    error: (message) => write(Level.Error, message),
    fatal: (message) => {
      write(Level.Error, message);
      if (fd !== null) toStderr(Level.Error, message);
    },
    close: () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
