export async function runLegacy(_argv0: string, _args: readonly string[]): Promise<number> {
  process.stderr.write("nixos-wsl-init: legacy mode is not built yet\n");
  return 1;
}
