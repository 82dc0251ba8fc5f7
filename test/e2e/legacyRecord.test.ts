// Legacy mode's record of its systemd (/run/nixos-wsl/legacy.json) damaged,
// missing or unreadable while systemd runs: the shell finds that systemd
// again from /proc and never starts a second one, and `nixos-wsl-init status`
// says what is wrong and what to do.
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type LegacyDistro, maskContainerFailures, runInit, runLoginShell, systemdsIn } from "../harness/legacy.ts";
import { sharedLegacyDistro } from "../harness/legacyDistros.ts";

const RECORD = "/run/nixos-wsl/legacy.json";

describe("legacy mode: a damaged record of the running systemd", () => {
  let distro!: LegacyDistro;
  let systemd: number;
  sharedLegacyDistro(async (booted) => {
    distro = booted;
    // Without the units that cannot work in a container, the system is exactly "running", as status must then say.
    maskContainerFailures(distro.fake);
    const first = await runLoginShell(distro.container, { args: ["-c", "true"] });
    expect(first.exitCode).toBe(0);
    [systemd] = await systemdsIn(distro.container);
  });

  async function damage(text: string): Promise<void> {
    writeFileSync(`/proc/${await distro.container.leader()}/root${RECORD}`, text);
  }
  const status = (...args: string[]) => distro.container.exec(["bash", "-c", 'exec -a nixos-wsl-init /sbin/nixos-wsl-init status "$@"', "status", ...args]);

  it("finds the running systemd again after each of seven damages, and starts no second one", async () => {
    await runLoginShell(distro.container, { args: ["-c", "true"] }); // a whole record to damage, whatever ran before
    const valid = await distro.container.readFile(RECORD);
    const damages: [string, string][] = [
      ["", "it is empty"],
      ["{}", '"pid" is missing'],
      ["garbage\n", "it is not JSON"],
      [valid.slice(0, valid.length / 2), "it is not JSON"],
      ["[1, 2]", "it is not a JSON object"],
      [valid.replace(/"pid": \d+/, '"pid": "many"'), '"pid" must be a PID, not "many"'],
      [valid.replace(/"phase": "\w+"/, '"phase": 3'), '"phase" must be "starting" or "running", not 3'],
    ];
    for (const [text, problem] of damages) {
      await damage(text);
      const run = await runLoginShell(distro.container, { args: ["-c", "echo still-works"] });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toBe("still-works");
      expect(run.stderr).toContain(`${RECORD} is damaged (${problem}`);
      expect(run.stderr).toContain(`but systemd (PID ${systemd}) started by legacy mode runs: recording it again`);
      expect(run.stderr).not.toContain("undefined");
      expect(await systemdsIn(distro.container)).toEqual([systemd]);
      expect(JSON.parse(await distro.container.readFile(RECORD))).toMatchObject({ pid: systemd, phase: "running" });
    }
    // Its control socket was never taken from it: systemctl still reaches it.
    const ask = await runLoginShell(distro.container, { args: ["-c", "systemctl is-system-running || true"] });
    expect(["running", "degraded"]).toContain(ask.stdout);
  });

  it("finds it again when the record is gone", async () => {
    await distro.container.exec(["rm", RECORD]);
    const run = await runLoginShell(distro.container, { args: ["-c", "echo still-works"] });
    expect(run.stdout).toBe("still-works");
    expect(run.stderr).toContain(`${RECORD} is missing, but systemd (PID ${systemd}) started by legacy mode runs`);
    expect(await systemdsIn(distro.container)).toEqual([systemd]);
  });

  it("reports a record that cannot be read as what it is, and starts nothing", async () => {
    await distro.container.exec(["sh", "-c", `rm -f ${RECORD} && mkdir ${RECORD}`]);
    try {
      const run = await runLoginShell(distro.container, { args: ["-c", "echo should-not-run"] });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr).toContain(`reading ${RECORD}: EISDIR`);
      expect(run.stderr).toContain(`Remove it (rm -r ${RECORD}) and open a new shell.`);
      expect(run.stderr).not.toMatch(/unexpected error|^\s+at /m);
      expect(await systemdsIn(distro.container)).toEqual([systemd]);
    } finally {
      await distro.container.exec(["rmdir", RECORD]);
    }
  });

  it("has status say that the record is damaged, which systemd runs, and what to do", async () => {
    await damage("{}");
    const text = await status();
    // The exit code is what systemd says of itself (the record only tells where it is): 0, running.
    expect(text.exitCode).toBe(0);
    expect(text.stderr).toContain(`${RECORD} is not a valid record ("pid" is missing).`);
    expect(text.stderr).toContain(`systemd started by legacy mode runs as PID ${systemd} (found in /proc); the next shell (wsl, which runs syschdemd as root) records it again.`);
    expect(text.stderr + text.stdout).not.toContain("undefined");
    const json = await status("--json");
    const parsed = JSON.parse(json.stdout) as { state: string };
    expect(parsed).toMatchObject({ mode: "legacy", record: "invalid", problem: `${RECORD} is not a valid record ("pid" is missing)`, runningPid: systemd });
    expect(parsed.state).toBe("running");
    expect(json.exitCode).toBe(0);
    expect(text.exitCode).toBe(json.exitCode);

    await runLoginShell(distro.container, { args: ["-c", "true"] });
    const repaired = await status();
    expect(repaired.exitCode).toBe(0); // running
    expect(repaired.stdout).toContain(`systemd:     PID ${systemd} (as WSL sees it), started 20`);
  });

  it("has bless mark the generation the record names, refuse a damaged record, and ask /run/current-system when it names none", async () => {
    await runLoginShell(distro.container, { args: ["-c", "true"] }); // a whole record
    const valid = await distro.container.readFile(RECORD);
    const { system } = JSON.parse(valid) as { system: string };
    expect(system).toMatch(/^\/nix\/store\//);
    const bless = () => runInit(distro.container, ["bless"]);
    const blessed = await bless();
    expect(blessed.exitCode, blessed.stderr).toBe(0);
    expect(blessed.stdout).toMatch(new RegExp(`^(marked ${system} as good|${system} is already marked good)`));

    await damage("{}");
    const refused = await bless();
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`marking the running generation good: ${RECORD} is damaged ("pid" is missing)`);
    expect(refused.stderr).toContain("then run nixos-wsl-init bless again as root");
    expect(refused.stderr).not.toMatch(/unexpected error|^\s+at /m);

    // A systemd found again in /proc may not name its generation: /run/current-system then says.
    await damage(valid.replace(/"system": "[^"]*"/, '"system": ""'));
    const fallback = await bless();
    expect(fallback.exitCode, fallback.stderr).toBe(0);
    expect(fallback.stdout).toBe(`${system} is already marked good`);
    await runLoginShell(distro.container, { args: ["-c", "true"] }); // the record whole again
  });
});
