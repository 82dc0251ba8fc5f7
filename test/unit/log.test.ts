import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatKmsgLine, formatStderrLine, Level, MAX_RECORD_TEXT, openKernelLog, splitRecords } from "../../src/log.ts";

describe("kernel log", () => {
  it("tags every line with the level and the program", () => {
    expect(formatKmsgLine(Level.Error, "boom")).toBe("<3>nixos-wsl-init: boom\n");
    expect(formatStderrLine(Level.Warning, "hm")).toBe("nixos-wsl-init: warning: hm\n");
  });

  it("writes one record per line to the log device, appending", () => {
    const dir = mkdtempSync(join(tmpdir(), "kmsg-"));
    try {
      const device = join(dir, "kmsg");
      writeFileSync(device, "earlier\n");
      const log = openKernelLog(device);
      expect(log.toKernel).toBe(true);
      log.info("one\ntwo");
      log.error("three");
      log.close();
      expect(readFileSync(device, "utf8")).toBe("earlier\n<6>nixos-wsl-init: one\n<6>nixos-wsl-init: two\n<3>nixos-wsl-init: three\n");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("never creates a missing log device", () => {
    const dir = mkdtempSync(join(tmpdir(), "kmsg-"));
    try {
      const log = openKernelLog(join(dir, "kmsg"));
      expect(log.toKernel).toBe(false);
      expect(() => readFileSync(join(dir, "kmsg"))).toThrow();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("cuts a long line into records the kernel accepts, never inside a character", () => {
    const long = "é".repeat(1000); // 2000 bytes
    const records = splitRecords(`short\n${long}`);
    expect(records[0]).toBe("short");
    expect(records.slice(1).join("")).toBe(long);
    for (const record of records) expect(Buffer.byteLength(record)).toBeLessThanOrEqual(MAX_RECORD_TEXT);
    expect(records).toHaveLength(4);
  });
});
