// The end-to-end smoke tests that the Nix-built executable must pass
// (test/nix/package.test.ts runs them with NIXOS_WSL_INIT_BINARY pointing at it):
// a native boot of real systemd through the shim, and recovery entering a
// generation from the system distribution (its /bin entry copied without /nix).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/e2e/native.test.ts", "test/e2e/recovery.test.ts"],
    testNamePattern: /boots real systemd after activation|enters the default generation after running its activation/,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
