// The output file, written under a temporary name in its own directory and
// renamed into place only when it is complete and on disk: OUT.wsl is either
// the whole image or untouched, whatever happens (a full disk, a signal).
import { closeSync, constants, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { removeLeftovers, temporaryFor } from "../../src/atomicFile.ts";
import { errorCode, StepError } from "../../src/stepError.ts";

/** The hidden partial file beside OUT, named as every temporary of the project (src/atomicFile.ts): `.OUT.new-PID`. */
export function partialName(out: string, pid = process.pid): string {
  return temporaryFor(out, pid);
}

function advice(error: unknown, out: string): string | null {
  switch (errorCode(error)) {
    case "ENOSPC":
    case "EDQUOT":
      return `The file system of ${dirname(out)} is full: free some space there or write the image elsewhere.`;
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return `${dirname(out)} cannot be written to: choose another output directory.`;
    default:
      return null;
  }
}

export class PartialOutput {
  private fd: number | null;
  private done = false;

  private constructor(
    readonly out: string,
    readonly temporary: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static create(out: string): PartialOutput {
    // What a pack killed with SIGKILL (or a power cut) left: gone after a minute, as every writer's leftovers.
    removeLeftovers(out);
    const temporary = partialName(out);
    try {
      return new PartialOutput(out, temporary, openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644));
    } catch (error) {
      throw new StepError(`creating ${temporary}`, error, advice(error, out));
    }
  }

  write(data: Buffer): void {
    let offset = 0;
    try {
      while (offset < data.length) offset += writeSync(this.fd!, data, offset);
    } catch (error) {
      throw new StepError(`writing ${this.temporary}`, error, advice(error, this.out));
    }
  }

  /** Flush to disk, rename over OUT, and flush the directory so that the rename lasts too. */
  commit(): void {
    try {
      fsyncSync(this.fd!);
    } catch (error) {
      throw new StepError(`writing ${this.temporary} to disk`, error, advice(error, this.out));
    }
    closeSync(this.fd!);
    this.fd = null;
    try {
      renameSync(this.temporary, this.out);
    } catch (error) {
      throw new StepError(`renaming ${this.temporary} to ${this.out}`, error, advice(error, this.out));
    }
    this.done = true;
    try {
      const directory = openSync(dirname(this.out), constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    } catch {
      // The image is complete and in place; only the durability of the rename is in doubt.
    }
  }

  /** Remove the temporary file (after a failure or a signal); OUT stays as it was. Never throws. */
  discard(): void {
    if (this.done) return;
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // closed already
      }
      this.fd = null;
    }
    try {
      unlinkSync(this.temporary);
    } catch {
      // gone already
    }
    this.done = true;
  }
}
