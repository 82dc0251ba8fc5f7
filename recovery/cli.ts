export async function runRecovery(_args: readonly string[]): Promise<number> {
  process.stderr.write("nixos-wsl-init: recovery is not built yet\n");
  return 1;
}
