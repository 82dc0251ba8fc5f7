import { describe, expect, it } from "vitest";
import { parseRecoveryArgs } from "../../recovery/options.ts";
import { chrootEnv, commandArgv, exitStatus, recoveryActivationEnv } from "../../recovery/plan.ts";
import { pathInsideRoot } from "../../recovery/select.ts";

const SYSTEM = "/nix/store/abc-nixos-system";

describe("nixos-wsl-recovery command line", () => {
  it("defaults to a login shell in the default generation of /mnt/wslg/distro", () => {
    expect(parseRecoveryArgs([])).toEqual({
      action: "enter",
      root: "/mnt/wslg/distro",
      generation: { kind: "path", path: "/nix/var/nix/profiles/system" },
      command: null,
      silent: false,
    });
  });

  it("takes the generation by path, number or as the previous one", () => {
    expect(parseRecoveryArgs(["--system", "/nix/var/nix/profiles/system-42-link"])).toMatchObject({ generation: { kind: "path", path: "/nix/var/nix/profiles/system-42-link" } });
    expect(parseRecoveryArgs(["--generation", "7"])).toMatchObject({ generation: { kind: "number", number: 7 } });
    expect(parseRecoveryArgs(["--previous"])).toMatchObject({ generation: { kind: "previous" } });
  });

  it("takes a command as -c, --command or after --", () => {
    expect(parseRecoveryArgs(["-c", "ls /"])).toMatchObject({ command: { shell: "ls /" } });
    expect(parseRecoveryArgs(["--command", "ls /"])).toMatchObject({ command: { shell: "ls /" } });
    expect(parseRecoveryArgs(["--silent", "--", "ls", "-l", "--all"])).toMatchObject({ command: { argv: ["ls", "-l", "--all"] }, silent: true });
  });

  it("parses --list and --rollback", () => {
    expect(parseRecoveryArgs(["--list", "--json", "--root", "/x"])).toEqual({ action: "list", root: "/x", json: true });
    expect(parseRecoveryArgs(["--rollback", "--generation", "3"])).toEqual({ action: "rollback", root: "/mnt/wslg/distro", generation: { kind: "number", number: 3 } });
  });

  it.each([
    [["--generation", "1", "--previous"], /mutually exclusive/],
    [["--system", "/a", "--generation", "2"], /mutually exclusive/],
    [["--generation", "two"], /whole generation number/],
    [["--generation", "0"], /whole generation number/],
    [["--rollback"], /needs the generation/],
    [["--list", "--rollback"], /mutually exclusive/],
    [["--json"], /--json goes with --list/],
    [["-c", "ls", "--", "ls"], /either --command CMD or -- CMD/],
    [["ls"], /put a command after '--'/],
    [["--root"], /Not enough arguments/],
    [["--bogus"], /Unknown argument: bogus/],
  ])("rejects %j", (args, message) => {
    expect(() => parseRecoveryArgs(args)).toThrow(message);
  });

  it("has help that shows all three forms", () => {
    const request = parseRecoveryArgs(["--help"]);
    expect(request.action).toBe("help");
    if (request.action === "help") {
      expect(request.text).toContain("nixos-wsl-recovery --list [--json] [--root DIR]");
      expect(request.text).toContain("--rollback");
    }
  });
});

describe("entering plan", () => {
  it("runs a login shell, a login shell's -c, or the argv as given", () => {
    expect(commandArgv(SYSTEM, null)).toEqual([`${SYSTEM}/sw/bin/bash`, "--login"]);
    expect(commandArgv(SYSTEM, { shell: "echo hi" })).toEqual([`${SYSTEM}/sw/bin/bash`, "--login", "-c", "echo hi"]);
    expect(commandArgv(SYSTEM, { argv: ["ls", "-l"] })).toEqual(["ls", "-l"]);
  });

  it("gives the chroot an environment of its own, keeping only the terminal type", () => {
    const env = chrootEnv(SYSTEM, { PATH: "/usr/bin", TERM: "xterm", WSL_INTEROP: "/run/x" });
    expect(env).toMatchObject({ PATH: `/run/wrappers/bin:${SYSTEM}/sw/bin`, TERM: "xterm", HOME: "/root", USER: "root" });
    expect(env).not.toHaveProperty("WSL_INTEROP");
    const plan = { root: "/r", system: SYSTEM, label: "x", argv: [], env, silent: false };
    expect(recoveryActivationEnv(plan)).toMatchObject({ IN_NIXOS_ENTER: "1", LOCALE_ARCHIVE: `${SYSTEM}/sw/lib/locale/locale-archive` });
  });

  it("reports exit codes as a shell does", () => {
    expect(exitStatus(7, null)).toBe(7);
    expect(exitStatus(null, 2)).toBe(130);
  });

  it("reads host paths to the distro as paths inside it", () => {
    expect(pathInsideRoot("/mnt/wslg/distro", "/mnt/wslg/distro/nix/var/nix/profiles/system-4-link")).toBe("/nix/var/nix/profiles/system-4-link");
    expect(pathInsideRoot("/mnt/wslg/distro", "/nix/var/nix/profiles/system-4-link")).toBe("/nix/var/nix/profiles/system-4-link");
  });
});
