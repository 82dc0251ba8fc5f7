// `npm run demo`: the project's jobs on sample NixOS roots, with real systemd.
// 1. native: boot a root with the compiled shim as /sbin/init under
//    systemd-nspawn (standing in for WSL), and look inside;
// 2. legacy: a root on "old WSL" (no systemd), entered through syschdemd;
// 3. recovery: list and enter the generations of a root from the "system
//    distribution" (this host, in a private mount namespace).
// Everything is stopped and removed again.
import { join } from "node:path";
import { execa } from "execa";
import { Container } from "./harness/container.ts";
import { makeFakeRoot } from "./harness/fakeRoot.ts";
import { bootLegacyDistro, runLoginShell } from "./harness/legacy.ts";
import { requireBinary } from "./harness/paths.ts";
import { runFromSystemDistro } from "./harness/systemDistro.ts";

function show(title: string, text: string): void {
  console.log(`\n== ${title}\n${text.trimEnd()}`);
}

const binary = requireBinary();

async function nativeBoot(): Promise<void> {
  const sample = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
  let container: Container | undefined;
  try {
    console.log(`\n# 1. Native boot: sample root with generations 1 and 2 (default 2) in ${sample.root}`);
    console.log("systemd-nspawn -> WSL stand-in -> /sbin/init (nixos-wsl-init) -> systemd");
    const started = performance.now();
    container = await Container.boot(sample.dir, { initArgs: ["--show-status=false"] });
    const state = await container.systemState();
    show(`systemctl is-system-running (after ${((performance.now() - started) / 1000).toFixed(2)} s)`, state);
    const status = await container.exec(["bash", "-c", "exec -a nixos-wsl-init /sbin/init status"]);
    show("nixos-wsl-init status, inside", status.stdout || status.stderr);
    show("PID 1, inside", (await container.exec(["ps", "-o", "pid,args", "-p", "1"])).stdout);
    const lines = container.kmsg().split("\n").filter((line) => line.includes("nixos-wsl-init:") || line.includes("fake-activation"));
    show("The shim's lines in the kernel log", lines.join("\n"));
  } finally {
    await container?.stop();
    sample.remove();
  }
}

async function legacyShell(): Promise<void> {
  console.log("\n# 2. Legacy mode: old WSL runs root's login shell, syschdemd, with no systemd");
  const distro = await bootLegacyDistro();
  try {
    const started = performance.now();
    const first = await runLoginShell(distro.container, { args: ["-c", "echo \"$(id -un) in $PWD; PID 1 is $(cat /proc/1/comm), $(systemctl is-system-running)\""] });
    show(`syschdemd -c '…' (first shell, starts systemd: ${(performance.now() - started).toFixed(0)} ms)`, first.stdout + first.stderr);
    const again = performance.now();
    const second = await runLoginShell(distro.container, { args: ["-c", "exit 7"] });
    show(`syschdemd -c 'exit 7' (systemd already up: ${(performance.now() - again).toFixed(0)} ms)`, `exit code ${second.exitCode}`);
  } finally {
    await distro.container.stop();
    distro.fake.remove();
  }
}

async function recovery(): Promise<void> {
  console.log("\n# 3. Recovery: wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery");
  const distro = makeFakeRoot({ generations: [{ number: 41 }, { number: 42 }] });
  try {
    await execa(binary, ["install-recovery", join(distro.root, "bin/nixos-wsl-recovery")]);
    show("nixos-wsl-recovery --list", (await runFromSystemDistro(distro.root, ["--list"])).stdout);
    const entered = await runFromSystemDistro(distro.root, ["--generation", "41", "--silent", "-c", "echo current-system=$(readlink /run/current-system); cat /run/activation-proof"]);
    show("nixos-wsl-recovery --generation 41 -c '…'", entered.stdout);
    show("nixos-wsl-recovery --rollback --previous", (await runFromSystemDistro(distro.root, ["--rollback", "--previous"])).stdout);
  } finally {
    distro.remove();
  }
}

await nativeBoot();
await legacyShell();
await recovery();
console.log("\nStopped every container and removed every sample root.");
