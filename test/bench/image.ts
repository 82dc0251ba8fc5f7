// Image builder throughput: `nixos-wsl-init tarball` on a fake root of about
// 320 MiB (many files: text that compresses, random bytes that do not, and
// binary-like data between the two, a few hardlinks), next to
// `tar --sort=name ... | gzip -6` on the same root. Both read from the page
// cache (one warm-up run each) and write to the same temporary directory.
// Run alone with `bun test/bench/image.ts` (after a build).
import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeFakeRoot } from "../harness/fakeRoot.ts";
import { BINARY, requireBinary } from "../harness/paths.ts";
import { run } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface ImageFigures {
  readonly files: number;
  readonly dataBytes: number;
  readonly ourMs: number;
  readonly ourBytes: number;
  readonly tarGzipMs: number;
  readonly tarGzipBytes: number;
  readonly runs: number;
}

const TARGET_BYTES = 320 * 1024 * 1024;

/** A deterministic pseudo-random source, so that every bench run packs the same tree. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Text-like bytes: words from a vocabulary of a few thousand, in lines. */
function textPool(random: () => number, bytes: number): Buffer {
  const vocabulary = Array.from({ length: 4000 }, () => randomBytes(2 + Math.floor(random() * 7)).toString("base64url").toLowerCase());
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const word = vocabulary[Math.floor(random() ** 2 * vocabulary.length)]!;
    const separator = random() < 0.08 ? "\n" : " ";
    parts.push(word, separator);
    length += word.length + 1;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

/** Binary-like bytes: random runs between runs of zeros and repeated tables, as in executables. */
function binaryLike(random: () => number, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let at = 0;
  while (at < bytes) {
    const run = Math.min(bytes - at, 64 + Math.floor(random() * 4096));
    const kind = random();
    if (kind < 0.45) randomBytes(run).copy(out, at);
    else if (kind < 0.7) out.fill(0, at, at + run);
    else out.fill(randomBytes(16), at, at + run);
    at += run;
  }
  return out;
}

/** Fill `root`/nix/store with about TARGET_BYTES of files; returns how many files and bytes. */
export function fillStore(root: string): { files: number; bytes: number } {
  const random = generator(20260505);
  const text = textPool(random, 8 * 1024 * 1024);
  const randomData = randomBytes(8 * 1024 * 1024);
  let files = 0;
  let bytes = 0;
  let packageIndex = 0;
  const firstOfSize: string[] = [];
  while (bytes < TARGET_BYTES) {
    const dir = join(root, "nix/store", `${String(packageIndex).padStart(4, "0")}bench${"b".repeat(23)}-package-${packageIndex}`);
    packageIndex++;
    for (const sub of ["bin", "lib", "share/doc"]) mkdirSync(join(dir, sub), { recursive: true });
    const count = 20 + Math.floor(random() * 180);
    for (let i = 0; i < count && bytes < TARGET_BYTES; i++) {
      // Most files small (100 B to 32 KiB), one in fifty large (32 KiB to 8 MiB), as in a store.
      const size = random() < 0.98 ? Math.floor(100 * Math.exp(random() * Math.log(320))) : Math.floor(32_768 * Math.exp(random() * Math.log(256)));
      const kind = random();
      const sub = kind < 0.5 ? "share/doc" : kind < 0.8 ? "lib" : "bin";
      const path = join(dir, sub, `file-${i}`);
      if (kind < 0.5) {
        const start = Math.floor(random() * Math.max(1, text.length - size));
        writeFileSync(path, text.subarray(start, start + size));
      } else if (kind < 0.8) {
        writeFileSync(path, binaryLike(random, size));
      } else {
        const start = Math.floor(random() * Math.max(1, randomData.length - size));
        writeFileSync(path, randomData.subarray(start, start + size));
      }
      files++;
      bytes += statSync(path).size;
      // Every 500th file gets a hardlink elsewhere, as an optimised store has.
      if (files % 500 === 0) firstOfSize.push(path);
    }
  }
  const links = join(root, "nix/store/.links");
  mkdirSync(links, { recursive: true });
  firstOfSize.forEach((path, index) => linkSync(path, join(links, `link-${index}`)));
  return { files, bytes };
}

export function benchImage(runs: number): ImageFigures {
  requireBinary();
  const fake = makeFakeRoot({ generations: [{ number: 1 }] });
  const outDir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-bench-image-"));
  try {
    const { files, bytes } = fillStore(fake.root);
    const ours = join(outDir, "ours.wsl");
    const theirs = join(outDir, "tar-gzip.tar.gz");
    const ourCommand = [BINARY, "tarball", fake.root, ours];
    const tarGzip = ["sh", "-c", 'tar --sort=name --mtime=@1 --numeric-owner -C "$1" -cf - . | gzip -6 > "$2"', "sh", fake.root, theirs];
    run(ourCommand);
    run(tarGzip);
    const ourMs: number[] = [];
    const theirMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(ours, { force: true });
      rmSync(theirs, { force: true });
      ourMs.push(run(ourCommand).ms);
      theirMs.push(run(tarGzip).ms);
    }
    return {
      files,
      dataBytes: bytes,
      ourMs: median(ourMs),
      ourBytes: statSync(ours).size,
      tarGzipMs: median(theirMs),
      tarGzipBytes: statSync(theirs).size,
      runs,
    };
  } finally {
    fake.remove();
    rmSync(outDir, { recursive: true, force: true });
  }
}

export function imageLine(f: ImageFigures): string {
  const mibs = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  const rate = (ms: number) => (f.dataBytes / 1024 / 1024 / (ms / 1000)).toFixed(1);
  const ratio = f.tarGzipMs / f.ourMs;
  return (
    `image builder: nixos-wsl-init tarball ${(f.ourMs / 1000).toFixed(2)} s (${rate(f.ourMs)} MiB/s, ${mibs(f.ourBytes)} MiB out) ` +
    `vs tar --sort=name | gzip -6 ${(f.tarGzipMs / 1000).toFixed(2)} s (${rate(f.tarGzipMs)} MiB/s, ${mibs(f.tarGzipBytes)} MiB out) ` +
    `on ${mibs(f.dataBytes)} MiB in ${f.files} files, medians of ${f.runs} -> ${ratio.toFixed(2)}x its speed (${ratio >= 1 ? "within" : "BELOW"} target: at least 1x)`
  );
}

if (import.meta.main) {
  console.log(imageLine(benchImage(Number(process.env.BENCH_RUNS ?? 5))));
}
