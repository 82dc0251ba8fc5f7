// `npm run bench`: the project's speed figures, each next to a baseline
// measured in the same run, as medians over repeated runs. Runs as root in a
// private mount namespace of its own, so nothing it mounts outlives it.
import { requireBinary } from "../harness/paths.ts";
import { benchImage, imageLine } from "./image.ts";
import { benchLegacy } from "./legacy.ts";
import { benchNative } from "./native.ts";
import { benchRecovery } from "./recovery.ts";
import { comparisonLine, floorLine, peerLine } from "./stats.ts";
import { benchWrapper } from "./wshell.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 30);

if (process.env.NIXOS_WSL_INIT_BENCH_NS !== "1") {
  // Re-run inside a private mount namespace.
  const result = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, NIXOS_WSL_INIT_BENCH_NS: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exit(result.exitCode ?? 1);
}

requireBinary();
console.log(`nixos-wsl-init benchmark: medians over ${RUNS} runs each, on ${navigator.hardwareConcurrency} cores\n`);

const native = benchNative(RUNS);
console.log(
  floorLine({
    name: "native shim",
    subject: "shim -> exec of stand-in systemd",
    subjectMs: native.shimMs,
    baseline: "stand-in exec'd directly",
    baselineMs: native.directMs,
    floorMs: native.bunFloorMs - native.directMs,
    allowanceMs: 2,
  }),
);
const floorMs = native.bunFloorMs - native.directMs;
const leastMs = native.leastShimMs - native.directMs;
console.log(
  `  the least a bun /sbin/init can do (run the activation, its output copied to the kernel log, then exec): +${leastMs.toFixed(1)} ms, ` +
    `floor + ${(leastMs - floorMs).toFixed(1)} ms of the 2 ms allowed; the shim's own logic beyond that: +${(native.shimMs - native.leastShimMs).toFixed(1)} ms`,
);
console.log(
  `  a start that is counted (generation not yet marked good; its boot state written and synced): ${native.countedShimMs.toFixed(1)} ms, ` +
    `+${(native.countedShimMs - native.directMs).toFixed(1)} ms over the direct exec`,
);
console.log(`  shim's peak RSS ${(native.shimPeakRssKiB / 1024).toFixed(1)} MiB (VmHWM before exec); executable ${(native.binaryBytes / 1024 / 1024).toFixed(1)} MiB`);

const wrapper = await benchWrapper(RUNS);
console.log(
  floorLine({
    name: "login-shell wrapper",
    subject: "nixos-wsl-shell -c true (stdin /dev/null, as a terminal's)",
    subjectMs: wrapper.wrapperMs,
    baseline: "bash -c true",
    baselineMs: wrapper.directMs,
    floorMs: wrapper.floorMs - wrapper.directMs,
    allowanceMs: 1.5,
  }),
);
console.log(
  `  with stdin a socket (a program piping into it; bash then reads bashrc, not BASH_ENV, so the import runs in a bash of its own): ` +
    `${wrapper.pipedWrapperMs.toFixed(1)} ms vs ${wrapper.pipedDirectMs.toFixed(1)} ms -> +${(wrapper.pipedWrapperMs - wrapper.pipedDirectMs).toFixed(1)} ms`,
);

const recovery = benchRecovery(RUNS);
console.log(
  comparisonLine({
    name: "recovery",
    subject: "nixos-wsl-recovery -- true",
    subjectMs: recovery.recoveryMs,
    baseline: "unshare + chroot -- true",
    baselineMs: recovery.bareMs,
    targetMs: 50,
  }) + `; bun's floor (native shim's run) +${floorMs.toFixed(1)} ms, started twice (outside, and as PID 1 inside)`,
);
console.log(
  recovery.nixosEnterMs === null
    ? "  against its peer: not measured; set NIXOS_ENTER to a copy of nixpkgs' nixos-enter (its @runtimeShell@ made /bin/bash) to measure it"
    : peerLine({ name: "nixos-wsl-recovery", subjectMs: recovery.recoveryMs, peer: "nixos-enter", peerMs: recovery.nixosEnterMs, baselineMs: recovery.bareMs, allowanceMs: 0 }),
);

const legacy = await benchLegacy(RUNS, Math.max(3, Math.round(RUNS / 3)));
console.log(
  comparisonLine({
    name: "legacy, warm",
    subject: "syschdemd -c true, in a logind session",
    subjectMs: legacy.warmMs,
    baseline: "nsenter + setpriv + bash -c true",
    baselineMs: legacy.directMs,
    targetMs: 30,
  }) + `; bun's floor (native shim's run) +${floorMs.toFixed(1)} ms, started twice (outside, and inside as the session's holder)`,
);
console.log(peerLine({ name: "syschdemd", subjectMs: legacy.warmMs, peer: "runuser -l (the same PAM session, opened by hand)", peerMs: legacy.directWithSessionMs, baselineMs: legacy.directMs, allowanceMs: 10 }));
console.log(
  `  two bun starts alone (2 × floor, outside and as the session's holder): +${(2 * floorMs).toFixed(1)} ms, against the 10 ms that target allows beyond runuser's own session, which legacy mode opens too`,
);
console.log(`  without the session (wsl.init.legacy.loginSession = false): +${(legacy.warmWithoutSessionMs - legacy.directMs).toFixed(1)} ms over the same`);
console.log(
  typeof legacy.migrationMs === "number"
    ? `  of every new session, this kernel's move of a process between cgroups (systemd's, into the session's scope): ${legacy.migrationMs.toFixed(1)} ms ` +
        "(Linux 6.0 and later wait for an RCU grace period here unless cgroup2 has favordynmods; old WSL's 5.10 and 5.15 kernels do not)"
    : `  this kernel's price for a cgroup migration was not measured: ${legacy.migrationMs}`,
);
console.log(
  comparisonLine({
    name: "legacy, cold",
    subject: "first shell to the end of its command",
    subjectMs: legacy.coldMs,
    baseline: "systemd's own start to running, and the user manager's",
    baselineMs: legacy.systemdStartMs,
    targetMs: 100,
  }),
);

console.log(imageLine(benchImage(Math.max(3, Math.min(5, Math.round(RUNS / 6))))));
