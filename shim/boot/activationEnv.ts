// The pure part of running the activation script in either boot path: its
// environment and how often a slow one is reported (kept free of bun:ffi, so
// unit tests can import it).

/** How often a slow activation is reported, so a hung boot is visible in dmesg. */
export const ACTIVATION_PROGRESS_MS = 15_000;

/** The activation script's environment: ours, with a locale that exists before activation builds /etc. */
export function activationEnv(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return { ...env, LANG: "C.UTF-8" };
}
