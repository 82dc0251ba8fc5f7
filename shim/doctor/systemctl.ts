// systemctl and journalctl for the doctor, each call bounded, and all of them
// together too: a systemd or bus that does not answer costs one time limit,
// after which nothing more is asked (doctor never hangs on a dead bus).
import { spawnSync } from "node:child_process";
import { findTool, toolDirectories } from "../legacy/tools.ts";

export interface Reply {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Why there is no answer at all (not found, timed out, given up before); null when the program ran to its end. */
  readonly noAnswer: string | null;
}

/** Runs systemd's tools with one deadline for every call together. */
export class BoundedSystemd {
  private readonly deadline: number;
  private deadBus: string | null = null;

  constructor(
    totalMs = 8_000,
    private readonly perCallMs = 3_000,
    /** In legacy mode, outside systemd's namespaces: the argv that enters them (nsenter …), put before the tool. */
    private readonly prefix: readonly string[] = [],
  ) {
    this.deadline = Date.now() + totalMs;
  }

  /** Why systemd is not asked any more, once a call went unanswered. */
  get unanswered(): string | null {
    return this.deadBus;
  }

  systemctl(args: readonly string[]): Reply {
    return this.run("systemctl", ["--no-pager", ...args]);
  }

  journalctl(args: readonly string[]): Reply {
    return this.run("journalctl", ["--no-pager", ...args]);
  }

  private run(tool: string, args: readonly string[]): Reply {
    const none = (why: string): Reply => ({ ok: false, exitCode: null, stdout: "", stderr: "", noAnswer: why });
    if (this.deadBus !== null) return none(this.deadBus);
    const path = findTool(tool);
    if (path === null) return none(`no ${tool} in ${toolDirectories().join(", ")}`);
    const left = this.deadline - Date.now();
    if (left < 200) return none(`doctor's time for asking systemd ran out before ${tool} ${args.join(" ")}`);
    const timeout = Math.min(this.perCallMs, left);
    // Through nsenter the tool runs as nsenter's child in another PID namespace: killing nsenter at
    // the time limit would leave it holding our pipe, so there coreutils' timeout ends it from inside.
    const inside = this.prefix.length > 0 && findTool("timeout") !== null ? [findTool("timeout")!, "-s", "KILL", `${Math.max(0.1, (timeout - 100) / 1000)}`] : [];
    const argv = [...this.prefix, ...inside, path, ...args];
    const result = spawnSync(argv[0]!, argv.slice(1), {
      encoding: "utf8",
      timeout,
      killSignal: "SIGKILL",
      env: { ...process.env, SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0", LC_ALL: "C" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (result.error) {
      if ((result.error as NodeJS.ErrnoException).code === "ETIMEDOUT") {
        this.deadBus = `systemd did not answer '${tool} ${args.join(" ")}' within ${(timeout / 1000).toFixed(1)} s`;
        return none(this.deadBus);
      }
      return none(`${tool} could not be run: ${result.error.message}`);
    }
    return { ok: result.status === 0, exitCode: result.status, stdout: result.stdout ?? "", stderr: (result.stderr ?? "").trim(), noAnswer: null };
  }
}

/** `systemctl show` output as properties. */
export function properties(output: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of output.split("\n")) {
    const equals = line.indexOf("=");
    if (equals > 0) values[line.slice(0, equals)] = line.slice(equals + 1);
  }
  return values;
}
