// `nixos-wsl-init status [--json]`: how this system booted, from the native
// shim's boot record, or from legacy mode's record of its systemd.
import { existsSync } from "node:fs";
import { formatBootRecord, readBootRecord } from "../src/bootRecord.ts";
import { parseArgs } from "@pkgjs/parseargs";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "../src/exitCodes.ts";
import { BOOT_RECORD } from "../src/paths.ts";
import { isAlive, type LegacyState, NAMESPACE_DIR, readState, SYSTEMD_LOG } from "./legacyState.ts";

export function runStatus(args: readonly string[], recordPath = BOOT_RECORD): number {
  let json: boolean;
  try {
    const { values } = parseArgs({ args: [...args], options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true });
    if (values.help) {
      process.stdout.write("Usage: nixos-wsl-init status [--json]\nHow this system booted, from /run/nixos-wsl (the native shim's boot.json, or legacy mode's legacy.json).\n");
      return EXIT_OK;
    }
    json = values.json === true;
  } catch (error) {
    process.stderr.write(`nixos-wsl-init status: ${(error as Error).message}\nUsage: nixos-wsl-init status [--json]\n`);
    return EXIT_USAGE;
  }
  if (!existsSync(recordPath)) {
    const legacy = readState();
    if (legacy !== null) return showLegacy(legacy, json);
    process.stderr.write(
      `nixos-wsl-init: no boot record at ${recordPath}: this system was not started by the native shim, ` +
        "and legacy mode has not started systemd (or this user may not read /run/nixos-wsl: try as root).\n",
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

/** Legacy mode keeps no boot record: what it recorded of the systemd it started. */
function showLegacy(state: LegacyState, json: boolean): number {
  const alive = isAlive(state);
  if (json) {
    process.stdout.write(`${JSON.stringify({ mode: "legacy", alive, ...state }, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines = [
    "Mode:        legacy (systemd started by syschdemd, root's login shell)",
    alive
      ? `systemd:     PID ${state.pid} (as WSL sees it), started ${state.startedAt}`
      : `systemd:     GONE (was PID ${state.pid}); the next shell starts a new one`,
    `System:      ${state.system}`,
    `Namespaces:  ${NAMESPACE_DIR}/{pid,mnt${state.cgroupNamespace ? ",cgroup" : ""}}`,
    `Its output:  ${SYSTEMD_LOG}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return alive ? EXIT_OK : EXIT_FAILURE;
}
