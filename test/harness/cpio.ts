// A small writer of "newc" cpio archives, the format the kernel unpacks as an
// initramfs. Everything in it belongs to root; parent directories are added
// before what they hold (the kernel does not make them itself).
import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export type CpioEntry =
  | { readonly kind: "dir"; readonly path: string; readonly mode?: number }
  | { readonly kind: "file"; readonly path: string; readonly mode?: number; readonly text: string | Buffer }
  /** A file copied from the host, read as the archive is written. */
  | { readonly kind: "copy"; readonly path: string; readonly mode?: number; readonly from: string }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Write the entries (paths absolute or relative to the archive's root) to file as one newc archive. */
export function writeCpio(file: string, entries: readonly CpioEntry[]): void {
  const fd = openSync(file, "w");
  let ino = 1;
  let written = 0;
  const put = (buffer: Buffer) => {
    writeSync(fd, buffer);
    written += buffer.length;
  };
  const header = (name: string, mode: number, size: number, nlink: number) => {
    const fields = [ino++, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
    const head = Buffer.from(`070701${fields.map((field) => field.toString(16).toUpperCase().padStart(8, "0")).join("")}${name}\0`);
    put(head);
    put(pad4(written));
  };
  const seen = new Set<string>();
  const ensureDir = (path: string, mode = 0o755) => {
    if (path === "." || path === "" || seen.has(path)) return;
    ensureDir(dirname(path));
    seen.add(path);
    header(path, S_IFDIR | mode, 0, 2);
  };
  try {
    for (const entry of entries) {
      const path = entry.path.replace(/^\/+/, "");
      if (seen.has(path)) throw new Error(`writing ${file}: ${entry.path} is in the archive twice`);
      ensureDir(dirname(path));
      if (entry.kind === "dir") {
        ensureDir(path, entry.mode);
        continue;
      }
      seen.add(path);
      if (entry.kind === "symlink") {
        const target = Buffer.from(entry.target);
        header(path, S_IFLNK | 0o777, target.length, 1);
        put(target);
        put(pad4(written));
      } else if (entry.kind === "file") {
        const data = Buffer.from(entry.text);
        header(path, S_IFREG | (entry.mode ?? 0o644), data.length, 1);
        put(data);
        put(pad4(written));
      } else {
        const { size, mode } = statSync(entry.from);
        header(path, S_IFREG | (entry.mode ?? mode & 0o7777), size, 1);
        const source = openSync(entry.from, "r");
        try {
          const chunk = Buffer.alloc(8 << 20);
          let left = size;
          while (left > 0) {
            const read = readSync(source, chunk, 0, Math.min(chunk.length, left), null);
            if (read === 0) throw new Error(`writing ${file}: ${entry.from} ended ${left} bytes early`);
            put(chunk.subarray(0, read));
            left -= read;
          }
        } finally {
          closeSync(source);
        }
        put(pad4(written));
      }
    }
    header("TRAILER!!!", 0, 0, 1);
  } finally {
    closeSync(fd);
  }
}
