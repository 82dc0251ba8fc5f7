// Entry point of the compiled executable: pick the role and run it. Each role
// is loaded only when asked for, the native shim too: a legacy-mode shell
// starts this executable twice, and loading the shim's modules each time cost
// about 1 ms, while importing the shim on demand costs the boot about 0.15 ms.
import { version } from "../package.json";
import { EXIT_USAGE } from "./exitCodes.ts";
import { describeFailure } from "./stepError.ts";

import { HELP, parseInvocation } from "./invocation.ts";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const command = parseInvocation(process.argv0, args, process.pid === 1);
  switch (command.kind) {
    case "shim":
      return (await import("../shim/native/init.ts")).runNativeShim(process.argv0, command.args);
    case "status":
      return (await import("../shim/status.ts")).runStatus(command.args);
    case "doctor":
      return (await import("../shim/doctor/doctor.ts")).runDoctor(command.args);
    case "legacy":
      return (await import("../shim/legacy/syschdemd.ts")).runLegacy(process.argv0, command.args);
    case "recovery":
      return (await import("../recovery/cli.ts")).runRecovery(command.args);
    case "recovery-inner":
      return (await import("../recovery/enter.ts")).runRecoveryInner(command.plan);
    case "login-session":
      return (await import("../shim/legacy/loginSession.ts")).runLoginSession(command.request, command.argv);
    case "systemd-pid1":
      return (await import("../shim/legacy/systemdPid1.ts")).runSystemdPid1(command.request);
    case "bless":
      return (await import("../shim/assessmentCommands.ts")).runBless(command.args);
    case "boot-once":
      return (await import("../shim/assessmentCommands.ts")).runBootOnce(command.args);
    case "install-recovery":
      return (await import("../recovery/installEntry.ts")).runInstallRecovery(command.args);
    case "tarball":
      return (await import("../nix/image/cli.ts")).runTarball(command.args);
    case "install-bin":
      return (await import("../shim/wsl/installBin.ts")).runInstallBin(command.args);
    case "wsl-shell":
      return (await import("../shim/wsl/shell.ts")).runWslShell(process.argv0, command.args);
    case "help":
      process.stdout.write(HELP);
      return 0;
    case "version":
      process.stdout.write(`nixos-wsl-init ${version}\n`);
      return 0;
    case "usage-error":
      process.stderr.write(`nixos-wsl-init: ${command.message}\n\n${HELP}`);
      return EXIT_USAGE;
  }
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    const message = describeFailure(error);
    // As PID 1 nobody may read stderr: the kernel log is where the user looks (dmesg from the system distro).
    // Imported here, not above: the login-shell wrapper, the most frequent start, never loads node:fs.
    if (process.pid === 1) (await import("./log.ts")).openKernelLog().fatal(message);
    else process.stderr.write(`nixos-wsl-init: ${message}\n`);
    process.exit(1);
  },
);
