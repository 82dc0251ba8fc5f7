// Start-up: the boot record (fallback, activation, budget) and the boot
// assessment, read with the readers `status` uses.
import { recordOf } from "../../src/bootAssessment.ts";
import { nextStartChecks } from "./nextStart.ts";
import { BOOT_STATE, readBootState } from "../../src/bootState.ts";
import { DEFAULT_SETTINGS, loadSettings } from "../../src/config.ts";
import { BOOT_RECORD, CONFIG_FILE, RECOVERY_COMMAND } from "../../src/paths.ts";
import { describeActivation } from "../boot/activationResult.ts";
import { describeAssessment } from "../native/bootRecord.ts";
import { describeBudget, parseSystemdTimes, type SystemdTime } from "../wsl/budget.ts";
import { BUDGET_OPTION } from "../wsl/wslConf.ts";
import { type Check, fail, ok, skip, warn } from "./check.ts";
import { type DoctorContext, inRoot } from "./context.ts";
import { realpathSync } from "node:fs";

const G = "start-up";
const RESTART = "then restart the distro from Windows: wsl --terminate NixOS";

export function startupChecks(ctx: DoctorContext): Check[] {
  const checks: Check[] = [];
  const { record } = ctx;
  if (!ctx.live) {
    checks.push(...nextStartChecks(ctx, attemptsSetting(ctx)));
  } else if (record.kind === "bad") {
    checks.push(fail(G, "boot record", `${BOOT_RECORD} cannot be read: ${record.problem}`, `look at the kernel log of this start (dmesg | grep nixos-wsl-init), ${RESTART}`));
  } else if (record.kind === "denied" && ctx.mode === "native") {
    checks.push(skip(G, "boot record", `${BOOT_RECORD} is not readable by uid ${process.getuid?.()}`, "run it as root: sudo nixos-wsl-init doctor"));
  } else if (record.kind === "none" || record.kind === "denied") {
    checks.push(
      ctx.mode === "legacy"
        ? ok(G, "boot record", "legacy mode: systemd was started by syschdemd, which keeps no boot record (nixos-wsl-init status shows its state)")
        : fail(
            G,
            "boot record",
            `no ${BOOT_RECORD}: this start did not go through the native shim (/sbin/init), so no activation ran before systemd`,
            `see the /sbin/init check below; as root: nixos-rebuild switch, ${RESTART}`,
          ),
    );
  } else {
    const r = record.record;
    const name = r.generation.number === null ? r.generation.link : `generation ${r.generation.number}`;
    if (r.fallbackReason !== null) {
      checks.push(
        warn(
          G,
          "boot record",
          `${name} booted as a FALLBACK at ${r.bootedAt}: the default generation could not boot: ${r.fallbackReason}`,
          r.generation.number === null
            ? `fix the default generation and run nixos-rebuild switch (as root)`
            : `keep this one as the default: ${RECOVERY_COMMAND} --rollback --generation ${r.generation.number}; or fix the default and nixos-rebuild switch`,
        ),
      );
    } else {
      checks.push(ok(G, "boot record", `${name} booted at ${r.bootedAt}${r.chosenBy === "once" ? ", once as asked (--boot-once)" : ", the default"}`));
    }
    for (const warning of r.warnings) checks.push(warn(G, "boot step", warning, `look at the kernel log of this start: dmesg | grep nixos-wsl-init; ${RESTART}`));
    const a = r.activation;
    const described = describeActivation(a);
    if (a.stuckIn !== null) {
      checks.push(
        fail(
          G,
          "activation",
          described,
          `find why it hangs there (dmesg | grep nixos-wsl-activate); if it only needs longer, raise wsl.init.activationTimeout (${a.deadlineSeconds} s now); ` +
            `then, as root, run the activation again: /run/current-system/activate`,
        ),
      );
    } else if (a.error !== null || a.signal !== null || a.exitCode !== 0) {
      checks.push(fail(G, "activation", described, "read its output: dmesg | grep nixos-wsl-activate; fix the failing step, then as root: /run/current-system/activate (or nixos-rebuild switch)"));
    } else {
      checks.push(ok(G, "activation", described));
    }
    if (r.budgetMs !== undefined) {
      const verdict = describeBudget({ shimMs: r.shimMs, activationMs: a.durationMs, budgetMs: r.budgetMs, systemd: systemdTime(ctx) });
      checks.push(
        verdict.over
          ? warn(G, "init budget", verdict.line, `set ${BUDGET_OPTION} ${verdict.totalMs !== null ? `above the ${Math.ceil(verdict.totalMs / 1000)} s this start took` : `well above the ${(r.shimMs / 1000).toFixed(1)} s this start took before systemd`}, or make the activation faster; ${RESTART}`)
          : ok(G, "init budget", verdict.line),
      );
    }
  }
  checks.push(assessmentCheck(ctx));
  if (ctx.live) checks.push(...nextStartChecks(ctx, attemptsSetting(ctx)));
  checks.push(settingsCheck(ctx));
  return checks;
}

function systemdTime(ctx: DoctorContext): SystemdTime {
  const reply = ctx.systemd?.systemctl(["show", "-p", "UserspaceTimestampMonotonic", "-p", "FinishTimestampMonotonic"]);
  if (!reply) return { kind: "unknown", why: "systemd is not asked here" };
  if (reply.noAnswer !== null) return { kind: "unknown", why: reply.noAnswer };
  if (!reply.ok) return { kind: "unknown", why: `systemctl show failed: ${reply.stderr || `exit code ${reply.exitCode}`}` };
  return parseSystemdTimes(reply.stdout);
}

/** The generation this start booted (the record's), else the one /run/current-system names. */
function bootedStorePath(ctx: DoctorContext): string | null {
  if (ctx.record.kind === "ok") return ctx.record.record.generation.storePath;
  if (!ctx.live) return null;
  try {
    return realpathSync("/run/current-system");
  } catch {
    return null;
  }
}

function attemptsSetting(ctx: DoctorContext): number {
  try {
    return loadSettings(inRoot(ctx.root, CONFIG_FILE)).bootAttempts;
  } catch {
    return DEFAULT_SETTINGS.bootAttempts;
  }
}

function assessmentCheck(ctx: DoctorContext): Check {
  const name = "boot assessment";
  const { state, warning } = readBootState(ctx.root);
  if (warning) return warn(G, name, warning, `nothing is lost but the counting of starts; as root: rm ${BOOT_STATE} (it is written again at the next start)`);
  const storePath = bootedStorePath(ctx);
  const once = state.bootOnce ? `; the next start boots ${state.bootOnce.link} once (--boot-once), then the default again` : "";
  if (storePath === null) {
    return state.bootOnce
      ? warn(G, name, `a one-time boot is pending: ${state.bootOnce.link}`, "start the distro to boot it once, or as root: nixos-wsl-init boot-once with another generation")
      : ok(G, name, `${Object.keys(state.generations).length} generation(s) recorded in ${BOOT_STATE}`);
  }
  const attempts = attemptsSetting(ctx);
  const record = recordOf(state, storePath);
  const evidence = `${describeAssessment({ record, attempts, bootOnce: null })}${once}`;
  if (!record.blessed && record.tries > 0 && attempts > 0) {
    return warn(
      G,
      name,
      evidence,
      `it is marked good when the boot reaches wsl.init.blessTarget: look at systemctl status nixos-wsl-init-bless.service and systemctl --failed; ` +
        `once the system runs well, as root: nixos-wsl-init bless`,
    );
  }
  if (state.bootOnce) return warn(G, name, evidence, "nothing to do if this is what you asked for; the one-time boot is used up by the next start");
  return ok(G, name, evidence);
}

function settingsCheck(ctx: DoctorContext): Check {
  try {
    loadSettings(inRoot(ctx.root, CONFIG_FILE));
    return ok(G, "settings", `${CONFIG_FILE} reads well (or is absent: the defaults)`);
  } catch (error) {
    if ((error as { problem?: string }).problem === "missing") return ok(G, "settings", `no ${CONFIG_FILE}: the defaults`);
    return warn(G, "settings", `${(error as Error).message}; every start uses the defaults instead`, "as root: nixos-rebuild switch writes it again from wsl.init.*");
  }
}


