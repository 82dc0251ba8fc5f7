// A terminal window a person types into: a tmux pane running one command,
// kept readable after the command ends (remain-on-exit), with its exit status.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { sleep } from "./proc.ts";

export class Terminal {
  private constructor(
    private readonly socket: string,
    private readonly work: string,
  ) {}

  /** Open a window running `argv` (quoted for tmux's shell). */
  static async open(argv: readonly string[]): Promise<Terminal> {
    const socket = `nixos-wsl-init-test-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const work = mkdtempSync(join(tmpdir(), "nixos-wsl-init-terminal-"));
    // A shell in between writes the exit status down: tmux started from vitest does not always reap its pane's process.
    const wrapped = ["/bin/sh", "-c", '"$@"; echo "$?" > "$0"', join(work, "status"), ...argv];
    const command = wrapped.map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
    await execa("tmux", ["-L", socket, "new-session", "-d", "-x", "160", "-y", "40", command]);
    await execa("tmux", ["-L", socket, "set-option", "-t", "0", "remain-on-exit", "on"]);
    return new Terminal(socket, work);
  }

  async type(text: string): Promise<void> {
    await execa("tmux", ["-L", this.socket, "send-keys", "-t", "0", "-l", text]);
    await execa("tmux", ["-L", this.socket, "send-keys", "-t", "0", "Enter"]);
  }

  /** A key by tmux's name for it, e.g. C-c. */
  async press(key: string): Promise<void> {
    await execa("tmux", ["-L", this.socket, "send-keys", "-t", "0", key]);
  }

  async screen(): Promise<string> {
    return (await execa("tmux", ["-L", this.socket, "capture-pane", "-p", "-t", "0", "-S", "-200"])).stdout;
  }

  /** Wait until the screen shows `text`. */
  async waitForText(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (typeof text === "string" ? screen.includes(text) : text.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)} on the terminal; it shows:\n${screen}`);
      await sleep(100);
    }
  }

  /** The command's exit status (128 + N after signal N) once it has ended, waiting for that. */
  async exitStatus(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const text = readFileSync(join(this.work, "status"), "utf8");
        if (text.endsWith("\n")) return Number(text.trim());
      } catch {
        // not ended yet
      }
      if (Date.now() > deadline) throw new Error(`the terminal's command has not ended within ${timeoutMs} ms; it shows:\n${await this.screen()}`);
      await sleep(100);
    }
  }

  /** The PID of the window's process: the shell that runs the command. */
  async commandPid(): Promise<number> {
    return Number((await execa("tmux", ["-L", this.socket, "display-message", "-p", "-t", "0", "#{pane_pid}"])).stdout.trim());
  }

  /** Close the window: the tmux server goes, and what runs in it gets SIGHUP. */
  async close(): Promise<void> {
    await execa("tmux", ["-L", this.socket, "kill-server"], { reject: false });
    rmSync(this.work, { recursive: true, force: true });
  }
}
