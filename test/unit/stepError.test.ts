import { describe, expect, it } from "vitest";
import { describeFailure, inStep, StepError } from "../../src/stepError.ts";

describe("failures as a user reads them", () => {
  it("names the step, the cause and the next thing to do", () => {
    const error = (() => {
      try {
        inStep("making the distro writable", () => {
          throw Object.assign(new Error("mount: Permission denied"), { code: "EACCES" });
        }, (cause) => ((cause as { code?: string }).code === "EACCES" ? "The disk itself is read-only." : null));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(StepError);
    expect(describeFailure(error, {})).toBe("making the distro writable: mount: Permission denied\nThe disk itself is read-only.");
  });

  it("shows a stack trace only with NIXOS_WSL_INIT_DEBUG=1", () => {
    const bug = new TypeError("x is undefined");
    expect(describeFailure(bug, {})).toBe(
      "unexpected error: x is undefined\n(This is a bug in nixos-wsl-init; run again with NIXOS_WSL_INIT_DEBUG=1 for the details to report.)",
    );
    expect(describeFailure(bug, {})).not.toMatch(/\n\s+at /);
    expect(describeFailure(bug, { NIXOS_WSL_INIT_DEBUG: "1" })).toMatch(/^unexpected error: TypeError: x is undefined\n\s+at /);
  });
});
