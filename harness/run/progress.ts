/**
 * Progress of a run: a redrawn bar with ETA and mean per-stage times on a TTY, one plain line per unit
 * otherwise, nothing with `quiet`. Every line also goes to the run log. Keeps only counters, so memory
 * does not grow with the number of units.
 * @module
 */
import { appendFileSync } from 'node:fs';

export interface ProgressSink {
  /** true when the stream is an interactive terminal (redraw in place) */
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

export interface UnitOutcome {
  key: string;
  status: 'ok' | 'failed';
  /** e.g. "handoff=0.8 relations/0003 seed=1" */
  label: string;
  error?: string | null;
  timings: Record<string, number>;
}

export interface ProgressOptions {
  sink: ProgressSink;
  quiet?: boolean;
  /** appended to (plain lines) whatever the display mode */
  logPath?: string;
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export class Progress {
  private total = 0;
  private doneNow = 0;
  private failed = 0;
  private startedAt = 0;
  private readonly stageSums = new Map<string, { seconds: number; count: number }>();
  private readonly now: () => number;
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
  }

  get counts(): { done: number; failed: number; total: number } {
    return { done: this.doneNow, failed: this.failed, total: this.total };
  }

  /** Mean seconds per unit for each stage seen so far. */
  stageMeans(): Record<string, number> {
    return Object.fromEntries([...this.stageSums].map(([stage, { seconds, count }]) => [stage, seconds / count]));
  }

  /** Writes a line to the log, and to the display unless quiet (clearing the bar first). */
  log(message: string): void {
    this.appendLog(message);
    if (this.options.quiet) return;
    this.clearBar();
    this.options.sink.write(`${message}\n`);
    this.draw(true);
  }

  start(pending: number, skipped: number): void {
    this.total = pending;
    this.startedAt = this.now();
    this.log(`${pending} unit(s) to run, ${skipped} already done`);
  }

  unit(outcome: UnitOutcome): void {
    this.doneNow += 1;
    if (outcome.status === 'failed') this.failed += 1;
    for (const [stage, seconds] of Object.entries(outcome.timings)) {
      const sum = this.stageSums.get(stage) ?? { seconds: 0, count: 0 };
      sum.seconds += seconds;
      sum.count += 1;
      this.stageSums.set(stage, sum);
    }
    const line =
      `[${this.doneNow}/${this.total}] ${outcome.status === 'ok' ? 'ok' : 'FAILED'} ${outcome.label}` +
      (outcome.status === 'failed' ? `: ${outcome.error ?? 'unknown error'}` : '') +
      (typeof outcome.timings.total === 'number' ? ` (${outcome.timings.total.toFixed(2)} s)` : '');
    this.appendLog(line);
    if (this.options.quiet) return;
    if (this.options.sink.isTTY) {
      if (outcome.status === 'failed') {
        this.clearBar();
        this.options.sink.write(`${line}\n`);
      }
      this.draw(false);
    } else {
      this.options.sink.write(`${line}\n`);
    }
  }

  /** Seconds left at the pace so far (NaN before the first unit). */
  etaSeconds(): number {
    if (this.doneNow === 0) return Number.NaN;
    const elapsed = (this.now() - this.startedAt) / 1000;
    return (elapsed / this.doneNow) * (this.total - this.doneNow);
  }

  finish(): void {
    if (this.options.quiet || !this.options.sink.isTTY) return;
    this.draw(true);
    if (this.drawn) this.options.sink.write('\n');
    this.drawn = false;
  }

  private barLine(): string {
    const width = 24;
    const fraction = this.total === 0 ? 1 : this.doneNow / this.total;
    const filled = Math.round(fraction * width);
    const elapsedMin = (this.now() - this.startedAt) / 60_000;
    const rate = elapsedMin > 0 ? this.doneNow / elapsedMin : 0;
    const stages = Object.entries(this.stageMeans())
      .filter(([stage]) => stage !== 'total')
      .map(([stage, seconds]) => `${stage} ${seconds.toFixed(2)}s`)
      .join(' ');
    const line =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.doneNow}/${this.total}` +
      (this.failed ? ` · ${this.failed} failed` : '') +
      ` · ${rate.toFixed(1)} img/min · ETA ${formatDuration(this.etaSeconds())}` +
      (stages ? ` · ${stages}` : '');
    const columns = this.options.sink.columns ?? 120;
    return line.length > columns - 1 ? line.slice(0, columns - 1) : line;
  }

  private draw(force: boolean): void {
    if (this.options.quiet || !this.options.sink.isTTY || this.total === 0) return;
    const now = this.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.options.sink.write(`\r\x1b[2K${this.barLine()}`);
    this.drawn = true;
  }

  private clearBar(): void {
    if (this.drawn && this.options.sink.isTTY) this.options.sink.write('\r\x1b[2K');
  }

  private appendLog(message: string): void {
    if (!this.options.logPath) return;
    appendFileSync(this.options.logPath, `${new Date(this.now()).toISOString()} ${message}\n`);
  }
}
