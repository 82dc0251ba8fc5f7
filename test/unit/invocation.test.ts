import { describe, expect, it } from "vitest";
import { parseInvocation, programName } from "../../src/invocation.ts";

describe("parseInvocation", () => {
  it("picks the role from the program name, login-shell dash and directory ignored", () => {
    expect(programName("-syschdemd")).toBe("syschdemd");
    expect(programName("/run/current-system/sw/bin/nixos-wsl-recovery")).toBe("nixos-wsl-recovery");
    expect(parseInvocation("/sbin/init", ["--log-level=debug"], true)).toEqual({ kind: "shim", args: ["--log-level=debug"] });
    expect(parseInvocation("systemd-shim", [], true)).toEqual({ kind: "shim", args: [] });
    expect(parseInvocation("-syschdemd", ["-c", "ls"], false)).toEqual({ kind: "legacy", args: ["-c", "ls"] });
    expect(parseInvocation("/bin/nixos-wsl-recovery", ["--list"], false)).toEqual({ kind: "recovery", args: ["--list"] });
  });

  it("gives every argument to systemd as PID 1, but help to a person", () => {
    expect(parseInvocation("/sbin/init", ["--help"], true)).toEqual({ kind: "shim", args: ["--help"] });
    expect(parseInvocation("/sbin/init", ["--help"], false)).toEqual({ kind: "help" });
    expect(parseInvocation("systemd-shim", ["--version"], false)).toEqual({ kind: "version" });
  });

  it("parses subcommands of nixos-wsl-init", () => {
    expect(parseInvocation("nixos-wsl-init", [], false)).toEqual({ kind: "help" });
    expect(parseInvocation("nixos-wsl-init", ["shim", "a"], false)).toEqual({ kind: "shim", args: ["a"] });
    expect(parseInvocation("nixos-wsl-init", ["status", "--json"], false)).toEqual({ kind: "status", args: ["--json"] });
    expect(parseInvocation("nixos-wsl-init", ["doctor", "--json"], false)).toEqual({ kind: "doctor", args: ["--json"] });
    expect(parseInvocation("nixos-wsl-init", ["legacy", "-c", "true"], false)).toEqual({ kind: "legacy", args: ["-c", "true"] });
    expect(parseInvocation("nixos-wsl-init", ["recovery", "--list"], false)).toEqual({ kind: "recovery", args: ["--list"] });
  });

  it("recognises legacy mode's inner processes, whatever the program's name", () => {
    expect(parseInvocation("/sbin/nixos-wsl-init", ["__login-session", "{}", "--", "bash", "-c", "x"], false)).toEqual({ kind: "login-session", request: "{}", argv: ["bash", "-c", "x"] });
    expect(parseInvocation("syschdemd", ["__systemd-pid1", "{}"], true)).toEqual({ kind: "systemd-pid1", request: "{}" });
    expect(parseInvocation("nixos-wsl-init", ["__login-session", "{}"], false).kind).toBe("usage-error");
  });

  it("reports usage errors instead of guessing", () => {
    expect(parseInvocation("nixos-wsl-init", ["boot"], false)).toEqual({ kind: "usage-error", message: "unknown command 'boot'" });
  });
});
