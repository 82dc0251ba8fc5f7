// What every human-facing command line of this project has in common (recovery,
// tarball): yargs that never exits or prints by itself, knows only the options
// declared, and turns every mistake into a UsageError the caller explains.
import type { Argv } from "yargs";

export class UsageError extends Error {
  override name = "UsageError";
}

/** The house rules, applied to a parser whose options are declared: -h/--help, no --version, strict, quiet. */
export function withHouseRules<T>(parser: Argv<T>) {
  return parser
    .help(false)
    .version(false)
    .option("help", { alias: "h", type: "boolean", describe: "show this help" })
    .strictOptions()
    .exitProcess(false)
    .wrap(null)
    .fail((message, error) => {
      throw new UsageError(message ?? error?.message ?? "invalid arguments");
    });
}

/** The help text yargs would print, as a string. */
export function helpText<T>(parser: Argv<T>): string {
  let text = "";
  parser.showHelp((output: string) => {
    text = output;
  });
  return text;
}
