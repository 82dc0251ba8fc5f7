// The pure decisions of the native shim, kept apart so unit tests can check
// them without being PID 1.

/** systemd keeps the shim's argv[0] and logs to the kernel log; every argument WSL gave goes on. */
export function systemdArgv(argv0: string, args: readonly string[]): string[] {
  return [argv0, "--log-target=kmsg", ...args];
}

export function notPid1Message(pid: number): string {
  return [
    `the native shim must run as PID 1 (WSL starts it as /sbin/init); here it is PID ${pid}.`,
    "Refusing to touch any mount. To see how this system booted, run: nixos-wsl-init status",
  ].join("\n");
}
