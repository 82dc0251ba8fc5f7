// The doctor's pure parts: how checks add up to an exit code and a report,
// wsl.conf read as WSL reads it, and when a filesystem counts as full.
import { describe, expect, it } from "vitest";
import { checksJson, exitCodeOf, fail, formatChecks, ok, skip, warn } from "../../shim/doctor/check.ts";
import { judgeRoom } from "../../shim/doctor/space.ts";
import { parseWslConf } from "../../shim/wsl/wslConf.ts";

describe("doctor's report", () => {
  const good = ok("wsl", "wsl.conf", "parses");
  const meh = warn("systemd", "failed units", "1 failed: a.service", "systemctl status a.service");
  const bad = fail("wsl", "/bin/login", "/bin/login is missing", "nixos-wsl-init install-bin --system /run/current-system");
  const na = skip("interop", "WSLg", "not WSL's kernel");

  it("exits 0 when all is ok (skips do not count), 1 with warnings, 2 with a failure", () => {
    expect(exitCodeOf([good, na])).toBe(0);
    expect(exitCodeOf([good, meh, na])).toBe(1);
    expect(exitCodeOf([bad, meh, good])).toBe(2);
  });

  it("prints one line per check, the next step under what is not ok, and the sums", () => {
    const text = formatChecks([good, meh, bad, na], "title");
    expect(text.split("\n")).toEqual([
      "title",
      "ok    wsl.conf      parses",
      "warn  failed units  1 failed: a.service",
      "                    -> systemctl status a.service",
      "FAIL  /bin/login    /bin/login is missing",
      "                    -> nixos-wsl-init install-bin --system /run/current-system",
      "skip  WSLg          not WSL's kernel",
      "",
      "1 ok, 1 warning, 1 failure, 1 skipped (exit 2)",
      "",
    ]);
    // Evidence stays on one line whatever it holds.
    expect(formatChecks([warn("g", "n", "a\nb", "c\n d")], "t")).toContain("warn  n           a b\n                  -> c d\n");
    expect(JSON.parse(checksJson([good, bad], { mode: "native" }))).toMatchObject({ mode: "native", exitCode: 2, summary: { ok: 1, warn: 0, fail: 1, skip: 0 } });
  });
});

describe("wsl.conf as WSL reads it", () => {
  it("keeps every section.key (case-insensitive, last wins, quotes and comments removed) and names the lines it cannot read", () => {
    const conf = parseWslConf('[Boot]\nSystemd = true  # on\n[user]\ndefault="alice"\nnonsense here\n[boot]\nsystemd=false\n=x\n');
    expect(Object.fromEntries(conf.values)).toEqual({ "boot.systemd": "false", "user.default": "alice" });
    expect(conf.problems).toEqual([
      'line 5: "nonsense here" is neither a [section], a key = value nor a comment',
      'line 8: "=x" is neither a [section], a key = value nor a comment',
    ]);
  });
});

describe("space", () => {
  const GiB = 1024 ** 3;
  it("fails under 256 MiB or 2 % (or 1 % of inodes), warns under 1 GiB or 10 %", () => {
    expect(judgeRoom({ freeBytes: 50 * GiB, totalBytes: 100 * GiB, freeInodes: 1e6, totalInodes: 2e6 })).toBe("ok");
    expect(judgeRoom({ freeBytes: 5 * GiB, totalBytes: 100 * GiB, freeInodes: 1e6, totalInodes: 2e6 })).toBe("warn");
    expect(judgeRoom({ freeBytes: 0.5 * GiB, totalBytes: 4 * GiB, freeInodes: 1e6, totalInodes: 2e6 })).toBe("warn");
    expect(judgeRoom({ freeBytes: 0.1 * GiB, totalBytes: 4 * GiB, freeInodes: 1e6, totalInodes: 2e6 })).toBe("FAIL");
    expect(judgeRoom({ freeBytes: 50 * GiB, totalBytes: 100 * GiB, freeInodes: 100, totalInodes: 2e6 })).toBe("FAIL");
    expect(judgeRoom({ freeBytes: 0, totalBytes: 8 * 1024 ** 2, freeInodes: 0, totalInodes: 0 })).toBe("FAIL");
  });
});

describe("the PAM service WSL's login uses", () => {
  it("runs pam_systemd directly, through @include or through include/substack; or says it does not", async () => {
    const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { pamStartsSession } = await import("../../shim/doctor/session.ts");
    const root = mkdtempSync("/tmp/nixos-wsl-init-test-");
    try {
      expect(pamStartsSession(root)).toBeNull();
      mkdirSync(`${root}/etc/pam.d`, { recursive: true });
      const login = (text: string) => writeFileSync(`${root}/etc/pam.d/login`, text);
      login("session required pam_unix.so\nsession optional /nix/store/x-systemd/lib/security/pam_systemd.so\n"); // as NixOS writes it
      expect(pamStartsSession(root)).toBe(true);
      writeFileSync(`${root}/etc/pam.d/common-session`, "session required pam_unix.so\nsession optional pam_systemd.so\n");
      login("@include common-session\n");
      expect(pamStartsSession(root)).toBe(true);
      login("session include common-session\n");
      expect(pamStartsSession(root)).toBe(true);
      login("# session optional pam_systemd.so\nsession required pam_unix.so\n@include login\n"); // commented out, and a loop
      expect(pamStartsSession(root)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
