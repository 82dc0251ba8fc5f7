// Legacy distros for vitest, stopped (by PID) and removed when their tests are
// done: one per test, or one a describe shares. Apart from harness/legacy.ts,
// which the bench and the demo load without vitest.
import { afterAll, afterEach, beforeAll } from "vitest";
import { runCleanups } from "./cleanups.ts";
import { bootLegacyDistro, type LegacyDistro } from "./legacy.ts";

async function end(distro: LegacyDistro): Promise<void> {
  try {
    await distro.container.stop();
  } finally {
    distro.fake.remove();
  }
}

/** Call inside a describe: returns a boot function whose distros end with their test. */
export function legacyDistroPerTest(): (...args: Parameters<typeof bootLegacyDistro>) => Promise<LegacyDistro> {
  const distros: LegacyDistro[] = [];
  afterEach(() => runCleanups(distros.splice(0).map((distro) => () => end(distro))));
  return async (...args) => {
    const distro = await bootLegacyDistro(...args);
    distros.push(distro);
    return distro;
  };
}

/** Call inside a describe: one distro for all its tests, handed to `ready` before the first (which may prepare it further). */
export function sharedLegacyDistro(ready: (distro: LegacyDistro) => void | Promise<void>): void {
  let distro: LegacyDistro | null = null;
  beforeAll(async () => {
    distro = await bootLegacyDistro();
    await ready(distro);
  });
  afterAll(async () => {
    if (distro !== null) await end(distro);
  });
}
