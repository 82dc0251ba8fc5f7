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

/** Run a command to its end, stdin /dev/null; wall time and the peak RSS of its process tree. */
export function run(command: readonly string[]): Timed {
  const started = performance.now();
  const result = Bun.spawnSync([...command], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}): ${result.stderr.toString()}`);
  return { ms, maxRssKiB: Math.round(Number(result.resourceUsage.maxRSS) / 1024) };
}

/** Run a command to its end with stdin a socket, as a program piping into it gives (Bun.spawn's "pipe"); wall time. */
export async function runPiped(command: readonly string[]): Promise<number> {
  const started = performance.now();
  const child = Bun.spawn([...command], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
  await child.stdin.end();
  const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const ms = performance.now() - started;
  if (exitCode !== 0) throw new Error(`${command.join(" ")} failed (${exitCode}): ${stderr}`);
  return ms;
}

export function sh(script: string): void {
  const result = Bun.spawnSync(["sh", "-c", script], { stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error(`sh -c '${script}' failed (${result.exitCode})`);
}

export const STAND_IN_SYSTEMD = "/usr/bin/true";

/**
 * Compile floor.ts (bun's floor), or another of the bench's reference programs,
 * to `outfile`, built as the shim is (package.json's build), so that the two
 * differ only in what the program does.
 */
export function compileFloor(outfile: string, program = "floor.ts"): void {
  const source = join(import.meta.dir, program);
  const flags = ["--compile", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", "--minify", "--bytecode", "--compile-jit-policy=8", "--format=esm"];
  const result = Bun.spawnSync([process.execPath, "build", ...flags, source, "--outfile", outfile], { stdout: "ignore", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`compiling ${source} failed: ${result.stderr.toString()}`);
}

/** /etc/wsl.conf as NixOS-WSL renders its defaults (modules/wsl-conf.nix), with the boot budget this module sets. */
const REAL_WSL_CONF = `[automount]
enabled=true
ldconfig=false
mountFsTab=false
options=metadata,uid=1000,gid=100
root=/mnt

[boot]
initTimeout=10000
systemd=true

[interop]
appendWindowsPath=true
enabled=true

[network]
generateHosts=true
generateResolvConf=true
hostname=nixos

[user]
default=nixos
`;

/** /etc/nixos-wsl-init.json as nix/module.nix writes it with its defaults. */
const REAL_SETTINGS = {
  automountRoot: "/mnt/",
  bootAttempts: 2,
  defaultUser: "nixos",
  readinessTimeoutSeconds: 90,
  activationTimeoutSeconds: 120,
  loginSession: true,
  pamLibrary: "/nix/store/00000000000000000000000000000000-linux-pam-1.6.1/lib/libpam.so.0",
};

/**
 * A fake root whose generation 1 does nothing: `activate` is an empty script,
 * systemd and systemd-tmpfiles are /usr/bin/true. It is bound on itself (so "/"
 * is a mount point inside a chroot) with the host's /usr in it. Call only in a
 * private mount namespace (bench.ts runs in one).
 */
export function withBenchRoot<T>(use: (fake: FakeRoot) => T): T {
  const fake = makeFakeRoot({ generations: [{ number: 1 }] });
  const remove = () => {
    sh(`umount -R ${fake.root} 2>/dev/null || true`);
    fake.remove();
  };
  let removeNow = true;
  try {
    const generation = join(fake.root, fake.storePath(1));
    writeFileSync(join(generation, "activate"), "#!/bin/sh\n");
    for (const program of ["systemd/lib/systemd/systemd", "sw/bin/systemd-tmpfiles"]) {
      rmSync(join(generation, program));
      symlinkSync(STAND_IN_SYSTEMD, join(generation, program));
    }
    // What every real system has and the shim reads at each start: NixOS-WSL's wsl.conf and the module's settings.
    writeFileSync(join(fake.root, "etc/wsl.conf"), REAL_WSL_CONF);
    writeFileSync(join(fake.root, "etc/nixos-wsl-init.json"), JSON.stringify(REAL_SETTINGS));
    sh(`mount --bind ${fake.root} ${fake.root} && mount --bind -o ro /usr ${fake.root}/usr`);
    const result = use(fake);
    if (!(result instanceof Promise)) return result;
    // An asynchronous benchmark: the root goes when it is done.
    removeNow = false;
    return result.finally(remove) as T;
  } finally {
    if (removeNow) remove();
  }
}
