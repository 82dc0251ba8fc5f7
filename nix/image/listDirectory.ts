// Listing a directory of ROOT without changing its access time: opened with
// O_NOATIME|O_DIRECTORY and read with getdents64(2) on that descriptor
// (src/libc.ts). Only the executable loads this module (it reaches libc
// through bun:ffi); vitest on Node walks with readdir instead.
import { closeSync, constants } from "node:fs";
import { directoryNames } from "../../src/libc.ts";
import { type DirectoryLister, openWithoutAtime } from "./tree.ts";

export const listWithoutAtime: DirectoryLister = (hostDir) => {
  const fd = openWithoutAtime(hostDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return directoryNames(fd, hostDir);
  } finally {
    closeSync(fd);
  }
};
