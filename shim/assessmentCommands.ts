// The commands of boot assessment inside a running system, as root:
//   nixos-wsl-init bless          the running generation booted well (run by
//                                 the module's unit once the boot target is reached)
//   nixos-wsl-init boot-once N    the next start, and only it, boots generation N
import { existsSync, realpathSync } from "node:fs";
import { type BootState, bless, recordOf, setBootOnce } from "../src/bootAssessment.ts";
import { BOOT_STATE } from "../src/bootState.ts";
import { updateBootState } from "../src/bootStateLock.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from "../src/exitCodes.ts";
import { bootProblem, type Generation, generationLink, resolveGeneration } from "../src/generations.ts";
import { BOOT_RECORD } from "../src/paths.ts";
import { sayAs } from "../src/say.ts";
import { LEGACY_STATE, readState } from "./legacy/state.ts";
import { readBootRecord } from "./native/bootRecord.ts";

const say = sayAs("nixos-wsl-init");
const CURRENT_SYSTEM = "/run/current-system";

const BLESS_HELP = `Usage: nixos-wsl-init bless
Marks the generation this boot started (from the native shim's boot record or
legacy mode's record, else ${CURRENT_SYSTEM}) as good: it is never passed
over by boot counting. The NixOS module's nixos-wsl-init-bless.service runs it
once the boot has reached its target. A damaged record is refused, not guessed
past. Root only. Exit codes: 0 done, 1 failed, 3 not root.`;

const BOOT_ONCE_HELP = `Usage: nixos-wsl-init boot-once N
Makes the next start of the distro, and only that one, boot generation N
(/nix/var/nix/profiles/system-N-link); the start after it boots the default
again. From the WSL system distribution: nixos-wsl-recovery --boot-once --generation N.
Root only. Exit codes: 0 done, 1 failed, 2 bad usage, 3 not root.`;

function refusedUnlessRoot(): number | null {
  if (process.geteuid?.() === 0) return null;
  say(`boot assessment is kept in ${BOOT_STATE}, which only root may change: run it with sudo`);
  return EXIT_REFUSED;
}

function wantsHelp(args: readonly string[], help: string): boolean {
  if (!args.includes("--help") && !args.includes("-h")) return false;
  process.stdout.write(`${help}\n`);
  return true;
}

/**
 * The generation this boot started: the one the native shim's boot record or
 * legacy mode's record names (a later nixos-rebuild switch changes
 * /run/current-system, not what booted), else /run/current-system.
 */
function bootedStorePath(): string | { problem: string } {
  // A damaged record is said, not passed over: /run/current-system may be a later switch, not what booted.
  if (existsSync(BOOT_RECORD)) {
    try {
      const storePath: unknown = readBootRecord(BOOT_RECORD).generation?.storePath;
      if (typeof storePath !== "string") throw new Error("it names no generation's store path");
      return storePath;
    } catch (error) {
      return { problem: `${BOOT_RECORD} is damaged (${(error as Error).message}), so which generation booted is not known; it is written anew at the next start (wsl --terminate NixOS), which blesses by itself` };
    }
  }
  let legacy;
  try {
    legacy = readState();
  } catch (error) {
    return { problem: `${LEGACY_STATE} cannot be read (${(error as Error).message}), so which generation booted is not known` };
  }
  // A systemd found again in /proc may not name its generation (system ""): then /run/current-system says.
  if (legacy.kind === "valid" && legacy.state.system.startsWith("/nix/store/")) return legacy.state.system;
  if (legacy.kind === "invalid") {
    return { problem: `${LEGACY_STATE} is damaged (${legacy.problem}), so which generation booted is not known; open a new shell, which records it again, then run nixos-wsl-init bless again as root` };
  }
  try {
    return realpathSync(CURRENT_SYSTEM);
  } catch (error) {
    return { problem: `no boot record, and ${CURRENT_SYSTEM} cannot be resolved (${(error as Error).message}): has the activation run?` };
  }
}

export function runBless(args: readonly string[]): number {
  if (wantsHelp(args, BLESS_HELP)) return EXIT_OK;
  if (args.length > 0) {
    say(`bless takes no arguments\n${BLESS_HELP}`);
    return EXIT_USAGE;
  }
  const refused = refusedUnlessRoot();
  if (refused !== null) return refused;
  const storePath = bootedStorePath();
  if (typeof storePath !== "string") {
    say(`marking the running generation good: ${storePath.problem}`);
    return EXIT_FAILURE;
  }
  let already = false;
  return change(
    (state) => {
      already = recordOf(state, storePath).blessed;
      return already ? state : bless(state, storePath);
    },
    () => (already ? `${storePath} is already marked good` : `marked ${storePath} as good: boot counting never passes it over`),
  );
}

export function runBootOnce(args: readonly string[]): number {
  if (wantsHelp(args, BOOT_ONCE_HELP)) return EXIT_OK;
  const number = args.length === 1 && /^[1-9][0-9]*$/.test(args[0]!) ? Number(args[0]) : null;
  if (number === null) {
    say(`boot-once takes one generation number, such as 41\n${BOOT_ONCE_HELP}`);
    return EXIT_USAGE;
  }
  const refused = refusedUnlessRoot();
  if (refused !== null) return refused;
  const chosen = bootableGeneration("/", generationLink(number));
  if (typeof chosen === "string") {
    say(`${chosen}\nSee the generations with: ls -l /nix/var/nix/profiles`);
    return EXIT_FAILURE;
  }
  return scheduleBootOnce(chosen);
}

/** The generation a link names, if it can boot; otherwise why not. */
function bootableGeneration(root: string, link: string): Generation | string {
  let generation: Generation;
  try {
    generation = resolveGeneration(root, link);
  } catch (error) {
    return `${link} cannot be used: ${(error as Error).message}`;
  }
  const problem = bootProblem(root, generation);
  return problem === null ? generation : `${link} cannot boot: ${problem}`;
}

function scheduleBootOnce(generation: Generation): number {
  const name = generation.number === null ? generation.link : `generation ${generation.number}`;
  return change(
    (state) => setBootOnce(state, generation),
    () => `the next start boots ${name} (${generation.storePath}) once; the start after it boots the default`,
  );
}

/** Change the boot state under its lock: success is said only once the change is on disk, and a failure changed nothing. */
function change(apply: (state: BootState) => BootState, done: () => string): number {
  const result = updateBootState("/", apply);
  if (result.kind === "failed") {
    say(`changing ${BOOT_STATE}: ${result.problem}. Nothing was changed: run it again once that is fixed.`);
    return EXIT_FAILURE;
  }
  if (result.warning) say(`warning: ${result.warning}`);
  process.stdout.write(`${done()}\n`);
  return EXIT_OK;
}
