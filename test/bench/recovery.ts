// Recovery cost: running `true` in a generation through nixos-wsl-recovery
// (namespaces, mounts, no-op activation and tmpfiles, chroot) next to a bare
// `unshare` + `chroot` of the same root.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { BINARY } from "../harness/paths.ts";
import { run, withBenchRoot } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface RecoveryFigures {
  readonly recoveryMs: number;
  readonly bareMs: number;
}

export function benchRecovery(runs: number): RecoveryFigures {
  return withBenchRoot((fake) => {
    const entry = join(fake.root, "bin/nixos-wsl-recovery");
    execFileSync(BINARY, ["install-recovery", entry], { stdio: "ignore" });
    const recovery = [entry, "--root", fake.root, "--silent", "--", "/usr/bin/true"];
    const bare = ["unshare", "--mount", "--pid", "--fork", "chroot", fake.root, "/usr/bin/true"];
    for (let i = 0; i < 3; i++) run(recovery);
    const withRecovery: number[] = [];
    const withBare: number[] = [];
    for (let i = 0; i < runs; i++) {
      withRecovery.push(run(recovery).ms);
      withBare.push(run(bare).ms);
    }
    return { recoveryMs: median(withRecovery), bareMs: median(withBare) };
  });
}
