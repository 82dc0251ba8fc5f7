import { describe, expect, it } from "vitest";
import { canEnter, FALLBACK_SHELL, INSIDE_MARKER, parseLegacyArgs, realShell, shellArgv, shellEnv, withSessionEnv, workingDirectory, wrappedShell } from "../../shim/legacy/shellRules.ts";
import { ConfigError, DEFAULT_SETTINGS, MAX_TIMEOUT_SECONDS, parseSettings } from "../../src/config.ts";
import { parseGroups, parsePasswd } from "../../shim/legacy/passwd.ts";
import { cgroupBinds, cgroupTextIsUnder, chooseLegacyCgroup } from "../../shim/legacy/cgroup.ts";
import { parseState } from "../../shim/legacy/state.ts";
import { waylandLink } from "../../shim/legacy/wslg.ts";
import { looksLikeSystemd, nsPidsOf, readinessArgs, systemOf } from "../../shim/legacy/systemdProcess.ts";
import { parseJobs, parseUnitList, systemctlArgv } from "../../shim/legacy/systemctl.ts";
import { LEGACY_EXIT, legacyStatusOf } from "../../shim/status.ts";
import { mountAt, mountOptionsAt, parseMountInfo } from "../../src/mountInfo.ts";

const alice = { name: "alice", uid: 1000, gid: 100, home: "/home/alice", shell: "/run/current-system/sw/bin/zsh" };

describe("legacy command line", () => {
  it("takes nothing, login flags, or -c CMD", () => {
    expect(parseLegacyArgs([])).toEqual({ command: null });
    expect(parseLegacyArgs(["-l"])).toEqual({ command: null });
    expect(parseLegacyArgs(["-c", "ls -l /"])).toEqual({ command: "ls -l /" });
    expect(parseLegacyArgs(["--help"])).toEqual({ help: true });
    expect(parseLegacyArgs(["--shutdown"])).toEqual({ shutdown: true });
  });

  it("refuses what it would otherwise drop", () => {
    expect(parseLegacyArgs(["-c"])).toEqual({ usageError: "-c needs a command" });
    expect(parseLegacyArgs(["-c", "ls", "extra"])).toEqual({ usageError: "unexpected argument after -c CMD: 'extra'" });
    expect(parseLegacyArgs(["--frob"])).toEqual({ usageError: "unexpected argument '--frob'" });
    expect(parseLegacyArgs(["--shutdown", "-c", "ls"])).toEqual({ usageError: "--shutdown takes nothing else" });
    expect(parseLegacyArgs(["-c", "ls", "--shutdown"])).toEqual({ usageError: "unexpected argument after -c CMD: '--shutdown'" });
  });
});

describe("the user's shell", () => {
  it("is the passwd shell, unless that is this program", () => {
    expect(realShell(alice, () => false)).toBe(alice.shell);
    expect(realShell({ ...alice, shell: "/run/current-system/sw/bin/syschdemd" }, () => true)).toBe(FALLBACK_SHELL);
    // NixOS-WSL's wrapper of a shell: DIR/wrapper beside a link DIR/shell to the real one.
    const links: Record<string, string> = { "/nix/store/w-wrapped-syschdemd/shell": "/nix/store/i-nixos-wsl-init/bin/nixos-wsl-init" };
    const resolve = (path: string) => links[path] ?? null;
    expect(wrappedShell("/nix/store/w-wrapped-syschdemd/wrapper", resolve)).toBe("/nix/store/i-nixos-wsl-init/bin/nixos-wsl-init");
    expect(wrappedShell("/run/current-system/sw/bin/zsh", resolve)).toBeNull();
    expect(wrappedShell("/nix/store/w-wrapped-syschdemd/shell", resolve)).toBeNull(); // the link itself is no wrapper
    expect(wrappedShell("zsh", resolve)).toBeNull();
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

  it("takes only drive-letter directories for Windows', so an automount root of / keeps the Linux PATH", () => {
    const env = shellEnv({ PATH: "/usr/bin:/c/Windows:/bin:/mnt/wsl/x:/d" }, alice, alice.shell, "/");
    expect(env.PATH).toBe("/usr/bin:/bin:/mnt/wsl/x");
    expect(env.WSLPATH).toBe("/c/Windows:/d");
    expect(shellEnv({ PATH: "/mnt/wslg/bin:/mnt/c/x" }, alice, alice.shell, "/mnt/")).toMatchObject({ PATH: "/mnt/wslg/bin", WSLPATH: "/mnt/c/x" });
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

describe("the login session's environment", () => {
  it("adds the session's variables but keeps the rules' PATH, WSLPATH, HOME, LOGNAME, USER, SHELL and marker", () => {
    const rules = { PATH: "/run/wrappers/bin:/usr/bin", WSLPATH: "/mnt/c/Windows", HOME: "/home/nixos", LOGNAME: "nixos", USER: "nixos", SHELL: "/bin/bash", [INSIDE_MARKER]: "1", TERM: "xterm" };
    const session = { XDG_RUNTIME_DIR: "/run/user/1000", XDG_SESSION_ID: "3", XDG_SESSION_TYPE: "tty", PATH: "/elsewhere", HOME: "/", TERM: "linux" };
    expect(withSessionEnv(rules, session)).toEqual({ ...rules, XDG_RUNTIME_DIR: "/run/user/1000", XDG_SESSION_ID: "3", XDG_SESSION_TYPE: "tty", TERM: "linux" });
    expect(withSessionEnv(rules, {})).toEqual(rules);
  });
});

describe("WSLg's Wayland socket in the session", () => {
  const wslg = { XDG_RUNTIME_DIR: "/mnt/wslg/runtime-dir", WAYLAND_DISPLAY: "wayland-0" };
  it("links WSLg's socket into the session's runtime directory when that replaces WSLg's", () => {
    expect(waylandLink(wslg, { XDG_RUNTIME_DIR: "/run/user/1000" })).toEqual({ path: "/run/user/1000/wayland-0", target: "/mnt/wslg/runtime-dir/wayland-0" });
  });
  it("links nothing without WSLg, without a session directory, for the same directory, or for an absolute display", () => {
    expect(waylandLink({}, { XDG_RUNTIME_DIR: "/run/user/1000" })).toBeNull();
    expect(waylandLink(wslg, {})).toBeNull();
    expect(waylandLink(wslg, { XDG_RUNTIME_DIR: "/mnt/wslg/runtime-dir/" })).toBeNull();
    expect(waylandLink({ ...wslg, WAYLAND_DISPLAY: "/mnt/wslg/runtime-dir/wayland-0" }, { XDG_RUNTIME_DIR: "/run/user/1000" })).toBeNull();
  });
});

describe("settings and the passwd database", () => {
  it("reads /etc/nixos-wsl-init.json with defaults for what is missing", () => {
    expect(parseSettings("{}")).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings('{"defaultUser":"alice","readinessTimeoutSeconds":5,"activationTimeoutSeconds":0,"automountRoot":"/win","bootAttempts":0}')).toEqual({
      defaultUser: "alice",
      readinessTimeoutSeconds: 5,
      activationTimeoutSeconds: 0,
      automountRoot: "/win/",
      bootAttempts: 0,
      waitFor: null,
      loginSession: true,
      pamLibrary: "libpam.so.0",
    });
  });

  it("takes loginSession as a boolean and pamLibrary as a file or a soname", () => {
    expect(parseSettings('{"loginSession":false,"pamLibrary":"/nix/store/x-pam/lib/libpam.so.0"}')).toMatchObject({ loginSession: false, pamLibrary: "/nix/store/x-pam/lib/libpam.so.0" });
    expect(() => parseSettings('{"loginSession":"yes"}')).toThrow(/"loginSession" must be true or false/);
    expect(() => parseSettings('{"pamLibrary":""}')).toThrow(/"pamLibrary" must be libpam's path/);
  });

  it("takes waitFor as a unit name, or null for the whole start", () => {
    expect(parseSettings('{"waitFor":"multi-user.target"}').waitFor).toBe("multi-user.target");
    expect(parseSettings('{"waitFor":"getty@tty1.service"}').waitFor).toBe("getty@tty1.service");
    expect(parseSettings('{"waitFor":null}').waitFor).toBeNull();
    expect(DEFAULT_SETTINGS.waitFor).toBeNull();
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
    ['{"bootAttempts":1.5}', /"bootAttempts" must be a whole number/],
    ['{"defaultUser":""}', /"defaultUser" must be a user name/],
    ['{"readinessTimeoutSeconds":0}', /"readinessTimeoutSeconds" must be a positive number/],
    ['{"waitFor":""}', /"waitFor" must be a unit name such as "multi-user.target", or null/],
    ['{"waitFor":"--force"}', /"waitFor" must be a unit name/],
    ['{"waitFor":"a b.service"}', /"waitFor" must be a unit name/],
    ['{"waitFor":7}', /"waitFor" must be a unit name/],
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
    expect(chooseLegacyCgroup(hybrid)).toEqual({
      directory: "/sys/fs/cgroup/systemd/nixos-wsl-init",
      hierarchy: "name=systemd",
      path: "/nixos-wsl-init",
      unifiedDirectory: "/sys/fs/cgroup/unified/nixos-wsl-init",
    });
    const unified = parseMountInfo(line("/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"));
    expect(chooseLegacyCgroup(unified)).toEqual({ directory: "/sys/fs/cgroup/nixos-wsl-init", hierarchy: "", path: "/nixos-wsl-init", unifiedDirectory: null });
    expect(chooseLegacyCgroup(parseMountInfo(line("/", "ext4", "rw")))).toBeNull();
  });

  it("binds the sub-cgroups over their hierarchies' mount points, so that systemd's paths start where its namespace does", () => {
    const hybrid = chooseLegacyCgroup(parseMountInfo([line("/sys/fs/cgroup/unified", "cgroup2", "rw"), line("/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd")].join("\n")))!;
    expect(hybrid.unifiedDirectory).toBe("/sys/fs/cgroup/unified/nixos-wsl-init");
    expect(cgroupBinds(hybrid)).toEqual([
      { source: "/sys/fs/cgroup/systemd/nixos-wsl-init", target: "/sys/fs/cgroup/systemd" },
      { source: "/sys/fs/cgroup/unified/nixos-wsl-init", target: "/sys/fs/cgroup/unified" },
    ]);
    expect(cgroupBinds(chooseLegacyCgroup(parseMountInfo(line("/sys/fs/cgroup/systemd", "cgroup", "rw,name=systemd")))!)).toEqual([
      { source: "/sys/fs/cgroup/systemd/nixos-wsl-init", target: "/sys/fs/cgroup/systemd" },
    ]);
    expect(cgroupBinds(chooseLegacyCgroup(parseMountInfo(line("/sys/fs/cgroup", "cgroup2", "rw")))!)).toEqual([{ source: "/sys/fs/cgroup/nixos-wsl-init", target: "/sys/fs/cgroup" }]);
  });
});

describe("finding legacy mode's systemd in /proc", () => {
  const hybrid = { directory: "/sys/fs/cgroup/systemd/nixos-wsl-init", hierarchy: "name=systemd", path: "/payload/nixos-wsl-init", unifiedDirectory: null };
  const unified = { directory: "/sys/fs/cgroup/nixos-wsl-init", hierarchy: "", path: "/nixos-wsl-init", unifiedDirectory: null };

  it("names the sub-cgroup as /proc/PID/cgroup does: below the mount's root", () => {
    const nspawned = "166 157 0:37 /payload /sys/fs/cgroup/systemd rw,nosuid shared:24 - cgroup cgroup rw,name=systemd";
    expect(chooseLegacyCgroup(parseMountInfo(nspawned))).toEqual(hybrid);
  });

  it("tells processes in the sub-cgroup (or below) from the others", () => {
    expect(cgroupTextIsUnder("9:name=systemd:/payload/nixos-wsl-init\n4:memory:/\n0::/\n", hybrid)).toBe(true);
    expect(cgroupTextIsUnder("9:name=systemd:/payload/nixos-wsl-init/init.scope\n", hybrid)).toBe(true);
    expect(cgroupTextIsUnder("9:name=systemd:/payload/init.scope\n0::/payload/nixos-wsl-init\n", hybrid)).toBe(false);
    expect(cgroupTextIsUnder("9:name=systemd:/payload/nixos-wsl-init-other\n", hybrid)).toBe(false);
    expect(cgroupTextIsUnder("0::/nixos-wsl-init\n", unified)).toBe(true);
    expect(cgroupTextIsUnder("0::/user.slice\n", unified)).toBe(false);
  });

  it("knows systemd by its command line: itself, a script standing in for it, or unshare about to exec it", () => {
    const systemd = "/nix/store/abc-nixos-system-x/systemd/lib/systemd/systemd";
    expect(looksLikeSystemd([systemd])).toBe(true);
    expect(looksLikeSystemd(["/bin/sh", systemd])).toBe(true);
    expect(looksLikeSystemd(["/nix/store/abc/sw/bin/unshare", "--fork", "--", systemd])).toBe(true);
    expect(looksLikeSystemd(["/usr/bin/sleep", "infinity"])).toBe(false);
    expect(looksLikeSystemd(["/lib/systemd/systemd-journald"])).toBe(false);
    expect(systemOf(["/bin/sh", systemd])).toBe("/nix/store/abc-nixos-system-x");
    expect(systemOf(["/lib/systemd/systemd"])).toBe("");
  });

  it("reads the PID of each namespace level from /proc/PID/status", () => {
    expect(nsPidsOf("Name:\tsystemd\nNSpid:\t14\t1\nNSsid:\t1\n")).toEqual([14, 1]);
    expect(nsPidsOf("Name:\tx\n")).toEqual([]);
  });
});

describe("legacy mode's record", () => {
  const valid = {
    pid: 14,
    startTime: "12345",
    bootId: "b0",
    cgroupNamespace: true,
    system: "/nix/store/abc-nixos-system-x",
    startedAt: "2026-01-01T00:00:00.000Z",
    phase: "running",
  };

  it("takes a record of the right shape", () => {
    expect(parseState(JSON.stringify(valid))).toEqual({ state: valid });
  });

  it.each([
    ["", "it is empty"],
    ["{}", '"pid" is missing'],
    ['{"pid": 1', "it is not JSON"],
    ["null", "it is not a JSON object"],
    [JSON.stringify({ ...valid, pid: 0 }), '"pid" must be a PID, not 0'],
    [JSON.stringify({ ...valid, startTime: 5 }), '"startTime" must be a start time in clock ticks, not 5'],
    [JSON.stringify({ ...valid, startedAt: "soon" }), '"startedAt" must be a date, not "soon"'],
    [JSON.stringify({ ...valid, phase: undefined }), '"phase" is missing'],
  ])("says what is wrong with %j", (text, problem) => {
    const parsed = parseState(text);
    expect("problem" in parsed && parsed.problem).toContain(problem);
  });
});

describe("asking legacy mode's systemd", () => {
  it("runs systemctl inside its PID and mount namespace", () => {
    expect(systemctlArgv({ nsenter: "/bin/nsenter", systemctl: "/bin/systemctl" }, 42, ["is-system-running"])).toEqual([
      "/bin/nsenter",
      "--target",
      "42",
      "--mount",
      "--pid",
      "--",
      "/bin/systemctl",
      "is-system-running",
    ]);
  });

  it("waits for the whole start, or for the start job of the waitFor unit", () => {
    expect(readinessArgs(null)).toEqual(["is-system-running", "--wait"]);
    expect(readinessArgs("sshd.service")).toEqual(["start", "--job-mode=fail", "--no-ask-password", "--", "sshd.service"]);
  });

  it("reads the failed units and the jobs", () => {
    expect(parseUnitList("dev-hugepages.mount loaded failed failed Huge Pages\n● test-fail.service loaded failed failed Fails\n\n")).toEqual([
      "dev-hugepages.mount",
      "test-fail.service",
    ]);
    expect(parseUnitList("")).toEqual([]);
    expect(parseJobs("115 multi-user.target start waiting\n116 test-slow.service start running\n")).toEqual([
      { unit: "multi-user.target", type: "start", state: "waiting" },
      { unit: "test-slow.service", type: "start", state: "running" },
    ]);
    expect(parseJobs("No jobs running.")).toEqual([]);
  });

  it("turns systemd's own word into status's state and exit code", () => {
    expect(legacyStatusOf("running")).toBe("running");
    expect(legacyStatusOf("degraded")).toBe("degraded");
    expect(legacyStatusOf("maintenance")).toBe("degraded");
    expect(legacyStatusOf("stopping")).toBe("degraded");
    expect(legacyStatusOf("starting")).toBe("starting");
    expect(legacyStatusOf("initializing")).toBe("starting");
    expect(legacyStatusOf(null)).toBe("starting");
    expect(LEGACY_EXIT).toEqual({ running: 0, degraded: 1, starting: 2, stopped: 3, gone: 4, unknown: 5 });
  });
});

describe("mount options at one mount point, without a full parse", () => {
  const table = [
    "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda rw",
    "40 22 0:21 /nix/store /nix/store rw,relatime shared:1 - ext4 /dev/sda rw",
    "41 40 0:21 /nix/store /nix/store ro,relatime shared:1 - ext4 /dev/sda rw",
    "42 22 0:30 / /mnt/with\\040space rw shared:2 - tmpfs tmpfs rw",
  ].join("\n");
  it("agrees with the full parse: the last mount at the point, escaped names unescaped, null when none", () => {
    for (const point of ["/", "/nix/store", "/mnt/with space", "/absent"]) {
      expect(mountOptionsAt(table, point)).toEqual(mountAt(parseMountInfo(table), point)?.options ?? null);
    }
    expect(mountOptionsAt(table, "/nix/store")).toEqual(["ro", "relatime"]);
  });
});
