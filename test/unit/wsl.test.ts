// The pure parts of issue #10: reading wsl.conf, the budget arithmetic and the login-shell wrapper's decisions.
import { describe, expect, it } from "vitest";
import { parseInvocation } from "../../src/invocation.ts";
import { budgetAtStart, describeBudget, formatBudget, formatDuration, halfBudgetDelay, halfBudgetWarning, parseSystemdTimes } from "../../shim/wsl/budget.ts";
import { binShScript } from "../../shim/wsl/installBin.ts";
import { bashEnvScript, DEFAULT_SHELL, importingEnvironment, importsThroughBashEnv, planShell, type ShellFacts, shellsOf, userOf, waitSeconds } from "../../shim/wsl/shellDecision.ts";
import { DEFAULT_INIT_TIMEOUT_MS, parseInitTimeout } from "../../shim/wsl/wslConf.ts";

describe("wsl.conf: [boot] initTimeout", () => {
  it("is WSL's default of 10 s when the file has no such key", () => {
    expect(parseInitTimeout("")).toEqual({ ms: DEFAULT_INIT_TIMEOUT_MS, warning: null });
    expect(parseInitTimeout("[boot]\nsystemd=true\n[user]\ndefault=nixos\n")).toEqual({ ms: 10_000, warning: null });
  });

  it("reads the key in [boot] only, without regard to case, blanks, comments or quotes; the last one wins", () => {
    expect(parseInitTimeout("[boot]\ninitTimeout=20000\n").ms).toBe(20_000);
    expect(parseInitTimeout("  [Boot]  \r\n  InitTimeout = 15000   # fifteen seconds\r\n").ms).toBe(15_000);
    expect(parseInitTimeout('[boot]\ninitTimeout = "30000"\n').ms).toBe(30_000);
    expect(parseInitTimeout("[user]\ninitTimeout=1\n[boot]\nsystemd=true\n").ms).toBe(10_000);
    expect(parseInitTimeout("[boot]\n# initTimeout=1\n; initTimeout=2\ninitTimeout=3000\n[boot]\ninitTimeout=4000\n").ms).toBe(4_000);
  });

  it("warns and keeps the default for a value that is not a positive number of ms", () => {
    for (const bad of ["ten", "-5", "0", "1.5", ""]) {
      const result = parseInitTimeout(`[boot]\ninitTimeout=${bad}\n`, "/etc/wsl.conf");
      expect(result.ms).toBe(10_000);
      expect(result.warning).toMatch(/^\/etc\/wsl\.conf: \[boot\] initTimeout must be a positive number of milliseconds/);
    }
  });
});

describe("the boot budget", () => {
  it("formats durations and budgets as a person reads them", () => {
    expect(formatDuration(9.4)).toBe("9 ms");
    expect(formatDuration(1234)).toBe("1.2 s");
    expect(formatBudget(10_000)).toBe("10 s");
    expect(formatBudget(7_500)).toBe("7.5 s");
    expect(budgetAtStart(10_000)).toMatch(/^WSL waits up to 10\.0 s for systemd \(\[boot\] initTimeout in \/etc\/wsl\.conf, set by wsl\.init\.initTimeout\)/);
  });

  it("warns at half the budget, counted from the shim's start", () => {
    expect(halfBudgetDelay(10_000, 20)).toBe(4_980);
    expect(halfBudgetDelay(10_000, 6_000)).toBe(0);
    expect(halfBudgetWarning(10_000, 5_001)).toMatch(/still running after 5\.0 s, half of the 10 s WSL waits.*wsl\.init\.initTimeout/);
  });

  it("reads systemd's start from systemctl show", () => {
    expect(parseSystemdTimes("UserspaceTimestampMonotonic=1000000\nFinishTimestampMonotonic=3800000\n")).toEqual({ kind: "finished", ms: 2_800 });
    expect(parseSystemdTimes("UserspaceTimestampMonotonic=1000000\nFinishTimestampMonotonic=0\n")).toEqual({ kind: "starting" });
    expect(parseSystemdTimes("").kind).toBe("unknown");
  });

  it("adds the parts up against the budget and says plainly when the boot went over", () => {
    const within = describeBudget({ shimMs: 1_209, activationMs: 1_200, budgetMs: 10_000, systemd: { kind: "finished", ms: 2_800 } });
    expect(within).toEqual({ over: false, totalMs: 4_009, line: "shim 9 ms, activation 1.2 s, systemd 2.8 s: 4.0 s of the 10 s WSL waits" });
    const over = describeBudget({ shimMs: 12_020, activationMs: 12_000, budgetMs: 10_000, systemd: { kind: "finished", ms: 400 } });
    expect(over.over).toBe(true);
    expect(over.line).toMatch(/^shim 20 ms, activation 12\.0 s, systemd 400 ms: 12\.4 s, OVER the 10 s WSL waits: WSL stopped waiting .*wsl\.init\.initTimeout/);
    const starting = describeBudget({ shimMs: 1_009, activationMs: 1_000, budgetMs: 10_000, systemd: { kind: "starting" } });
    expect(starting).toMatchObject({ over: false, line: "shim 9 ms, activation 1.0 s, systemd still starting: 1.0 s so far of the 10 s WSL waits" });
    expect(describeBudget({ shimMs: 11_000, activationMs: 10_990, budgetMs: 10_000, systemd: { kind: "starting" } }).line).toContain("already OVER the 10 s WSL waits");
  });
});

describe("the login-shell wrapper's decisions", () => {
  const facts = (more: Partial<ShellFacts>): ShellFacts => ({ argv0: "nixos-wsl-shell", args: [], env: {}, user: "alice", shells: {}, parentComm: "init", ...more });

  it("is a role chosen by argv0, with or without the login dash, every argument the shell's", () => {
    expect(parseInvocation("-nixos-wsl-shell", [], false)).toEqual({ kind: "wsl-shell", args: [] });
    expect(parseInvocation("/nix/store/x/bin/nixos-wsl-shell", ["-c", "env"], false)).toEqual({ kind: "wsl-shell", args: ["-c", "env"] });
    expect(parseInvocation("nixos-wsl-shell", ["--help"], false)).toEqual({ kind: "wsl-shell", args: ["--help"] });
    expect(parseInvocation("nixos-wsl-init", ["install-bin", "--system", "/x"], false)).toEqual({ kind: "install-bin", args: ["--system", "/x"] });
  });

  it("starts the user's configured shell, bash of the current system by default", () => {
    expect(planShell(facts({ shells: { alice: "/run/current-system/sw/bin/zsh" } })).shell).toBe("/run/current-system/sw/bin/zsh");
    expect(planShell(facts({ shells: { bob: "/run/current-system/sw/bin/zsh" } })).shell).toBe(DEFAULT_SHELL);
    expect(planShell(facts({ user: null })).shell).toBe(DEFAULT_SHELL);
  });

  it("refuses a configured shell that would loop or is not a path", () => {
    const loop = planShell(facts({ shells: { alice: "/nix/store/x/bin/nixos-wsl-shell" } }));
    expect(loop.shell).toBe(DEFAULT_SHELL);
    expect(loop.note).toContain("nixos-wsl-shell itself");
    expect(planShell(facts({ shells: { alice: "zsh" } })).note).toContain("not an absolute path");
  });

  it("is a login shell when started as one, and passes every argument", () => {
    expect(planShell(facts({ argv0: "-nixos-wsl-shell", shells: { alice: "/run/current-system/sw/bin/zsh" } }))).toMatchObject({ login: true, argv: ["-zsh"] });
    expect(planShell(facts({ args: ["-c", "echo 'a b'", "x"] }))).toMatchObject({ login: false, argv: [DEFAULT_SHELL, "-c", "echo 'a b'", "x"] });
  });

  it("imports /etc/set-environment once: not when a parent did, not under WSL's kept-alive login -f", () => {
    expect(planShell(facts({})).importEnvironment).toBe(true);
    expect(planShell(facts({ env: { __NIXOS_SET_ENVIRONMENT_DONE: "1" } })).importEnvironment).toBe(false);
    expect(planShell(facts({ argv0: "-nixos-wsl-shell", parentComm: "login" })).importEnvironment).toBe(false);
  });

  it("finds the user by uid, reads only string shells, and waits a bit longer than the activation may run", () => {
    expect(userOf("root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/x\n", 1000)).toBe("alice");
    expect(userOf("root:x:0:0::/root:/bin/sh\n", 1000)).toBeNull();
    expect(shellsOf({ shells: { alice: "/a", bob: 3 } })).toEqual({ alice: "/a" });
    expect(shellsOf({ shells: ["x"] })).toEqual({});
    expect(shellsOf(null)).toEqual({});
    expect(waitSeconds(120)).toBe(135);
    expect(waitSeconds(0)).toBe(300);
    expect(waitSeconds(undefined)).toBe(135);
  });
});

describe("the wrapper's import through BASH_ENV", () => {
  const bash = "/run/current-system/sw/bin/bash";
  const facts = (argv: string[], env: Record<string, string> = {}, stdinIsSocket = false) => ({ shell: bash, argv, env, stdinIsSocket });

  it("is taken for bash -c CMD, where the file BASH_ENV names is the first and only one bash reads", () => {
    expect(importsThroughBashEnv(facts([bash, "-c", "true"]))).toBe(true);
    expect(importsThroughBashEnv(facts([bash, "-c", "echo -n x", "name", "-i"]))).toBe(true); // after CMD: $0 and $1
  });

  it("is not taken where bash reads something else first, or nothing", () => {
    expect(importsThroughBashEnv(facts([bash]))).toBe(false); // interactive
    expect(importsThroughBashEnv(facts(["-bash"]))).toBe(false);
    // nixpkgs' bash reads the profile files of a login shell first, even with -c: they would inherit BASH_ENV.
    expect(importsThroughBashEnv(facts(["-bash", "-c", "true"]))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], {}, true))).toBe(false); // takes itself for a remote shell
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { SSH_CLIENT: "10.0.0.1 5 22" }))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { SSH2_CLIENT: "10.0.0.1 5 22" }))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { POSIXLY_CORRECT: "1" }))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { POSIX_PEDANTIC: "1" }))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { SHELLOPTS: "braceexpand:posix" }))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c", "true"], { BASH_ENV: "/home/me/env.sh" }))).toBe(false);
    // Options after -c still count: interactive, login, privileged, POSIX.
    for (const option of ["-i", "-l", "-p", "-o", "+o", "--posix"]) expect(importsThroughBashEnv(facts([bash, "-c", option, "true"]))).toBe(false);
    expect(importsThroughBashEnv(facts([bash, "-c"]))).toBe(false);
    expect(importsThroughBashEnv({ ...facts(["/bin/zsh", "-c", "true"]), shell: "/bin/zsh" })).toBe(false);
  });

  it("its file closes its own descriptor and unsets BASH_ENV before anything else, and imports once", () => {
    const script = bashEnvScript(7);
    expect(script.startsWith("exec 7<&-; unset BASH_ENV; ")).toBe(true);
    expect(script).toContain('[ -n "${__NIXOS_SET_ENVIRONMENT_DONE-}" ] || . /etc/set-environment');
  });

  it("the importing bash does not read the caller's BASH_ENV, which is kept for the real shell", () => {
    expect(importingEnvironment({ PATH: "/bin", BASH_ENV: "/home/me/env.sh" })).toEqual({ PATH: "/bin", __NIXOS_WSL_SHELL_BASH_ENV: "/home/me/env.sh" });
    expect(importingEnvironment({ PATH: "/bin" })).toEqual({ PATH: "/bin" });
  });
});

describe("install-bin's /bin/sh", () => {
  it("adds the system's sw/bin at the end of PATH only when PATH has no NixOS profile, and runs bash as sh", () => {
    const script = binShScript("/nix/store/abc-nixos-system");
    expect(script.split("\n")[0]).toBe("#!/nix/store/abc-nixos-system/sw/bin/bash --posix");
    expect(script).toContain('*:/run/current-system/sw/bin:* | *:/nix/store/abc-nixos-system/sw/bin:*) ;;');
    expect(script).toContain(':/nix/store/abc-nixos-system/sw/bin"; export PATH');
    expect(script).toContain('exec -a "$0" /nix/store/abc-nixos-system/sw/bin/bash "$@"');
  });
});
