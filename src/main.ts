// Entry point of the compiled executable: pick the role and run it. The
// native shim is the only role on the boot path, so the others are loaded
// only when asked for.
import { version } from "../package.json";
import { EXIT_USAGE } from "./exitCodes.ts";

import { HELP, parseInvocation } from "./invocation.ts";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const command = parseInvocation(process.argv0, args, process.pid === 1);
  switch (command.kind) {
    case "shim":
      return (await import("../shim/native.ts")).runNativeShim(process.argv0, command.args);
    case "status":
      return (await import("../shim/status.ts")).runStatus(command.args);
    case "legacy":
      return (await import("../shim/legacy.ts")).runLegacy(process.argv0, command.args);
    case "recovery":
      return (await import("../recovery/cli.ts")).runRecovery(command.args);
    case "recovery-inner":
      return (await import("../recovery/enter.ts")).runRecoveryInner(command.plan);
    case "install-recovery":
      return (await import("../recovery/installEntry.ts")).runInstallRecovery(command.args);
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
  (error: unknown) => {
    process.stderr.write(`nixos-wsl-init: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
