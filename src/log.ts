// Logging for code that runs before any log daemon exists: each line goes to
// the kernel log (/dev/kmsg, read with `dmesg` from the WSL system distro),
// tagged "nixos-wsl-init:" with a kernel log level. Where /dev/kmsg cannot be
// opened (containers, tests), lines go to stderr instead, so nothing is lost.
import { closeSync, constants, openSync, writeSync } from "node:fs";

export const LOG_TAG = "nixos-wsl-init";

/** Kernel log levels, as in <linux/kern_levels.h>. */
export const enum Level {
  Error = 3,
  Warning = 4,
  Notice = 5,
  Info = 6,
}

const LEVEL_NAMES: Record<Level, string> = {
  [Level.Error]: "error",
  [Level.Warning]: "warning",
  [Level.Notice]: "notice",
  [Level.Info]: "info",
};

export interface Logger {
  /** The kmsg file descriptor, to hand to child processes as their stdout/stderr; null on the stderr fallback. */
  readonly kmsgFd: number | null;
  info(message: string): void;
  notice(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** An error the user must see even if nobody reads the kernel log: written to kmsg and stderr. */
  fatal(message: string): void;
  close(): void;
}

/** One kmsg record per line: the kernel stores each write as one record. */
export function formatKmsgLine(level: Level, line: string): string {
  return `<${level}>${LOG_TAG}: ${line}\n`;
}

export function formatStderrLine(level: Level, line: string): string {
  return `${LOG_TAG}: ${LEVEL_NAMES[level]}: ${line}\n`;
}

export function openKernelLog(path = "/dev/kmsg"): Logger {
  let fd: number | null = null;
  try {
    // No O_CREAT: a missing /dev/kmsg must not become a regular file.
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY);
  } catch {
    fd = null;
  }

  const toStderr = (level: Level, message: string): void => {
    for (const line of message.split("\n")) process.stderr.write(formatStderrLine(level, line));
  };
  const write = (level: Level, message: string): void => {
    if (fd === null) return toStderr(level, message);
    try {
      for (const line of message.split("\n")) writeSync(fd, formatKmsgLine(level, line));
    } catch {
      toStderr(level, message);
    }
  };

  return {
    get kmsgFd() {
      return fd;
    },
    info: (message) => write(Level.Info, message),
    notice: (message) => write(Level.Notice, message),
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
