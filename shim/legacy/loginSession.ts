// Inside systemd's namespaces (started by nsenter, as root): the user's shell
// as a logind session. Like su, this process opens the PAM session, runs the
// shell as its child with the session's variables, waits, and closes the
// session when the shell ends; the exit code is the shell's. When no session
// can be opened, it says why once and runs the shell without one.
import { existsSync, readlinkSync } from "node:fs";
import { EXIT_FAILURE } from "../../src/exitCodes.ts";
import { exitCodeFor, statusOf } from "../../src/exitStatus.ts";
import { execve } from "../../src/libc.ts";
import { REPAIR_FROM_WINDOWS } from "../../src/paths.ts";
import { PassOn } from "../../src/signalProcess.ts";
import { afterPendingSignals } from "../../src/pendingSignals.ts";
import { sayAs } from "../../src/say.ts";
import { inStep, StepError } from "../../src/stepError.ts";
import { openPamSession, PamError, type PamSession } from "./pam.ts";
import { withSessionEnv } from "./shellRules.ts";
import { findTool } from "./tools.ts";
import { linkWaylandSocket, waylandLink } from "./wslg.ts";

/** The PAM service: the NixOS module declares it (security.pam.services.nixos-wsl-init, startSession = true). */
const PAM_SERVICE = "nixos-wsl-init";
const PAM_SERVICE_FILE = `/etc/pam.d/${PAM_SERVICE}`;

/** What the outer process hands over: this as one JSON argument, then "--" and the shell's command line. */
export interface LoginSessionRequest {
  readonly user: string;
  readonly uid: number;
  readonly pamLibrary: string;
}

const say = sayAs("nixos-wsl-init");

function parseLoginSessionRequest(text: string): LoginSessionRequest {
  const value = JSON.parse(text) as LoginSessionRequest;
  if (typeof value.user !== "string" || typeof value.uid !== "number" || typeof value.pamLibrary !== "string") {
    throw new Error("the login session request is malformed");
  }
  return value;
}

/** After a SIGTERM passed on, how long the shell has before SIGKILL (an interactive bash ignores SIGTERM), as su gives it. */
const TERMINATE_GRACE_MS = 2000;

/** `argv`: the shell's command line, setpriv first when the user is not root; its environment is this process's own. */
export async function runLoginSession(requestText: string, argv: readonly string[]): Promise<number> {
  const request = parseLoginSessionRequest(requestText);
  const env = process.env as Record<string, string>;

  // The terminal's Ctrl-C and Ctrl-\ are the shell's business; a hangup, a
  // termination or a continue is passed on, so the shell ends first and the
  // session after it. Set before the session opens: no moment without them
  // (one that comes before the shell runs is remembered, and the shell not started).
  let shell: ReturnType<typeof Bun.spawn> | null = null;
  let endedBy: NodeJS.Signals | null = null;
  const endedFromOutside = () => endedBy !== null; // a function: the handlers set it while this one waits
  // Only a termination gets a grace and then SIGKILL: a hangup ends a shell by itself, a continue ends nothing.
  const toShell = new PassOn({ signal: (signal) => shell?.kill(signal), graceMs: TERMINATE_GRACE_MS, kill: () => shell?.kill("SIGKILL"), unref: true });
  const passOn = (signal: NodeJS.Signals) => () => {
    if (signal !== "SIGCONT") endedBy ??= signal;
    toShell.pass(signal, signal === "SIGTERM");
  };
  process.on("SIGINT", () => {});
  process.on("SIGQUIT", () => {});
  for (const signal of ["SIGHUP", "SIGTERM", "SIGCONT"] as const) process.on(signal, passOn(signal));

  const session = openOrExplain(request);
  const notStarted = async (): Promise<number | null> => {
    await afterPendingSignals(); // the PAM calls and the waits above are synchronous
    if (endedBy === null) return null;
    say(`${endedBy} came while the login session opened: the shell was not started`);
    return exitCodeFor(endedBy);
  };
  if (session === null) return (await notStarted()) ?? execShell(argv, env);
  if (session.notice !== null) say(session.notice);
  const wayland = waylandLink(env, session.environment);
  const linkProblem = wayland === null ? null : linkWaylandSocket(wayland);
  if (linkProblem !== null) say(linkProblem);
  try {
    await untilUserManagerRuns(request.uid, endedFromOutside);
  } catch (error) {
    say(`waiting for user@${request.uid}.service: ${(error as Error).message}; the shell starts anyway`);
  }
  const code = await notStarted();
  if (code !== null) {
    session.abandon();
    return code;
  }
  try {
    shell = Bun.spawn([...argv], { stdio: ["inherit", "inherit", "inherit"], env: withSessionEnv(env, session.environment) });
  } catch (error) {
    session.close();
    throw new StepError(`running the shell (${argv.join(" ")})`, (error as Error).message, REPAIR_FROM_WINDOWS);
  }
  await shell.exited;
  toShell.ended();
  // Hung up or terminated (a closed terminal, a shutdown): logind may be on its
  // way down, and a release it never answers would hold this process for
  // D-Bus's 25 s. The session ends anyway when this process does.
  const problem = endedFromOutside() ? session.abandon() : session.close();
  if (problem !== null) say(`closing the login session: ${problem} (logind ends it anyway once its processes are gone)`);
  return statusOf(shell);
}

function execShell(argv: readonly string[], env: Record<string, string>): number {
  inStep(`running the shell (${argv.join(" ")})`, () => execve(argv[0]!, [...argv], env), () => REPAIR_FROM_WINDOWS);
  return EXIT_FAILURE;
}

const OFF = "To start shells without a session and without this message, set wsl.init.legacy.loginSession = false.";
const REBUILD = `The NixOS module declares it (wsl.init.mode = "legacy"): rebuild. ${REPAIR_FROM_WINDOWS}`;
const JOURNAL = `The PAM module's own reason is in the journal: journalctl -b -t ${PAM_SERVICE} -t systemd-logind.`;

/** What to do when a PAM step refused the session. */
function nextStepFor(error: PamError, user: string): string {
  if (error.call.startsWith("loading") || error.call.startsWith("pam_start")) return REBUILD;
  if (error.call === "pam_acct_mgmt") return `PAM refused ${user}'s account (expired or locked?): as root, chage -l ${user} shows why. ${JOURNAL}`;
  return JOURNAL;
}

/** The open session; or null, having told the user, once, why there is none and what to do. */
function openOrExplain(request: LoginSessionRequest): PamSession | null {
  const missing = (cause: string, next: string) => {
    say(`this shell has no login session (${cause}): loginctl does not list it, and XDG_RUNTIME_DIR and systemctl --user are missing. ${next} ${OFF}`);
    return null;
  };
  if (!existsSync(PAM_SERVICE_FILE)) return missing(`there is no PAM service ${PAM_SERVICE_FILE}`, REBUILD);
  let session: PamSession;
  try {
    session = openPamSession(request.pamLibrary, PAM_SERVICE, request.user, terminalOf(0));
  } catch (error) {
    const next = error instanceof PamError ? nextStepFor(error, request.user) : JOURNAL;
    return missing(`opening the PAM service ${PAM_SERVICE} for ${request.user}: ${(error as Error).message}`, next);
  }
  if (session.environment.XDG_SESSION_ID === undefined) {
    session.close();
    return missing(
      "PAM opened the session, but logind registered none",
      `Check that ${PAM_SERVICE_FILE} runs pam_systemd.so in its session stack (startSession = true) and that systemd-logind runs (systemctl status systemd-logind). ${JOURNAL}`,
    );
  }
  return session;
}

/** How long a shell waits for the user's manager to start with its first session (WSL waits for it too). */
const USER_MANAGER_LIMIT_MS = 10_000;

/**
 * The first session starts user@UID.service, and logind may answer before it
 * is up: wait for it, so that systemctl --user works from the shell's first
 * line. A manager already running costs one look at its socket; one that
 * failed or was never started is told at once, not waited for.
 */
async function untilUserManagerRuns(uid: number, givenUp: () => boolean): Promise<void> {
  if (existsSync(`/run/user/${uid}/systemd/private`)) return;
  const systemctl = findTool("systemctl");
  if (systemctl === null) return; // nothing to ask with: the shell starts, and says itself what is missing
  const unit = `user@${uid}.service`;
  const deadline = Date.now() + USER_MANAGER_LIMIT_MS;
  for (;;) {
    // Bounded: a systemctl that hangs must not hold the shell past the deadline.
    const asked = Bun.spawnSync([systemctl, "is-active", unit], { stdio: ["ignore", "pipe", "ignore"], env: {}, timeout: Math.max(1, deadline - Date.now()) });
    const state = asked.stdout.toString().trim();
    if (state === "active") return;
    if (state !== "activating" && state !== "reloading") {
      say(
        `${unit} (the user's systemd) is ${state || "unknown"}: systemctl --user will not work in this shell. See: systemctl status ${unit}. ` +
          "After an upgrade of nixos-wsl-init, restart the distribution (wsl --terminate NixOS) so that a new systemd starts.",
      );
      return;
    }
    if (Date.now() > deadline) {
      say(`${unit} (the user's systemd) is still starting ${USER_MANAGER_LIMIT_MS / 1000} s after the session opened: systemctl --user may fail. See: systemctl status ${unit}`);
      return;
    }
    await Bun.sleep(25);
    if (givenUp()) return; // hung up or terminated meanwhile: no shell will start
  }
}

/** The terminal on a file descriptor, as PAM_TTY takes it ("/dev/pts/0"); null for a pipe or file. */
function terminalOf(fd: number): string | null {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`);
    return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.startsWith("/dev/console") ? target : null;
  } catch {
    return null; // no such descriptor: no terminal
  }
}
