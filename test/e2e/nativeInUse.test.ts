// The native shim against what a real boot throws at it: the kernel's own
// /dev/kmsg with its limits, stray signals during the activation, and an
// activation that hangs.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BootRecord } from "../../shim/native/bootRecord.ts";
import { Container } from "../harness/container.ts";
import { type FakeRootOptions, makeFakeRoot } from "../harness/fakeRoot.ts";
import { kernelLogMark, readKernelLog, runShimWithRealKmsg } from "../harness/kernelLog.ts";
import { requireBinary } from "../harness/paths.ts";
import { sleep, waitFor } from "../harness/proc.ts";
import { runCleanups } from "../harness/cleanups.ts";

requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

function fakeRoot(options: FakeRootOptions, settings?: object) {
  const root = makeFakeRoot(options);
  cleanups.push(() => root.remove());
  if (settings) writeFileSync(join(root.root, "etc/nixos-wsl-init.json"), JSON.stringify(settings));
  return root;
}

async function boot(options: FakeRootOptions, settings?: object) {
  const root = fakeRoot(options, settings);
  const container = await Container.boot(root.dir);
  cleanups.push(() => container.stop());
  return { root, container };
}

describe("native shim and the real kernel log", () => {
  it("keeps its own lines, the activation's many lines and a 4 KB line, all in the log", async () => {
    const token = `tok${process.pid}x${Date.now()}`;
    const chatty = [
      `i=0; while [ $i -lt 60 ]; do echo "${token} chatter $i"; i=$((i+1)); done`,
      `printf '${token} long %04000d\\n' 0`, // one write of over 4 KB
      "exit 3",
    ].join("\n");
    // A systemd that cannot be executed: the shim's last words, with the repair command, must reach the log.
    const root = fakeRoot({ generations: [{ number: 1, activate: chatty, systemdScript: "exit 0" }] });
    writeFileSync(join(root.storePath(1).replace(/^/, root.root), "systemd/lib/systemd/systemd"), "#!/no/such/interpreter\n");
    const mark = await kernelLogMark();
    const run = await runShimWithRealKmsg(root.root);
    expect(run.exitCode).not.toBe(0);
    const records = (await readKernelLog()).filter((record) => record.sequence > mark);
    const texts = records.map((record) => record.text);

    const chatter = texts.filter((text) => text.includes(`${token} chatter`));
    expect(chatter).toHaveLength(60);
    const long = texts.filter((text) => text.startsWith(`nixos-wsl-activate: `) && (text.includes(`${token} long`) || /^nixos-wsl-activate: 0+$/.test(text)));
    expect(long.join("").replace(/nixos-wsl-activate: /g, "")).toBe(`${token} long ${"0".repeat(4000)}`);
    for (const text of texts) expect(Buffer.byteLength(text)).toBeLessThan(1000);

    const shim = records.filter((record) => record.text.startsWith("nixos-wsl-init: "));
    expect(shim.find((r) => r.text.includes("native shim started as /sbin/init"))).toBeDefined();
    expect(shim.find((r) => r.text.startsWith("nixos-wsl-init: activation failed (exit code 3)"))?.level).toBe(3);
    expect(shim.find((r) => r.text.startsWith("nixos-wsl-init: starting /nix/store/"))).toBeDefined();
    expect(shim.find((r) => r.text.startsWith("nixos-wsl-init: could not start systemd"))?.level).toBe(3);
    expect(shim.find((r) => r.text.includes("Repair it from Windows with: wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery"))).toBeDefined();
  });
});

describe("native shim under stray signals", () => {
  it("survives every catchable signal during the activation, and boots systemd", async () => {
    // The activation lasts until the test has sent every signal (at most 20 s).
    const activate = "for i in $(seq 200); do [ -e /run/test-signals-sent ] && exit 0; sleep 0.1; done";
    const { container } = await boot({ generations: [{ number: 1, activate }] });
    const leader = await container.leader();
    // From outside (as WSL's init could) and from inside (a stray `kill 1`).
    await waitFor("the activation to start", 10_000, () => container.kmsg().includes("running /nix/store"));
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTSTP"] as const) {
      process.kill(leader, signal);
    }
    for (const signal of ["TERM", "INT", "HUP"]) await container.exec(["kill", `-${signal}`, "1"]);
    await container.exec(["touch", "/run/test-signals-sent"]);
    await sleep(200);
    expect(["running", "degraded"]).toContain(await container.systemState());
    expect(container.kmsg()).toMatch(/^<4>nixos-wsl-init: ignored SIGTERM: PID 1 must not die before systemd runs$/m);
    const record = JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord;
    expect(record.activation.exitCode).toBe(0);
  });
});

describe("native shim with an activation that hangs", () => {
  it("stops it at the deadline, names what it was stuck in, boots on, and says so in status", async () => {
    const { container } = await boot(
      { generations: [{ number: 1, activate: "echo about-to-hang; sleep 1000.5" }] },
      { activationTimeoutSeconds: 2 },
    );
    expect(["running", "degraded"]).toContain(await container.systemState(20_000));
    const kmsg = container.kmsg();
    expect(kmsg).toMatch(/^<3>nixos-wsl-init: the activation did not finish within 2 s; it is stuck in: sleep 1000\.5\. Stopping it/m);
    expect(kmsg).toContain("wsl.init.activationTimeout");
    const record = JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord;
    expect(record.activation).toMatchObject({ deadlineSeconds: 2, stuckIn: "sleep 1000.5", exitCode: null });
    expect(record.activation.durationMs).toBeLessThan(6000);
    const status = await container.exec(["bash", "-c", "exec -a nixos-wsl-init /sbin/init status"]);
    expect(status.stdout).toMatch(/^Activation: +STOPPED at its deadline of 2 s, stuck in: sleep 1000\.5/m);
    expect((await container.exec(["pgrep", "-f", "sleep 1000.5"])).stdout).toBe("");
  });

  it("waits forever when the deadline is 0", async () => {
    const { container } = await boot({ generations: [{ number: 1, activate: "sleep 3" }] }, { activationTimeoutSeconds: 0 });
    expect(["running", "degraded"]).toContain(await container.systemState());
    const record = JSON.parse(await container.readFile("/run/nixos-wsl/boot.json")) as BootRecord;
    expect(record.activation).toMatchObject({ deadlineSeconds: 0, stuckIn: null, exitCode: 0 });
  });
});
