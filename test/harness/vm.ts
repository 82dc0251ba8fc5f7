// The VM tier: Debian's 6.1 cloud kernel (from before 6.7's change to the ELF
// loader, like WSL 2's 5.15 and 6.6) booted under qemu's TCG emulation with an
// initramfs holding a fake NixOS root. Its /init plays WSL's init and execs
// /sbin/init, the shim, as the kernel's PID 1; the generation's "systemd" is a
// busybox script that prints what the test checks (dmesg among it) between
// markers on the serial console and powers the machine off.
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { type CpioEntry, writeCpio } from "./cpio.ts";

/** Where .ci/setup unpacks the kernel package (NIXOS_WSL_INIT_KERNEL_CACHE there and here). */
export const KERNEL_CACHE = process.env.NIXOS_WSL_INIT_KERNEL_CACHE ?? "/var/cache/nixos-wsl-init-tests/kernel";
export const QEMU = "qemu-system-x86_64";
export const BUSYBOX = "/bin/busybox";

/** The 6.1 kernel to boot: NIXOS_WSL_INIT_VM_KERNEL, else the newest vmlinuz-6.1.* in the cache. */
export function findKernel(): string | null {
  if (process.env.NIXOS_WSL_INIT_VM_KERNEL) return process.env.NIXOS_WSL_INIT_VM_KERNEL;
  const boot = join(KERNEL_CACHE, "boot");
  if (!existsSync(boot)) return null;
  const kernels = readdirSync(boot)
    .filter((name) => name.startsWith("vmlinuz-6.1."))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return kernels.length > 0 ? join(boot, kernels.at(-1)!) : null;
}

async function onPath(program: string): Promise<boolean> {
  return (await execa("sh", ["-c", `command -v ${program}`], { reject: false })).exitCode === 0;
}

/** Why the VM tier cannot run here (with what to do), or null when it can. */
export async function vmUnavailable(): Promise<string | null> {
  const missing: string[] = [];
  if (!(await onPath(QEMU))) missing.push(`${QEMU} (Debian package qemu-system-x86)`);
  if (!findKernel()) missing.push(`Debian's 6.1 cloud kernel in ${KERNEL_CACHE}/boot (or NIXOS_WSL_INIT_VM_KERNEL)`);
  if (!existsSync(BUSYBOX)) missing.push(`${BUSYBOX} (Debian package busybox-static)`);
  if (missing.length === 0) return null;
  return `the VM tier needs ${missing.join(", ")}: run 'bash .ci/setup' as root, which installs them and unpacks the kernel`;
}

/** The text between `==== NAME begin` and `==== NAME end` on the console, or null when the VM never printed it. */
export function section(console: string, name: string): string | null {
  const begin = console.indexOf(`==== ${name} begin\n`);
  if (begin === -1) return null;
  const start = begin + `==== ${name} begin\n`.length;
  const end = console.indexOf(`==== ${name} end`, start);
  return end === -1 ? null : console.slice(start, end);
}

export interface Boot {
  /** The serial console, line endings made plain. */
  readonly console: string;
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  /** Why qemu could not be started at all, or null. */
  readonly startError: string | null;
  readonly timeoutMs: number;
  readonly ms: number;
}

/**
 * Throw, saying the step, the cause and what to do, unless the VM booted and
 * powered itself off (what the generation's "systemd", or legacy mode's /init,
 * does once it has printed everything). The console goes with the error.
 */
export function assertBooted(boot: Boot, what: string): void {
  let problem: string | null = null;
  const panic = /Kernel panic - not syncing: (.*)/.exec(boot.console);
  if (boot.startError !== null) problem = `${QEMU} could not start (${boot.startError}): install Debian package qemu-system-x86 ('bash .ci/setup' does)`;
  else if (boot.timedOut) problem = `the VM did not power off within ${boot.timeoutMs / 1000} s and was killed: the console below shows where it stopped`;
  else if (panic) problem = `the kernel panicked (${panic[1]}), so PID 1 died or could not start: the console below shows its last words`;
  else if (!boot.console.includes("reboot: Power down")) problem = `qemu ended (exit ${boot.exitCode}) without the VM powering off: the console below says why`;
  if (problem !== null) throw new Error(`${what}: ${problem}\n--- console ---\n${boot.console}`);
}

/**
 * Boot the kernel with an initramfs and a kernel command line (console and
 * panic handling come first; `extra` goes after). qemu runs in the
 * foreground and is killed by its PID at the timeout.
 */
export async function bootVm(kernel: string, initramfs: string, extra: string, timeoutMs = 120_000): Promise<Boot> {
  const started = performance.now();
  const args = [
    ...["-accel", "tcg", "-cpu", "max", "-m", "1G", "-smp", "1"],
    ...["-nographic", "-no-reboot", "-nic", "none"],
    ...["-kernel", kernel, "-initrd", initramfs],
    ...["-append", `console=ttyS0 panic=-1 quiet ${extra}`.trim()],
  ];
  const run = await execa(QEMU, args, { reject: false, timeout: timeoutMs, stdin: "ignore", all: true, killSignal: "SIGKILL" });
  const startError = run.exitCode === undefined && !run.timedOut ? (run.cause instanceof Error ? run.cause.message : (run.shortMessage ?? "no reason given")) : null;
  return { console: (run.all ?? "").replace(/\r\n?/g, "\n"), exitCode: run.exitCode, timedOut: run.timedOut, startError, timeoutMs, ms: performance.now() - started };
}

/** The libraries every glibc program here needs (the same files bun's ldd lists), at the FHS paths. */
export function fhsGlibc(glibcLib: string, names: readonly string[]): CpioEntry[] {
  return names.map((name) =>
    name.startsWith("ld-linux")
      ? { kind: "copy" as const, path: `/lib64/${name}`, from: join(glibcLib, name), mode: 0o755 }
      : { kind: "copy" as const, path: `/lib/x86_64-linux-gnu/${name}`, from: join(glibcLib, name) },
  );
}

/**
 * Host programs (real systemd, util-linux tools) for the VM's root: each at
 * its own path, with every library `ldd` lists for it at the path ldd names
 * (the contents of the real file behind a link).
 */
export async function hostPrograms(programs: readonly string[]): Promise<CpioEntry[]> {
  const entries = new Map<string, CpioEntry>();
  for (const program of programs) {
    if (!existsSync(program)) throw new Error(`the VM's root: ${program} is missing on this machine: run 'bash .ci/setup' as root`);
    entries.set(program, { kind: "copy", path: program, from: realpathSync(program), mode: 0o755 });
    const ldd = await execa("ldd", [program], { reject: false });
    if (ldd.exitCode !== 0) throw new Error(`the VM's root: ldd ${program} failed: ${ldd.stderr}`);
    for (const line of ldd.stdout.split("\n")) {
      const library = /=> (\/\S+) \(/.exec(line)?.[1] ?? /^\s*(\/\S+) \(/.exec(line)?.[1];
      if (library) entries.set(library, { kind: "copy", path: library, from: realpathSync(library) });
    }
  }
  return [...entries.values()];
}

/** The entries with each path once: the first wins. */
export function uniqueEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const path = entry.path.replace(/^\/+/, "");
    if (seen.has(path)) return false;
    seen.add(path);
    return true;
  });
}

export { writeCpio };
