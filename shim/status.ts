// `nixos-wsl-init status [--json]`: how this system booted, from the boot record.
import { existsSync } from "node:fs";
import { formatBootRecord, readBootRecord } from "../src/bootRecord.ts";
import { parseArgs } from "@pkgjs/parseargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";
import { BOOT_RECORD } from "../src/paths.ts";

export function runStatus(args: readonly string[], recordPath = BOOT_RECORD): number {
  let json: boolean;
  try {
    const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write("Usage: nixos-wsl-init status [--json]\nHow this system booted, from the native shim's record in /run/nixos-wsl/boot.json.\n");
      return EXIT_OK;
    }
    json = values.json === true;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init status: ${(error as Error).message}\nUsage: nixos-wsl-init status [--json]\n`);
    return EXIT_USAGE;
  }
  if (!existsSync(recordPath)) {
    process.stderr.write(
      `nixos-wsl-init: no boot record at ${recordPath}: this system was not started by the native shim ` +
        "(legacy mode, or /sbin/init is not nixos-wsl-init's systemd-shim).\n",
    );
    return EXIT_FAILURE;
  }
  try {
    const record = readBootRecord(recordPath);
    process.stdout.write(json ? `${JSON.stringify(record, null, 2)}\n` : formatBootRecord(record));
    return EXIT_OK;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init: cannot read the boot record ${recordPath}: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
