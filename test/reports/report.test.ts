import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../reports/build.js';
import type { ReportModel } from '../../reports/model.js';
import { escapeHtml } from '../../reports/html-template.js';
import { main } from '../../harness/cli.js';
import { RunStore } from '../../harness/store/store.js';
import { metricRole, orderMetrics, scorerOrder } from '../../reports/observations.js';
import { atAGlance, describeFinding, MIN_PAIRS_TO_CONCLUDE, SIGNIFICANCE_LEVEL, verdictFor } from '../../reports/glance.js';
import type { ComparisonRow } from '../../reports/summarize.js';
import type { MetricRole } from '../../probes/types.js';
import { SCRIPT_PROMPT, writeSyntheticRun } from './synthetic-run.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let root: string;
let runDir: string;
let otherRunDir: string;
let first: Awaited<ReturnType<typeof buildReport>>;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'refinery-report-'));
  runDir = join(root, 'run-a');
  otherRunDir = join(root, 'run-b');
  writeSyntheticRun(runDir);
  writeSyntheticRun(otherRunDir, { modelHash: 'c'.repeat(64), refinerGain: 0, determinism: { unit: 'x', identical: true, maxAbsDifference: 0 } });
  first = await buildReport(runDir, { out: join(root, 'out-1') });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('buildReport on a synthetic run', () => {
  it('writes every output, one vega-lite spec per chart listed in report.json', () => {
    const out = join(root, 'out-1');
    for (const name of ['report.html', 'summary.md', 'scores.csv', 'stats.csv', 'report.json']) expect(existsSync(join(out, name))).toBe(true);
    expect(first.htmlPath).toBe(join(out, 'report.html'));
    const model = JSON.parse(read(join(out, 'report.json'))) as ReportModel;
    const specs = readdirSync(join(out, 'charts')).sort();
    expect(specs).toEqual(model.charts.map((chart) => `${chart.id}.vl.json`).sort());
    expect(model.charts.length).toBeGreaterThanOrEqual(8);
    for (const spec of specs) expect(JSON.parse(read(join(out, 'charts', spec))).config.font).toBe('DejaVu Sans');
    expect(first.files).toEqual([...first.files].sort());
  });

  it('escapes every run string: the <script> prompt and the <b> title are text, the only script is the sorter', () => {
    const page = read(first.htmlPath);
    expect(page).not.toContain(SCRIPT_PROMPT);
    expect(page).toContain(escapeHtml(SCRIPT_PROMPT));
    expect(page).not.toContain('<b>report</b>');
    expect(page.match(/<script\b/g)).toHaveLength(1);
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(page).toContain('content="default-src &#39;none&#39;; img-src data:;');
    // outside fenced code (where the recorded command is shown literally) no run string is markup
    const markdown = read(join(root, 'out-1', 'summary.md')).replace(/^```[^]*?^```$/gm, '');
    expect(markdown).toContain('# Synthetic &lt;b&gt;report&lt;/b&gt;');
    expect(markdown).not.toContain('<script>');
    expect(markdown).not.toContain('<b>');
  });

  it('pairs conditions with base-only on (prompt, seed) and reports the number of pairs', () => {
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    const clip = model.baseVsRefiner.comparisons.filter((row) => row.metric === 'clip_score');
    expect(clip.map((row) => row.conditionLabel)).toEqual(['handoff=0.8', 'handoff=0.6', 'strength=0.3']);
    // 5 prompts × 6 seeds, minus the failed handoff=0.8 unit
    expect(clip.map((row) => row.nPairs)).toEqual([29, 30, 30]);
    expect(clip.every((row) => row.referenceLabel === 'base-only' && row.test === 'wilcoxon-signed-rank')).toBe(true);
    // the paired difference is the mean of (condition − reference) over shared (prompt, seed), computed here from the store
    const store = RunStore.open(join(runDir, 'refinery.sqlite'), { readonly: true });
    const clipByKey = new Map(store.scores().filter((score) => score.metric === 'clip_score').map((score) => [score.sampleKey, score.value as number]));
    const byCondition = new Map<string, Map<string, number>>();
    for (const unit of store.units()) {
      const value = clipByKey.get(unit.key);
      if (value === undefined) continue;
      const map = byCondition.get((unit.condition as { label: string }).label) ?? new Map<string, number>();
      map.set(`${unit.prompt.id}|${unit.seed}`, value);
      byCondition.set((unit.condition as { label: string }).label, map);
    }
    store.close();
    for (const row of clip) {
      const reference = byCondition.get('base-only')!;
      const differences = [...byCondition.get(row.conditionLabel)!].filter(([key]) => reference.has(key)).map(([key, value]) => value - reference.get(key)!);
      expect(differences).toHaveLength(row.nPairs);
      expect(row.difference!.estimate).toBeCloseTo(differences.reduce((a, b) => a + b, 0) / differences.length, 10);
      expect(row.difference!.lower).toBeLessThan(row.difference!.estimate);
      expect(row.difference!.upper).toBeGreaterThan(row.difference!.estimate);
      expect(row.pHolm).toBeGreaterThanOrEqual(row.pValue!);
    }
    const relation = model.baseVsRefiner.comparisons.filter((row) => row.metric === 'relation_correct');
    expect(relation.every((row) => row.test === 'mcnemar-exact')).toBe(true);
    // 2 spatial prompts × 5 determined seeds (seed 0 undetermined), minus the failed unit
    expect(relation.map((row) => row.nPairs)).toEqual([9, 10, 10]);
    expect(model.settings.bootstrap).toMatchObject({ resamples: 300, seed: 11 });
    const skills = model.baseVsRefiner.categories.filter((row) => row.metric === 'clip_score' && row.level === 'skill' && row.conditionLabel === 'base-only');
    expect(skills.map((row) => [row.group, row.n])).toEqual([['position', 12], ['text', 6]]);
    expect(model.charts.some((chart) => chart.id === 'skill-clip-score')).toBe(true);
    const curves = model.baseVsRefiner.curves.filter((point) => point.metric === 'clip_score' && point.axis === 'handoff');
    expect(curves.map((point) => point.x).sort()).toEqual([0.6, 0.8, 1]);
  });

  it('orders metrics by role, then the experiment\'s scorers list; folds detail metrics into one table and states constants', () => {
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    // primaries in scorers-list order (colour-geometry before clip), then the role-less ocr_garbled (secondary),
    // the categorical probe (no role: secondary, scorer listed last), the diagnostic, and the detail flag
    expect(model.metrics.map((m) => [m.name, m.role])).toEqual([
      ['relation_correct', 'primary'],
      ['clip_score', 'primary'],
      ['ocr_garbled', 'secondary'],
      ['perceived_gender', 'secondary'],
      ['vae_roundtrip_error', 'diagnostic'],
      ['black', 'detail'],
    ]);
    const page = read(first.htmlPath);
    const sectionOrder = [...page.matchAll(/<section class="metric" id="(metric-[a-z0-9-]+|diagnostic-details)"/g)].map((match) => match[1]);
    expect(sectionOrder).toEqual(['metric-relation-correct', 'metric-clip-score', 'metric-ocr-garbled', 'metric-vae-roundtrip-error', 'diagnostic-details']);
    // the constant detail flag is a sentence in the details table, with no chart of its own
    const details = page.slice(page.indexOf('id="diagnostic-details"'), page.indexOf('id="image-strips"'));
    expect(details).toContain('<code>black</code>');
    expect(details).toMatch(/constant at <strong>0<\/strong> in every condition/);
    expect(model.charts.some((chart) => chart.metric === 'black')).toBe(false);
    // binary curves are drawn on the full [0, 1] scale
    const relationCurve = JSON.parse(read(join(root, 'out-1', 'charts', 'curve-handoff-relation-correct.vl.json')));
    expect(relationCurve.layer[0].encoding.y.scale.domain).toEqual([0, 1]);
  });

  it('opens with an at-a-glance table of the primary metrics: difference vs the reference, Holm p and a plain verdict', () => {
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    const glance = atAGlance(model);
    expect(glance.basis).toBe('primary');
    expect(glance.metrics.map((m) => m.metric)).toEqual(['relation_correct', 'clip_score']);
    // the synthetic refiner adds 1.5 to clip_score (noise sd 2, ~30 pairs): every refined condition is better
    const clip = glance.metrics.find((m) => m.metric === 'clip_score')!;
    expect(clip.rows.map((row) => row.verdict)).toEqual(['reference', 'better', 'better', 'better']);
    expect(clip.rows.slice(1).every((row) => row.comparison!.pHolm! < SIGNIFICANCE_LEVEL)).toBe(true);
    // relation_correct: handoff=0.8 rests on 9 pairs (below MIN_PAIRS_TO_CONCLUDE), the others on 10
    const relation = glance.metrics.find((m) => m.metric === 'relation_correct')!;
    expect(relation.rows.map((row) => [row.verdict, row.comparison?.nPairs ?? null])).toEqual([
      ['reference', null],
      ['too few pairs to conclude', 9],
      ['not significant', 10],
      ['not significant', 10],
    ]);
    expect(glance.minPairs).toBe(9);
    expect(glance.findings.map((f) => [f.conditionLabel, f.metric, f.verdict])).toEqual([
      ['handoff=0.8', 'clip_score', 'better'],
      ['handoff=0.6', 'clip_score', 'better'],
      ['strength=0.3', 'clip_score', 'better'],
    ]);
    expect(glance.diagnostics.map((d) => [d.metric, d.mostlyFailing])).toEqual([['vae_roundtrip_error', []]]);
    const page = read(first.htmlPath);
    // above the table of contents, so the answer is visible without scrolling
    expect(page.indexOf('id="at-a-glance"')).toBeGreaterThan(0);
    expect(page.indexOf('id="at-a-glance"')).toBeLessThan(page.indexOf('class="toc"'));
    expect(page).toContain(describeFinding(glance.findings[0]));
    expect(page).toContain('Few pairs: some comparisons rest on only 9 (prompt, seed) pairs.');
    expect(read(join(root, 'out-1', 'summary.md'))).toContain('## At a glance');
  });

  it('defines each thumbnail once (an SVG <symbol>) and draws it with <use> wherever it appears', () => {
    const page = read(first.htmlPath);
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    const shown = [
      ...model.strips.flatMap((strip) => strip.cells.map((cell) => cell.imagePath)),
      ...[...model.limitations.themes.flatMap((theme) => theme.metrics), ...model.limitations.other].flatMap((metric) => metric.worst.map((example) => example.imagePath)),
    ].filter((path): path is string => path !== null);
    const symbols = [...page.matchAll(/<symbol id="(img-\d+)"/g)].map((match) => match[1]);
    expect(symbols).toHaveLength(new Set(shown).size);
    expect(page.match(/<use href="#img-\d+"/g)).toHaveLength(shown.length);
    expect(shown.length).toBeGreaterThan(symbols.length);
    expect(page.match(/data:image\/(png|jpeg);base64,/g)).toHaveLength(symbols.length);
  });

  it('verdictFor: significance in the metric\'s direction, too few pairs, or not significant', () => {
    const row = (estimate: number, pHolm: number | null, nPairs: number) => ({ difference: { estimate, lower: estimate - 1, upper: estimate + 1 }, pHolm, nPairs }) as ComparisonRow;
    expect(verdictFor(row(1, 0.01, 30), true)).toBe('better');
    expect(verdictFor(row(1, 0.01, 30), false)).toBe('worse');
    expect(verdictFor(row(-1, 0.01, 30), false)).toBe('better');
    expect(verdictFor(row(-1, 0.01, 30), null)).toBe('lower');
    expect(verdictFor(row(1, 0.2, 30), true)).toBe('not significant');
    expect(verdictFor(row(1, 0.2, MIN_PAIRS_TO_CONCLUDE - 1), true)).toBe('too few pairs to conclude');
    // a significant result stands even with few pairs
    expect(verdictFor(row(1, 0.03, 6), true)).toBe('better');
    expect(verdictFor({ ...row(0, null, 0), difference: null }, true)).toBe('not compared');
  });

  it('orderMetrics: without roles (older stores) metrics follow the scorers list, then the name', () => {
    const meta = (name: string, scorer: string, role?: MetricRole) => ({ name, scorer, scorerVersion: '1', description: '', higherIsBetter: true, range: null, kind: 'binary' as const, ...(role ? { role } : {}) });
    const scorers = scorerOrder({ scorers: [{ id: 'ocr', options: {} }, 'clip'] });
    expect(scorers).toEqual(['ocr', 'clip']);
    const ordered = orderMetrics([meta('clip_score', 'clip'), meta('zeta', 'unlisted'), meta('ocr_exact', 'ocr'), meta('alpha', 'unlisted'), meta('ocr_distance', 'ocr')], scorers);
    expect(ordered.map((m) => m.name)).toEqual(['ocr_distance', 'ocr_exact', 'clip_score', 'alpha', 'zeta']);
    const withRoles = orderMetrics([meta('black', 'health', 'detail'), meta('health_ok', 'health', 'diagnostic'), meta('clip_cosine', 'clip', 'secondary'), meta('clip_score', 'clip', 'primary'), meta('ocr_exact', 'ocr', 'primary')], scorers);
    expect(withRoles.map((m) => m.name)).toEqual(['ocr_exact', 'clip_score', 'clip_cosine', 'health_ok', 'black']);
    expect(metricRole({ role: 'headline' })).toBe('secondary');
  });

  it('summarizes bias with the classifier named, the label set, and intervals; limitations by model-card theme', () => {
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    expect(model.bias).toHaveLength(1);
    const [bias] = model.bias;
    expect(bias.classifiers).toEqual(['tiny-clip']);
    expect(bias.labelSet).toEqual(['female', 'male']);
    expect(bias.conditions).toHaveLength(4);
    for (const condition of bias.conditions) {
      expect(condition.prompts).toBe(2);
      expect(condition.mad!.lower).toBeLessThanOrEqual(condition.mad!.estimate);
      expect(condition.mad!.upper).toBeGreaterThanOrEqual(condition.mad!.estimate);
    }
    expect(bias.changes.map((change) => change.referenceLabel)).toEqual(['base-only', 'base-only', 'base-only']);
    const page = read(first.htmlPath);
    expect(page).toContain('as predicted by tiny-clip');
    expect(page).toContain('never who a depicted person is');
    const composition = model.limitations.themes.find((theme) => theme.id === 'composition')!;
    expect(composition.metrics.map((metric) => metric.metric)).toEqual(['relation_correct']);
    expect(composition.metrics[0].worst.length).toBeGreaterThan(0);
    expect(composition.metrics[0].worst[0].boxes.map((box) => box.colour)).toEqual(['red', 'blue']);
    expect(model.limitations.themes.find((theme) => theme.id === 'autoencoder')!.metrics.map((m) => m.metric)).toEqual(['vae_roundtrip_error']);
    // a lower-is-better flag fails with value 1: 3 of the 6 seeds per condition are garbled
    const text = model.limitations.themes.find((theme) => theme.id === 'text')!;
    expect(text.metrics.map((metric) => [metric.metric, metric.failureValue])).toEqual([['ocr_garbled', 1]]);
    expect(text.metrics[0].rows.map((row) => [row.failures, row.n])).toEqual([[3, 6], [3, 6], [3, 6], [3, 6]]);
    expect(text.metrics[0].worst.every((example) => example.value === 1)).toBe(true);
    expect(model.limitations.themes.find((theme) => theme.id === 'faces')!.metrics).toEqual([]);
    expect(page).toContain('No probe for this in this run.');
  });

  it('states the command and that determinism was not checked when the run recorded no check', () => {
    const model = JSON.parse(read(join(root, 'out-1', 'report.json'))) as ReportModel;
    expect(model.reproducibility.determinism.status).toBe('not checked');
    expect(model.reproducibility.command).toBe("refinery run experiments/synthetic.yaml --set 'report.title=it'\\''s <b>'");
    expect(model.reproducibility.modelHashes.map((entry) => entry.path)).toEqual(['models.base.sha256', 'models.refiner.sha256']);
    expect(read(first.htmlPath)).toContain('<strong>not checked</strong>');
  });

  it('writes one scores.csv row per sample × metric', () => {
    const lines = read(join(root, 'out-1', 'scores.csv')).trimEnd().split('\n');
    // ok samples: 4 × 5 × 6 − 1 = 119; metrics: clip + vae + black on all, relation on 2/5 prompts, gender on 2/5, ocr on 1/5
    const samples = 119;
    const expectedRows = samples * 3 + (4 * 2 * 6 - 1) + 4 * 2 * 6 + 4 * 6;
    expect(lines).toHaveLength(expectedRows + 1);
    expect(lines[0].split(',').slice(0, 3)).toEqual(['sample_key', 'condition_id', 'condition_label']);
  });

  it('rebuilds byte-identical outputs from the same records', async () => {
    const second = await buildReport(runDir, { out: join(root, 'out-2') });
    const names = (result: typeof first) => result.files.map((file) => file.slice(file.indexOf('out-') + 6));
    expect(names(second)).toEqual(names(first));
    for (const [i, file] of first.files.entries()) expect(readFileSync(second.files[i]).equals(readFileSync(file))).toBe(true);
  });

  it('a run merged from two shards gives the same bytes as the single run', async () => {
    const shards = [0, 1].map((shard) => {
      const dir = join(root, `shard-${shard}`, 'run-a');
      writeSyntheticRun(dir, { shard: shard as 0 | 1 });
      return dir;
    });
    const merged = join(root, 'merged', 'run-a');
    mkdirSync(join(merged, 'images'), { recursive: true });
    const store = RunStore.open(join(merged, 'refinery.sqlite'));
    for (const shard of shards) {
      store.importFrom(join(shard, 'refinery.sqlite'));
      cpSync(join(shard, 'images'), join(merged, 'images'), { recursive: true });
    }
    store.close();
    for (const name of ['spec.json', 'manifest.json']) copyFileSync(join(runDir, name), join(merged, name));
    const fromMerged = await buildReport(merged, { out: join(root, 'out-merged') });
    expect(fromMerged.files.length).toBe(first.files.length);
    for (const [i, file] of first.files.entries()) expect(readFileSync(fromMerged.files[i]).equals(readFileSync(file))).toBe(true);
  });

  it('--compare pairs two runs on (condition label, prompt text, seed) although their keys differ', async () => {
    const result = await buildReport(runDir, { out: join(root, 'out-compare'), compare: otherRunDir });
    const model = JSON.parse(read(join(root, 'out-compare', 'report.json'))) as ReportModel;
    const clip = model.compare!.rows.filter((row) => row.metric === 'clip_score');
    expect(clip.map((row) => [row.conditionLabel, row.nPairs])).toEqual([
      ['base-only', 30],
      ['handoff=0.8', 29],
      ['handoff=0.6', 30],
      ['strength=0.3', 30],
    ]);
    expect(model.compare!.otherRun).toBe('run-b');
    expect(model.charts.some((chart) => chart.section === 'comparison')).toBe(true);
    expect(read(result.htmlPath)).toContain('Comparison: run-a vs run-b');
    const otherReport = await buildReport(otherRunDir, { out: join(root, 'out-b') });
    const otherModel = JSON.parse(read(otherReport.htmlPath.replace('report.html', 'report.json'))) as ReportModel;
    expect(otherModel.reproducibility.determinism.status).toBe('passed');
  });

  it('the CLI (bin/refinery.mjs, as users run it) prints the path of report.html as its last line', () => {
    const stdout = execFileSync(process.execPath, [join(repoRoot, 'bin', 'refinery.mjs'), 'report', runDir, '--out', join(root, 'out-cli')], { encoding: 'utf8' });
    const lastLine = stdout.trimEnd().split('\n').at(-1)!;
    expect(resolve(lastLine)).toBe(join(root, 'out-cli', 'report.html'));
    expect(readFileSync(join(root, 'out-cli', 'report.html')).equals(readFileSync(first.htmlPath))).toBe(true);
  });

  it('names a missing run folder and a folder that is not a run', async () => {
    const errors: string[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => errors.push(args.join(' '));
    try {
      expect(await main(['report', join(root, 'nope')])).toBe(1);
      expect(await main(['report', join(root, 'out-1')])).toBe(1);
      expect(await main(['report', runDir, '--reference', 'handoff=0.9', '--out', join(root, 'out-bad')])).toBe(1);
    } finally {
      console.error = error;
    }
    expect(errors[0]).toMatch(/run folder not found: .*nope/);
    expect(errors[1]).toMatch(/out-1 is not a run folder: it has no refinery\.sqlite/);
    expect(errors[2]).toMatch(/--reference "handoff=0.9" names no condition .* labels here: base-only, handoff=0.8, handoff=0.6, strength=0.3/);
  });
});
