// A process's descendants, read from /proc: what a hung activation is stuck
// in, and everything to stop when it is given up on.
import { readFileSync } from "node:fs";

/** The direct children of a process (empty when it is gone). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

/** Every descendant, parents before their children. */
export function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  const pending = childrenOf(pid);
  while (pending.length > 0) {
    const next = pending.shift()!;
    found.push(next);
    pending.push(...childrenOf(next));
  }
  return found;
}

/** A process's command line as a person would type it, or null when it is gone. */
export function commandLineOf(pid: number): string | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const words = raw.split("\0").filter((word) => word !== "");
    return words.length > 0 ? words.join(" ") : null;
  } catch {
    return null;
  }
}

/** The newest, most deeply nested running descendant (or the process itself): what it is waiting on. */
export function deepestProcess(pid: number): { readonly pid: number; readonly commandLine: string } | null {
  let current = pid;
  for (;;) {
    const children = childrenOf(current);
    if (children.length === 0) break;
    current = children[children.length - 1]!;
  }
  const commandLine = commandLineOf(current);
  return commandLine === null ? null : { pid: current, commandLine };
}

/** Whether a process has a handler for `signal` (SigCgt in its status): a namespace's PID 1 gets only those. */
export function catchesSignal(pid: number, signal: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}
