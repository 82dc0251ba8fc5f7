// The native shim booting fake NixOS roots in systemd-nspawn with real systemd.
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import { Container } from "../harness/container.ts";
import { type FakeRoot, type FakeRootOptions, makeFakeRoot } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { mountAt, mountsOf } from "../harness/proc.ts";
import { runCleanups } from "../harness/cleanups.ts";

const BINARY = requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

async function boot(options: FakeRootOptions, initArgs: string[] = []): Promise<{ root: FakeRoot; container: Container }> {
  const root = makeFakeRoot(options);
  cleanups.push(() => root.remove());
  const container = await Container.boot(root.dir, { initArgs });
  cleanups.push(() => container.stop());
  return { root, container };
}

async function bootRecord(container: Container): Promise<BootRecord> {
  return JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord;
}

/** `nixos-wsl-init status` run inside, under the name a person would use. */
function statusInside(container: Container, ...args: string[]) {
  return container.exec(["bash", "-c", 'exec -a nixos-wsl-init /sbin/init status "$@"', "bash", ...args]);
}

function proofOf(text: string): Record<string, string> {
  return Object.fromEntries(text.trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
}

describe("native shim as /sbin/init", () => {
  it("boots real systemd after activation, with the mounts WSL gets wrong repaired", async () => {
    const { root, container } = await boot({ generations: [{ number: 1 }, { number: 2 }] }, ["--show-status=false"]);

    expect(["running", "degraded"]).toContain(await container.systemState());
    const leader = await container.leader();
    expect(readFileSync(`/proc/${leader}/comm`, "utf8").trim()).toBe("systemd");
    // argv[0] kept, --log-target=kmsg added, WSL's arguments passed on.
    expect(await container.cmdline(leader)).toEqual(["/sbin/init", "--log-target=kmsg", "--show-status=false"]);

    // Activation ran with LANG=C.UTF-8 while PID 1 was still the shim, i.e. before systemd.
    const proof = proofOf(await container.readFile("/run/activation-proof"));
    expect(proof.generation).toBe("2");
    expect(proof.lang).toBe("C.UTF-8");
    expect(proof.pid1).toBe("/sbin/init");
    expect(await container.exec(["readlink", "/run/current-system"])).toMatchObject({ stdout: root.storePath(2) });

    // Its output, the shim's steps and systemd's own messages reached /dev/kmsg.
    const kmsg = container.kmsg();
    expect(kmsg).toContain("fake-activation: generation 2 activating with LANG=C.UTF-8");
    expect(kmsg).toMatch(/^<6>nixos-wsl-init: native shim started as \/sbin\/init$/m);
    expect(kmsg).toMatch(/^<6>nixos-wsl-init: starting \/nix\/store\/\S+\.2\/systemd\/lib\/systemd\/systemd after/m);
    expect(kmsg).toMatch(/systemd\[1\]: /);

    const mounts = mountsOf(leader);
    const store = mountAt(mounts, "/nix/store");
    expect(store?.options).toContain("ro");
    const rootMount = mountAt(mounts, "/");
    expect(rootMount?.options).toContain("rw");
    expect(rootMount?.propagation.some((field) => field.startsWith("shared:"))).toBe(true);
    expect(await container.exec(["touch", "/writable-root"])).toMatchObject({ exitCode: 0 });
    expect(await container.exec(["touch", `${root.storePath(2)}/x`])).toMatchObject({ exitCode: 1 });

    // /dev/shm: a directory now, carrying the tmpfs WSL had mounted at /run/shm, which is bound back.
    expect(lstatSync(`/proc/${leader}/root/dev/shm`).isDirectory()).toBe(true);
    const devShm = mountAt(mounts, "/dev/shm");
    const runShm = mountAt(mounts, "/run/shm");
    expect(devShm).toMatchObject({ fsType: "tmpfs", source: "wsl-shm" });
    expect(runShm?.device).toBe(devShm?.device);
    expect(await container.readFile("/dev/shm/wsl-marker")).toContain("WSL stand-in");

    const record = await bootRecord(container);
    expect(record).toMatchObject({
      generation: { number: 2, link: "/nix/var/nix/profiles/system", storePath: root.storePath(2) },
      fallbackReason: null,
      activation: { exitCode: 0, signal: null, error: null },
      systemd: [`${root.storePath(2)}/systemd/lib/systemd/systemd`, "--log-target=kmsg", "--show-status=false"],
      warnings: [],
    });
    expect(record.shimMs).toBeGreaterThan(0);
    expect(record.peakRssKiB).toBeGreaterThan(1024);

    const status = await statusInside(container);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(`System:      generation 2 (${root.storePath(2)})`);
    expect(status.stdout).toMatch(/^Fallback: +no/m);
    expect(status.stdout).toMatch(/^Assessment: +(started 1 time without being marked good|good \(blessed\))/m);
    const json = await statusInside(container, "--json");
    const { assessmentNow, ...recordShown } = JSON.parse(json.stdout) as BootRecord & { assessmentNow: object };
    expect(recordShown).toEqual(record);
    expect(assessmentNow).toMatchObject({ attempts: 2, bootOnce: null });
    expect(record).toMatchObject({ chosenBy: "default", assessment: { tries: 1, blessed: false, attempts: 2 } });
  });

  it("boots on when activation fails, and says so in the record and the kernel log", async () => {
    const { container } = await boot({ generations: [{ number: 1, activate: "echo 'cannot build /etc' >&2; exit 3" }] });
    expect(["running", "degraded"]).toContain(await container.systemState());
    const record = await bootRecord(container);
    expect(record.activation).toMatchObject({ exitCode: 3, error: null });
    expect(container.kmsg()).toContain("cannot build /etc");
    expect(container.kmsg()).toMatch(/^<3>nixos-wsl-init: activation failed \(exit code 3\); booting on/m);
    const status = await statusInside(container);
    expect(status.stdout).toMatch(/^Activation: +FAILED with exit code 3 after/m);
  });

  it("boots the newest older generation when the default one has no systemd, and says why", async () => {
    const { root, container } = await boot({
      generations: [{ number: 1 }, { number: 2 }, { number: 3, systemd: false }],
    });
    expect(["running", "degraded"]).toContain(await container.systemState());
    const record = await bootRecord(container);
    expect(record.generation).toEqual({ number: 2, link: "/nix/var/nix/profiles/system-2-link", storePath: root.storePath(2) });
    expect(record.fallbackReason).toBe("/nix/var/nix/profiles/system/systemd/lib/systemd/systemd is missing");
    expect(proofOf(await container.readFile("/run/activation-proof")).generation).toBe("2");
    expect(container.kmsg()).toMatch(/^<3>nixos-wsl-init: FALLING BACK to \/nix\/var\/nix\/profiles\/system-2-link/m);
    const status = await statusInside(container);
    expect(status.stdout).toMatch(/^Fallback: +YES, the default generation could not boot: .*systemd is missing$/m);
  });

  it("with no bootable generation, exits non-zero and names the recovery command", async () => {
    const root = makeFakeRoot({ generations: [{ number: 1, activate: null }, { number: 2, systemd: false }] });
    cleanups.push(() => root.remove());
    const container = await Container.boot(root.dir);
    cleanups.push(() => container.stop());
    const { exitCode, output } = await container.exited();
    expect(exitCode).not.toBe(0);
    for (const text of [container.kmsg(), output]) {
      expect(text).toContain("no bootable NixOS generation");
      expect(text).toContain("/nix/var/nix/profiles/system-1-link/activate is missing");
      expect(text).toContain("wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery");
    }
  });

  it("waits for an activation that takes several seconds", async () => {
    const { container } = await boot({ generations: [{ number: 1, activate: "sleep 3; echo slow-activation-done" }] });
    expect(["running", "degraded"]).toContain(await container.systemState());
    const record = await bootRecord(container);
    expect(record.activation.exitCode).toBe(0);
    expect(record.activation.durationMs).toBeGreaterThanOrEqual(3000);
    expect(container.kmsg().indexOf("slow-activation-done")).toBeLessThan(container.kmsg().indexOf("starting /nix/store"));
  });

  it("logs to stderr when /dev/kmsg cannot be opened", async () => {
    const root = makeFakeRoot({ generations: [{ number: 1 }] });
    cleanups.push(() => root.remove());
    const container = await Container.boot(root.dir, { kmsg: false });
    cleanups.push(() => container.stop());
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(container.output()).toContain("nixos-wsl-init: info: native shim started as /sbin/init");
    expect(container.output()).toContain("fake-activation: generation 1 activating with LANG=C.UTF-8");
  });
});

describe("native shim started by hand", () => {
  it("refuses when it is not PID 1 and changes no mount", async () => {
    // In a private mount namespace, so that even a faulty shim could not touch the host's mounts.
    const script = `
      cat /proc/self/mountinfo > "$1/before"
      (exec -a systemd-shim "$2" --log-level=debug) > "$1/out-role" 2>&1; echo $? > "$1/rc-role"
      "$2" shim > "$1/out-subcommand" 2>&1; echo $? > "$1/rc-subcommand"
      cat /proc/self/mountinfo > "$1/after"`;
    const dir = mkdtempSync(join(tmpdir(), "nixos-wsl-init-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const result = await execa("unshare", ["--mount", "--propagation", "private", "bash", "-c", script, "bash", dir, BINARY]);
    expect(result.exitCode).toBe(0);
    expect(readFileSync(`${dir}/after`, "utf8")).toBe(readFileSync(`${dir}/before`, "utf8"));
    for (const form of ["role", "subcommand"]) {
      expect(readFileSync(`${dir}/rc-${form}`, "utf8").trim()).toBe("3");
      const out = readFileSync(`${dir}/out-${form}`, "utf8");
      expect(out).toMatch(/must run as PID 1 .*; here it is PID \d+/);
      expect(out).toContain("Refusing to touch any mount");
    }
  });
});
