// Progress of the packing on stderr: on a terminal one line redrawn at most
// ten times a second (entries, bytes, rate, time left); elsewhere nothing
// until the one summary line at the end.

export interface ProgressTotals {
  readonly entries: number;
  readonly bytes: number;
}

const REDRAW_MS = 100;

/** Bytes for people: "812 B", "12.3 KiB", "456.7 MiB", "1.2 GiB". */
export function size(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const whole = Math.ceil(seconds);
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/** The progress line: "packing: 1234/5678 entries, 12.0/45.6 MiB, 80.1 MiB/s, 1 s left". */
export function progressLine(entries: number, bytes: number, totals: ProgressTotals, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? bytes / elapsedSeconds : 0;
  const left = rate > 0 ? (totals.bytes - bytes) / rate : Number.POSITIVE_INFINITY;
  return `packing: ${entries}/${totals.entries} entries, ${size(bytes)}/${size(totals.bytes)}, ${size(rate)}/s, ${duration(left)} left`;
}

export class Progress {
  private readonly started = performance.now();
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly totals: ProgressTotals,
    private readonly terminal: boolean,
    private readonly write: (text: string) => void,
  ) {}

  get elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  update(entries: number, bytes: number): void {
    if (!this.terminal) return;
    const now = performance.now();
    if (now - this.lastDrawn < REDRAW_MS) return;
    this.lastDrawn = now;
    this.drawn = true;
    this.write(`\r\x1b[K${progressLine(entries, bytes, this.totals, this.elapsedSeconds)}`);
  }

  /** Clear the progress line (before any other message, and at the end). */
  clear(): void {
    if (this.drawn) this.write("\r\x1b[K");
    this.drawn = false;
  }
}
