// A command line read by hand, for the commands on a start's path: recovery at
// every entry, install-bin in every activation. Loading and running yargs took
// as long as starting the runtime itself; loading @pkgjs/parseargs 11 ms on the
// bench machine, the runtime's util.parseArgs 2 to 4 ms; this loop takes none.
// The human-run commands (status, doctor, tarball) keep those parsers.
import { UsageError } from "./cliParser.ts";

export type OptionSpec = { readonly type: "string" | "boolean"; readonly short?: string };

export interface CommandLine<Name extends string> {
  /** A string option's value, or true for a boolean one given; absent when not given (the last of repeats wins). */
  readonly values: { readonly [name in Name]?: string | boolean };
  /** Arguments before a "--". */
  readonly stray: readonly string[];
  /** Everything after the first "--", options included. */
  readonly rest: readonly string[];
}

/**
 * `--name`, `--name=value`, `--name value` and `-x value`; a value that starts
 * with a dash only after "=". A UsageError names an unknown option, a missing
 * value, or a value given to a flag.
 */
export function readCommandLine<Name extends string>(args: readonly string[], options: { readonly [name in Name]: OptionSpec }): CommandLine<Name> {
  const values: { [name in Name]?: string | boolean } = {};
  const stray: string[] = [];
  let index = 0;
  for (; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") {
      stray.push(arg);
      continue;
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const written = equals < 0 ? arg : arg.slice(0, equals);
    const name = optionNamed(written, options);
    if (options[name].type === "boolean") {
      if (equals >= 0) throw new UsageError(`${written} takes no value ('${arg}')`);
      values[name] = true;
    } else if (equals >= 0) {
      values[name] = arg.slice(equals + 1);
    } else {
      const value = args[index + 1];
      if (value === undefined || (value.startsWith("-") && value !== "-")) {
        throw new UsageError(`${written} needs a value${value === undefined ? "" : ` (found '${value}'; give a value starting with a dash as --${name}=${value})`}`);
      }
      values[name] = value;
      index++;
    }
  }
  return { values, stray, rest: args.slice(index + 1) };
}

/** The option `written` (--name or -x) names, or a UsageError. */
function optionNamed<Name extends string>(written: string, options: { readonly [name in Name]: OptionSpec }): Name {
  if (written.startsWith("--") && Object.hasOwn(options, written.slice(2))) return written.slice(2) as Name;
  const short = (Object.entries(options) as Array<[Name, OptionSpec]>).find(([, option]) => option.short !== undefined && `-${option.short}` === written);
  if (short) return short[0];
  throw new UsageError(`unknown option '${written}' (a command and its own options go after '--')`);
}
