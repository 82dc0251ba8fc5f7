// The image builder's tar headers and gzip stream, checked field by field and
// by the system's own tar and gzip, which must read back exactly what was meant.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GZIP_HEADER, GzipStream } from "../../nix/image/gzipStream.ts";
import { BLOCK, checksum, END_OF_ARCHIVE, PAX_HEADER_NAME, paddingFor, paxRecord, splitName, type TarEntry, tarHeader } from "../../nix/image/tarHeader.ts";

const base: Omit<TarEntry, "name" | "type"> = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1 };

function field(block: Buffer, offset: number, length: number): string {
  return block.subarray(offset, offset + length).toString("latin1").replace(/\0.*$/s, "");
}

/** A whole tar archive from entries and their data. */
function archive(entries: readonly { entry: TarEntry; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, data } of entries) {
    parts.push(tarHeader(entry));
    if (data) parts.push(data, Buffer.alloc(paddingFor(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-imagetar-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function systemTar(args: readonly string[], tar: Buffer): string {
  const file = join(dir, "test.tar");
  writeFileSync(file, tar);
  return execFileSync("tar", [...args, "-f", file], { encoding: "utf8", cwd: dir });
}

describe("ustar headers", () => {
  it("carry a checksum over the block with its own field counted as spaces", () => {
    const block = tarHeader({ ...base, name: "./etc/passwd", type: "file", size: 108 });
    expect(block.length).toBe(BLOCK);
    const stored = parseInt(field(block, 148, 8).trim(), 8);
    expect(stored).toBe(checksum(block));
    // The same sum, computed the plain way.
    const copy = Buffer.from(block);
    copy.fill(0x20, 148, 156);
    expect(copy.reduce((sum, byte) => sum + byte, 0)).toBe(stored);
    expect(field(block, 257, 6)).toBe("ustar");
    expect(field(block, 263, 2)).toBe("00");
  });

  it("hold numeric owners only, one mtime, and no user or group name", () => {
    const block = tarHeader({ ...base, name: "./home/nixos/", type: "directory", mode: 0o755, uid: 1000, gid: 100, mtime: 1 });
    expect(field(block, 108, 8)).toBe("0001750");
    expect(field(block, 116, 8)).toBe("0000144");
    expect(field(block, 136, 12)).toBe("00000000001");
    expect(field(block, 265, 32)).toBe("");
    expect(field(block, 297, 32)).toBe("");
    expect(field(block, 156, 1)).toBe("5");
    const listing = systemTar(["--numeric-owner", "--full-time", "-tv"], archive([{ entry: { ...base, name: "./home/nixos/", type: "directory", mode: 0o755, uid: 1000, gid: 100 } }]));
    expect(listing).toMatch(/^drwxr-xr-x 1000\/100\s+0 1970-01-01 00:00:01 \.\/home\/nixos\/$/m);
  });

  it("are the same bytes for the same entry", () => {
    const entry: TarEntry = { ...base, name: `./${"d/".repeat(80)}file`, type: "file", size: 3 };
    expect(tarHeader(entry).equals(tarHeader({ ...entry }))).toBe(true);
  });
});

describe("long names", () => {
  it("split at a slash into prefix and name when ustar can hold them", () => {
    const name = `./${"directory/".repeat(12)}file-with-a-name`;
    expect(Buffer.byteLength(name)).toBeGreaterThan(100);
    const split = splitName(Buffer.from(name))!;
    expect(split.name.length).toBeLessThanOrEqual(100);
    expect(split.prefix.length).toBeLessThanOrEqual(155);
    expect(`${split.prefix}/${split.name}`).toBe(name);
    const block = tarHeader({ ...base, name, type: "file" });
    expect(block.length).toBe(BLOCK); // no pax header needed
    expect(systemTar(["-t"], archive([{ entry: { ...base, name, type: "file" } }])).trim()).toBe(name);
  });

  it("go into a pax 'path' record when they do not fit, also for one long component and UTF-8", () => {
    const names = [`./${"a-long-directory-name/".repeat(15)}file`, `./${"x".repeat(150)}`, `./${"ü-ñ/".repeat(60)}日本語.txt`];
    for (const name of names) {
      const header = tarHeader({ ...base, name, type: "file", size: 2 });
      expect(header.length).toBeGreaterThan(BLOCK);
      expect(field(header, 0, 100)).toBe(PAX_HEADER_NAME);
      expect(field(header, 156, 1)).toBe("x");
      expect(header.subarray(BLOCK).toString()).toContain(` path=${name}\n`);
    }
    const listed = systemTar(["-t"], archive(names.map((name) => ({ entry: { ...base, name, type: "file" as const, size: 2 }, data: Buffer.from("hi") }))));
    expect(listed.trim().split("\n")).toEqual(names);
  });

  it("keep a long symlink target in a pax 'linkpath' record", () => {
    const target = `/nix/store/${"t".repeat(32)}-${"target/".repeat(20)}end`;
    const listed = systemTar(["-tv"], archive([{ entry: { ...base, name: "./link", type: "symlink", mode: 0o777, linkName: target } }]));
    expect(listed).toContain(`./link -> ${target}`);
  });

  it("count the pax record's own length right where it gains a digit", () => {
    for (let length = 80; length < 120; length++) {
      const record = paxRecord("path", "p".repeat(length));
      expect(Number(record.toString().split(" ")[0])).toBe(record.length);
    }
  });

  it("store an id past ustar's seven octal digits in a pax record", () => {
    const listed = systemTar(["--numeric-owner", "-tv"], archive([{ entry: { ...base, name: "./big-ids", type: "file", uid: 3_000_000, gid: 4_000_000 } }]));
    expect(listed).toMatch(/3000000\/4000000/);
  });
});

describe("extracted by the system tar (as root, --numeric-owner)", () => {
  it("gives back files, owners, modes, the mtime, symlinks, hardlinks, devices and FIFOs", () => {
    const data = Buffer.from("hello from the image\n");
    const tar = archive([
      { entry: { ...base, name: "./", type: "directory", mode: 0o755 } },
      { entry: { ...base, name: "./etc/", type: "directory", mode: 0o755 } },
      { entry: { ...base, name: "./etc/hello", type: "file", mode: 0o640, uid: 1000, gid: 100, size: data.length }, data },
      { entry: { ...base, name: "./etc/hello-again", type: "hardlink", mode: 0o640, uid: 1000, gid: 100, linkName: "./etc/hello" } },
      { entry: { ...base, name: "./etc/link", type: "symlink", mode: 0o777, linkName: "hello" } },
      { entry: { ...base, name: "./dev/", type: "directory", mode: 0o755 } },
      { entry: { ...base, name: "./dev/null", type: "char", mode: 0o666, devMajor: 1, devMinor: 3 } },
      { entry: { ...base, name: "./dev/fifo", type: "fifo", mode: 0o600 } },
      { entry: { ...base, name: "./tmp/", type: "directory", mode: 0o1777 } },
    ]);
    const out = join(dir, "out");
    mkdirSync(out);
    systemTar(["--numeric-owner", "-C", out, "-x"], tar);
    const hello = lstatSync(join(out, "etc/hello"));
    expect(readFileSync(join(out, "etc/hello"))).toEqual(data);
    expect([hello.uid, hello.gid, hello.mode & 0o7777, hello.mtimeMs]).toEqual([1000, 100, 0o640, 1000]);
    expect(lstatSync(join(out, "etc/hello-again")).ino).toBe(hello.ino);
    expect(readlinkSync(join(out, "etc/link"))).toBe("hello");
    const nullDevice = lstatSync(join(out, "dev/null"));
    expect(nullDevice.isCharacterDevice()).toBe(true);
    expect(nullDevice.rdev).toBe(lstatSync("/dev/null").rdev);
    expect(lstatSync(join(out, "dev/fifo")).isFIFO()).toBe(true);
    expect(lstatSync(join(out, "tmp")).mode & 0o7777).toBe(0o1777);
  });
});

describe("the gzip stream", () => {
  /** 3 MiB that compress (text) and do not (pseudo-random), the same every time. */
  function input(): Buffer {
    const text = Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(30_000));
    const noise = Buffer.alloc(1_700_000);
    let state = 1;
    for (let i = 0; i < noise.length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      noise[i] = state >>> 24;
    }
    return Buffer.concat([text, noise]);
  }

  async function compress(data: Buffer, options: { chunkSize: number; parallel: number }): Promise<Buffer> {
    const parts: Buffer[] = [];
    const gzip = new GzipStream((part) => parts.push(Buffer.from(part)), options);
    // Fed in odd pieces, partly through fill() as the packer reads files, with drain() when it asks.
    let at = 0;
    while (at < data.length) {
      const piece = data.subarray(at, at + 77_777);
      if ((at / 77_777) % 2 === 0) {
        gzip.write(piece);
      } else {
        let left = piece;
        while (left.length > 0) {
          const n = gzip.fill(left.length, (buffer, offset, length) => left.copy(buffer, offset, 0, length));
          left = left.subarray(n);
        }
      }
      if (gzip.full) await gzip.drain();
      at += piece.length;
    }
    gzip.zeros(1000);
    await gzip.finish();
    return Buffer.concat(parts);
  }

  it("decompresses to its input (node:zlib and the system gzip), over many chunks", async () => {
    const data = input();
    const expected = Buffer.concat([data, Buffer.alloc(1000)]);
    const gz = await compress(data, { chunkSize: 64 * 1024, parallel: 4 });
    expect(gz.subarray(0, 10)).toEqual(GZIP_HEADER); // mtime 0, no file name
    expect(gunzipSync(gz).equals(expected)).toBe(true);
    const file = join(dir, "data.gz");
    writeFileSync(file, gz);
    expect(execFileSync("gzip", ["-dc", file], { maxBuffer: 64 << 20 }).equals(expected)).toBe(true);
    execFileSync("gzip", ["-t", file]);
  });

  it("is the same bytes whatever the number of chunks in flight", async () => {
    const data = input();
    const one = await compress(data, { chunkSize: 128 * 1024, parallel: 2 });
    const many = await compress(data, { chunkSize: 128 * 1024, parallel: 16 });
    expect(one.equals(many)).toBe(true);
  });

  it("compresses nearly as well as one plain stream", async () => {
    const data = input();
    const chunked = await compress(data, { chunkSize: 1024 * 1024, parallel: 2 });
    const plain = execFileSync("gzip", ["-6", "-c"], { input: data, maxBuffer: 64 << 20 });
    expect(chunked.length).toBeLessThan(plain.length * 1.02);
  });
});
