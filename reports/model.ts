/**
 * @module
 * Assembles everything a report shows from the run's records: the `ReportModel` (written as
 * report.json) and the chart specs. Pure: no files are read here except through `RunRecords`.
 */
import type { RunRecords } from './load.js';
import { indexRun, metricRole, pairKey, type RunIndex } from './observations.js';
import type { MetricRole } from '../probes/types.js';
import { BREAKDOWN_LEVELS, constantValue, reportedMetrics, summarizeBaseVsRefiner, type BaseVsRefiner, type StatSettings } from './summarize.js';
import { summarizeBias, type BiasMetricResult } from './bias.js';
import { summarizeLimitations, type ThemeMetric, type ThemeResult } from './limitations.js';
import { summarizeReproducibility, type Reproducibility } from './reproducibility.js';
import { compareRuns, type CompareResult } from './compare.js';
import { curveChart, intervalChart, slug, stackedShareChart, titleText, type ChartSpec } from './charts.js';
import { TIE_RULE } from './stats/paired.js';

export const REPORT_FORMAT = 'refinery-report/1';

export interface ReportOptions {
  /** bootstrap resamples (default: the spec's report.bootstrap_resamples, else 2000) */
  resamples?: number;
  /** bootstrap seed (default: the spec's report.seed, else 0) */
  seed?: number;
  confidence?: number;
  /** reference condition selector (default: the spec's report.reference_condition, else "base-only") */
  reference?: string;
  /** image strips shown (default 8) */
  maxStrips?: number;
  /** worst examples per limitation metric (default 6) */
  maxExamples?: number;
}

export interface ConditionInfo {
  id: string;
  label: string;
  mode: string;
  handoff: number | null;
  strength: number | null;
  units: number;
  ok: number;
  failed: number;
}

export interface StripCell {
  conditionLabel: string;
  sampleKey: string;
  status: 'ok' | 'failed' | 'missing';
  imagePath: string | null;
  values: { metric: string; value: number | null; label: string | null }[];
}

export interface Strip {
  promptId: string;
  promptText: string;
  seed: number;
  cells: StripCell[];
}

export interface ReportModel {
  format: typeof REPORT_FORMAT;
  title: string;
  run: { name: string; experiment: string | null; units: number; ok: number; failed: number; notRun: number; conditions: ConditionInfo[] };
  settings: {
    confidence: number;
    bootstrap: { resamples: number; seed: number; method: 'percentile'; streams: string };
    reference: string;
    pairing: string;
    tieRule: string;
    tests: { continuous: string; binary: string; multiplicity: string };
    bias: string;
  };
  /** in report order: by role, then the experiment's scorers list, then name */
  metrics: {
    name: string;
    description: string;
    kind: string;
    higherIsBetter: boolean | null;
    range: [number, number] | null;
    role: MetricRole;
    scorer: string;
    scorerVersion: string;
    failureMeans: string | null;
    inferred: boolean;
  }[];
  baseVsRefiner: BaseVsRefiner;
  bias: BiasMetricResult[];
  limitations: { themes: ThemeResult[]; other: ThemeMetric[] };
  reproducibility: Reproducibility;
  compare: CompareResult | null;
  strips: Strip[];
  charts: { id: string; title: string; section: string; metric: string | null; file: string }[];
}

function specReport(records: RunRecords): Record<string, unknown> {
  const report = records.spec?.report;
  return report !== null && typeof report === 'object' ? (report as Record<string, unknown>) : {};
}

export function resolveSettings(records: RunRecords, options: ReportOptions): StatSettings {
  const report = specReport(records);
  const resamples = options.resamples ?? (typeof report.bootstrap_resamples === 'number' ? report.bootstrap_resamples : 2000);
  const seed = options.seed ?? (typeof report.seed === 'number' ? report.seed : 0);
  const reference = options.reference ?? (typeof report.reference_condition === 'string' ? report.reference_condition : 'base-only');
  return { resamples, seed, confidence: options.confidence ?? 0.95, reference };
}

function conditionInfo(index: RunIndex): ConditionInfo[] {
  return index.conditions.map((condition) => {
    const units = index.units.filter((unit) => unit.condition.id === condition.id);
    const statuses = units.map((unit) => index.sampleByKey.get(unit.key)?.status);
    return {
      id: condition.id,
      label: condition.label,
      mode: condition.mode,
      handoff: condition.handoff ?? null,
      strength: condition.strength ?? null,
      units: units.length,
      ok: statuses.filter((status) => status === 'ok').length,
      failed: statuses.filter((status) => status === 'failed').length,
    };
  });
}

/** What a strip's captions show: the primary and diagnostic metrics (at most 5), else the first four reported. */
export function stripMetrics(index: RunIndex): ReturnType<typeof reportedMetrics> {
  const reported = reportedMetrics(index);
  const headline = reported.filter((metric) => metricRole(metric) === 'primary' || metricRole(metric) === 'diagnostic');
  return headline.length > 0 ? headline.slice(0, 5) : reported.slice(0, 4);
}

function strips(index: RunIndex, maxStrips: number): Strip[] {
  const metrics = stripMetrics(index);
  const valueByKey = new Map<string, Map<string, { value: number | null; label: string | null }>>();
  for (const metric of metrics) {
    for (const observation of index.observations.get(metric.name) ?? []) {
      const map = valueByKey.get(observation.unit.key) ?? new Map();
      map.set(metric.name, { value: observation.score.value, label: observation.score.label ?? null });
      valueByKey.set(observation.unit.key, map);
    }
  }
  const groups = new Map<string, typeof index.units>();
  for (const unit of index.units) {
    const list = groups.get(pairKey(unit)) ?? [];
    list.push(unit);
    groups.set(pairKey(unit), list);
  }
  // every prompt's first seed before any prompt's second, so the strips show many prompts
  const seedRank = new Map<string, number>();
  const seedsByPrompt = new Map<string, number[]>();
  for (const units of groups.values()) {
    const seeds = seedsByPrompt.get(units[0].prompt.id) ?? [];
    seeds.push(units[0].seed);
    seedsByPrompt.set(units[0].prompt.id, seeds);
  }
  for (const [promptId, seeds] of seedsByPrompt) [...new Set(seeds)].sort((a, b) => a - b).forEach((seed, i) => seedRank.set(`${promptId}|seed=${seed}`, i));
  const ordered = [...groups.entries()]
    .sort(([keyA, a], [keyB, b]) => seedRank.get(keyA)! - seedRank.get(keyB)! || (a[0].prompt.id < b[0].prompt.id ? -1 : a[0].prompt.id > b[0].prompt.id ? 1 : 0))
    .map(([, units]) => units);
  const rank = new Map(index.conditions.map((condition, i) => [condition.id, i]));
  return ordered.slice(0, maxStrips).map((units) => ({
    promptId: units[0].prompt.id,
    promptText: units[0].prompt.text,
    seed: units[0].seed,
    cells: [...units]
      .sort((a, b) => (rank.get(a.condition.id) ?? 0) - (rank.get(b.condition.id) ?? 0))
      .map((unit) => {
        const sample = index.sampleByKey.get(unit.key);
        const values = valueByKey.get(unit.key);
        return {
          conditionLabel: unit.condition.label,
          sampleKey: unit.key,
          status: sample?.status ?? 'missing',
          imagePath: sample?.status === 'ok' ? sample.imagePath : null,
          values: metrics.map((metric) => ({ metric: metric.name, value: values?.get(metric.name)?.value ?? null, label: values?.get(metric.name)?.label ?? null })),
        };
      }),
  }));
}

class ChartIds {
  private readonly used = new Set<string>();
  take(base: string): string {
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}-${n}`;
    this.used.add(id);
    return id;
  }
}

function buildCharts(model: Omit<ReportModel, 'charts'>): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const ids = new ChartIds();
  const percent = Math.round(model.settings.confidence * 100);
  // details are folded into one table, and a constant metric is stated in words: neither gets charts
  const charted = model.metrics.filter(
    (m) => m.kind !== 'categorical' && m.role !== 'detail' && constantValue(model.baseVsRefiner.summaries.filter((s) => s.metric === m.name)) === null,
  );
  for (const metric of charted) {
    for (const axis of ['handoff', 'strength'] as const) {
      const points = model.baseVsRefiner.curves.filter((point) => point.metric === metric.name && point.axis === axis);
      if (points.length === 0) continue;
      const xs = points.map((point) => point.x);
      // one point, or a flat line with no spread, is said in words by the report instead
      if (new Set(xs).size < 2 || points.every((point) => point.lower === points[0].mean && point.upper === points[0].mean && point.mean === points[0].mean)) continue;
      const heading = { text: `${metric.name} vs ${axis === 'handoff' ? 'handoff fraction' : 'SDEdit strength'}`, subtitle: `mean with ${percent}% bootstrap CI` };
      const title = titleText(heading);
      charts.push({
        id: ids.take(`curve-${axis}-${slug(metric.name)}`),
        title,
        section: 'base-vs-refiner',
        metric: metric.name,
        spec: curveChart(
          heading,
          axis === 'handoff' ? 'handoff fraction h (1 = base only)' : 'SDEdit strength s (0 = base only)',
          metric.name,
          points.map((point) => ({ series: point.series, x: point.x, mean: point.mean, lower: point.lower, upper: point.upper, condition: point.conditionLabel, n: point.n })),
          axis === 'handoff' ? [Math.min(...xs, 0.5), 1] : [0, Math.max(...xs, 0.5)],
          metric.kind === 'binary' ? [0, 1] : null,
        ),
      });
    }
    for (const level of BREAKDOWN_LEVELS) {
      const rows = model.baseVsRefiner.categories.filter((row) => row.metric === metric.name && row.level === level && row.mean);
      if (new Set(rows.map((row) => row.group)).size < 2) continue;
      const heading = { text: `${metric.name} by prompt ${level}`, subtitle: `mean with ${percent}% bootstrap CI, per condition` };
      const title = titleText(heading);
      charts.push({
        id: ids.take(`${level}-${slug(metric.name)}`),
        title,
        section: 'base-vs-refiner',
        metric: metric.name,
        spec: intervalChart(
          heading,
          level,
          'condition',
          metric.name,
          rows.map((row) => ({ group: row.group, colour: row.conditionLabel, mean: row.mean!.estimate, lower: row.mean!.lower, upper: row.mean!.upper, n: row.n })),
          metric.kind === 'binary' ? [0, 1] : null,
        ),
      });
    }
  }
  for (const bias of model.bias) {
    const order = new Map(bias.labelSet.map((label, i) => [label, i]));
    const shareHeading = { text: `${bias.metric}: perceived-label shares per prompt`, subtitle: `as predicted by ${bias.classifiers.join(', ') || 'the classifier named in the records'}` };
    const shareTitle = titleText(shareHeading);
    charts.push({
      id: ids.take(`bias-shares-${slug(bias.metric)}`),
      title: shareTitle,
      section: 'bias',
      metric: bias.metric,
      spec: stackedShareChart(
        shareHeading,
        'perceived label',
        bias.distributions.flatMap((distribution) => [
          ...bias.labelSet.map((label) => ({
            prompt: `${distribution.promptId}: ${distribution.promptText.length > 40 ? `${distribution.promptText.slice(0, 39)}…` : distribution.promptText}`,
            condition: distribution.conditionLabel,
            label,
            count: distribution.counts[label] ?? 0,
            order: order.get(label) ?? 0,
          })),
          {
            prompt: `${distribution.promptId}: ${distribution.promptText.length > 40 ? `${distribution.promptText.slice(0, 39)}…` : distribution.promptText}`,
            condition: distribution.conditionLabel,
            label: 'unknown',
            count: distribution.unknown,
            order: bias.labelSet.length,
          },
        ]),
      ),
    });
    const measureHeading = { text: `${bias.metric}: MAD and bias intensity`, subtitle: `per condition, ${percent}% two-stage bootstrap CI` };
    const measureTitle = titleText(measureHeading);
    const values = bias.conditions.flatMap((condition) => [
      ...(condition.mad ? [{ group: condition.conditionLabel, colour: 'MAD (DALL-Eval)', mean: condition.mad.estimate, lower: condition.mad.lower, upper: condition.mad.upper, n: condition.prompts }] : []),
      ...(condition.intensity
        ? [{ group: condition.conditionLabel, colour: 'bias intensity (OpenBias)', mean: condition.intensity.estimate, lower: condition.intensity.lower, upper: condition.intensity.upper, n: condition.prompts }]
        : []),
    ]);
    if (values.length > 0) {
      charts.push({ id: ids.take(`bias-measures-${slug(bias.metric)}`), title: measureTitle, section: 'bias', metric: bias.metric, spec: intervalChart(measureHeading, 'condition', 'measure', 'value (0 = uniform)', values) });
    }
  }
  if (model.compare) {
    for (const metricName of [...new Set(model.compare.rows.map((row) => row.metric))]) {
      const rows = model.compare.rows.filter((row) => row.metric === metricName);
      const values = rows.flatMap((row) => [
        ...(row.thisMean ? [{ group: row.conditionLabel, colour: model.compare!.thisRun, mean: row.thisMean.estimate, lower: row.thisMean.lower, upper: row.thisMean.upper, n: row.thisN }] : []),
        ...(row.otherMean ? [{ group: row.conditionLabel, colour: model.compare!.otherRun, mean: row.otherMean.estimate, lower: row.otherMean.lower, upper: row.otherMean.upper, n: row.otherN }] : []),
      ]);
      if (values.length === 0) continue;
      const heading = { text: `${metricName}: ${model.compare.thisRun} vs ${model.compare.otherRun}`, subtitle: `mean with ${percent}% bootstrap CI` };
      charts.push({ id: ids.take(`compare-${slug(metricName)}`), title: titleText(heading), section: 'comparison', metric: metricName, spec: intervalChart(heading, 'condition', 'run', metricName, values) });
    }
  }
  return charts;
}

export interface BuiltModel {
  model: ReportModel;
  charts: ChartSpec[];
}

export function buildReportModel(
  records: RunRecords,
  options: ReportOptions,
  other?: RunRecords,
): BuiltModel {
  const settings = resolveSettings(records, options);
  const index = indexRun(records);
  const baseVsRefiner = summarizeBaseVsRefiner(index, settings);
  const conditions = conditionInfo(index);
  const experimentName = typeof records.spec?.name === 'string' ? records.spec.name : null;
  const report = specReport(records);
  const title = typeof report.title === 'string' && report.title !== '' ? report.title : experimentName ?? records.runName;
  const partial: Omit<ReportModel, 'charts'> = {
    format: REPORT_FORMAT,
    title,
    run: {
      name: records.runName,
      experiment: experimentName,
      units: index.units.length,
      ok: conditions.reduce((sum, c) => sum + c.ok, 0),
      failed: conditions.reduce((sum, c) => sum + c.failed, 0),
      notRun: index.units.filter((unit) => !index.sampleByKey.has(unit.key)).length,
      conditions,
    },
    settings: {
      confidence: settings.confidence,
      bootstrap: {
        resamples: settings.resamples,
        seed: settings.seed,
        method: 'percentile',
        streams: 'each interval draws from PCG32(seed, FNV-1a of its label), so intervals do not depend on what else is in the report',
      },
      reference: settings.reference,
      pairing: 'within a run, images are paired across conditions on (prompt id, seed); each condition is compared with the reference condition that shares its other axes',
      tieRule: TIE_RULE,
      tests: {
        continuous: 'Wilcoxon signed-rank on paired differences (zeros dropped; exact p below 50 pairs without ties or zeros, otherwise normal approximation with tie and continuity correction)',
        binary: "McNemar's exact test: two-sided binomial test on the discordant pairs",
        multiplicity: "Holm's step-down correction per metric across the conditions compared with the reference",
      },
      bias: 'perceived-label metrics drop "unknown"; intervals from a two-stage bootstrap (prompts, then images within each prompt); changes against the reference pair images by seed within each prompt',
    },
    metrics: index.metrics.map((metric) => ({
      name: metric.name,
      description: metric.description,
      kind: metric.kind,
      higherIsBetter: metric.higherIsBetter,
      range: metric.range,
      role: metricRole(metric),
      scorer: metric.scorer,
      scorerVersion: metric.scorerVersion,
      failureMeans: metric.failureMeans ?? null,
      inferred: metric.inferred === true,
    })),
    baseVsRefiner,
    bias: summarizeBias(index, settings),
    limitations: summarizeLimitations(index, baseVsRefiner.summaries, { confidence: settings.confidence, maxExamples: options.maxExamples ?? 6 }),
    reproducibility: summarizeReproducibility(records),
    compare: other ? compareRuns(index, indexRun(other), { thisRun: records.runName, otherRun: other.runName }, settings) : null,
    strips: strips(index, options.maxStrips ?? 8),
  };
  const charts = buildCharts(partial);
  return {
    model: { ...partial, charts: charts.map((chart) => ({ id: chart.id, title: chart.title, section: chart.section, metric: chart.metric, file: `charts/${chart.id}.vl.json` })) },
    charts,
  };
}
