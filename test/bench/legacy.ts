// Legacy mode's costs, in the nspawn stand-in for old WSL:
// - warm: `syschdemd -c true` with systemd already up, the shell in a logind
//   session (the default), and without one (loginSession off), next to
//   entering the same namespaces directly (nsenter … setpriv … bash -c true),
//   and to a session opened by hand there (runuser -l, same PAM stack);
// - cold: the first shell, from its start to the end of its command, next to
//   systemd's own time from its start to "running" (its Userspace and Finish
//   timestamps) plus the user manager's own start (user@1000's, which the first
//   session waits for), read from the same boot;
// - the kernel's price for one cgroup migration after a pause, the step of
//   every new session that no implementation avoids: systemd moves the
//   session's first process into its scope. Since Linux 6.0, unless cgroup2
//   is mounted with favordynmods, that move waits for an RCU grace period
//   (tens of ms); old WSL's 5.10 and 5.15 kernels do not wait.
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { Container } from "../harness/container.ts";
import { bootLegacyDistro, runLoginShell, WSL_LIKE_ENV } from "../harness/legacy.ts";
import { median } from "./stats.ts";

export interface LegacyFigures {
  readonly warmMs: number;
  readonly warmWithoutSessionMs: number;
  /** runuser -l with the same PAM stack, entered by hand: what a session costs without nixos-wsl-init. */
  readonly directWithSessionMs: number;
  readonly directMs: number;
  readonly coldMs: number;
  readonly systemdStartMs: number;
  /** One cgroup migration after a pause, in the distro's own cgroup tree; or why it could not be measured. */
  readonly migrationMs: number | string;
}

/**
 * What the kernel takes to move a process between two cgroups, when no move
 * happened for a quarter second (shells are opened at human pace): bash's own
 * clock around one write to cgroup.procs, inside the container's delegated
 * tree, in scratch cgroups it removes again.
 */
const MIGRATION_PROBE = `
set -e
export LC_ALL=C  # EPOCHREALTIME's decimal point is the locale's
base=/sys/fs/cgroup/systemd; [ -w "$base" ] || base=/sys/fs/cgroup/unified; [ -w "$base" ] || base=/sys/fs/cgroup
[ -w "$base/cgroup.procs" ] || exit 3
moved=
trap 'set +e; [ -n "$moved" ] && { kill $moved; wait $moved 2>/dev/null; }; rmdir "$base/bench-move-a" "$base/bench-move-b" 2>/dev/null' EXIT
mkdir "$base/bench-move-a" "$base/bench-move-b"
sleep 60 & moved=$!
for i in 1 2 3 4 5 6 7 8 9; do
  sleep 0.25
  [ $((i % 2)) = 1 ] && to=a || to=b
  started=$EPOCHREALTIME; echo $moved > "$base/bench-move-$to/cgroup.procs"; ended=$EPOCHREALTIME
  echo $(( \${ended//[!0-9]/} - \${started//[!0-9]/} ))
done
`;

/** A side figure: when it cannot be measured, the reason is printed instead, and the bench goes on. */
async function cgroupMigrationMs(container: Container): Promise<number | string> {
  try {
    const probe = await container.exec(["/usr/bin/bash", "-c", MIGRATION_PROBE]);
    if (probe.exitCode === 3) return "no writable cgroup hierarchy in the container";
    if (probe.exitCode !== 0) return `the probe failed (exit ${probe.exitCode}): ${probe.stderr.trim()}`;
    const micros = probe.stdout.trim().split("\n").map(Number);
    if (micros.length === 0 || !micros.every(Number.isFinite)) return `the probe printed no times: ${JSON.stringify(probe.stdout)}`;
    return median(micros) / 1000;
  } catch (error) {
    return `the probe could not run: ${(error as Error).message}`;
  }
}

async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await action();
  return { ms: performance.now() - started, value };
}

function check(run: { exitCode?: number; stderr: string }, what: string): void {
  if (run.exitCode !== 0) throw new Error(`${what} failed (${run.exitCode}): ${run.stderr}`);
}

export async function benchLegacy(warmRuns: number, coldRuns: number): Promise<LegacyFigures> {
  const cold: number[] = [];
  const systemdStart: number[] = [];
  for (let i = 0; i < coldRuns; i++) {
    const distro = await bootLegacyDistro();
    try {
      const first = await timed(() => runLoginShell(distro.container, { args: ["-c", "true"] }));
      check(first.value, "the first shell");
      const { stdout } = await runLoginShell(distro.container, {
        args: [
          "-c",
          "systemctl show --value -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic; " +
            "systemctl show --value -p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic user@1000.service",
        ],
      });
      const [userspace, finish, managerStarting, managerActive] = stdout.split("\n").map(Number);
      cold.push(first.ms);
      systemdStart.push((finish! - userspace! + (managerActive! - managerStarting!)) / 1000);
    } finally {
      await distro.container.stop();
      distro.fake.remove();
    }
  }

  const distro = await bootLegacyDistro();
  try {
    check(await runLoginShell(distro.container, { args: ["-c", "true"] }), "starting systemd");
    const state = JSON.parse(await distro.container.readFile("/run/nixos-wsl/legacy.json")) as { pid: number };
    const leader = await distro.container.leader();
    const env = Object.entries(WSL_LIKE_ENV).map(([key, value]) => `${key}=${value}`);
    // The same way in, minus nixos-wsl-init: what a hand-written nsenter line costs.
    const byHand = (...command: string[]) =>
      execa("nsenter", [
        ...["--target", String(leader), "-m", "-u", "-i", "-n", "-p", "--root", "--wdns=/root", "--", "/usr/bin/env", "-i", ...env],
        // Through the same bash that runLoginShell uses to give syschdemd its argv[0], so that only what follows differs.
        ...["/usr/bin/bash", "-c", 'exec "$@"', "bash"],
        ...["nsenter", "--target", String(state.pid), "--mount", "--pid", "--cgroup", "--root", "--wdns=/home/nixos", "--"],
        ...command,
      ]);
    const direct = () => byHand("setpriv", "--reuid=1000", "--regid=100", "--init-groups", "--", "/run/current-system/sw/bin/bash", "-c", "true");
    // util-linux's runuser opens its session through the PAM service runuser-l: here the same stack as nixos-wsl-init's.
    copyFileSync(join(distro.fake.root, "etc/pam.d/nixos-wsl-init"), join(distro.fake.root, "etc/pam.d/runuser-l"));
    const directWithSession = () => byHand("/usr/sbin/runuser", "-l", "nixos", "-s", "/run/current-system/sw/bin/bash", "-c", "true");
    // Each shell reads the settings afresh: the session is turned on and off between runs.
    const sessions = (on: boolean) =>
      writeFileSync(join(distro.fake.root, "etc/nixos-wsl-init.json"), JSON.stringify({ mode: "legacy", defaultUser: "nixos", readinessTimeoutSeconds: 30, loginSession: on }));
    const warm: number[] = [];
    const warmWithoutSession: number[] = [];
    const baseline: number[] = [];
    const baselineWithSession: number[] = [];
    for (let i = 0; i < 3; i++) await runLoginShell(distro.container, { args: ["-c", "true"] });
    for (let i = 0; i < warmRuns; i++) {
      sessions(true);
      const ours = await timed(() => runLoginShell(distro.container, { args: ["-c", "true"] }));
      check(ours.value, "a warm shell");
      warm.push(ours.ms);
      sessions(false);
      const bare = await timed(() => runLoginShell(distro.container, { args: ["-c", "true"] }));
      check(bare.value, "a warm shell without a session");
      warmWithoutSession.push(bare.ms);
      baseline.push((await timed(direct)).ms);
      const session = await timed(directWithSession);
      check(session.value, "runuser -l");
      baselineWithSession.push(session.ms);
    }
    const migrationMs = await cgroupMigrationMs(distro.container);
    return {
      warmMs: median(warm),
      warmWithoutSessionMs: median(warmWithoutSession),
      directMs: median(baseline),
      directWithSessionMs: median(baselineWithSession),
      coldMs: median(cold),
      systemdStartMs: median(systemdStart),
      migrationMs,
    };
  } finally {
    await distro.container.stop();
    distro.fake.remove();
  }
}
