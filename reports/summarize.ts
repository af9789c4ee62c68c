/**
 * @module
 * Base vs refiner statistics: per condition and metric a mean with a bootstrap interval, paired
 * comparisons against the reference condition (Holm-corrected per metric across the conditions
 * compared), a breakdown by prompt category, and the points of the handoff and strength curves.
 */
import type { ReportCondition, ReportMetric } from './load.js';
import { pairKey, type Observation, type RunIndex } from './observations.js';
import { referenceFor, seriesLabels } from './conditions.js';
import { bootstrapMean } from './stats/bootstrap.js';
import { comparePaired, holmAcross, pairUp } from './stats/paired.js';

export interface StatSettings {
  resamples: number;
  seed: number;
  confidence: number;
  /** selector of the reference condition (id, label, mode, `handoff=h`) */
  reference: string;
}

export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
}

export interface MetricSummary {
  metric: string;
  conditionId: string;
  conditionLabel: string;
  /** samples with a value */
  n: number;
  /** samples scored with value null (undetermined) */
  undetermined: number;
  mean: Interval | null;
  /** smallest and largest value (null when n = 0); equal when the metric is constant in this condition */
  min: number | null;
  max: number | null;
}

export interface ComparisonRow {
  metric: string;
  conditionId: string;
  conditionLabel: string;
  referenceId: string;
  referenceLabel: string;
  nPairs: number;
  /** pair keys with a value on one side only (not used) */
  unpairedReference: number;
  unpairedCondition: number;
  referenceMean: number | null;
  conditionMean: number | null;
  /** condition − reference, paired bootstrap interval */
  difference: Interval | null;
  winRate: { wins: number; ties: number; losses: number; rate: number; lower: number; upper: number } | null;
  test: 'wilcoxon-signed-rank' | 'mcnemar-exact' | null;
  /** V for Wilcoxon; discordant counts "b/c" for McNemar */
  statistic: string | null;
  /** 'exact' | 'normal' for Wilcoxon, 'exact' for McNemar */
  testMethod: string | null;
  pValue: number | null;
  pHolm: number | null;
}

export const BREAKDOWN_LEVELS = ['category', 'subcategory', 'skill'] as const;
export type BreakdownLevel = (typeof BREAKDOWN_LEVELS)[number];

export interface CategoryRow {
  metric: string;
  conditionId: string;
  conditionLabel: string;
  /** prompt category, its subcategory (e.g. PartiPrompts challenge), or the GenEval-style skill tag of its expectations */
  level: BreakdownLevel;
  group: string;
  n: number;
  mean: Interval | null;
}

export interface CurvePoint {
  metric: string;
  axis: 'handoff' | 'strength';
  series: string;
  x: number;
  conditionId: string;
  conditionLabel: string;
  /** true for the base-only end point (h = 1, s = 0) */
  baseOnly: boolean;
  n: number;
  mean: number;
  lower: number;
  upper: number;
}

export interface BaseVsRefiner {
  summaries: MetricSummary[];
  comparisons: ComparisonRow[];
  categories: CategoryRow[];
  curves: CurvePoint[];
  /** conditions that had no reference to pair with */
  unpairedConditions: string[];
}

function interval(values: number[], settings: StatSettings, label: string): Interval | null {
  const result = bootstrapMean(values, { resamples: settings.resamples, seed: settings.seed, label, confidence: settings.confidence });
  return result && { estimate: result.estimate, lower: result.lower, upper: result.upper };
}

/**
 * The value every determined sample of the metric has, in every condition, or null when the values
 * vary (or none is determined): a constant metric has nothing to plot or compare.
 */
export function constantValue(summaries: readonly MetricSummary[]): number | null {
  const determined = summaries.filter((s) => s.n > 0);
  if (determined.length === 0) return null;
  const value = determined[0].min;
  return determined.every((s) => s.min === value && s.max === value) ? value : null;
}

export function reportedMetrics(index: RunIndex): ReportMetric[] {
  return index.metrics.filter((metric) => metric.kind !== 'categorical' && (index.observations.get(metric.name)?.length ?? 0) > 0);
}

function byCondition(observations: readonly Observation[]): Map<string, Observation[]> {
  const map = new Map<string, Observation[]>();
  for (const observation of observations) {
    const list = map.get(observation.unit.condition.id) ?? [];
    list.push(observation);
    map.set(observation.unit.condition.id, list);
  }
  return map;
}

function valuesOf(observations: readonly Observation[]): number[] {
  return observations.map((o) => o.score.value).filter((value): value is number => value !== null);
}

export function summarizeBaseVsRefiner(index: RunIndex, settings: StatSettings): BaseVsRefiner {
  const summaries: MetricSummary[] = [];
  const comparisons: ComparisonRow[] = [];
  const categories: CategoryRow[] = [];
  const curves: CurvePoint[] = [];
  const references = referenceFor(index.conditions, settings.reference);
  const series = seriesLabels(index.conditions);
  const referenceIds = new Set([...references.values()].map((condition) => condition.id));
  const unpairedConditions = index.conditions
    .filter((condition) => !references.has(condition.id) && !referenceIds.has(condition.id))
    .map((condition) => condition.label);

  for (const metric of reportedMetrics(index)) {
    const observations = index.observations.get(metric.name)!;
    const perCondition = byCondition(observations);
    const meanByCondition = new Map<string, { n: number; mean: Interval | null }>();

    for (const condition of index.conditions) {
      const list = perCondition.get(condition.id) ?? [];
      const values = valuesOf(list);
      const mean = interval(values, settings, `mean|${metric.name}|${condition.id}`);
      meanByCondition.set(condition.id, { n: values.length, mean });
      summaries.push({
        metric: metric.name,
        conditionId: condition.id,
        conditionLabel: condition.label,
        n: values.length,
        undetermined: list.length - values.length,
        mean,
        min: values.length === 0 ? null : values.reduce((a, b) => Math.min(a, b)),
        max: values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b)),
      });
      for (const level of BREAKDOWN_LEVELS) {
        const groups = new Map<string, number[]>();
        for (const observation of list) {
          const prompt = observation.unit.prompt;
          const group = level === 'category' ? prompt.category : level === 'subcategory' ? prompt.subcategory : prompt.expectations?.tag;
          if (group === undefined || group === '' || observation.score.value === null) continue;
          const bucket = groups.get(group) ?? [];
          bucket.push(observation.score.value);
          groups.set(group, bucket);
        }
        for (const group of [...groups.keys()].sort()) {
          const values = groups.get(group)!;
          categories.push({
            metric: metric.name,
            conditionId: condition.id,
            conditionLabel: condition.label,
            level,
            group,
            n: values.length,
            mean: interval(values, settings, `category|${level}|${group}|${metric.name}|${condition.id}`),
          });
        }
      }
    }

    const metricComparisons: ComparisonRow[] = [];
    for (const condition of index.conditions) {
      const reference = references.get(condition.id);
      if (!reference) continue;
      const valueMap = (id: string) =>
        new Map(
          (perCondition.get(id) ?? [])
            .filter((o) => o.score.value !== null)
            .map((o) => [pairKey(o.unit), o.score.value as number] as const),
        );
      const { pairs, referenceOnly, conditionOnly } = pairUp(valueMap(reference.id), valueMap(condition.id));
      const result = comparePaired(pairs, {
        kind: metric.kind === 'binary' ? 'binary' : 'continuous',
        higherIsBetter: metric.higherIsBetter,
        bootstrap: { resamples: settings.resamples, seed: settings.seed, confidence: settings.confidence, label: `paired|${metric.name}|${condition.id}|${reference.id}` },
      });
      const test = result.test;
      metricComparisons.push({
        metric: metric.name,
        conditionId: condition.id,
        conditionLabel: condition.label,
        referenceId: reference.id,
        referenceLabel: reference.label,
        nPairs: result.nPairs,
        unpairedReference: referenceOnly,
        unpairedCondition: conditionOnly,
        referenceMean: result.referenceMean,
        conditionMean: result.conditionMean,
        difference: result.difference && { estimate: result.difference.estimate, lower: result.difference.lower, upper: result.difference.upper },
        winRate: result.winRate && {
          wins: result.winRate.wins,
          ties: result.winRate.ties,
          losses: result.winRate.losses,
          rate: result.winRate.rate,
          lower: result.winRate.lower,
          upper: result.winRate.upper,
        },
        test: test?.name ?? null,
        statistic: test === null ? null : test.name === 'wilcoxon-signed-rank' ? String(test.statistic) : `${test.referenceOnly}/${test.conditionOnly}`,
        testMethod: test === null ? null : test.name === 'wilcoxon-signed-rank' ? test.method : 'exact',
        pValue: result.pValue,
        pHolm: null,
      });
    }
    comparisons.push(...holmAcross(metricComparisons));

    curves.push(...curvePoints(metric, index.conditions, meanByCondition, series));
  }
  return { summaries, comparisons, categories, curves, unpairedConditions };
}

function curvePoints(
  metric: ReportMetric,
  conditions: readonly ReportCondition[],
  means: Map<string, { n: number; mean: Interval | null }>,
  series: Map<string, string>,
): CurvePoint[] {
  const points: CurvePoint[] = [];
  const hasMode = (mode: ReportCondition['mode']) => conditions.some((condition) => condition.mode === mode);
  for (const axis of ['handoff', 'strength'] as const) {
    const refinedMode = axis === 'handoff' ? 'ensemble' : 'sdedit';
    if (!hasMode(refinedMode)) continue;
    for (const condition of conditions) {
      const entry = means.get(condition.id);
      if (!entry?.mean) continue;
      let x: number | undefined;
      if (condition.mode === 'base-only') x = axis === 'handoff' ? 1 : 0;
      else if (condition.mode === refinedMode) x = axis === 'handoff' ? condition.handoff : condition.strength;
      if (x === undefined) continue;
      points.push({
        metric: metric.name,
        axis,
        series: series.get(condition.id) ?? 'all conditions',
        x,
        conditionId: condition.id,
        conditionLabel: condition.label,
        baseOnly: condition.mode === 'base-only',
        n: entry.n,
        mean: entry.mean.estimate,
        lower: entry.mean.lower,
        upper: entry.mean.upper,
      });
    }
  }
  return points;
}
