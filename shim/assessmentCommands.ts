// The commands of boot assessment inside a running system, as root:
//   nixos-wsl-init bless          the running generation booted well (run by
//                                 the module's unit once the boot target is reached)
//   nixos-wsl-init boot-once N    the next start, and only it, boots generation N
import { realpathSync } from "node:fs";
import { bless, recordOf, setBootOnce } from "../src/bootAssessment.ts";
import { BOOT_STATE, readBootState, writeBootState } from "../src/bootState.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE } from "../src/exitCodes.ts";
import { bootProblem, type Generation, generationLink, resolveGeneration } from "../src/generations.ts";
import { sayAs } from "../src/say.ts";

const say = sayAs("nixos-wsl-init");
const CURRENT_SYSTEM = "/run/current-system";

const BLESS_HELP = `Usage: nixos-wsl-init bless
Marks the running generation (${CURRENT_SYSTEM}) as good: it is never passed
over by boot counting. The NixOS module's nixos-wsl-init-bless.service runs it
once the boot has reached its target. Root only. Exit codes: 0 done, 1 failed,
3 not root.`;

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

export function runBless(args: readonly string[]): number {
  if (wantsHelp(args, BLESS_HELP)) return EXIT_OK;
  if (args.length > 0) {
    say(`bless takes no arguments\n${BLESS_HELP}`);
    return EXIT_USAGE;
  }
  const refused = refusedUnlessRoot();
  if (refused !== null) return refused;
  let storePath: string;
  try {
    storePath = realpathSync(CURRENT_SYSTEM);
  } catch (error) {
    say(`marking the running generation good: ${CURRENT_SYSTEM} cannot be resolved (${(error as Error).message}); has the activation run?`);
    return EXIT_FAILURE;
  }
  const { state, warning } = readBootState("/");
  if (warning) say(`warning: ${warning}`);
  if (recordOf(state, storePath).blessed) {
    process.stdout.write(`${storePath} is already marked good\n`);
    return EXIT_OK;
  }
  return save(bless(state, storePath), `marked ${storePath} as good: boot counting never passes it over`);
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
  return scheduleBootOnce("/", chosen);
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

/** Record a one-time boot in a root ("/", or the distro from the system distribution). */
function scheduleBootOnce(root: string, generation: Generation): number {
  const { state, warning } = readBootState(root);
  if (warning) say(`warning: ${warning}`);
  const name = generation.number === null ? generation.link : `generation ${generation.number}`;
  return save(setBootOnce(state, generation), `the next start boots ${name} (${generation.storePath}) once; the start after it boots the default`, root);
}

function save(state: Parameters<typeof writeBootState>[1], done: string, root = "/"): number {
  try {
    writeBootState(root, state);
  } catch (error) {
    say(`writing ${BOOT_STATE}: ${(error as Error).message}. Is the disk full or read-only? Nothing was changed.`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`${done}\n`);
  return EXIT_OK;
}
