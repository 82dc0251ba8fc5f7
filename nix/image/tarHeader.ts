// The headers of a POSIX tar stream (ustar, with pax extended headers where
// ustar has no room), written the same way every time: numeric owners only
// (empty user and group names), one fixed mtime, no access or change times.
// A name longer than ustar's name and prefix fields can hold, a long link
// target, a size of 8 GiB or more or an id past 2097151 goes into a pax 'x'
// record before the entry; nothing else ever does.

export const BLOCK = 512;

export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "directory" | "fifo";

const TYPE_FLAG: Record<TarType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

export interface TarEntry {
  /** The name in the archive, e.g. "./etc/passwd", "./etc/" for a directory. */
  readonly name: string;
  readonly type: TarType;
  /** Permission bits, 0o7777 at most. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of data that follow (regular files only; 0 for every other type). */
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Target of a symlink or hardlink. */
  readonly linkName?: string;
  readonly devMajor?: number;
  readonly devMinor?: number;
}

export class TarFieldError extends Error {
  override name = "TarFieldError";
}

const NAME_LENGTH = 100;
const PREFIX_LENGTH = 155;
const MAX_ID = 0o7777777; // 7 octal digits
const MAX_SIZE = 0o77777777777; // 11 octal digits: 8 GiB - 1
/** The name of every pax header block: a constant keeps the stream reproducible. */
export const PAX_HEADER_NAME = "././@PaxHeader";
const EMPTY = Buffer.alloc(0);

/** Write `value` in octal into `block`, zero-padded to `width - 1` digits and NUL-terminated. */
function putOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  const zeros = width - 1 - digits.length;
  if (zeros < 0) throw new TarFieldError(`a tar header field of ${width} bytes cannot hold ${value}`);
  block.fill(0x30, offset, offset + zeros);
  block.write(digits, offset + zeros, "latin1");
  block[offset + width - 1] = 0;
}

/** Split a name into ustar's prefix and name fields at a "/", or null when it does not fit. */
export function splitName(name: Buffer): { prefix: Buffer; name: Buffer } | null {
  if (name.length <= NAME_LENGTH) return { prefix: EMPTY, name };
  // The last "/" that leaves at most 100 bytes after it and at most 155 before it.
  const earliest = name.length - NAME_LENGTH - 1;
  for (let slash = Math.min(PREFIX_LENGTH, name.length - 2); slash >= Math.max(earliest, 1); slash--) {
    if (name[slash] === 0x2f) return { prefix: name.subarray(0, slash), name: name.subarray(slash + 1) };
  }
  return null;
}

/** One pax record, "LEN key=value\n", where LEN counts the whole record in bytes. */
export function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.from(` ${key}=${value}\n`);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

interface Fields {
  readonly name: Buffer;
  readonly prefix: Buffer;
  readonly typeFlag: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkName: Buffer;
  readonly devMajor: number;
  readonly devMinor: number;
}

function putBytes(block: Buffer, offset: number, length: number, value: Buffer): void {
  if (value.length > length) throw new TarFieldError(`a tar header field of ${length} bytes cannot hold ${value.length}`);
  value.copy(block, offset);
}

const MAGIC = Buffer.from("ustar\x0000", "latin1");

/** One 512-byte ustar header block with its checksum. */
function headerBlock(fields: Fields): Buffer {
  const block = Buffer.alloc(BLOCK);
  putBytes(block, 0, 100, fields.name);
  putOctal(block, 100, 8, fields.mode);
  putOctal(block, 108, 8, fields.uid);
  putOctal(block, 116, 8, fields.gid);
  putOctal(block, 124, 12, fields.size);
  putOctal(block, 136, 12, fields.mtime);
  block[156] = fields.typeFlag.charCodeAt(0);
  putBytes(block, 157, 100, fields.linkName);
  MAGIC.copy(block, 257); // "ustar\0" and version "00"
  // uname (265) and gname (297) stay empty: owners are numeric only.
  putOctal(block, 329, 8, fields.devMajor);
  putOctal(block, 337, 8, fields.devMinor);
  putBytes(block, 345, 155, fields.prefix);
  // The checksum: six octal digits, NUL, space.
  putOctal(block, 148, 7, checksum(block));
  block[155] = 0x20;
  return block;
}

/** The sum of a header's bytes, with its checksum field counted as eight spaces. */
export function checksum(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

/** Zero bytes that fill the last block of `size` bytes of data. */
export function paddingFor(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** Two zero blocks: the end of the archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function checkNumber(what: string, value: number, max: number | null): void {
  if (!Number.isInteger(value) || value < 0 || (max !== null && value > max)) {
    throw new TarFieldError(`${what} ${value} cannot be stored in a tar header`);
  }
}

/**
 * The header of one entry: a pax extended header first when ustar cannot
 * hold it, then the ustar header. The result is a whole number of blocks.
 */
export function tarHeader(entry: TarEntry): Buffer {
  const records: Buffer[] = [];
  const name = Buffer.from(entry.name);
  const linkName = entry.linkName ? Buffer.from(entry.linkName) : EMPTY;
  if (name.length === 0) throw new TarFieldError("an entry needs a name");
  checkNumber("the mode", entry.mode, 0o7777);
  checkNumber("the mtime", entry.mtime, MAX_SIZE);
  checkNumber("the size", entry.size, null);
  checkNumber("the device major number", entry.devMajor ?? 0, MAX_ID);
  checkNumber("the device minor number", entry.devMinor ?? 0, MAX_ID);
  checkNumber("the uid", entry.uid, null);
  checkNumber("the gid", entry.gid, null);

  let split = splitName(name);
  if (split === null) {
    records.push(paxRecord("path", entry.name));
    // What a reader without pax support sees: the first 100 bytes, cut at a character boundary.
    split = { prefix: EMPTY, name: truncateUtf8(name, NAME_LENGTH) };
  }
  let storedLink: Buffer = linkName;
  if (linkName.length > NAME_LENGTH) {
    records.push(paxRecord("linkpath", entry.linkName!));
    storedLink = truncateUtf8(linkName, NAME_LENGTH);
  }
  let size = entry.size;
  if (size > MAX_SIZE) {
    records.push(paxRecord("size", String(size)));
    size = 0;
  }
  let { uid, gid } = entry;
  if (uid > MAX_ID) {
    records.push(paxRecord("uid", String(uid)));
    uid = 0;
  }
  if (gid > MAX_ID) {
    records.push(paxRecord("gid", String(gid)));
    gid = 0;
  }
  const ustar = headerBlock({
    name: split.name,
    prefix: split.prefix,
    typeFlag: TYPE_FLAG[entry.type],
    mode: entry.mode,
    uid,
    gid,
    size,
    mtime: entry.mtime,
    linkName: storedLink,
    devMajor: entry.devMajor ?? 0,
    devMinor: entry.devMinor ?? 0,
  });
  if (records.length === 0) return ustar;

  const data = Buffer.concat(records);
  const pax = headerBlock({
    name: Buffer.from(PAX_HEADER_NAME),
    prefix: EMPTY,
    typeFlag: "x",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: entry.mtime,
    linkName: EMPTY,
    devMajor: 0,
    devMinor: 0,
  });
  return Buffer.concat([pax, data, Buffer.alloc(paddingFor(data.length)), ustar]);
}

/** The first `max` bytes of a UTF-8 string, never ending inside a character. */
function truncateUtf8(bytes: Buffer, max: number): Buffer {
  let end = Math.min(max, bytes.length);
  while (end > 0 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
