// The pure part of entering a generation: which program runs inside, and
// with what environment. The system distro's environment stays outside: its
// PATH names nothing that exists in the NixOS root.
import type { RecoveryRequest } from "./options.ts";

export interface EnterPlan {
  /** The distro root on the host, e.g. /mnt/wslg/distro. */
  readonly root: string;
  /** The generation's store path inside the root. */
  readonly system: string;
  /** How to name the generation in messages. */
  readonly label: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly silent: boolean;
}

type EnterCommand = Extract<RecoveryRequest, { action: "enter" }>["command"];

export function commandArgv(system: string, command: EnterCommand): string[] {
  const bash = `${system}/sw/bin/bash`;
  if (command === null) return [bash, "--login"];
  if ("shell" in command) return [bash, "--login", "-c", command.shell];
  return [...command.argv];
}

export function chrootEnv(system: string, callerEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `/run/wrappers/bin:${system}/sw/bin`,
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    SHELL: `${system}/sw/bin/bash`,
    LANG: "C.UTF-8",
    LOCALE_ARCHIVE: localeArchive(system),
    NIXOS_WSL_RECOVERY: system,
  };
  if (callerEnv.TERM) env.TERM = callerEnv.TERM;
  return env;
}

export function localeArchive(system: string): string {
  return `${system}/sw/lib/locale/locale-archive`;
}

/** The activation script's environment, as nixos-enter gives it. */
export function recoveryActivationEnv(plan: EnterPlan): Record<string, string> {
  return { ...plan.env, IN_NIXOS_ENTER: "1", LOCALE_ARCHIVE: localeArchive(plan.system) };
}
