// Legacy distros booted one per test and stopped (by PID) and removed after it.
// Apart from harness/legacy.ts, which the bench and the demo load without vitest.
import { afterEach } from "vitest";
import { bootLegacyDistro, type LegacyDistro } from "./legacy.ts";

/** Call inside a describe: returns a boot function whose distros end with their test. */
export function legacyDistroPerTest(): (...args: Parameters<typeof bootLegacyDistro>) => Promise<LegacyDistro> {
  const distros: LegacyDistro[] = [];
  afterEach(async () => {
    for (const distro of distros.splice(0)) {
      await distro.container.stop();
      distro.fake.remove();
    }
  });
  return async (...args) => {
    const distro = await bootLegacyDistro(...args);
    distros.push(distro);
    return distro;
  };
}
