// Inside systemd's namespaces (started by nsenter, as root): the user's shell
// as a logind session. Like su, this process opens the PAM session, runs the
// shell as its child with the session's variables, waits, and closes the
// session when the shell ends; the exit code is the shell's. When no session
// can be opened, it says why once and runs the shell without one.
import { existsSync, readlinkSync } from "node:fs";
import { constants } from "node:os";
import { EXIT_FAILURE } from "../../src/exitCodes.ts";
import { execve } from "../../src/libc.ts";
import { REPAIR_FROM_WINDOWS } from "../../src/paths.ts";
import { sayAs } from "../../src/say.ts";
import { inStep } from "../../src/stepError.ts";
import { openPamSession, PamError, type PamSession } from "./pam.ts";
import { withSessionEnv } from "./shellRules.ts";
import { findTool } from "./tools.ts";

/** The PAM service: the NixOS module declares it (security.pam.services.nixos-wsl-init, startSession = true). */
export const PAM_SERVICE = "nixos-wsl-init";
const PAM_SERVICE_FILE = `/etc/pam.d/${PAM_SERVICE}`;

/** What the outer process hands over, as one JSON argument. */
export interface LoginSessionRequest {
  readonly user: string;
  readonly uid: number;
  readonly pamLibrary: string;
  /** The shell's command line, setpriv first when the user is not root; the environment is this process's own. */
  readonly argv: readonly string[];
}

const say = sayAs("nixos-wsl-init");

export function parseLoginSessionRequest(text: string): LoginSessionRequest {
  const value = JSON.parse(text) as LoginSessionRequest;
  if (typeof value.user !== "string" || typeof value.uid !== "number" || typeof value.pamLibrary !== "string" || !Array.isArray(value.argv) || value.argv.length === 0) {
    throw new Error("the login session request is malformed");
  }
  return value;
}

export async function runLoginSession(requestText: string): Promise<number> {
  const request = parseLoginSessionRequest(requestText);
  const env = process.env as Record<string, string>;
  const session = openOrExplain(request);
  if (session === null) return execShell(request.argv, env);
  await untilUserManagerRuns(request.uid, session.environment.XDG_RUNTIME_DIR);

  const shell = Bun.spawn([...request.argv], { stdio: ["inherit", "inherit", "inherit"], env: withSessionEnv(env, session.environment) });
  // The terminal's Ctrl-C and Ctrl-\ are the shell's business; a hangup or a
  // termination is passed on, so the shell ends first and the session after it.
  let endedFromOutside = false;
  const ignore = () => {};
  const passOn = (signal: NodeJS.Signals) => () => {
    endedFromOutside = true;
    shell.kill(signal);
  };
  process.on("SIGINT", ignore);
  process.on("SIGQUIT", ignore);
  process.on("SIGHUP", passOn("SIGHUP"));
  process.on("SIGTERM", passOn("SIGTERM"));
  const code = await shell.exited;
  // Hung up or terminated (a closed terminal, a shutdown): logind may be on its
  // way down, and a release it never answers would hold this process for
  // D-Bus's 25 s. The session ends anyway when this process does.
  const problem = endedFromOutside ? session.abandon() : session.close();
  if (problem !== null) say(`closing the login session: ${problem} (logind ends it anyway once its processes are gone)`);
  // As a shell reports it: 128 + the signal's number for a shell killed by one.
  const signal = shell.signalCode;
  return signal ? 128 + (constants.signals[signal as NodeJS.Signals] ?? 0) : code;
}

function execShell(argv: readonly string[], env: Record<string, string>): number {
  inStep(`running the shell (${argv.join(" ")})`, () => execve(argv[0]!, [...argv], env), () => REPAIR_FROM_WINDOWS);
  return EXIT_FAILURE;
}

/** The open session; or null, having told the user why there is none and what to do. */
function openOrExplain(request: LoginSessionRequest): PamSession | null {
  const missing = (cause: string, next: string) => {
    say(
      `this shell has no login session (${cause}): loginctl does not list it, and XDG_RUNTIME_DIR and systemctl --user are missing.\n` +
        `${next} To start shells without a session and without this message, set wsl.init.legacy.loginSession = false.`,
    );
    return null;
  };
  const rebuild = `The NixOS module declares it (wsl.init.mode = "legacy"): rebuild. ${REPAIR_FROM_WINDOWS}`;
  if (!existsSync(PAM_SERVICE_FILE)) return missing(`there is no PAM service ${PAM_SERVICE_FILE}`, rebuild);
  let session: PamSession;
  try {
    session = openPamSession(request.pamLibrary, PAM_SERVICE, request.user, terminalOf(0));
  } catch (error) {
    if (!(error instanceof PamError)) throw error;
    return missing(`opening the PAM service ${PAM_SERVICE} for ${request.user}: ${error.message}`, rebuild);
  }
  if (session.environment.XDG_SESSION_ID === undefined) {
    session.close();
    return missing(
      `PAM opened the session, but logind registered none`,
      `Check that ${PAM_SERVICE_FILE} runs pam_systemd.so in its session stack (startSession = true) and that systemd-logind runs (systemctl status systemd-logind).`,
    );
  }
  return session;
}

/** How long a shell waits for the user's manager to start with its first session (WSL waits for it too). */
const USER_MANAGER_LIMIT_MS = 10_000;

/**
 * The first session starts user@UID.service, and logind answers before it is
 * up: wait for it, so that systemctl --user works from the shell's first
 * line. A manager already running (its socket is there) costs nothing.
 */
async function untilUserManagerRuns(uid: number, runtimeDir: string | undefined): Promise<void> {
  if (runtimeDir !== undefined && existsSync(`${runtimeDir}/systemd/private`)) return;
  const systemctl = findTool("systemctl");
  if (systemctl === null) return; // nothing to ask with: the shell starts, and says itself what is missing
  const unit = `user@${uid}.service`;
  const deadline = Date.now() + USER_MANAGER_LIMIT_MS;
  for (;;) {
    const asked = Bun.spawnSync([systemctl, "is-active", "--quiet", unit], { stdio: ["ignore", "ignore", "ignore"], env: {} });
    if (asked.exitCode === 0) return;
    if (Date.now() > deadline) {
      say(`${unit} (the user's systemd) is not running ${USER_MANAGER_LIMIT_MS / 1000} s after the session opened: systemctl --user may fail. See: systemctl status ${unit}`);
      return;
    }
    await Bun.sleep(25);
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
