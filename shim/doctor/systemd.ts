// systemd: its state, its failed units, the jobs it still runs. Every
// question goes through the bounded asker (systemctl.ts).
import { readFileSync } from "node:fs";
import { type Check, fail, ok, skip, warn } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const G = "systemd";
const TERMINATE = "from Windows: wsl --terminate NixOS, then start it again; if it recurs, read dmesg (the shim's and systemd's lines)";

export function pid1Name(): string | null {
  try {
    return readFileSync("/proc/1/comm", "utf8").trim();
  } catch {
    return null;
  }
}

export function systemdChecks(ctx: DoctorContext): Check[] {
  const systemd = ctx.systemd;
  if (systemd === null) return [skip(G, "systemd", ctx.live ? "not asked (see above)" : "the distro is not running")];
  const state = systemd.systemctl(["is-system-running"]);
  const word = state.stdout.trim().split("\n")[0] ?? "";
  if (state.noAnswer !== null || word === "" || word === "offline" || word === "unknown") {
    const evidence = state.noAnswer ?? `systemctl is-system-running said ${JSON.stringify(word || state.stderr)}`;
    return [fail(G, "systemd", `${evidence}: systemd is not running or its bus does not answer`, TERMINATE)];
  }
  const checks: Check[] = [];
  if (word === "running") checks.push(ok(G, "systemd", "running"));
  else if (word === "degraded") checks.push(warn(G, "systemd", "degraded: it runs, but units failed (below)", "see the failed units below"));
  else if (word === "starting" || word === "initializing") checks.push(warn(G, "systemd", `${word}: the start is not finished yet`, "wait, and see what it waits for below (systemctl list-jobs)"));
  else checks.push(fail(G, "systemd", `${word}: not a state a shell should be started in`, TERMINATE));

  const failed = systemd.systemctl(["list-units", "--state=failed", "--no-legend", "--plain", "--full"]);
  if (failed.noAnswer !== null) {
    checks.push(fail(G, "failed units", failed.noAnswer, TERMINATE));
  } else {
    const units = failed.stdout.split("\n").map((line) => line.trim().split(/\s+/)[0] ?? "").filter((unit) => unit !== "");
    checks.push(
      units.length === 0
        ? ok(G, "failed units", "none")
        : warn(
            G,
            "failed units",
            `${units.length} failed: ${units.join(", ")}`,
            `see why: systemctl status ${units[0]} and journalctl -b -u ${units[0]}${units.length > 1 ? " (and the same for the others)" : ""}; once fixed, as root: systemctl reset-failed`,
          ),
    );
  }
  const jobs = systemd.systemctl(["list-jobs", "--no-legend", "--plain", "--full"]);
  if (jobs.noAnswer === null) {
    // "ID UNIT TYPE STATE": the running jobs are what the waiting ones wait for.
    const queued = jobs.stdout
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => /^\d+$/.test(fields[0] ?? "") && fields.length >= 4)
      .map(([, unit, type, state]) => ({ unit: unit!, type: type!, running: state === "running" }));
    const running = queued.filter((job) => job.running);
    const waiting = queued.filter((job) => !job.running);
    const list = (some: typeof queued) => some.slice(0, 3).map((job) => `${job.unit} (${job.type})`).join(", ") + (some.length > 3 ? ", …" : "");
    const holder = running[0] ?? queued[0];
    checks.push(
      holder === undefined
        ? ok(G, "jobs", "none queued")
        : warn(
            G,
            "jobs",
            `${queued.length} queued; running: ${list(running) || "none"}; waiting: ${list(waiting) || "none"}`,
            `see what holds them: systemctl status ${holder.unit}; journalctl -b -u ${holder.unit}; systemctl list-jobs`,
          ),
    );
  }
  return checks;
}
