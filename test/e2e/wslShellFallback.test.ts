// The login-shell wrapper never locks a user out (issue 20, item 2): a
// configured shell that exists but cannot start (a real mode-644 file, a
// program the kernel refuses) ends in a working bash and a line saying why,
// both when /etc/set-environment is imported (bash's exec) and when it is not.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { runCleanups } from "../harness/cleanups.ts";
import { makeFakeRoot, storeName } from "../harness/fakeRoot.ts";
import { requireBinary } from "../harness/paths.ts";
import { FHS_PATH, installBinLine, prepareWslRoot, WslStandIn } from "../harness/wslStandIn.ts";

requireBinary();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

const SET_ENVIRONMENT = 'export __NIXOS_SET_ENVIRONMENT_DONE=1\nexport NIXOS_FROM_SET_ENVIRONMENT="set by /etc/set-environment"\n';
const MY_SHELL = "/home/nixos/myshell";

/** A root whose user nixos has `MY_SHELL` (written with `content` and `mode`) as the configured real shell, booted as WSL does. */
async function bootWithShell(content: string | Buffer, mode: number): Promise<WslStandIn> {
  const fake = makeFakeRoot({ generations: [{ number: 1, activate: installBinLine(`/nix/store/${storeName(1)}`) }] });
  cleanups.push(() => fake.remove());
  prepareWslRoot(fake, [1], { setEnvironment: SET_ENVIRONMENT, config: { shells: { nixos: MY_SHELL } } });
  writeFileSync(join(fake.root, MY_SHELL), content);
  chmodSync(join(fake.root, MY_SHELL), mode);
  const wsl = await WslStandIn.boot(fake);
  cleanups.push(() => wsl.stop());
  expect((await wsl.waitForSystemd()).passed, wsl.kmsg()).toBe(true);
  return wsl;
}

/** `SHELL -c CMD` as nixos under a parent that imported /etc/set-environment already: the wrapper execs the shell itself. */
async function shellWithoutImport(wsl: WslStandIn, command: string) {
  const entry = await wsl.passwdEntry("nixos");
  const leader = await wsl.container.leader();
  return execa(
    "nsenter",
    ["-t", String(leader), "-m", "-u", "-i", "-n", "-p", "--setuid=1000", "--setgid=100", "--", "/usr/bin/env", "-i", "HOME=/home/nixos", `PATH=${FHS_PATH}`, "__NIXOS_SET_ENVIRONMENT_DONE=1", entry.shell, "-c", command],
    { reject: false, timeout: 30_000 },
  );
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

describe("the login-shell wrapper when the real shell cannot start", () => {
  it("a configured shell of mode 644: bash with the NixOS environment, and one line saying why, with or without the import", async () => {
    const wsl = await bootWithShell("#!/usr/bin/bash\necho 'this is myshell'\n", 0o644);

    const command = await wsl.shell("nixos", { command: 'echo "ran in $0 with $NIXOS_FROM_SET_ENVIRONMENT"; exit 4' });
    expect(command.exitCode, command.stderr).toBe(4);
    expect(command.stdout).toBe("ran in /run/current-system/sw/bin/bash with set by /etc/set-environment");
    expect(lines(command.stderr)).toEqual([
      `nixos-wsl-shell: cannot start ${MY_SHELL}: it is not executable (mode 0644, owner uid 0); make it so with chmod +x; starting /run/current-system/sw/bin/bash instead`,
    ]);

    const login = await wsl.shell("nixos", { login: true, input: 'echo "$0 login=$(shopt -q login_shell && echo yes)"; exit 5\n' });
    expect(login.exitCode, login.stderr).toBe(5);
    expect(login.stdout).toContain("-bash login=yes");
    expect(lines(login.stderr).filter((line) => line.startsWith("nixos-wsl-shell:"))).toEqual([expect.stringContaining(`cannot start ${MY_SHELL}: it is not executable`)]);

    const direct = await shellWithoutImport(wsl, "echo direct; exit 6");
    expect(direct.exitCode, direct.stderr).toBe(6);
    expect(direct.stdout).toBe("direct");
    expect(lines(direct.stderr)).toEqual([expect.stringContaining(`cannot start ${MY_SHELL}: it is not executable (mode 0644`)]);
  });

  it("a configured shell the kernel refuses although it is executable: bash all the same, and a line naming it", async () => {
    const wsl = await bootWithShell(Buffer.from("\x7fELF not really a program\n"), 0o755);

    const command = await wsl.shell("nixos", { command: 'echo "ran with $NIXOS_FROM_SET_ENVIRONMENT"; exit 4' });
    expect(command.exitCode, command.stderr).toBe(4);
    expect(command.stdout).toBe("ran with set by /etc/set-environment");
    expect(command.stderr).toContain(`nixos-wsl-shell: cannot start ${MY_SHELL} (exit code 126, the lines above say why); starting /run/current-system/sw/bin/bash instead`);

    const direct = await shellWithoutImport(wsl, "echo direct; exit 6");
    expect(direct.exitCode, direct.stderr).toBe(6);
    expect(lines(direct.stderr)).toEqual([expect.stringMatching(new RegExp(`^nixos-wsl-shell: cannot start ${MY_SHELL}: .*Exec format error; trying /run/current-system/sw/bin/bash$`))]);
  });
});
