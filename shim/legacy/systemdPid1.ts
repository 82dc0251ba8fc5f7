// Internal: the first process in legacy mode's new namespaces (unshare's
// child, PID 1 there). It binds legacy mode's sub-cgroups over their hierarchies,
// so that systemd's view of its cgroups starts where its cgroup namespace
// does (see cgroupBind), then becomes systemd. Its output goes to systemd's log (/run/nixos-wsl/systemd.log).
import { EXIT_FAILURE } from "../../src/exitCodes.ts";
import { execve, MS_BIND, mount } from "../../src/libc.ts";
import { sayAs } from "../../src/say.ts";
import { inStep } from "../../src/stepError.ts";
import type { CgroupBind } from "./cgroup.ts";

export interface SystemdPid1Request {
  readonly systemd: string;
  readonly cgroupBinds: readonly CgroupBind[];
}

export function runSystemdPid1(requestText: string): number {
  const request = JSON.parse(requestText) as SystemdPid1Request;
  for (const { source, target } of request.cgroupBinds) {
    try {
      mount(source, target, null, MS_BIND);
    } catch (error) {
      // systemd still starts, with the outside view: only user managers (user@UID) are known to need this one.
      // Synchronous: systemd replaces this process right after.
      sayAs("nixos-wsl-init")(
        `binding ${source} over ${target} inside systemd's namespaces: ${(error as Error).message}; ` +
          "systemd starts with the cgroup view it inherited, where user managers (systemctl --user) cannot start",
      );
    }
  }
  inStep(`starting systemd (${request.systemd})`, () => execve(request.systemd, [request.systemd], process.env));
  return EXIT_FAILURE;
}
