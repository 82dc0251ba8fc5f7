// Entering a generation. The caller's process makes a private mount
// namespace (for its own thread and children), prepares the root, and chroots
// into it. Then the generation's own util-linux `unshare` starts a copy of
// this executable as PID 1 of a new PID namespace with a fresh /proc (the
// "inner" process), which runs the activation, tmpfiles and the command. When
// the inner process ends, the kernel kills whatever the command left behind,
// and the mounts go with the namespace.
//
// No bun process here ever calls unshare(CLONE_NEWPID) on itself: bun starts
// threads later, and in a process whose children belong to another PID
// namespace, creating a thread fails and bun aborts.
import { closeSync, openSync } from "node:fs";
import { constants } from "node:os";
import { RECOVERY_INNER } from "../src/invocation.ts";
import { chroot, CLONE_NEWNS, fchdir, mount, MS_PRIVATE, MS_REC, unshare } from "../src/libc.ts";
import { sayAs } from "../src/say.ts";
import { inStep } from "../src/stepError.ts";
import { bindExecutableInside, makeWritable, mountApiFilesystems } from "./chrootMounts.ts";
import { type EnterPlan, recoveryActivationEnv } from "./enterPlan.ts";
import { type Ending, Endings } from "./endings.ts";
import { exitCodeFor, statusOf } from "../src/exitStatus.ts";
import { catchesSignal, childrenOf } from "../src/processTree.ts";
import { sendSignal } from "../src/signalProcess.ts";
import { RECOVERY_COMMAND } from "../src/paths.ts";

const say = sayAs("nixos-wsl-recovery");

/** A private mount namespace for this thread and its children: nothing mounted here reaches the caller. */
export function privateMountNamespace(): void {
  inStep("making a private mount namespace", () => unshare(CLONE_NEWNS), () => `Recovery needs root with CAP_SYS_ADMIN. From Windows, run:\n  ${RECOVERY_COMMAND}`);
  inStep("making the mounts of the private namespace private", () => mount(null, "/", null, MS_REC | MS_PRIVATE));
}

/** In the caller's process: prepare and enter the root, run the inner process there. Returns the command's exit status. */
export async function enterGeneration(plan: EnterPlan): Promise<number> {
  // Before anything changes: from here on, no signal ends this process before it has undone its changes.
  const endings = Endings.catch({ interrupts: "ignore" });
  try {
    privateMountNamespace();
    const writable = makeWritable(plan.root);
    try {
      if (writable.done && !plan.silent) say(writable.done);
      for (const warning of mountApiFilesystems(plan.root)) say(`warning: ${warning}`);
      const inner = bindExecutableInside(plan.root, process.execPath);
      // Kept open to come back out of the chroot: a filesystem made writable is made read-only again from outside.
      const outside = openSync("/", "r");
      try {
        inStep(`entering ${plan.root} (chroot)`, () => chroot(plan.root));
        process.chdir("/");
        return await runInPidNamespace(plan, inner, endings);
      } finally {
        fchdir(outside);
        chroot(".");
        closeSync(outside);
      }
    } finally {
      const warning = writable.restore();
      if (warning) say(`warning: ${warning}`);
    }
  } finally {
    await endings.stop();
  }
}

/**
 * How long the inner process has to end after a signal before unshare is killed, and with it everything inside.
 * Longer than its own 2 s for the command: an activation under way is let finish first.
 */
const INNER_GRACE_MS = 10_000;

/** The generation's unshare starts the inner process as PID 1 of a new PID namespace; without one, it runs here. */
async function runInPidNamespace(plan: EnterPlan, inner: string, endings: Endings): Promise<number> {
  const unshareTool = `${plan.system}/sw/bin/unshare`;
  const early = await endings.settled();
  if (early !== null) return notStarted(plan, early, "nothing was run inside");
  let child;
  try {
    // --kill-child: if unshare dies (killed after the grace), the inner process and all under it die too.
    child = Bun.spawn([unshareTool, "--fork", "--pid", "--mount-proc", "--kill-child", "--", inner, RECOVERY_INNER, JSON.stringify(plan)], {
      stdio: ["inherit", "inherit", "inherit"],
      env: plan.env,
      cwd: "/",
    });
  } catch (error) {
    say(
      `warning: cannot run ${unshareTool} (${(error as Error).message}); running without a PID namespace of its own, ` +
        "so processes the command leaves in the background are not stopped when it ends",
    );
    return runInside(plan, endings);
  }
  const unshareProcess = child;
  endings.passTo({
    signal: (ending) => void passToInner(unshareProcess, ending),
    graceMs: INNER_GRACE_MS,
    kill: (ending) => {
      say(`${plan.label} did not end within ${INNER_GRACE_MS / 1000} s of ${ending}: killing everything inside it (SIGKILL)`);
      unshareProcess.kill("SIGKILL");
    },
  });
  await unshareProcess.exited;
  endings.released();
  return statusOf(unshareProcess);
}

/**
 * unshare blocks SIGTERM (and SIGINT) while it waits, so a signal goes to the
 * inner process, which passes it on. As PID 1 of its namespace that process
 * gets only signals it has a handler for: until it has one (it is starting),
 * the signal is sent again.
 */
async function passToInner(unshareProcess: { readonly pid: number; readonly exitCode: number | null; readonly signalCode: unknown }, ending: Ending): Promise<void> {
  const number = constants.signals[ending];
  while (unshareProcess.exitCode === null && unshareProcess.signalCode === null) {
    const [innerPid] = childrenOf(unshareProcess.pid);
    if (innerPid !== undefined && catchesSignal(innerPid, number)) {
      sendSignal(innerPid, ending); // if it ended meanwhile, unshare reports how
      return;
    }
    await Bun.sleep(20);
  }
}

function notStarted(plan: EnterPlan, ending: Ending, what: string): number {
  say(`interrupted by ${ending} before ${plan.argv.join(" ")} was started; ${what}`);
  return exitCodeFor(ending);
}

/** In the inner process, PID 1 of the new PID namespace, already inside the root. */
export async function runRecoveryInner(planJson: string): Promise<number> {
  // As PID 1 of its namespace, it receives only the signals it has handlers for.
  const endings = Endings.catch({ interrupts: "ignore" });
  try {
    return await runInside(JSON.parse(planJson) as EnterPlan, endings);
  } finally {
    await endings.stop();
  }
}

/** After a signal passed on, the command's time to end before SIGKILL (an interactive bash ignores SIGTERM), as su gives it. */
const COMMAND_GRACE_MS = 2000;

/** Activation, tmpfiles, then the command, inside the root; returns the command's exit status. */
async function runInside(plan: EnterPlan, endings: Endings): Promise<number> {
  // A signal does not cut an activation short (half-done, it leaves a half-activated system); only the outer process's 10 s backstop does.
  await activateInside(plan);
  await createTmpfiles(plan);
  const early = await endings.settled();
  if (early !== null) return notStarted(plan, early, `the activation of ${plan.label} had finished; the command was not run`);
  let command;
  try {
    command = Bun.spawn([...plan.argv], { stdio: ["inherit", "inherit", "inherit"], env: plan.env, cwd: "/" });
  } catch (error) {
    say(`cannot run ${plan.argv[0]} inside ${plan.label}: ${(error as Error).message}`);
    return 127;
  }
  const running = command;
  endings.passTo({
    signal: (ending) => running.kill(ending),
    graceMs: COMMAND_GRACE_MS,
    kill: (ending) => {
      say(`${plan.argv.join(" ")} did not end within ${COMMAND_GRACE_MS / 1000} s of ${ending}: killing it (SIGKILL)`);
      running.kill("SIGKILL");
    },
  });
  await running.exited;
  endings.released();
  return statusOf(running);
}

async function activateInside(plan: EnterPlan): Promise<void> {
  const script = `${plan.system}/activate`;
  const output = plan.silent ? "ignore" : 2; // the activation's chatter goes to stderr, never into a command's stdout
  try {
    const child = Bun.spawn([script], { stdio: ["ignore", output, output], env: recoveryActivationEnv(plan), cwd: "/" });
    await child.exited;
    const status = statusOf(child);
    if (status !== 0) say(`the activation script of ${plan.label} failed (status ${status}); going on with a partly activated system`);
  } catch (error) {
    say(`the activation script of ${plan.label} could not run (${(error as Error).message}); going on without it`);
  }
}

/** /tmp, /var/tmp and the like, which systemd would create on a real boot. */
async function createTmpfiles(plan: EnterPlan): Promise<void> {
  const tmpfiles = `${plan.system}/sw/bin/systemd-tmpfiles`;
  try {
    const child = Bun.spawn([tmpfiles, "--create", "--remove", "-E"], {
      stdio: ["ignore", "ignore", plan.silent ? "ignore" : "inherit"],
      env: plan.env,
      cwd: "/",
    });
    await child.exited;
    if (child.exitCode !== 0 && !plan.silent) say(`systemd-tmpfiles reported problems (status ${statusOf(child)}); going on`);
  } catch (error) {
    if (!plan.silent) say(`could not run ${tmpfiles} (${(error as Error).message}); going on`);
  }
}
