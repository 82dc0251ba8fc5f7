// What every benchmark shares: a fake NixOS root with a no-op activation and
// /usr/bin/true standing in for systemd, mounted for use as a chroot, and a
// timed run of a command.
import { rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";

export interface Timed {
  readonly ms: number;
  readonly maxRssKiB: number;
}

/** Run a command to its end; wall time and the peak RSS of its process tree. */
export function run(command: readonly string[]): Timed {
  const started = performance.now();
  const result = Bun.spawnSync([...command], { stdout: "ignore", stderr: "pipe" });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}): ${result.stderr.toString()}`);
  return { ms, maxRssKiB: Math.round(Number(result.resourceUsage.maxRSS) / 1024) };
}

export function sh(script: string): void {
  const result = Bun.spawnSync(["sh", "-c", script], { stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`sh -c '${script}' failed (${result.exitCode})`);
}

export const STAND_IN_SYSTEMD = "/usr/bin/true";

/**
 * A fake root whose generation 1 does nothing: `activate` is an empty script,
 * systemd and systemd-tmpfiles are /usr/bin/true. It is bound on itself (so "/"
 * is a mount point inside a chroot) with the host's /usr in it. Call only in a
 * private mount namespace (bench.ts runs in one).
 */
export function withBenchRoot<T>(use: (fake: FakeRoot) => T): T {
  const fake = makeFakeRoot({ generations: [{ number: 1 }] });
  try {
    const generation = join(fake.root, fake.storePath(1));
    writeFileSync(join(generation, "activate"), "#!/bin/sh\n");
    for (const program of ["systemd/lib/systemd/systemd", "sw/bin/systemd-tmpfiles"]) {
      rmSync(join(generation, program));
      symlinkSync(STAND_IN_SYSTEMD, join(generation, program));
    }
    sh(`mount --bind ${fake.root} ${fake.root} && mount --bind -o ro /usr ${fake.root}/usr`);
    return use(fake);
  } finally {
    sh(`umount -R ${fake.root} 2>/dev/null || true`);
    fake.remove();
  }
}
