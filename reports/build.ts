/**
 * @module
 * `buildReport(runDir, options)`: reads a run folder's records (never generates or scores) and writes
 * report.html, summary.md, scores.csv, stats.csv, report.json and charts/*.vl.json. The same records
 * give the same bytes: iteration is sorted, bootstraps are seeded, and nothing but the manifest's own
 * times appears in the outputs.
 *
 * @example
 * const { htmlPath } = await buildReport('runs/demo', { out: 'runs/demo/report' });
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../harness/run/atomic.js';
import { UserError } from '../pipelines/errors.js';
import { loadRunRecords, type RunRecords } from './load.js';
import { buildReportModel, type ReportOptions } from './model.js';
import { indexRun } from './observations.js';
import { matchesSelector, orderedConditions } from './conditions.js';
import { renderSvg } from './render-svg.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { scoresCsv, statsCsv } from './tables.js';
import { ThumbnailCache } from './thumbnails.js';

export interface BuildReportOptions extends ReportOptions {
  /** output folder (default: RUN_DIR/report) */
  out?: string;
  /** another run folder to put side by side with this one */
  compare?: string;
  /** longest side of inline thumbnails in pixels (default 128) */
  thumbnailSize?: number;
}

export interface BuildReportResult {
  htmlPath: string;
  /** every file written, absolute, sorted */
  files: string[];
}

/** Builds the report from records already loaded (what `buildReport` does after loading). */
export async function buildReportFromRecords(records: RunRecords, options: BuildReportOptions & { out: string }, other?: RunRecords): Promise<BuildReportResult> {
  const out = resolve(options.out);
  const chartsDir = join(out, 'charts');
  mkdirSync(chartsDir, { recursive: true });
  const otherRecords =
    other && other.runName === records.runName ? { ...other, runName: `${other.runName} (other)` } : other;
  const { model, charts } = buildReportModel(records, options, otherRecords);

  const svgs = new Map<string, string>();
  for (const chart of charts) svgs.set(chart.id, await renderSvg(chart.spec));

  const files = new Map<string, string>();
  for (const chart of charts) files.set(join(chartsDir, `${chart.id}.vl.json`), `${JSON.stringify(chart.spec, null, 2)}\n`);
  files.set(join(out, 'report.json'), `${JSON.stringify(model, null, 2)}\n`);
  files.set(join(out, 'scores.csv'), scoresCsv(indexRun(records)));
  files.set(join(out, 'stats.csv'), statsCsv(model));
  files.set(join(out, 'summary.md'), renderMarkdown(model));
  const htmlPath = join(out, 'report.html');
  files.set(htmlPath, renderHtml({ model, svgs, thumbnails: new ThumbnailCache(records.runDir, options.thumbnailSize ?? 128) }));

  for (const [path, content] of files) writeFileAtomic(path, content);
  // chart specs left by an earlier build of a different run would be mistaken for this one's
  const written = new Set(files.keys());
  for (const name of readdirSync(chartsDir)) {
    const path = join(chartsDir, name);
    if (name.endsWith('.vl.json') && !written.has(path)) rmSync(path, { force: true });
  }
  return { htmlPath, files: [...written].sort() };
}

export async function buildReport(runDir: string, options: BuildReportOptions = {}): Promise<BuildReportResult> {
  const records = loadRunRecords(runDir);
  const other = options.compare ? loadRunRecords(options.compare) : undefined;
  const out = options.out ?? join(records.runDir, 'report');
  if (options.reference !== undefined) {
    const conditions = orderedConditions(records.units.map((unit) => unit.condition));
    if (!conditions.some((condition) => matchesSelector(condition, options.reference!))) {
      throw new UserError(
        `--reference ${JSON.stringify(options.reference)} names no condition of ${runDir}`,
        `use an id, a label, a mode or handoff=h; labels here: ${conditions.map((condition) => condition.label).join(', ')}`,
      );
    }
  }
  if (existsSync(out) && resolve(out) === records.runDir) {
    throw new UserError(`--out ${out} is the run folder itself`, 'choose a subfolder such as RUN_DIR/report');
  }
  return buildReportFromRecords(records, { ...options, out }, other);
}
