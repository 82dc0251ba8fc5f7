import { describe, expect, it } from "vitest";
import { canEnter, FALLBACK_SHELL, parseLegacyArgs, realShell, shellArgv, shellEnv, workingDirectory } from "../../shim/legacyPlan.ts";
import { ConfigError, DEFAULT_SETTINGS, MAX_TIMEOUT_SECONDS, parseSettings } from "../../src/config.ts";
import { parseGroups, parsePasswd } from "../../src/passwd.ts";
import { planCgroup } from "../../shim/legacyCgroup.ts";
import { parseMountInfo } from "../../src/mountInfo.ts";

const alice = { name: "alice", uid: 1000, gid: 100, home: "/home/alice", shell: "/run/current-system/sw/bin/zsh" };

describe("legacy command line", () => {
  it("takes nothing, login flags, or -c CMD", () => {
    expect(parseLegacyArgs([])).toEqual({ command: null });
    expect(parseLegacyArgs(["-l"])).toEqual({ command: null });
    expect(parseLegacyArgs(["-c", "ls -l /"])).toEqual({ command: "ls -l /" });
    expect(parseLegacyArgs(["--help"])).toEqual({ help: true });
  });

  it("refuses what it would otherwise drop", () => {
    expect(parseLegacyArgs(["-c"])).toEqual({ usageError: "-c needs a command" });
    expect(parseLegacyArgs(["-c", "ls", "extra"])).toEqual({ usageError: "unexpected argument after -c CMD: 'extra'" });
    expect(parseLegacyArgs(["--frob"])).toEqual({ usageError: "unexpected argument '--frob'" });
  });
});

describe("the user's shell", () => {
  it("is the passwd shell, unless that is this program", () => {
    expect(realShell(alice, () => false)).toBe(alice.shell);
    expect(realShell({ ...alice, shell: "/run/current-system/sw/bin/syschdemd" }, () => true)).toBe(FALLBACK_SHELL);
    expect(shellArgv("/bin/zsh", null)).toEqual(["/bin/zsh", "-l"]);
    expect(shellArgv("/bin/zsh", "echo hi")).toEqual(["/bin/zsh", "-c", "echo hi"]);
  });

  it("gets the caller's environment with the user's identity and Windows paths apart", () => {
    const env = shellEnv(
      { PATH: "/usr/bin:/mnt/c/Windows:/bin:/mnt/d/tools", HOME: "/root", USER: "root", LOGNAME: "root", SHELL: "/x", TERM: "xterm", WSLENV: "a" },
      alice,
      alice.shell,
      "/mnt/",
    );
    expect(env).toEqual({
      PATH: "/usr/bin:/bin",
      WSLPATH: "/mnt/c/Windows:/mnt/d/tools",
      HOME: "/home/alice",
      USER: "alice",
      LOGNAME: "alice",
      SHELL: alice.shell,
      TERM: "xterm",
      WSLENV: "a",
      NIXOS_WSL_INIT_INSIDE: "1",
    });
    expect(shellEnv({ PATH: "/bin" }, alice, alice.shell, "/mnt/")).not.toHaveProperty("WSLPATH");
  });

  it("keeps the working directory unless it is /root and the user may not enter it", () => {
    expect(workingDirectory("/srv/project", alice, false)).toBe("/srv/project");
    expect(workingDirectory("/root", alice, false)).toBe("/home/alice");
    expect(workingDirectory("/root/sub", alice, false)).toBe("/home/alice");
    expect(workingDirectory("/root", alice, true)).toBe("/root");
    expect(workingDirectory("/rootless", alice, false)).toBe("/rootless");
  });

  it("knows who may enter a directory", () => {
    const rootOnly = { uid: 0, gid: 0, mode: 0o40700 };
    expect(canEnter(alice, rootOnly, [])).toBe(false);
    expect(canEnter({ ...alice, uid: 0 }, rootOnly, [])).toBe(true);
    expect(canEnter(alice, { uid: 0, gid: 5, mode: 0o40750 }, [5])).toBe(true);
    expect(canEnter(alice, { uid: 0, gid: 0, mode: 0o40701 }, [])).toBe(true);
  });
});

describe("settings and the passwd database", () => {
  it("reads /etc/nixos-wsl-init.json with defaults for what is missing", () => {
    expect(parseSettings("{}")).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings('{"defaultUser":"alice","readinessTimeoutSeconds":5,"activationTimeoutSeconds":0,"automountRoot":"/win"}')).toEqual({
      defaultUser: "alice",
      readinessTimeoutSeconds: 5,
      activationTimeoutSeconds: 0,
      automountRoot: "/win/",
    });
  });

  it("clamps timeouts to an hour, so no timer overflows", () => {
    expect(parseSettings('{"readinessTimeoutSeconds":3000000,"activationTimeoutSeconds":1e12}')).toMatchObject({
      readinessTimeoutSeconds: MAX_TIMEOUT_SECONDS,
      activationTimeoutSeconds: MAX_TIMEOUT_SECONDS,
    });
  });

  it.each([
    ["not json", /is not valid JSON/],
    ["[]", /must hold a JSON object/],
    ['{"activationTimeoutSeconds":-1}', /"activationTimeoutSeconds" must be a number of seconds/],
    ['{"defaultUser":""}', /"defaultUser" must be a user name/],
    ['{"readinessTimeoutSeconds":0}', /"readinessTimeoutSeconds" must be a positive number/],
  ])("explains a bad settings file: %s", (text, message) => {
    expect(() => parseSettings(text)).toThrow(ConfigError);
    expect(() => parseSettings(text)).toThrow(message);
  });

  it("parses passwd and group files", () => {
    expect(parsePasswd("root:x:0:0::/root:\n# comment\nalice:x:1000:100:Alice:/home/alice:/bin/zsh\nbroken\n")).toEqual([
      { name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/sh" },
      { name: "alice", uid: 1000, gid: 100, home: "/home/alice", shell: "/bin/zsh" },
    ]);
    expect(parseGroups("wheel:x:1:alice,bob\nusers:x:100:\n")).toEqual([
      { name: "wheel", gid: 1, members: ["alice", "bob"] },
      { name: "users", gid: 100, members: [] },
    ]);
  });
});

describe("cgroup plan", () => {
  const line = (point: string, fs: string, superOptions: string) => `30 1 0:26 / ${point} rw,nosuid shared:9 - ${fs} ${fs} ${superOptions}`;
  it("roots systemd's cgroup namespace in name=systemd on a v1 or hybrid layout, else in cgroup2", () => {
    const hybrid = parseMountInfo([line("/sys/fs/cgroup/unified", "cgroup2", "rw"), line("/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd")].join("\n"));
    expect(planCgroup(hybrid)).toEqual({ directory: "/sys/fs/cgroup/systemd/nixos-wsl-init" });
    const unified = parseMountInfo(line("/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"));
    expect(planCgroup(unified)).toEqual({ directory: "/sys/fs/cgroup/nixos-wsl-init" });
    expect(planCgroup(parseMountInfo(line("/", "ext4", "rw")))).toBeNull();
  });
});
