// Login-shell wrapper cost: `nixos-wsl-shell -c true` (wait check, config and
// passwd read, /etc/set-environment imported, real shell exec'd) next to
// starting the real shell, bash, directly the same way, and bun's floor in
// front of that bash, in a fake NixOS root.
import { chmodSync, copyFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY } from "../harness/paths.ts";
import { compileFloor, run, runPiped, sh, withBenchRoot } from "./benchRoot.ts";
import { median } from "./stats.ts";

export interface WrapperFigures {
  /** stdin /dev/null, as from a terminal: bash given -c imports /etc/set-environment itself. */
  readonly wrapperMs: number;
  /** stdin a socket (a program piping into it): bash would take itself for a remote shell, so the import runs in a bash of its own. */
  readonly pipedWrapperMs: number;
  /** bash -c true with stdin a socket, the same way. */
  readonly pipedDirectMs: number;
  readonly directMs: number;
  /** bun's floor in front of the same bash -c true. */
  readonly floorMs: number;
}

export async function benchWrapper(runs: number): Promise<WrapperFigures> {
  return withBenchRoot(async (fake) => {
    const { root } = fake;
    const system = fake.storePath(1);
    copyFileSync(BINARY, join(root, "sbin/nixos-wsl-init"));
    chmodSync(join(root, "sbin/nixos-wsl-init"), 0o755);
    symlinkSync("/sbin/nixos-wsl-init", join(root, system, "sw/bin/nixos-wsl-shell"));
    symlinkSync(system, join(root, "run/current-system"));
    writeFileSync(join(root, "etc/set-environment"), 'export __NIXOS_SET_ENVIRONMENT_DONE=1\nexport PATH="/run/current-system/sw/bin:$PATH"\nexport EDITOR=nano\n');
    writeFileSync(join(root, "etc/nixos-wsl-init.json"), JSON.stringify({ shells: { root: "/run/current-system/sw/bin/bash" } }));
    compileFloor(join(root, "sbin/bun-floor"));

    // The executable finds itself through /proc/self/exe (bench.ts runs in a private mount namespace).
    sh(`mount --rbind /proc ${root}/proc`);
    const wrapper = ["chroot", root, `${system}/sw/bin/nixos-wsl-shell`, "-c", "true"];
    const direct = ["chroot", root, "/run/current-system/sw/bin/bash", "-c", "true"];
    const floor = ["chroot", root, "/sbin/bun-floor", "/run/current-system/sw/bin/bash", "-c", "true"];
    for (let i = 0; i < 3; i++) run(wrapper); // warm the page cache
    const wrapped: number[] = [];
    const bare: number[] = [];
    const floored: number[] = [];
    const piped: number[] = [];
    const pipedBare: number[] = [];
    for (let i = 0; i < runs; i++) {
      wrapped.push(run(wrapper).ms);
      bare.push(run(direct).ms);
      floored.push(run(floor).ms);
      piped.push(await runPiped(wrapper));
      pipedBare.push(await runPiped(direct));
    }
    return {
      wrapperMs: median(wrapped),
      directMs: median(bare),
      floorMs: median(floored),
      pipedWrapperMs: median(piped),
      pipedDirectMs: median(pipedBare),
    };
  });
}
