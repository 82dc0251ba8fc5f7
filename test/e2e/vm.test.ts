// The VM tier (test/harness/vm.ts): the executable on a kernel from before
// 6.7, as WSL 2's 5.15 and 6.6 are, booted under qemu. Both builds run there
// (npm's bun's `npm run build`, and the build made with a bun processed as
// nixpkgs processes it), and each boots as that kernel's PID 1 and writes its
// lines to the kernel's own /dev/kmsg, read back with dmesg inside the VM.
// Then legacy mode: WSL's init stays PID 1 and runs `syschdemd -c CMD`, which
// starts Debian's real systemd (copied in with its libraries) in namespaces
// of its own under that kernel's pure cgroup2 layout.
// Skipped, saying why, only where qemu or the kernel is missing outside CI;
// with CI set it fails instead.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { budgetAtStart } from "../../shim/wsl/budget.ts";
import { DEFAULT_SETTINGS } from "../../src/config.ts";
import { ACTIVATION_TAG, LOG_TAG } from "../../src/log.ts";
import { SUBGROUP } from "../../shim/legacy/cgroup.ts";
import type { CpioEntry } from "../harness/cpio.ts";
import { compileProject, nixpkgsProcessedBun } from "../harness/nixpkgsBun.ts";
import { requireBinary } from "../harness/paths.ts";
import { assertBooted, type Boot, BUSYBOX, bootVm, fhsGlibc, findKernel, hostPrograms, section, uniqueEntries, vmUnavailable, writeCpio } from "../harness/vm.ts";

const unavailable = await vmUnavailable();
if (unavailable !== null && !process.env.CI) console.warn(`SKIPPED: the VM tier (test/e2e/vm.test.ts): ${unavailable}`);
// In CI a missing qemu or kernel is a failure of its own, never a quiet skip.
if (unavailable !== null && process.env.CI) {
  it("the VM tier can run (CI is set)", () => {
    throw new Error(`${unavailable} (CI is set, so the VM tier fails instead of being skipped)`);
  });
}

const STORE = `/nix/store/${"v".repeat(32)}-nixos-system-vm-test-26.05`;
const SYSTEMD = `${STORE}/systemd/lib/systemd/systemd`;
const ACTIVATION_LINES = 24; // more than one /dev/kmsg handle's 10 records per 5 s
const EXECUTABLES = { "npm-built": "npm's bun (npm run build)", "nix-built": "a bun processed as nixpkgs does" } as const;
type Executable = keyof typeof EXECUTABLES;

// WSL's init, as far as the distro sees it (DESIGN.md): /proc, /sys, /dev,
// a tmpfs /run, /dev/shm a symlink to a tmpfs at /run/shm, cgroup2, and
// /sbin/init exec'd with argv ["/sbin/init"] and three variables. Before
// that it runs both executables, and puts the one the kernel command line
// names (nwi_init=, in init's environment) at /sbin/init. For the build
// Nix makes it removes /lib and /lib64 first: NixOS has no FHS loader.
const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/shm
mount -t tmpfs -o mode=1777,nosuid,nodev shm /run/shm
rm -rf /dev/shm
ln -s /run/shm /dev/shm
echo "==== versions begin"
for executable in npm-built nix-built; do
  out=$(/opt/$executable --version 2>&1); echo "$executable exit=$? $out"
done
echo "==== versions end"
# The login-shell wrapper on this kernel: bash given -c imports /etc/set-environment
# itself, from a file in memory (memfd_create without 6.3's MFD_NOEXEC_SEAL here).
echo "==== wrapper begin"
mkdir -p /run/wrapper-test/system/sw/bin /etc
ln -s /usr/bin/bash /run/wrapper-test/system/sw/bin/bash
ln -s /run/wrapper-test/system /run/current-system
printf '%s\\n' 'export __NIXOS_SET_ENVIRONMENT_DONE=1' 'export FROM_SET_ENVIRONMENT=yes' 'export IMPORTED_VIA="\${BASH_SOURCE[1]:-own}"' > /etc/set-environment
for executable in npm-built nix-built; do
  mkdir -p /run/wrapper-test/$executable
  ln -s /opt/$executable /run/wrapper-test/$executable/nixos-wsl-shell
  out=$(/run/wrapper-test/$executable/nixos-wsl-shell -c 'echo "$FROM_SET_ENVIRONMENT $IMPORTED_VIA \${BASH_ENV-unset}"' </dev/null 2>&1); echo "$executable exit=$? $out"
done
rm -r /run/current-system /etc/set-environment /run/wrapper-test
echo "==== wrapper end"
if [ "\${nwi_mode:-native}" = legacy ]; then
  # WSL without systemd: it stays PID 1 and starts root's login shell, syschdemd, with -c.
  ln /opt/$nwi_init /sbin/nixos-wsl-init
  ln -s nixos-wsl-init /sbin/syschdemd
  ln -sfn /lib/systemd/systemd ${SYSTEMD}
  echo "==== legacy begin"
  cd /root
  env -i HOME=/root USER=root LOGNAME=root SHELL=/sbin/syschdemd TERM=dumb PATH=/usr/local/bin:/usr/bin:/bin \
    /sbin/syschdemd -c 'echo "pid1=$(cat /proc/1/comm) uid=$(id -u) state=$(systemctl is-system-running)"; exit 7'
  echo "exit=$?"
  echo "==== legacy end"
  echo "==== legacy.json begin"; cat /run/nixos-wsl/legacy.json; echo; echo "==== legacy.json end"
  systemd=$(sed -n 's/^ *"pid": *\\([0-9]*\\),*$/\\1/p' /run/nixos-wsl/legacy.json)
  echo "==== systemd's cgroup begin"; cat /proc/$systemd/cgroup; echo "==== systemd's cgroup end"
  echo "==== systemd.log begin"; cat /run/nixos-wsl/systemd.log; echo "==== systemd.log end"
  echo "==== dmesg begin"; dmesg -r; echo "==== dmesg end"
  poweroff -f
fi
ln /opt/$nwi_init /sbin/init
[ "$nwi_init" = nix-built ] && rm -rf /lib /lib64
echo "==== wsl-init: exec /sbin/init ($nwi_init)"
exec env -i container=wsl container_host_id=windows container_host_version_id=10.0.26100.1 /sbin/init
`;

const ACTIVATE = `#!/bin/sh
export PATH=/bin:$PATH
echo "vm-activation: LANG=$LANG pid1=$(readlink /proc/1/exe)"
i=1
while [ $i -le ${ACTIVATION_LINES} ]; do echo "vm-activation: line $i of ${ACTIVATION_LINES}"; i=$((i + 1)); done
echo "vm-activation: a line on stderr" >&2
ln -sfn ${STORE} /run/current-system
`;

// The generation's systemd: shows what the shim left behind, then powers off.
const SYSTEMD_STANDIN = `#!/bin/sh
export PATH=/bin
echo "==== systemd begin"
echo "pid=$$"
echo "args=$*"
echo "container=$container"
echo "==== systemd end"
echo "==== mountinfo begin"; cat /proc/self/mountinfo; echo "==== mountinfo end"
echo "==== boot.json begin"; cat /run/nixos-wsl/boot.json; echo; echo "==== boot.json end"
echo "==== dmesg begin"; dmesg -r; echo "==== dmesg end"
poweroff -f
`;

/** For legacy mode: Debian's systemd and the tools the shim enters its namespaces with. */
const HOST_PROGRAMS = ["/lib/systemd/systemd", "/usr/bin/systemctl", "/usr/bin/nsenter", "/usr/bin/setpriv", "/usr/bin/unshare", "/usr/bin/bash"];

function initramfsEntries(glibcLib: string, executables: Record<Executable, string>, hostEntries: readonly CpioEntry[]): CpioEntry[] {
  const glibc = readdirSync(glibcLib);
  return uniqueEntries([
    { kind: "file", path: "/init", text: INIT, mode: 0o755 },
    { kind: "copy", path: "/bin/busybox", from: BUSYBOX, mode: 0o755 },
    { kind: "symlink", path: "/bin/sh", target: "busybox" },
    ...["/proc", "/sys", "/dev", "/run", "/sbin", "/root", "/var", "/mnt"].map((path) => ({ kind: "dir" as const, path })),
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    // The private glibc at the path the nixpkgs-processed build names, and at the FHS paths for npm's build.
    ...glibc.map((name) => ({ kind: "copy" as const, path: join(glibcLib, name), from: join(glibcLib, name) })),
    ...fhsGlibc(glibcLib, glibc),
    { kind: "copy", path: "/opt/npm-built", from: executables["npm-built"], mode: 0o755 },
    { kind: "copy", path: "/opt/nix-built", from: executables["nix-built"], mode: 0o755 },
    { kind: "file", path: "/etc/NIXOS", text: "" },
    { kind: "file", path: "/etc/os-release", text: 'NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS (fake, in a VM)"\n' },
    { kind: "file", path: "/etc/passwd", text: "root:x:0:0:System administrator:/root:/sbin/syschdemd\n" },
    { kind: "file", path: "/etc/group", text: "root:x:0:\n" },
    { kind: "file", path: "/etc/machine-id", text: "0123456789abcdef0123456789abcdef\n" },
    { kind: "file", path: "/etc/wsl.conf", text: "[boot]\nsystemd=true\n" },
    { kind: "file", path: `${STORE}/activate`, text: ACTIVATE, mode: 0o755 },
    { kind: "file", path: SYSTEMD, text: SYSTEMD_STANDIN, mode: 0o755 },
    { kind: "file", path: `${STORE}/nixos-version`, text: "26.05.1 (VM test)\n" },
    { kind: "file", path: `${STORE}/kernel-params`, text: "" },
    { kind: "dir", path: `${STORE}/sw/bin` },
    { kind: "symlink", path: "/nix/var/nix/profiles/system-1-link", target: STORE },
    { kind: "symlink", path: "/nix/var/nix/profiles/system", target: "system-1-link" },
    // Legacy mode: root's login shell is syschdemd, which runs root's real shell (the system's bash, here busybox's sh) in systemd's namespaces.
    { kind: "file", path: "/etc/nixos-wsl-init.json", text: JSON.stringify({ defaultUser: "root", loginSession: false, readinessTimeoutSeconds: 60 }) },
    { kind: "file", path: `${STORE}/sw/bin/bash`, text: '#!/bin/sh\nexec /bin/sh "$@"\n', mode: 0o755 },
    { kind: "file", path: "/etc/systemd/system/default.target", text: "[Unit]\nDescription=The VM test's whole system\n" },
    ...hostEntries,
  ]);
}

interface KernelRecord {
  readonly level: number;
  readonly text: string;
}

/** `dmesg -r` as busybox prints it: `<PRIORITY>[ SECONDS] TEXT`. */
function parseDmesg(text: string): KernelRecord[] {
  return text
    .split("\n")
    .map((line) => /^<(\d+)>(?:\[\s*[\d.]+\] )?(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ level: Number(match[1]) & 7, text: match[2]! }));
}

/** Every line the shim writes to the kernel log in this boot, in order (the activation's own lines apart). */
function expectedShimLines(): RegExp[] {
  const exact = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  return [
    exact(`${LOG_TAG}: native shim started as /sbin/init`),
    exact(`${LOG_TAG}: ${budgetAtStart(10_000)}`),
    exact(`${LOG_TAG}: /dev/shm is now a directory with its tmpfs, bound back to /run/shm`),
    exact(`${LOG_TAG}: running ${STORE}/activate; it is stopped at ${DEFAULT_SETTINGS.activationTimeoutSeconds} s (wsl.init.activationTimeout)`),
    new RegExp(`^${LOG_TAG}: activation finished in \\d+ ms$`),
    new RegExp(`^${LOG_TAG}: starting ${SYSTEMD} after [\\d.]+ ms$`),
  ];
}

function expectedActivationLines(): string[] {
  return [
    `${ACTIVATION_TAG}: vm-activation: LANG=C.UTF-8 pid1=/sbin/init`,
    ...Array.from({ length: ACTIVATION_LINES }, (_, i) => `${ACTIVATION_TAG}: vm-activation: line ${i + 1} of ${ACTIVATION_LINES}`),
    `${ACTIVATION_TAG}: vm-activation: a line on stderr`,
  ];
}

describe.skipIf(unavailable !== null)("the VM tier: Debian's 6.1 kernel under qemu", () => {
  let dir: string;
  let initramfs: string;
  let kernel: string;
  const boots = new Map<Executable, Promise<Boot>>();

  beforeAll(async () => {
    kernel = findKernel()!;
    dir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-vm-"));
    const processed = await nixpkgsProcessedBun();
    const nixBuilt = join(dir, "nix-built");
    compileProject(processed.bun, nixBuilt);
    initramfs = join(dir, "initramfs.cpio");
    writeCpio(initramfs, initramfsEntries(processed.glibcLib, { "npm-built": requireBinary(), "nix-built": nixBuilt }, await hostPrograms(HOST_PROGRAMS)));
  }, 180_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** One boot per executable as PID 1, shared by the tests that read it. */
  function boot(executable: Executable): Promise<Boot> {
    let run = boots.get(executable);
    if (!run) {
      run = bootVm(kernel, initramfs, `nwi_init=${executable}`).then((result) => {
        console.log(`VM boot with the ${executable} shim as PID 1: ${(result.ms / 1000).toFixed(1)} s`);
        return result;
      });
      boots.set(executable, run);
    }
    return run;
  }

  it("legacy mode: syschdemd -c starts systemd in namespaces of its own under that kernel's cgroup2, and the command's exit code comes back", async () => {
    const run = await bootVm(kernel, initramfs, "nwi_init=nix-built nwi_mode=legacy");
    console.log(`VM boot in legacy mode: ${(run.ms / 1000).toFixed(1)} s`);
    const output = run.console;
    assertBooted(run, "booting the VM in legacy mode (nwi_mode=legacy)");
    const legacy = section(output, "legacy");
    expect(legacy, output).not.toBeNull();
    // The command ran inside, where systemd is PID 1 and running, and its exit code came back.
    expect(legacy!.trim().split("\n").slice(-2), output).toEqual(["pid1=systemd uid=0 state=running", "exit=7"]);
    const record = JSON.parse(section(output, "legacy.json") ?? "null");
    expect(record, output).toMatchObject({ system: STORE, phase: "running", cgroupNamespace: true });
    // Pure cgroup2 (no name=systemd, as modern WSL 2 has it): systemd's tree is rooted in legacy mode's
    // sub-cgroup (its cgroup namespace), where it put itself in init.scope as on a machine of its own.
    expect(section(output, "systemd's cgroup")?.trim(), output).toBe(`0::/${SUBGROUP}/init.scope`);
    // The activation ran first and reached the kernel log.
    const records = parseDmesg(section(output, "dmesg") ?? "").map((entry) => entry.text);
    expect(records.filter((text) => text.startsWith(`${ACTIVATION_TAG}: `)).sort()).toEqual(expectedActivationLines().map((line) => line.replace("pid1=/sbin/init", "pid1=/bin/busybox")).sort());
  }, 150_000);

  describe.each(Object.entries(EXECUTABLES) as Array<[Executable, string]>)("%s: the project compiled with %s", (executable) => {
    it("runs on that kernel (--version), as does the other build", async () => {
      const run = await boot(executable);
      assertBooted(run, `booting the VM with the ${executable} shim as /sbin/init`);
      const output = run.console;
      const versions = section(output, "versions");
      expect(versions, output).not.toBeNull();
      expect(versions!.trim().split("\n")).toEqual(["npm-built exit=0 nixos-wsl-init 0.1.0", "nix-built exit=0 nixos-wsl-init 0.1.0"]);
    }, 150_000);

    it("as the login-shell wrapper, has bash import /etc/set-environment itself on that kernel, leaving nothing of it to the command", async () => {
      const run = await boot(executable);
      assertBooted(run, `booting the VM with the ${executable} shim as /sbin/init`);
      const wrapper = section(run.console, "wrapper");
      expect(wrapper, run.console).not.toBeNull();
      const line = wrapper!.trim().split("\n").find((text) => text.startsWith(`${executable} `));
      expect(line, run.console).toMatch(new RegExp(`^${executable} exit=0 yes /proc/self/fd/\\d+ unset$`));
    }, 150_000);

    it("boots as PID 1, and every line it wrote is in the kernel's own log", async () => {
      const run = await boot(executable);
      assertBooted(run, `booting the VM with the ${executable} shim as /sbin/init`);
      const output = run.console;
      // The shim became the generation's systemd: the same PID 1, WSL's environment kept, systemd's arguments.
      const systemd = section(output, "systemd");
      expect(systemd, output).not.toBeNull();
      expect(systemd!.trim().split("\n")).toEqual(["pid=1", "args=--log-target=kmsg", "container=wsl"]);

      const records = parseDmesg(section(output, "dmesg") ?? "");
      expect(records.length, output).toBeGreaterThan(50); // the kernel's own boot messages are there too
      const shim = records.filter((record) => record.text.startsWith(`${LOG_TAG}: `));
      const expected = expectedShimLines();
      expect(shim.map((record) => record.text), output).toHaveLength(expected.length);
      shim.forEach((record, i) => expect(record.text).toMatch(expected[i]!));
      expect(shim.every((record) => record.level === 6)).toBe(true);
      const activation = records.filter((record) => record.text.startsWith(`${ACTIVATION_TAG}: `)).map((record) => record.text);
      // stdout's lines in order; the stderr line wherever it came in.
      expect([...activation].sort()).toEqual([...expectedActivationLines()].sort());
      expect(activation.filter((line) => !line.includes("on stderr"))).toEqual(expectedActivationLines().filter((line) => !line.includes("on stderr")));
      // Nothing fell back to stderr (the console) for want of /dev/kmsg.
      expect(output).not.toMatch(new RegExp(`^(${LOG_TAG}|${ACTIVATION_TAG}): (info|warning|error): `, "m"));

      // What it did, from the boot record and the mount table.
      const record = JSON.parse(section(output, "boot.json") ?? "null");
      expect(record).toMatchObject({ generation: { number: 1, storePath: STORE }, warnings: [], systemd: [SYSTEMD, "--log-target=kmsg"] });
      expect(record.activation.exitCode).toBe(0);
      const mounts = (section(output, "mountinfo") ?? "").trim().split("\n").map((line) => line.split(" "));
      const at = (point: string) => mounts.find((fields) => fields[4] === point);
      expect(at("/nix/store")?.[5], "/nix/store bound read-only").toMatch(/^ro\b/);
      expect(at("/dev/shm"), "/dev/shm a mount of its own").toBeDefined();
      expect(mounts.filter((fields) => fields[4] === "/").every((fields) => fields.slice(6).some((field) => field.startsWith("shared:"))), "/ shared").toBe(true);
    }, 150_000);
  });
});
