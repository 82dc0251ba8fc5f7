// PID 1 must outlive any stray kill until it becomes systemd: signals from
// outside its PID namespace (WSL's init, the host) end it by default.

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
