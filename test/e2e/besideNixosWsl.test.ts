// Beside NixOS-WSL (issue #19): its modules give every user, root too, a copy
// of its shell-wrapper as login shell (a directory whose `shell` link names
// the real shell), and that wrapper waits for /run/current-system without a
// time limit. Here with a stand-in of that wrapper (harness/nixosWsl.ts), real
// systemd and the compiled executable: legacy mode's root shell through it,
// and a boot whose activation is stopped at its deadline.
import { chownSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { runCleanups } from "../harness/cleanups.ts";
import { makeFakeRoot, storeName } from "../harness/fakeRoot.ts";
import { inSystemd, maskContainerFailures, WSL_LIKE_ENV } from "../harness/legacy.ts";
import { legacyDistroPerTest } from "../harness/legacyDistros.ts";
import { allowRootSwitchUser, setLoginShell, wrapShellLikeNixosWsl } from "../harness/nixosWsl.ts";
import { requireBinary } from "../harness/paths.ts";
import { waitFor } from "../harness/proc.ts";
import { installBinLine, prepareWslRoot, WslStandIn } from "../harness/wslStandIn.ts";

requireBinary();

const BASH = "/run/current-system/sw/bin/bash";

type Outcome = { exitCode?: number; stdout: string; stderr: string; ms: number };

/**
 * The run's outcome, or after `ms` an outcome without exit code: a shell that
 * waits (or loops) for ever keeps its output pipes open, so its own timeout
 * would not end the wait. What is left running ends with the container.
 */
async function within(ms: number, run: Promise<{ exitCode?: number; stdout: string; stderr: string; ms?: number }>): Promise<Outcome> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ exitCode: undefined, stdout: "", stderr: `still running after ${ms / 1000} s`, ms }), ms);
  });
  const done = run.then((result) => ({ ...result, ms: result.ms ?? performance.now() - started }));
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface DoctorJson {
  mode: string;
  checks: Array<{ group: string; name: string; verdict: string; evidence: string }>;
}
const besideChecks = (report: DoctorJson) =>
  report.checks.filter((check) => check.group === "beside NixOS-WSL").map(({ name, verdict, evidence }) => ({ name, verdict, evidence }));

describe("legacy mode beside NixOS-WSL: root's login shell is NixOS-WSL's wrapper of syschdemd", () => {
  const boot = legacyDistroPerTest();

  it("starts systemd through the wrapper, and `runuser -l root` and `su -` from inside give root a shell (no loop)", async () => {
    const { fake, container } = await boot();
    maskContainerFailures(fake);
    allowRootSwitchUser(fake.root);
    // What NixOS-WSL's `users` snippet writes: root and nixos get wrappers; root's names syschdemd.
    const rootWrapper = wrapShellLikeNixosWsl(fake.root, "/sbin/syschdemd", "r");
    setLoginShell(fake.root, "root", rootWrapper);
    setLoginShell(fake.root, "nixos", wrapShellLikeNixosWsl(fake.root, BASH, "n"));

    // As WSL starts root's login shell: the passwd shell, argv0 -wrapper, -c CMD.
    const leader = await container.leader();
    const env = Object.entries({ ...WSL_LIKE_ENV, SHELL: rootWrapper }).map(([key, value]) => `${key}=${value}`);
    const first = await execa(
      "nsenter",
      ["--target", String(leader), "-m", "-u", "-i", "-n", "-p", "--root", "--wdns=/root", "--", "/usr/bin/env", "-i", ...env, "/usr/bin/bash", "-c", 'exec -a -wrapper "$0" "$@"', rootWrapper, "-c", "echo $(id -un) $(cat /proc/1/comm)"],
      { reject: false, timeout: 60_000 },
    );
    expect(first.exitCode, `the first shell, through root's wrapper, failed:\n${first.stderr}\n${container.kmsg()}`).toBe(0);
    expect(first.stdout).toBe("nixos systemd");

    // From inside systemd's namespaces, as root: a login shell as root, which is the wrapper again.
    for (const argv of [
      ["runuser", "-l", "root", "-c", "echo runuser $(id -un) $(cat /proc/1/comm) $0; exit 0"],
      ["su", "-", "-c", "echo su $(id -un) $(cat /proc/1/comm) $0; exit 0"],
    ]) {
      const run = await within(15_000, inSystemd(container, argv));
      const [program] = argv;
      const processes = run.exitCode === undefined ? (await container.exec(["ps", "-e", "-o", "pid,stat,comm,args"])).stdout : "";
      expect(
        run.exitCode,
        `${program} as root inside systemd's namespaces gave no shell: ${run.stderr}. A wrapper and syschdemd exec'ing each other in turn show here ` +
          `as one PID running at full CPU: see shim/legacy/enterShell.ts (isThisProgram).\n${processes}`,
      ).toBe(0);
      expect(run.stdout).toBe(`${program} root systemd ${BASH}`);
    }

    // doctor, as root from inside: legacy mode told by the wrapper's `shell` link, and NixOS-WSL named with who writes what.
    const doctor = await inSystemd(container, ["/usr/bin/bash", "-c", 'exec -a nixos-wsl-init "$0" doctor --json', "/sbin/syschdemd"]);
    const report = JSON.parse(doctor.stdout) as DoctorJson;
    expect(report.mode, doctor.stdout).toBe("legacy");
    expect(besideChecks(report)).toEqual([
      { name: "NixOS-WSL", verdict: "ok", evidence: expect.stringMatching(/^its modules are on \(root, nixos: shell behind its shell-wrapper\); NixOS-WSL writes \/etc\/wsl\.conf/) },
      { name: "shells' wait", verdict: "ok", evidence: expect.stringContaining("stopped after 120 s") },
    ]);
  }, 90_000);
});

describe("a boot whose activation is stopped at its deadline, beside NixOS-WSL", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(() => runCleanups(cleanups));

  it("links /run/current-system to the booted generation, so shells through NixOS-WSL's wrapper and through nixos-wsl-shell start", async () => {
    const storePath = `/nix/store/${storeName(1)}`;
    // The fake activation links /run/current-system first; this one takes it away again and hangs.
    const hang = "rm -f /run/current-system; touch /run/test-unlinked; sleep 1000.75";
    const fake = makeFakeRoot({ generations: [{ number: 1, activate: `${installBinLine(storePath)}\n${hang}` }] });
    cleanups.push(() => fake.remove());
    // nixos: this project's wrapper (nixos-wsl-shell); alice: NixOS-WSL's, around the system's bash.
    prepareWslRoot(fake, [1], {
      setEnvironment: 'export __NIXOS_SET_ENVIRONMENT_DONE=1\nexport FROM_SET_ENVIRONMENT=yes\n',
      config: { activationTimeoutSeconds: 3, shells: { nixos: BASH } },
    });
    writeFileSync(join(fake.root, "etc/passwd"), `alice:x:1001:100::/home/alice:${wrapShellLikeNixosWsl(fake.root, BASH, "a")}\n`, { flag: "a" });
    mkdirSync(join(fake.root, "home/alice"));
    chownSync(join(fake.root, "home/alice"), 1001, 100);

    const wsl = await WslStandIn.boot(fake);
    cleanups.push(() => wsl.stop());
    const leader = await wsl.container.leader();
    await waitFor("the activation to take /run/current-system away", 10_000, () => existsSync(`/proc/${leader}/root/run/test-unlinked`));
    // Both started while the activation hangs, before its deadline.
    const command = 'echo "$(readlink /run/current-system) $FROM_SET_ENVIRONMENT"; exit 42';
    const [theirs, ours] = await Promise.all([within(30_000, wsl.shell("alice", { command }, 30_000)), within(30_000, wsl.shell("nixos", { command }, 30_000))]);
    const why = (who: string, result: { exitCode?: number; stderr: string }) =>
      `${who}: exit ${result.exitCode} (undefined: still waiting for /run/current-system at the timeout; see shim/boot/activation.ts)\n${result.stderr}\nkernel log:\n${wsl.kmsg()}`;
    expect(theirs.exitCode, why("the shell through NixOS-WSL's wrapper", theirs)).toBe(42);
    expect(theirs.stdout).toBe(`${storePath} yes`);
    expect(theirs.stderr).toContain("Activation script has not finished! Waiting");
    expect(ours.exitCode, why("the shell through nixos-wsl-shell", ours)).toBe(42);
    expect(ours.stdout).toBe(`${storePath} yes`);
    // Not its own limit (3 + 15 s): the link ended its wait.
    expect(ours.ms).toBeLessThan(15_000);

    expect(wsl.kmsg()).toMatch(/^<3>nixos-wsl-init: the activation did not finish within 3 s; it is stuck in: sleep 1000\.75\./m);
    expect(wsl.kmsg()).toMatch(new RegExp(`^<4>nixos-wsl-init: /run/current-system was missing after the activation: linked it to the booted generation ${storePath}`, "m"));
    const status = await wsl.status();
    expect(status.stdout).toMatch(/^Activation: +STOPPED at its deadline of 3 s, stuck in: sleep 1000\.75 \(the boot went on\); \/run\/current-system linked to the booted generation by the shim$/m);
    const record = JSON.parse((await wsl.status("/sbin/init", "--json")).stdout) as { activation: { currentSystemLinked?: boolean } };
    expect(record.activation.currentSystemLinked).toBe(true);

    // doctor names NixOS-WSL (alice's shell is behind its wrapper) and the deadline that bounds its wrapper's wait.
    const doctor = await wsl.container.exec(["/usr/bin/bash", "-c", 'exec -a nixos-wsl-init "$0" doctor --json', "/sbin/init"], { timeout: 30_000 });
    const report = JSON.parse(doctor.stdout) as DoctorJson;
    expect(report.mode).toBe("native");
    expect(besideChecks(report)).toEqual([
      { name: "NixOS-WSL", verdict: "ok", evidence: expect.stringContaining("(alice: shell behind its shell-wrapper)") },
      { name: "shells' wait", verdict: "ok", evidence: expect.stringContaining("stopped after 3 s") },
    ]);
  }, 90_000);
});
