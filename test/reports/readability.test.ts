// What the report says instead of drawing an empty or degenerate chart, and how long tables start:
// a metric constant everywhere, one undetermined everywhere, a curve flat along one axis, and a sweep
// with more conditions than COLLAPSE_ROWS_ABOVE. Built from in-memory records (no images).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReportFromRecords } from '../../reports/build.js';
import type { ReportModel } from '../../reports/model.js';
import type { RunRecords } from '../../reports/load.js';
import { COLLAPSE_ROWS_ABOVE } from '../../reports/html.js';
import { atAGlance } from '../../reports/glance.js';

const root = mkdtempSync(join(tmpdir(), 'refinery-readability-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HANDOFFS = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25];

function records(): RunRecords {
  const conditions = [
    { id: 'base', label: 'base-only', mode: 'base-only' as const },
    ...HANDOFFS.map((handoff) => ({ id: `h${handoff}`, label: `handoff=${handoff}`, mode: 'ensemble' as const, handoff })),
    { id: 's0.3', label: 'strength=0.3', mode: 'sdedit' as const, strength: 0.3 },
  ];
  const units = conditions.flatMap((condition) =>
    ['p0', 'p1'].flatMap((promptId) => [0, 1, 2].map((seed) => ({ key: `${condition.id}|${promptId}|${seed}`, condition, prompt: { id: promptId, text: `prompt ${promptId}`, suite: 's', category: 'c' }, seed }))),
  );
  const meta = (name: string, kind: 'continuous' | 'binary', role: 'primary' | 'secondary') => ({ name, description: name, higherIsBetter: true, range: null, kind, role, scorer: 'fake', scorerVersion: '1' });
  return {
    runDir: join(root, 'no-images'),
    runName: 'readability',
    spec: { scorers: ['fake'] },
    manifest: null,
    units,
    samples: units.map((unit) => ({ key: unit.key, imagePath: null, imageSha256: null, status: 'ok' as const, error: null })),
    scores: units.flatMap((unit) => [
      // flat at 5 along the handoff axis (base-only included); varies under SDEdit
      { sampleKey: unit.key, scorer: 'fake', scorerVersion: '1', metric: 'score', value: unit.condition.mode === 'sdedit' ? 4 + unit.seed : 5 },
      { sampleKey: unit.key, scorer: 'fake', scorerVersion: '1', metric: 'always', value: 1 },
      { sampleKey: unit.key, scorer: 'fake', scorerVersion: '1', metric: 'never', value: null, label: 'undetermined' },
    ]),
    metrics: [meta('score', 'continuous', 'primary'), meta('always', 'binary', 'primary'), meta('never', 'binary', 'primary')],
    storeMeta: {},
  };
}

describe('readability of degenerate results', () => {
  it('states constants, all-undetermined metrics and flat curves in words; collapses long tables with their count', async () => {
    const out = join(root, 'out');
    const { htmlPath } = await buildReportFromRecords(records(), { out, resamples: 50 });
    const page = readFileSync(htmlPath, 'utf8');
    const model = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReportModel;

    // 'always' is 1 everywhere: a sentence, no chart, no comparison in the glance table
    expect(model.charts.filter((chart) => chart.metric === 'always')).toEqual([]);
    const always = page.slice(page.indexOf('id="metric-always"'), page.indexOf('</section>', page.indexOf('id="metric-always"')));
    expect(always).toContain('Constant at <strong>1</strong> in every condition (102 samples)');
    // 'never' has no value at all
    expect(model.charts.filter((chart) => chart.metric === 'never')).toEqual([]);
    expect(page).toContain('Undetermined for all 102 scored samples in every condition');
    const glance = atAGlance(model);
    expect(glance.metrics.map((m) => [m.metric, m.constant, m.allUndetermined])).toEqual([
      ['always', 1, false],
      ['never', null, true],
      ['score', null, false],
    ]);

    // 'score' is flat along the handoff axis: no handoff chart, a sentence instead; the strength curve is drawn
    expect(model.charts.filter((chart) => chart.metric === 'score').map((chart) => chart.id)).toEqual(['curve-strength-score']);
    expect(page).toMatch(/Mean vs handoff fraction: constant at <strong>5<\/strong> at every point/);

    // 17 conditions > COLLAPSE_ROWS_ABOVE: per-condition tables start collapsed and say how many rows they hold
    expect(17).toBeGreaterThan(COLLAPSE_ROWS_ABOVE);
    expect(page).toContain('<details class="long-table"><summary>Per condition (mean score) (17 rows)</summary>');
  });
});
