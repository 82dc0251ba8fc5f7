// Login-shell wrapper cost: `nixos-wsl-shell -c true` (wait check, config and
// passwd read, /etc/set-environment imported, real shell exec'd) next to
// starting the real shell, bash, directly the same way, in a fake NixOS root.
import { chmodSync, copyFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../harness/paths.ts";
import { run, sh, withBenchRoot } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface WrapperFigures {
  readonly wrapperMs: number;
  readonly directMs: number;
}

export function benchWrapper(runs: number): WrapperFigures {
  return withBenchRoot((fake) => {
    const { root } = fake;
    const system = fake.storePath(1);
    copyFileSync(BINARY, join(root, "sbin/nixos-wsl-init"));
    chmodSync(join(root, "sbin/nixos-wsl-init"), 0o755);
    symlinkSync("/sbin/nixos-wsl-init", join(root, system, "sw/bin/nixos-wsl-shell"));
    symlinkSync(system, join(root, "run/current-system"));
    writeFileSync(join(root, "etc/set-environment"), 'export __NIXOS_SET_ENVIRONMENT_DONE=1\nexport PATH="/run/current-system/sw/bin:$PATH"\nexport EDITOR=nano\n');
    writeFileSync(join(root, "etc/nixos-wsl-init.json"), JSON.stringify({ shells: { root: "/run/current-system/sw/bin/bash" } }));

    // The executable finds itself through /proc/self/exe (bench.ts runs in a private mount namespace).
    sh(`mount --rbind /proc ${root}/proc`);
    const wrapper = ["chroot", root, `${system}/sw/bin/nixos-wsl-shell`, "-c", "true"];
    const direct = ["chroot", root, "/run/current-system/sw/bin/bash", "-c", "true"];
    for (let i = 0; i < 3; i++) run(wrapper); // warm the page cache
    const wrapped: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      wrapped.push(run(wrapper).ms);
      bare.push(run(direct).ms);
    }
    return { wrapperMs: median(wrapped), directMs: median(bare) };
  });
}
