// nixos-wsl-init tarball ROOT OUT.wsl: pack a prepared NixOS root into the
// image `wsl --import` and a double-click install take. In order: refuse what
// is not a NixOS root or has nowhere to go, read both trees, set --chown
// owners, add /etc/wsl-distribution.conf, run the privacy check, then write
// the stream to a temporary file that becomes OUT.wsl only when complete.
import { lstatSync, readlinkSync, realpathSync, statSync, writeSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { EXIT_FAILURE, EXIT_NOT_NIXOS, EXIT_OK, EXIT_USAGE } from "../../src/exitCodes.ts";
import { exitCodeFor } from "../../src/exitStatus.ts";
import { NIXOS_MARKER } from "../../src/paths.ts";
import { sayAs } from "../../src/say.ts";
import { errorCode, StepError } from "../../src/stepError.ts";
import { type Finding, findProblems, formatFinding } from "./checks.ts";
import { addDistributionConf } from "./distributionConf.ts";
import { GzipStream } from "./gzipStream.ts";
import { UsageError } from "../../src/cliParser.ts";
import { parseTarballArgs, type TarballRequest } from "./options.ts";
import { PartialOutput } from "./output.ts";
import { applyChown } from "./owners.ts";
import { packImage, planPack } from "./pack.ts";
import { Progress, size } from "./progress.ts";
import { listWithoutAtime } from "./listDirectory.ts";
import { ImageView, walkImage } from "./tree.ts";

const say = sayAs("nixos-wsl-init tarball");

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export async function runTarball(args: readonly string[]): Promise<number> {
  let request: TarballRequest;
  try {
    request = parseTarballArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    say(`${error.message}\nRun 'nixos-wsl-init tarball --help' for usage.`);
    return EXIT_USAGE;
  }
  if (request.action === "help") {
    process.stdout.write(`${request.text}\n`);
    return EXIT_OK;
  }
  try {
    return await pack(request);
  } catch (error) {
    if (!(error instanceof StepError)) throw error;
    say(error.message);
    return EXIT_FAILURE;
  }
}

/** What a symlinked ROOT leads to, for a message: "a symlink to X". */
function linkNote(root: string): string {
  try {
    return `a symlink to ${readlinkSync(root)}`;
  } catch {
    return "a symlink";
  }
}

/** ROOT with every symlink on its path followed (a ROOT given through a link is packed as the directory it leads to), or why it is not a NixOS root. */
function nixosRoot(root: string): { path: string } | { refusal: string } {
  let link: string | null = null;
  try {
    if (lstatSync(root).isSymbolicLink()) link = linkNote(root);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return { refusal: "it does not exist" };
    return { refusal: `it cannot be read (${errorCode(error) ?? String(error)})` };
  }
  let real: string;
  try {
    real = realpathSync(root);
    const stats = statSync(real);
    if (!stats.isDirectory()) {
      const what = stats.isFile() ? "a regular file" : "a special file (a device, socket or pipe)";
      return { refusal: link === null ? `it is ${what}, not a directory` : `it is ${link}, which is ${what} (${real}), not a directory` };
    }
  } catch (error) {
    const code = errorCode(error);
    if (link !== null && code === "ENOENT") return { refusal: `it is ${link}, which leads nowhere: nothing exists there` };
    if (link !== null && code === "ELOOP") return { refusal: `it is ${link}, and its links go round in a loop (ELOOP)` };
    return { refusal: code === "ENOENT" ? "a directory on its path does not exist" : `it cannot be read (${code ?? String(error)})` };
  }
  try {
    lstatSync(`${real}/${NIXOS_MARKER}`);
    return { path: real };
  } catch {
    return { refusal: link === null ? `it has no ${NIXOS_MARKER}` : `it is ${link}, and ${real} has no ${NIXOS_MARKER}` };
  }
}

function isWithin(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith(sep) ? directory : `${directory}${sep}`);
}

/** Refuse an output that cannot be written, or would land inside a tree being packed, before any work. */
function checkOutput(out: string, trees: readonly string[]): void {
  const directory = dirname(out);
  const step = `writing ${out}`;
  try {
    if (!statSync(directory).isDirectory()) throw new StepError(step, `${directory} is not a directory`, "Give an output path in an existing directory.");
  } catch (error) {
    if (error instanceof StepError) throw error;
    if (errorCode(error) === "ENOENT") throw new StepError(step, `the directory ${directory} does not exist`, `Create it first (mkdir -p ${directory}) or give another output path. Nothing was written.`);
    throw new StepError(step, error);
  }
  try {
    if (statSync(out).isDirectory()) throw new StepError(step, `${out} is a directory`, "Give the path of the image file, e.g. nixos.wsl.");
  } catch (error) {
    if (error instanceof StepError) throw error;
  }
  const realDirectory = realpathSync(directory);
  for (const tree of trees) {
    if (isWithin(realDirectory, realpathSync(tree))) {
      throw new StepError(step, `the output would be inside ${tree}, which is being packed (and is never written to)`, "Write the image outside it.");
    }
  }
}

function checkExtraFiles(extra: string): void {
  try {
    if (statSync(extra).isDirectory()) return;
    throw new StepError(`reading --extra-files ${extra}`, "not a directory");
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw new StepError(`reading --extra-files ${extra}`, error);
  }
}

function things(count: number): string {
  return count === 1 ? "1 thing" : `${count} things`;
}

function findingLines(findings: readonly Finding[]): string {
  return findings.map((finding) => `  ${formatFinding(finding)}`).join("\n");
}

async function pack(request: Extract<TarballRequest, { action: "pack" }>): Promise<number> {
  const given = resolve(request.root);
  const out = resolve(request.out);
  const found = nixosRoot(given);
  if ("refusal" in found) {
    say(`${given} is not a NixOS root: ${found.refusal}. Give the directory 'nixos-install --root' installed into.`);
    return EXIT_NOT_NIXOS;
  }
  const root = found.path;
  const extra = request.extraFiles === null ? null : resolve(request.extraFiles);
  if (extra !== null) checkExtraFiles(extra);
  checkOutput(out, extra === null ? [root] : [root, extra]);

  const walk = walkImage(root, extra, listWithoutAtime);
  if (walk.skipped.length > 0) say(`note: left out what a tar cannot hold (sockets): ${walk.skipped.join(", ")}`);
  for (const path of walk.replaced) say(`note: --extra-files replaces ROOT's ${path} with an entry of another kind`);
  const view = new ImageView(walk.entries);
  applyChown(view, request.chown);
  for (const note of addDistributionConf(view, request.name, request.nameGiven).notes) say(note);

  const findings = findProblems(view, { forbid: request.forbid });
  if (findings.length > 0 && !request.allowFindings) {
    say(
      `refusing to pack ${root}: the check found ${things(findings.length)} that must not go into an image to share; nothing was written.\n` +
        `${findingLines(findings)}\n` +
        "Remove them from ROOT (or from --extra-files), or pack anyway with --allow-findings (or WSL_TARBALL_SKIP_CHECKS=1).",
    );
    return EXIT_FAILURE;
  }
  if (findings.length > 0) say(`packing anyway (findings allowed): the check found ${things(findings.length)}:\n${findingLines(findings)}`);

  const plan = planPack(view.entries);
  // The handlers go in before the partial file exists: a signal between the two
  // would otherwise end the process by default and leave the partial file behind.
  let output: PartialOutput | undefined;
  let progress: Progress | undefined;
  const handlers = SIGNALS.map((signal) => {
    const handler = (): void => {
      progress?.clear();
      output?.discard();
      const removed = output ? `removed the partial ${output.temporary}; ` : "";
      say(`interrupted by ${signal}: ${removed}${out} was not written and ROOT is unchanged.`);
      process.exit(exitCodeFor(signal));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  try {
    const file = (output = PartialOutput.create(out));
    const shown = (progress = new Progress({ entries: plan.entries.length, bytes: plan.dataBytes }, process.stderr.isTTY === true, (text) => {
      try {
        writeSync(2, text);
      } catch {
        // no terminal any more
      }
    }));
    const gzip = new GzipStream((data) => file.write(data));
    await packImage(plan, gzip, request.mtime, (entries, bytes) => shown.update(entries, bytes));
    await gzip.finish();
    file.commit();
    shown.clear();
    const seconds = shown.elapsedSeconds;
    say(
      `wrote ${out}: ${plan.entries.length} entries, ${size(plan.dataBytes)} of data, ${size(gzip.written)} compressed, ` +
        `in ${seconds.toFixed(1)} s (${size(plan.dataBytes / Math.max(seconds, 0.001))}/s)`,
    );
    return EXIT_OK;
  } catch (error) {
    progress?.clear();
    output?.discard();
    if (!(error instanceof StepError)) throw error;
    throw new StepError(error.step, error.cause, [error.next, `${out} was not written; ROOT is unchanged.`].filter(Boolean).join("\n"));
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}
