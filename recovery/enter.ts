// Entering a generation. The caller's process makes a new mount and PID
// namespace and starts a copy of this executable in it (the "inner" process,
// PID 1 there), which mounts what the chroot needs, runs the activation and
// tmpfiles, and runs the command. When the inner process ends, the kernel
// kills whatever the command left behind and the namespace with its mounts goes.
import { constants } from "node:os";
import { EXIT_FAILURE } from "../src/exitCodes.ts";
import { RECOVERY_INNER } from "../src/invocation.ts";
import { chroot, CLONE_NEWNS, CLONE_NEWPID, mount, MS_PRIVATE, MS_REC, unshare } from "../src/libc.ts";
import { makeWritable, mountApiFilesystems } from "./chrootMounts.ts";
import { activationEnv, type EnterPlan, exitStatus } from "./plan.ts";

function say(message: string): void {
  process.stderr.write(`nixos-wsl-recovery: ${message}\n`);
}

/** Ctrl-C belongs to the command inside; neither process in between may die of it. */
function ignoreInterrupts(): void {
  for (const signal of ["SIGINT", "SIGQUIT"] as const) process.on(signal, () => {});
}

function statusOf(child: { exitCode: number | null; signalCode: string | number | null }): number {
  const signal = child.signalCode;
  const number = signal === null ? null : typeof signal === "number" ? signal : (constants.signals[signal as keyof typeof constants.signals] ?? 1);
  return exitStatus(child.exitCode, number);
}

/** In the caller's process: new namespaces, then the inner process in them. Returns the command's exit status. */
export async function enterGeneration(plan: EnterPlan): Promise<number> {
  // Affects this thread and the children it starts: the caller's own mounts are never touched.
  unshare(CLONE_NEWNS | CLONE_NEWPID);
  ignoreInterrupts();
  const inner = Bun.spawn([process.execPath, RECOVERY_INNER, JSON.stringify(plan)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: process.env,
  });
  await inner.exited;
  return statusOf(inner);
}

/** In the inner process, PID 1 of the new namespaces. */
export async function runRecoveryInner(planJson: string): Promise<number> {
  const plan = JSON.parse(planJson) as EnterPlan;
  ignoreInterrupts();
  try {
    mount(null, "/", null, MS_REC | MS_PRIVATE);
    const writable = makeWritable(plan.root);
    if (writable && !plan.silent) say(writable);
    for (const warning of mountApiFilesystems(plan.root)) say(`warning: ${warning}`);
    chroot(plan.root);
    process.chdir("/");
  } catch (error) {
    say(`could not prepare ${plan.root} for a chroot: ${(error as Error).message}`);
    return EXIT_FAILURE;
  }

  await runActivation(plan);
  await createTmpfiles(plan);

  try {
    const command = Bun.spawn([...plan.argv], { stdio: ["inherit", "inherit", "inherit"], env: plan.env, cwd: "/" });
    await command.exited;
    return statusOf(command);
  } catch (error) {
    say(`cannot run ${plan.argv[0]} inside ${plan.label}: ${(error as Error).message}`);
    return 127;
  }
}

async function runActivation(plan: EnterPlan): Promise<void> {
  const script = `${plan.system}/activate`;
  const output = plan.silent ? "ignore" : 2; // the activation's chatter goes to stderr, never into a command's stdout
  try {
    const child = Bun.spawn([script], { stdio: ["ignore", output, output], env: activationEnv(plan), cwd: "/" });
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
