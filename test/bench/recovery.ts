// Recovery cost: running `true` in a generation through nixos-wsl-recovery
// (namespaces, mounts, no-op activation and tmpfiles, chroot) next to a bare
// `unshare` + `chroot` of the same root, and, when NIXOS_ENTER names a copy of
// nixpkgs' nixos-enter (kept out of this repository), next to that too.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { BINARY } from "../harness/paths.ts";
import { run, withBenchRoot } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface RecoveryFigures {
  readonly recoveryMs: number;
  readonly bareMs: number;
  /** nixos-enter --root ROOT --silent -- true, or null when NIXOS_ENTER is not set. */
  readonly nixosEnterMs: number | null;
}

export function benchRecovery(runs: number, nixosEnter = process.env.NIXOS_ENTER): RecoveryFigures {
  return withBenchRoot((fake) => {
    const entry = join(fake.root, "bin/nixos-wsl-recovery");
    execFileSync(BINARY, ["install-recovery", entry], { stdio: "ignore" });
    const recovery = [entry, "--root", fake.root, "--silent", "--", "/usr/bin/true"];
    const bare = ["unshare", "--mount", "--pid", "--fork", "chroot", fake.root, "/usr/bin/true"];
    const peer = nixosEnter ? [nixosEnter, "--root", fake.root, "--silent", "--", "/usr/bin/true"] : null;
    for (let i = 0; i < 3; i++) {
      run(recovery);
      if (peer) run(peer);
    }
    const withRecovery: number[] = [];
    const withBare: number[] = [];
    const withPeer: number[] = [];
    for (let i = 0; i < runs; i++) {
      withRecovery.push(run(recovery).ms);
      withBare.push(run(bare).ms);
      if (peer) withPeer.push(run(peer).ms);
    }
    return { recoveryMs: median(withRecovery), bareMs: median(withBare), nixosEnterMs: peer ? median(withPeer) : null };
  });
}
