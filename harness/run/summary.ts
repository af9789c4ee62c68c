/** The lines printed at the end of a run. @module */
import { relative } from 'node:path';
import type { StoreCounts } from '../store/store.js';
import type { ExecuteResult } from './executor.js';
import { formatDuration } from './progress.js';

export interface RunSummary {
  runDir: string;
  result: ExecuteResult;
  /** counts of the whole run folder after this session */
  store: StoreCounts;
  /** why model-major order was chosen, or null for the shared order */
  lowMemoryReason: string | null;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** A path as the user would type it from the current folder. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

export function formatSummary(summary: RunSummary): string[] {
  const { result, store } = summary;
  const ran = result.ok + result.failed;
  const perMinute = result.seconds > 0 ? (ran / result.seconds) * 60 : 0;
  const order =
    result.order === 'shared'
      ? 'shared trajectories, both UNets resident'
      : `model-major, one UNet resident${summary.lowMemoryReason ? ` (${summary.lowMemoryReason})` : ''}`;
  const lines = [
    `Done: ${result.ok} image(s) made, ${result.skipped} skipped (already in the store), ${result.failed} failed` +
      (result.stoppedEarly ? ' — stopped at the first failure (--fail-fast)' : ''),
    `Run folder totals: ${store.ok} ok, ${store.failed} failed, ${store.missing} missing of ${store.units} unit(s)`,
    `Time ${formatDuration(result.seconds)} · ${perMinute.toFixed(1)} images/min · UNet evaluations ${result.unetCalls.base} base + ${result.unetCalls.refiner} refiner`,
    `Order: ${order} · peak RSS ${formatBytes(result.peakRssBytes)}`,
  ];
  const stages = Object.entries(result.stageMeans).filter(([stage]) => stage !== 'total');
  if (stages.length > 0) lines.push(`Mean per image: ${stages.map(([stage, seconds]) => `${stage} ${seconds.toFixed(3)} s`).join(', ')}`);
  const scoring = Object.entries(result.scoreSeconds);
  if (scoring.length > 0) lines.push(`Scoring: ${scoring.map(([scorer, seconds]) => `${scorer} ${seconds.toFixed(1)} s`).join(', ')}`);
  if (result.scoreFailures > 0) {
    lines.push(`${result.scoreFailures} scorer call(s) failed; their samples stay unscored and are scored on the next run (see run.log)`);
  }
  if (store.failed > 0) lines.push(`Failed units keep their error in the store; rerun with --retry-failed to try them again`);
  if (store.missing > 0 && !result.stoppedEarly) lines.push(`Rerun the same command to complete the ${store.missing} missing unit(s)`);
  lines.push(`Results: ${displayPath(summary.runDir)} (images/, refinery.sqlite, manifest.json, run.log)`);
  return lines;
}
