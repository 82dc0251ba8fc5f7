// PID 1 must outlive any stray kill until it becomes systemd. The kernel
// drops signals a namespace's init has no handler for, but bun's runtime
// installs its own for SIGINT and SIGTERM (and exits in them), so a stray
// `kill 1` used to take the distro down: every catchable signal gets a
// handler of ours that only logs.

/** Every signal that would end a process by default, less SIGKILL and SIGSTOP, which nobody can catch. */
const FATAL_SIGNALS = [
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGVTALRM", "SIGPROF",
  "SIGXCPU", "SIGXFSZ", "SIGIO", "SIGPWR", "SIGSYS", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGSTKFLT",
] as const;

/** Catch them all and report each; execve resets caught signals, so systemd starts with its own. */
export function surviveSignals(report: (signal: string) => void): void {
  for (const signal of FATAL_SIGNALS) {
    try {
      process.on(signal as NodeJS.Signals, () => report(signal));
    } catch {
      // a signal this platform does not have
    }
  }
}
