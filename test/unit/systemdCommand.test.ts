import { describe, expect, it } from "vitest";
import { activationEnv } from "../../shim/boot/activationEnv.ts";
import { notPid1Message, systemdArgv } from "../../shim/native/systemdCommand.ts";

describe("native shim plan", () => {
  it("keeps argv[0], logs systemd to kmsg and passes every argument on in order", () => {
    expect(systemdArgv("/sbin/init", [])).toEqual(["/sbin/init", "--log-target=kmsg"]);
    expect(systemdArgv("/sbin/init", ["--unit=rescue.target", "--log-level=debug"])).toEqual([
      "/sbin/init",
      "--log-target=kmsg",
      "--unit=rescue.target",
      "--log-level=debug",
    ]);
  });

  it("runs activation with LANG=C.UTF-8 and the rest of the environment", () => {
    expect(activationEnv({ PATH: "/bin", LANG: "de_DE.UTF-8" })).toEqual({ PATH: "/bin", LANG: "C.UTF-8" });
  });

  it("explains a refusal to run outside PID 1", () => {
    expect(notPid1Message(4242)).toContain("here it is PID 4242");
    expect(notPid1Message(4242)).toContain("nixos-wsl-init status");
  });
});
