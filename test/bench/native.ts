// Native shim cost: from starting the shim (as PID 1 of a fresh PID and mount
// namespace, chrooted into a fake NixOS root) to the exec of a stand-in
// systemd, next to exec'ing that stand-in directly the same way.
import { chmodSync, copyFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeFakeRoot } from "../harness/fakeRoot.ts";
import { BINARY } from "../harness/paths.ts";
import { median } from "./stats.ts";

export interface NativeFigures {
  readonly shimMs: number;
  readonly directMs: number;
  /** A bun executable that does nothing but exec the stand-in: the runtime's own share. */
  readonly bunFloorMs: number;
  readonly shimPeakRssKiB: number;
  readonly directPeakRssKiB: number;
  readonly binaryBytes: number;
  readonly runs: number;
}

function run(command: string[]): { ms: number; maxRssKiB: number } {
  const started = performance.now();
  const result = Bun.spawnSync(command, { stdout: "ignore", stderr: "pipe" });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}): ${result.stderr.toString()}`);
  return { ms, maxRssKiB: Math.round(Number(result.resourceUsage.maxRSS) / 1024) };
}

function compileFloor(outfile: string): void {
  const source = join(import.meta.dir, "floor.ts");
  const result = Bun.spawnSync([process.execPath, "build", "--compile", "--bytecode", source, "--outfile", outfile], { stdout: "ignore", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`compiling ${source} failed: ${result.stderr.toString()}`);
}

/** Must run inside a private mount namespace (bench.ts arranges it). */
export function benchNative(runs: number, sh: (script: string) => void): NativeFigures {
  const fake = makeFakeRoot({ generations: [{ number: 1 }] });
  try {
    const { root } = fake;
    const generation = join(root, fake.storePath(1));
    writeFileSync(join(generation, "activate"), "#!/bin/sh\n");
    rmSync(join(generation, "systemd/lib/systemd/systemd"));
    symlinkSync("/usr/bin/true", join(generation, "systemd/lib/systemd/systemd"));
    copyFileSync(BINARY, join(root, "sbin/init"));
    chmodSync(join(root, "sbin/init"), 0o755);
    const standIn = `${fake.storePath(1)}/systemd/lib/systemd/systemd`;
    compileFloor(join(root, "sbin/bun-floor"));
    writeFileSync(join(root, "dev/kmsg"), "");
    writeFileSync(join(root, "dev/null"), "");
    // A mount point for "/" inside the chroot, the host's /usr for libc, and /dev/null standing in for /dev/kmsg.
    sh(`mount --bind ${root} ${root} && mount --bind -o ro /usr ${root}/usr && mount --bind /dev/null ${root}/dev/kmsg && mount --bind /dev/null ${root}/dev/null`);

    const inNamespace = (program: string) => ["unshare", "--mount", "--pid", "--fork", `--mount-proc=${root}/proc`, "chroot", root, program];
    const shim: number[] = [];
    const direct: number[] = [];
    const floor: number[] = [];
    let shimRss = 0;
    let directRss = 0;
    for (let i = 0; i < 3; i++) run(inNamespace("/sbin/init")); // warm the page cache
    for (let i = 0; i < runs; i++) {
      const a = run(inNamespace("/sbin/init"));
      const b = run(inNamespace(standIn));
      const c = run([...inNamespace("/sbin/bun-floor"), standIn]);
      shim.push(a.ms);
      direct.push(b.ms);
      floor.push(c.ms);
      shimRss = Math.max(shimRss, a.maxRssKiB);
      directRss = Math.max(directRss, b.maxRssKiB);
    }
    return {
      shimMs: median(shim),
      directMs: median(direct),
      bunFloorMs: median(floor),
      shimPeakRssKiB: shimRss,
      directPeakRssKiB: directRss,
      binaryBytes: Bun.file(BINARY).size,
      runs,
    };
  } finally {
    sh(`umount -R ${fake.root} 2>/dev/null || true`);
    fake.remove();
  }
}
