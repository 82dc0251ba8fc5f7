// Native shim cost: from starting the shim (as PID 1 of a fresh PID and mount
// namespace, chrooted into a fake NixOS root) to the exec of a stand-in
// systemd, next to exec'ing that stand-in directly the same way.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { bless, type BootState, EMPTY_BOOT_STATE } from "../../src/bootAssessment.ts";
import { BOOT_STATE } from "../../src/bootState.ts";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import { dirname, join } from "node:path";
import { BINARY } from "../harness/paths.ts";
import { compileFloor, run, sh, withBenchRoot } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface NativeFigures {
  /** A start of a generation marked good: the steady state, where the boot state is not written. */
  readonly shimMs: number;
  /** A start that is counted: the generation not yet marked good, its state written and synced. */
  readonly countedShimMs: number;
  readonly directMs: number;
  /** A bun executable that does nothing but exec the stand-in: the runtime's own share. */
  readonly bunFloorMs: number;
  /** The least a bun /sbin/init can do (floorActivation.ts): the activation, its output to the kernel log, then the exec. */
  readonly leastShimMs: number;
  readonly shimPeakRssKiB: number;
  readonly binaryBytes: number;
}

export function benchNative(runs: number): NativeFigures {
  return withBenchRoot((fake) => {
    const { root } = fake;
    copyFileSync(BINARY, join(root, "sbin/init"));
    chmodSync(join(root, "sbin/init"), 0o755);
    compileFloor(join(root, "sbin/bun-floor"));
    compileFloor(join(root, "sbin/least-shim"), "floorActivation.ts");
    const standIn = `${fake.storePath(1)}/systemd/lib/systemd/systemd`;
    const activate = `${fake.storePath(1)}/activate`;
    // /dev/null stands in for /dev/kmsg, and for itself; /dev/shm is already a directory here.
    mkdirSync(join(root, "dev/shm"));
    writeFileSync(join(root, "dev/kmsg"), "");
    writeFileSync(join(root, "dev/null"), "");
    sh(`mount --bind /dev/null ${root}/dev/kmsg && mount --bind /dev/null ${root}/dev/null`);
    // WSL hands /sbin/init a tmpfs on /run, where the shim writes its boot record.
    sh(`mount -t tmpfs bench-run ${root}/run`);

    const inNamespace = (...argv: string[]) => ["unshare", "--mount", "--pid", "--fork", `--mount-proc=${root}/proc`, "chroot", root, ...argv];
    const shim: number[] = [];
    const direct: number[] = [];
    const floor: number[] = [];
    const least: number[] = [];
    const stateFile = join(root, BOOT_STATE);
    const setState = (state: BootState) => {
      mkdirSync(dirname(stateFile), { recursive: true });
      writeFileSync(stateFile, JSON.stringify(state));
    };
    for (let i = 0; i < 3; i++) run(inNamespace("/sbin/init")); // warm the page cache
    // The steady state first: a generation that booted before and was marked good.
    setState(bless(EMPTY_BOOT_STATE, fake.storePath(1)));
    for (let i = 0; i < runs; i++) {
      shim.push(run(inNamespace("/sbin/init")).ms);
      direct.push(run(inNamespace(standIn)).ms);
      floor.push(run(inNamespace("/sbin/bun-floor", standIn)).ms);
      least.push(run(inNamespace("/sbin/least-shim", activate, standIn)).ms);
    }
    // The first starts after a switch: each one counted, written and synced before systemd starts.
    const counted: number[] = [];
    for (let i = 0; i < runs; i++) {
      setState(EMPTY_BOOT_STATE);
      counted.push(run(inNamespace("/sbin/init")).ms);
    }
    // The shim's own peak RSS, from the boot record it left in the fake root's /run.
    const record = JSON.parse(readFileSync(join(root, "run/nixos-wsl/boot.json"), "utf8")) as BootRecord;
    return {
      shimMs: median(shim),
      countedShimMs: median(counted),
      directMs: median(direct),
      bunFloorMs: median(floor),
      leastShimMs: median(least),
      shimPeakRssKiB: record.peakRssKiB,
      binaryBytes: Bun.file(BINARY).size,
    };
  });
}
