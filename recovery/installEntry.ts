export async function runInstallRecovery(_args: readonly string[]): Promise<number> {
  process.stderr.write("nixos-wsl-init: install-recovery is not built yet\n");
  return 1;
}
