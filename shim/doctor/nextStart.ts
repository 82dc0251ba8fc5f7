// What the next start boots, decided as the shim decides it (nothing is
// written), and whether any generation is left that boots well.
import { decideBoot, recordOf } from "../../src/bootAssessment.ts";
import { readBootState } from "../../src/bootState.ts";
import { bootFacts, bootProblem, listGenerations } from "../../src/generations.ts";
import { RECOVERY_COMMAND } from "../../src/paths.ts";
import { type Check, fail, ok, warn } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const G = "start-up";

/** `attempts`: wsl.init.bootAttempts, as the shim reads it. */
export function nextStartChecks(ctx: DoctorContext, attempts: number): Check[] {
  const { state, warning } = readBootState(ctx.root);
  const decision = decideBoot(bootFacts(ctx.root), state, attempts);
  const enter = ctx.live ? "as root: nixos-rebuild switch --rollback, or from Windows: " + RECOVERY_COMMAND : RECOVERY_COMMAND.replace(/^.*-- /, "");
  const checks: Check[] = [];
  const name = (g: { number: number | null; link: string }) => (g.number === null ? g.link : `generation ${g.number}`);
  switch (decision.kind) {
    case "none":
      checks.push(
        fail(
          G,
          "next start",
          `no generation can boot: ${decision.reasons.join("; ")}`,
          `enter a system by its store path and rebuild: ${enter} --system /nix/store/…-nixos-system-… -- nixos-rebuild switch`,
        ),
      );
      break;
    case "fallback":
      checks.push(
        warn(
          G,
          "next start",
          `FALLS BACK to ${name(decision.generation)}: ${decision.reason}`,
          decision.generation.number === null ? "fix the default generation" : `keep it as the default: ${RECOVERY_COMMAND} --rollback --generation ${decision.generation.number}`,
        ),
      );
      break;
    case "once":
      checks.push(ok(G, "next start", `boots ${name(decision.generation)} once, as asked (--boot-once)`));
      break;
    case "default":
      checks.push(
        decision.notes.length > 0
          ? warn(G, "next start", `boots ${name(decision.generation)}, but: ${decision.notes.join("; ")}`, `see why the boot never completes: ${enter} -c 'journalctl -b -1 -p warning --no-pager | tail -40'`)
          : ok(G, "next start", `boots the default, ${name(decision.generation)}${warning ? ` (${warning})` : ""}`),
      );
  }
  // Every generation either cannot boot or was started attempts times without being marked good: nothing left to fall back to.
  let generations: ReturnType<typeof listGenerations> = [];
  try {
    generations = listGenerations(ctx.root);
  } catch (error) {
    checks.push(fail(G, "generations", (error as Error).message, `enter a system by its store path: ${enter} --system /nix/store/…-nixos-system-…`));
    return checks;
  }
  const why = generations.map((g) => {
    if ("problem" in g) return `${g.link}: ${g.problem}`;
    const problem = bootProblem(ctx.root, g);
    if (problem !== null) return problem;
    const record = recordOf(state, g.storePath);
    return attempts > 0 && !record.blessed && record.tries >= attempts ? `generation ${g.number} was started ${record.tries} times without being marked good` : null;
  });
  if (generations.length > 0 && why.every((reason) => reason !== null)) {
    checks.push(
      fail(
        G,
        "generations",
        `none of the ${generations.length} generations boots well: ${why.join("; ")}`,
        `read the last start's errors: ${enter} -c 'journalctl -b -1 -p warning --no-pager | tail -40'; fix the configuration and nixos-rebuild switch there`,
      ),
    );
  } else {
    const good = generations.filter((_, index) => why[index] === null).map((g) => g.number);
    checks.push(ok(G, "generations", `${generations.length} generation(s); bootable without known failures: ${good.join(", ") || "none"}`));
  }
  return checks;
}
