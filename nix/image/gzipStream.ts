// A gzip stream compressed on several threads, byte-identical on every run.
// The input is cut into chunks of a fixed size at fixed offsets; each chunk
// is deflated on its own (node:zlib, on the thread pool) with the last 32 KiB
// of the chunk before it as dictionary and ends with a sync flush, the last
// one with the final block: their concatenation is one deflate stream, as
// pigz makes it. The header carries no name and mtime 0; the trailer is the
// CRC-32 and length of the whole input.
import { availableParallelism } from "node:os";
import { constants, crc32, deflateRaw, type ZlibOptions } from "node:zlib";

/** gzip magic, deflate, no flags, mtime 0, no extra flags, OS Unix. */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
const WINDOW = 32 * 1024;

export interface GzipOptions {
  readonly level?: number;
  /** Bytes of input per chunk; the output depends on it, so it is fixed. */
  readonly chunkSize?: number;
  /** Chunks being compressed at once. */
  readonly parallel?: number;
}

function deflateChunk(input: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(input, options, (error, output) => (error ? reject(error) : resolve(output))));
}

export class GzipStream {
  private readonly level: number;
  private readonly chunkSize: number;
  private readonly parallel: number;
  private chunk: Buffer;
  private used = 0;
  private previous: Buffer | null = null;
  private readonly pending: Promise<Buffer>[] = [];
  private crc = 0;
  private inputBytes = 0;
  private outputBytes = 0;

  /** `sink` takes the compressed bytes in order; it may throw (a full disk), which ends the stream. */
  constructor(
    private readonly sink: (data: Buffer) => void,
    options: GzipOptions = {},
  ) {
    this.level = options.level ?? 6;
    this.chunkSize = options.chunkSize ?? 1024 * 1024;
    this.parallel = Math.max(2, options.parallel ?? availableParallelism() * 2);
    this.chunk = Buffer.allocUnsafe(this.chunkSize);
    this.emit(GZIP_HEADER);
  }

  /** Compressed bytes written so far. */
  get written(): number {
    return this.outputBytes;
  }

  /**
   * Let `fill` put up to `max` bytes straight into the current chunk at
   * `offset` (a read(2) into it); it returns how many it put there.
   */
  fill(max: number, fill: (buffer: Buffer, offset: number, length: number) => number): number {
    const length = fill(this.chunk, this.used, Math.min(max, this.chunkSize - this.used));
    this.used += length;
    if (this.used === this.chunkSize) this.submit(false);
    return length;
  }

  /** Take a copy of `data`. */
  write(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      const copied = data.copy(this.chunk, this.used, offset);
      offset += copied;
      this.used += copied;
      if (this.used === this.chunkSize) this.submit(false);
    }
  }

  /** `count` zero bytes. */
  zeros(count: number): void {
    let left = count;
    while (left > 0) {
      const length = Math.min(left, this.chunkSize - this.used);
      this.chunk.fill(0, this.used, this.used + length);
      left -= length;
      this.used += length;
      if (this.used === this.chunkSize) this.submit(false);
    }
  }

  /** Whether enough chunks are being compressed that the writer should wait (drain()) before giving more. */
  get full(): boolean {
    return this.pending.length >= this.parallel;
  }

  /** Write out compressed chunks, in order, until fewer than `parallel` are in flight. */
  async drain(): Promise<void> {
    while (this.pending.length >= this.parallel) this.emit(await this.pending.shift()!);
  }

  /** Compress what is left, write the final block and the trailer. */
  async finish(): Promise<void> {
    this.submit(true);
    while (this.pending.length > 0) this.emit(await this.pending.shift()!);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.inputBytes % 2 ** 32, 4);
    this.emit(trailer);
  }

  /** Start compressing the current chunk (on the thread pool) and begin a new one. */
  private submit(final: boolean): void {
    const input = this.chunk.subarray(0, this.used);
    this.crc = crc32(input, this.crc);
    this.inputBytes += input.length;
    const options: ZlibOptions = {
      level: this.level,
      finishFlush: final ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...(this.previous ? { dictionary: this.previous.subarray(Math.max(0, this.previous.length - WINDOW)) } : {}),
    };
    const job = deflateChunk(input, options);
    job.catch(() => {}); // awaited below in order; a stream abandoned after a failure must not crash the process
    this.pending.push(job);
    this.previous = input;
    this.chunk = Buffer.allocUnsafe(this.chunkSize);
    this.used = 0;
  }

  private emit(data: Buffer): void {
    this.sink(data);
    this.outputBytes += data.length;
  }
}
