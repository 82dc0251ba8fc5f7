import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatGenerationTable } from "../../recovery/list.ts";
import { parseRecoveryArgs } from "../../recovery/options.ts";
import { chrootEnv, commandArgv, recoveryActivationEnv } from "../../recovery/enterPlan.ts";
import { statusOf } from "../../src/exitStatus.ts";
import { rollback } from "../../recovery/rollback.ts";
import { pathInsideRoot, SelectionError, selectGeneration } from "../../recovery/select.ts";
import { listGenerations } from "../../src/generations.ts";
import { RootPathError } from "../../src/rootPath.ts";
import { type FakeRoot, makeFakeRoot } from "../harness/fakeRoot.ts";

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

  it("takes a value after = or as the next argument, and -h for help", () => {
    expect(parseRecoveryArgs(["--root=/x", "--list"])).toEqual({ action: "list", root: "/x", json: false });
    expect(parseRecoveryArgs(["--root=-odd", "--list"])).toEqual({ action: "list", root: "-odd", json: false });
    expect(parseRecoveryArgs(["--command=ls -l"])).toMatchObject({ command: { shell: "ls -l" } });
    expect(parseRecoveryArgs(["-h"])).toMatchObject({ action: "help" });
    // After "--" everything is the command's, options included.
    expect(parseRecoveryArgs(["--", "--list", "-c"])).toMatchObject({ action: "enter", command: { argv: ["--list", "-c"] } });
  });

  it("parses --list and --rollback", () => {
    expect(parseRecoveryArgs(["--list", "--json", "--root", "/x"])).toEqual({ action: "list", root: "/x", json: true });
    expect(parseRecoveryArgs(["--doctor"])).toEqual({ action: "doctor", root: "/mnt/wslg/distro", json: false });
    expect(parseRecoveryArgs(["--doctor", "--json", "--root", "/x"])).toEqual({ action: "doctor", root: "/x", json: true });
    expect(parseRecoveryArgs(["--rollback", "--generation", "3"])).toEqual({ action: "rollback", root: "/mnt/wslg/distro", generation: { kind: "number", number: 3 } });
  });

  it.each([
    [["--generation", "1", "--previous"], /mutually exclusive/],
    [["--system", "/a", "--generation", "2"], /mutually exclusive/],
    [["--generation", "two"], /whole generation number/],
    [["--generation", "0"], /whole generation number/],
    [["--rollback"], /needs the generation/],
    [["--list", "--rollback"], /mutually exclusive/],
    [["--doctor", "--generation", "2"], /mutually exclusive/],
    [["--doctor", "--", "ls"], /--doctor takes no command/],
    [["--json"], /--json goes with --list/],
    [["-c", "ls", "--", "ls"], /either --command CMD or -- CMD/],
    [["ls"], /put a command after '--'/],
    [["--root"], /--root needs a value$/],
    [["--root", "--list"], /--root needs a value \(found '--list'; give a value starting with a dash as --root=--list\)/],
    [["--silent=yes"], /--silent takes no value/],
    [["-x"], /unknown option '-x'/],
    [["--bogus"], /unknown option '--bogus' \(a command and its own options go after '--'\)/],
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
    expect(statusOf({ exitCode: 7, signalCode: null })).toBe(7);
    expect(statusOf({ exitCode: null, signalCode: 2 })).toBe(130);
    expect(statusOf({ exitCode: null, signalCode: "SIGTERM" })).toBe(143);
  });

  it("reads host paths to the distro as paths inside it", () => {
    expect(pathInsideRoot("/mnt/wslg/distro", "/mnt/wslg/distro/nix/var/nix/profiles/system-4-link")).toBe("/nix/var/nix/profiles/system-4-link");
    expect(pathInsideRoot("/mnt/wslg/distro", "/nix/var/nix/profiles/system-4-link")).toBe("/nix/var/nix/profiles/system-4-link");
  });
});

describe("choosing and rolling back generations", () => {
  const roots: FakeRoot[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) root.remove();
  });
  function distro(): FakeRoot {
    const root = makeFakeRoot({ generations: [{ number: 1, systemdScript: "exit 0" }, { number: 2, systemdScript: "exit 0" }] });
    roots.push(root);
    return root;
  }
  const profileOf = (root: FakeRoot) => join(root.root, "nix/var/nix/profiles/system");

  it("shows every problem with the distro's files as a refusal, never as an unexpected error", () => {
    // recovery/cli.ts prints a SelectionError's message and exits 1; anything else is a crash with a stack trace.
    expect(new RootPathError("missing", "/x", "gone")).toBeInstanceOf(SelectionError);
    expect(new SelectionError("refused")).toBeInstanceOf(Error);
  });

  it("enters system-007-link as a plain path but never rolls back to it", () => {
    const root = distro();
    symlinkSync(root.storePath(1), join(root.root, "nix/var/nix/profiles/system-007-link"));
    const generation = selectGeneration(root.root, { kind: "path", path: "/nix/var/nix/profiles/system-007-link" });
    expect(generation).toEqual({ number: null, link: "/nix/var/nix/profiles/system-007-link", storePath: root.storePath(1) });
    expect(() => rollback(root.root, generation)).toThrow(
      "/nix/var/nix/profiles/system-007-link is not a generation name as Nix writes it: system-N-link, with N in decimal and no leading zeros.",
    );
    expect(readlinkSync(profileOf(root))).toBe("system-2-link");
  });

  it("leaves a system profile that is a directory alone, and says how to replace it", () => {
    const root = distro();
    rmSync(profileOf(root));
    mkdirSync(profileOf(root));
    const generation = selectGeneration(root.root, { kind: "number", number: 1 });
    expect(() => rollback(root.root, generation)).toThrow(SelectionError);
    expect(() => rollback(root.root, generation)).toThrow(
      /^\/nix\/var\/nix\/profiles\/system is a directory, not a link to a generation as Nix makes it; [^]*\n  nixos-wsl-recovery --generation 1 -- mv \/nix\/var\/nix\/profiles\/system \/nix\/var\/nix\/profiles\/system\.moved-aside\n  nixos-wsl-recovery --rollback --generation 1$/,
    );
    expect(lstatSync(profileOf(root)).isDirectory()).toBe(true);
    expect(() => selectGeneration(root.root, { kind: "path", path: "/nix/var/nix/profiles/system" })).toThrow(
      /^\/nix\/var\/nix\/profiles\/system is a directory, not a link to a generation as Nix makes it, so there is no default generation to enter\./,
    );
    expect(() => selectGeneration(root.root, { kind: "previous" })).toThrow(/so there is no default generation, and so no "previous" one/);
    expect(formatGenerationTable(root.root, listGenerations(root.root))).toContain(
      "\n\nNo default generation: /nix/var/nix/profiles/system is a directory, not a link to a generation as Nix makes it.\n",
    );
  });

  it("rolls back onto a missing profile, and says which default a table lacks", () => {
    const root = distro();
    rmSync(profileOf(root));
    expect(formatGenerationTable(root.root, listGenerations(root.root))).toMatch(/No default generation: \/nix\/var\/nix\/profiles\/system does not exist\./);
    expect(rollback(root.root, selectGeneration(root.root, { kind: "number", number: 1 }))).toEqual({ previousTarget: null, newTarget: "system-1-link", changed: true });
    expect(readlinkSync(profileOf(root))).toBe("system-1-link");
    rmSync(profileOf(root));
    symlinkSync("system-9-link", profileOf(root));
    expect(formatGenerationTable(root.root, listGenerations(root.root))).toContain("The default, /nix/var/nix/profiles/system -> system-9-link, does not exist.");
  });
});
