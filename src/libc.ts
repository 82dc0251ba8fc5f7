// The few libc calls Node and Bun do not offer (mount, execve, unshare, chroot),
// reached through bun:ffi. Only the compiled executable imports this module;
// everything vitest loads on Node stays free of bun:ffi.
import { dlopen, FFIType, ptr, read, CString } from "bun:ffi";

const { symbols: c } = dlopen("libc.so.6", {
  mount: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  unshare: { args: [FFIType.i32], returns: FFIType.i32 },
  chroot: { args: [FFIType.ptr], returns: FFIType.i32 },
  fchdir: { args: [FFIType.i32], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  getdents64: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.ptr },
  memfd_create: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  open: { args: [FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  access: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
});

// mount(2) flags, from <sys/mount.h>.
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_SHARED = 0x100000;

// unshare(2) flags, from <sched.h>.
export const CLONE_NEWNS = 0x20000;
export const CLONE_NEWPID = 0x20000000;

/** The errno values callers tell apart, by the names Node gives them. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  13: "EACCES",
  16: "EBUSY",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  30: "EROFS",
  36: "ENAMETOOLONG",
  40: "ELOOP",
};

/** A failed system call, carrying errno (and its name in `code`, as Node's errors do) so callers can explain it. */
export class SyscallError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call}: ${errnoMessage(errno)}`);
    this.name = "SyscallError";
    this.code = ERRNO_NAMES[errno];
  }
}

function errnoMessage(errno: number): string {
  const message = c.strerror(errno);
  return message === null ? "unknown error" : new CString(message).toString();
}

function lastErrno(): number {
  const location = c.__errno_location();
  return location === null ? 0 : read.i32(location);
}

function check(result: number, call: string): void {
  if (result === -1) throw new SyscallError(call, lastErrno());
}

/** A NUL-terminated copy of a string, for passing to C. */
export function cstr(value: string): Buffer {
  return Buffer.from(`${value}\0`);
}

function cstrOrNull(value: string | null): Buffer | null {
  return value === null ? null : cstr(value);
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  const describe = `mount(${source ?? "none"} -> ${target}${fstype ? `, ${fstype}` : ""})`;
  check(c.mount(cstrOrNull(source), cstr(target), cstrOrNull(fstype), flags, cstrOrNull(data)), describe);
}

export function unshare(flags: number): void {
  check(c.unshare(flags), "unshare");
}

export function chroot(path: string): void {
  check(c.chroot(cstr(path)), `chroot(${path})`);
}

/** Make the directory open as `fd` the working directory (with chroot("."), the way back out of a chroot). */
export function fchdir(fd: number): void {
  check(c.fchdir(fd), "fchdir");
}

const LOCK_EX = 2;

/** Wait for an exclusive lock on an open file; it is released when the file is closed. */
export function lockExclusive(fd: number, path: string): void {
  check(c.flock(fd, LOCK_EX), `flock(${path})`);
}

const LOCK_NB = 4;
const EWOULDBLOCK = 11;

/** Take an exclusive lock on an open file if nobody holds it; false when someone does. */
export function tryLockExclusive(fd: number, path: string): boolean {
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const errno = lastErrno();
  if (errno === EWOULDBLOCK) return false;
  throw new SyscallError(`flock(${path})`, errno);
}

/**
 * The names in the directory open as `fd` (without "." and ".."), as the raw
 * bytes the file system holds. Read with getdents64(2) on the caller's own
 * descriptor, so that its open flags count: a directory opened with O_NOATIME
 * is listed without its access time changing, which readdir(3) on a path
 * (Node's readdirSync) cannot do.
 */
export function directoryNames(fd: number, path: string): Buffer[] {
  const buffer = Buffer.alloc(64 * 1024);
  const names: Buffer[] = [];
  for (;;) {
    const length = Number(c.getdents64(fd, buffer, buffer.length));
    if (length === -1) throw new SyscallError(`getdents64(${path})`, lastErrno());
    if (length === 0) return names;
    // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
    for (let offset = 0; offset < length; ) {
      const recordLength = buffer.readUInt16LE(offset + 16);
      const start = offset + 19;
      const end = buffer.indexOf(0, start);
      const name = Buffer.from(buffer.subarray(start, end < 0 || end > offset + recordLength ? offset + recordLength : end));
      if (!(name.length === 1 && name[0] === 0x2e) && !(name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)) names.push(name);
      offset += recordLength;
    }
  }
}

const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const EINVAL = 22;
const MFD_NOEXEC_SEAL = 0x8;

/** Open `path` for reading (close-on-exec); a SyscallError names why not. */
export function openForReading(path: string): number {
  const fd = c.open(cstr(path), O_CLOEXEC, 0);
  check(fd, `open(${path})`);
  return fd;
}

/** Everything left to read from `fd`. */
export function readToEnd(fd: number, path: string): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const length = Number(c.read(fd, chunk, chunk.length));
    if (length === -1) {
      const errno = lastErrno();
      if (errno === EINTR) continue;
      throw new SyscallError(`read(${path})`, errno);
    }
    if (length === 0) return Buffer.concat(chunks);
    chunks.push(chunk.subarray(0, length));
  }
}

/** Write all of `text` to `fd`. */
export function writeAllTo(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; ) {
    const written = Number(c.write(fd, bytes.subarray(offset), bytes.length - offset));
    if (written === -1) {
      const errno = lastErrno();
      if (errno === EINTR) continue;
      throw new SyscallError(`write(fd ${fd})`, errno);
    }
    offset += written;
  }
}

export function closeDescriptor(fd: number): void {
  c.close(fd);
}

export const X_OK = 1;

/** access(2): 0 when this process may use `path` so, else the errno. */
export function accessErrno(path: string, mode: number): number {
  return c.access(cstr(path), mode) === 0 ? 0 : lastErrno();
}

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE_MODE_UID = 0x1 | 0x2 | 0x8;
const S_IFMT = 0o170000;
const FILE_TYPES: Record<number, FileStatus["type"]> = { 0o100000: "file", 0o040000: "directory", 0o140000: "socket" };

export interface FileStatus {
  readonly type: "file" | "directory" | "socket" | "other";
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
}

/**
 * statx(2), following symlinks, of a path or (a number) an open descriptor;
 * a SyscallError names why not. Its struct has one layout on every
 * architecture: stx_uid at byte 20, stx_mode at byte 28.
 */
export function statusOf(target: string | number): FileStatus {
  const buffer = Buffer.alloc(256);
  const [dirfd, path, flags] = typeof target === "number" ? [target, "", AT_EMPTY_PATH] : [AT_FDCWD, target, 0];
  check(c.statx(dirfd, cstr(path), flags, STATX_TYPE_MODE_UID, buffer), `statx(${typeof target === "number" ? `fd ${target}` : target})`);
  const mode = buffer.readUInt16LE(28);
  return { type: FILE_TYPES[mode & S_IFMT] ?? "other", mode: mode & 0o7777, uid: buffer.readUInt32LE(20) };
}

/**
 * A new, empty file in memory, open as the returned descriptor and, unlike
 * everything else this process opens, inherited across execve: the program
 * exec'd next can open it as /proc/self/fd/N, and nothing touches a disk.
 */
export function inheritedMemoryFile(name: string): number {
  // Not executable where the kernel knows the flag (6.3 and later; vm.memfd_noexec = 2 requires it), else plain.
  let fd = c.memfd_create(cstr(name), MFD_NOEXEC_SEAL);
  if (fd === -1 && lastErrno() === EINVAL) fd = c.memfd_create(cstr(name), 0);
  check(fd, `memfd_create(${name})`);
  return fd;
}

/**
 * Replace this process with `path`. Returns only by throwing: the kernel keeps
 * the PID, so PID 1 stays PID 1 and the exit status of the new program is ours.
 */
export function execve(path: string, argv: readonly string[], env: Record<string, string | undefined>): never {
  const keepAlive: Buffer[] = [];
  const pointerArray = (strings: readonly string[]): BigUint64Array => {
    const array = new BigUint64Array(strings.length + 1);
    strings.forEach((value, index) => {
      const buffer = cstr(value);
      keepAlive.push(buffer);
      array[index] = BigInt(ptr(buffer));
    });
    return array;
  };
  const envStrings = Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${value}`);
  const result = c.execve(cstr(path), pointerArray(argv), pointerArray(envStrings));
  check(result, `execve(${path})`);
  // execve only returns on failure, which check() has turned into a throw.
  throw new SyscallError(`execve(${path})`, lastErrno());
}
