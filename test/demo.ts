// `npm run demo`: boot a small sample NixOS root with the compiled shim as
// /sbin/init under systemd-nspawn (standing in for WSL), show what happened
// from inside, and stop it again, leaving nothing behind.
import { Container } from "./harness/container.ts";
import { makeFakeRoot } from "./harness/fakeRoot.ts";
import { requireBinary } from "./harness/paths.ts";

function show(title: string, text: string): void {
  console.log(`\n== ${title}\n${text.trimEnd()}`);
}

requireBinary();
const sample = makeFakeRoot({ generations: [{ number: 1 }, { number: 2 }] });
let container: Container | undefined;
try {
  console.log(`Sample NixOS root with generations 1 and 2 (default 2) in ${sample.root}`);
  console.log("Booting it: systemd-nspawn -> WSL stand-in -> /sbin/init (nixos-wsl-init) -> systemd");
  const started = performance.now();
  container = await Container.boot(sample.dir, { initArgs: ["--show-status=false"] });
  const state = await container.systemState();
  show(`systemctl is-system-running (after ${((performance.now() - started) / 1000).toFixed(2)} s)`, state);
  const status = await container.exec(["bash", "-c", "exec -a nixos-wsl-init /sbin/init status"]);
  show("nixos-wsl-init status, inside", status.stdout || status.stderr);
  const pid1 = await container.exec(["ps", "-o", "pid,args", "-p", "1"]);
  show("PID 1, inside", pid1.stdout);
  show(
    "The shim's lines in the kernel log",
    container
      .kmsg()
      .split("\n")
      .filter((line) => line.includes("nixos-wsl-init:") || line.includes("fake-activation"))
      .join("\n"),
  );
} finally {
  await container?.stop();
  sample.remove();
  console.log("\nStopped the container and removed the sample root.");
}
