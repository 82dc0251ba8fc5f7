import { describe, expect, it } from "vitest";
import { readCommandLine } from "../../src/commandLine.ts";
import { runInstallBin } from "../../shim/wsl/installBin.ts";

const OPTIONS = { root: { type: "string" }, silent: { type: "boolean" }, command: { type: "string", short: "c" } } as const;

describe("the command line read by hand", () => {
  it("reads flags, values after a space or =, short options, stray arguments and the rest after --", () => {
    expect(readCommandLine(["--root", "/x", "--silent", "stray", "-c", "ls -l", "--", "--root", "y"], OPTIONS)).toEqual({
      values: { root: "/x", silent: true, command: "ls -l" },
      stray: ["stray"],
      rest: ["--root", "y"],
    });
    expect(readCommandLine(["--root=-odd", "-"], OPTIONS)).toEqual({ values: { root: "-odd" }, stray: ["-"], rest: [] });
    // The last of repeated options wins, as with util.parseArgs.
    expect(readCommandLine(["--root", "/a", "--root", "/b"], OPTIONS).values).toEqual({ root: "/b" });
  });

  it.each([
    [["--bogus"], "unknown option '--bogus' (a command and its own options go after '--')"],
    [["-x"], "unknown option '-x' (a command and its own options go after '--')"],
    [["--root"], "--root needs a value"],
    [["--root", "--silent"], "--root needs a value (found '--silent'; give a value starting with a dash as --root=--silent)"],
    [["-c", "-x"], "-c needs a value (found '-x'; give a value starting with a dash as --command=-x)"],
    [["--silent=yes"], "--silent takes no value ('--silent=yes')"],
    [["--constructor"], "unknown option '--constructor' (a command and its own options go after '--')"],
  ])("refuses %j", (args, message) => {
    expect(() => readCommandLine(args, OPTIONS)).toThrow(message);
  });

  it("install-bin: bad usage is exit 2, with the usage", () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => written.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      expect(runInstallBin(["--system"])).toBe(2);
      expect(runInstallBin(["--system", "/s", "extra"])).toBe(2);
      expect(runInstallBin([])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual([
      "nixos-wsl-init install-bin: --system needs a value\nUsage: nixos-wsl-init install-bin --system PATH\n",
      "nixos-wsl-init install-bin: unexpected argument 'extra'\nUsage: nixos-wsl-init install-bin --system PATH\n",
      "nixos-wsl-init install-bin: --system PATH is required\nUsage: nixos-wsl-init install-bin --system PATH\n",
    ]);
  });
});
