import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type BootRecord, formatBootRecord, readBootRecord, writeBootRecord } from "../../shim/native/bootRecord.ts";

const record: BootRecord = {
  format: 1,
  bootedAt: "2026-11-21T08:00:00.000Z",
  generation: { number: 41, link: "/nix/var/nix/profiles/system-41-link", storePath: "/nix/store/abc-nixos-system-x" },
  fallbackReason: "/nix/var/nix/profiles/system/activate is missing",
  chosenBy: "fallback",
  assessment: { tries: 1, blessed: false, attempts: 2 },
  activation: { script: "/nix/store/abc-nixos-system-x/activate", exitCode: 2, signal: null, error: null, durationMs: 1234, deadlineSeconds: 120, stuckIn: null },
  systemd: ["/nix/store/abc-nixos-system-x/systemd/lib/systemd/systemd", "--log-target=kmsg"],
  warnings: ["binding /nix/store read-only failed: EPERM"],
  shimMs: 12.345,
  peakRssKiB: 40960,
};

describe("boot record", () => {
  it("round-trips through its file", () => {
    const dir = mkdtempSync(join(tmpdir(), "boot-record-"));
    try {
      const path = join(dir, "nixos-wsl", "boot.json");
      writeBootRecord(path, record);
      expect(readBootRecord(path)).toEqual(record);
      expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("tells a person what happened, failures first-class", () => {
    const text = formatBootRecord(record, { record: { tries: 1, blessed: false }, attempts: 2, bootOnce: null });
    expect(text).toContain("System:      generation 41 (/nix/store/abc-nixos-system-x)");
    expect(text).toContain("Fallback:    YES, the default generation could not boot: /nix/var/nix/profiles/system/activate is missing");
    expect(text).toContain("Keep it:     wsl -d NixOS --system --user root -- /mnt/wslg/distro/bin/nixos-wsl-recovery --rollback --generation 41");
    expect(text).toContain("Assessment:  started 1 time without being marked good; after 2 such starts an older generation boots instead");
    expect(text).toContain("Activation:  FAILED with exit code 2 after 1.23 s");
    expect(text).toContain("Shim time:   12.3 ms before systemd started, 40.0 MiB at most");
    expect(text).toContain("Warning:     binding /nix/store read-only failed: EPERM");
  });

  it("says when the activation was stopped at its deadline, and what it was stuck in", () => {
    const stopped = { ...record, activation: { ...record.activation, exitCode: null, signal: "SIGTERM", stuckIn: "sleep 1000" } };
    expect(formatBootRecord(stopped, { record: { tries: 0, blessed: true }, attempts: 2, bootOnce: "/nix/var/nix/profiles/system-40-link" })).toContain("Activation:  STOPPED at its deadline of 120 s, stuck in: sleep 1000 (the boot went on)");
    // It left no /run/current-system, and the shim linked it: said on the same line.
    const linked = { ...stopped, activation: { ...stopped.activation, currentSystemLinked: true } };
    expect(formatBootRecord(linked, { record: { tries: 0, blessed: true }, attempts: 2, bootOnce: null })).toContain(
      "Activation:  STOPPED at its deadline of 120 s, stuck in: sleep 1000 (the boot went on); /run/current-system linked to the booted generation by the shim\n",
    );
    expect(formatBootRecord(stopped, { record: { tries: 0, blessed: true }, attempts: 2, bootOnce: "/nix/var/nix/profiles/system-40-link" })).toContain(
      "Assessment:  good (blessed): it is never passed over\nNext start:  /nix/var/nix/profiles/system-40-link, once (--boot-once); then the default again",
    );
  });

  it("refuses a record of another format", () => {
    const dir = mkdtempSync(join(tmpdir(), "boot-record-"));
    try {
      const path = join(dir, "boot.json");
      writeBootRecord(path, { ...record, format: 2 as 1 });
      expect(() => readBootRecord(path)).toThrow(/unknown format/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
