/**
 * @module
 * Joins units, samples and scores into per-metric observations, and resolves each metric's metadata
 * (inferring the kind from the values when the store has none).
 */
import { METRIC_ROLES, type MetricRole } from '../probes/types.js';
import type { ReportCondition, ReportMetric, ReportSample, ReportScore, ReportUnit, RunRecords } from './load.js';
import { orderedConditions } from './conditions.js';

export interface Observation {
  unit: ReportUnit;
  sample: ReportSample;
  score: ReportScore;
}

export interface RunIndex {
  conditions: ReportCondition[];
  units: ReportUnit[];
  unitByKey: Map<string, ReportUnit>;
  sampleByKey: Map<string, ReportSample>;
  metricByName: Map<string, ReportMetric>;
  /** in report order (see `orderMetrics`) */
  metrics: ReportMetric[];
  /** metric name → observations on ok samples, sorted by condition order, prompt id, seed */
  observations: Map<string, Observation[]>;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `${prompt id}|seed=${seed}`: what pairs images across conditions within one run */
export function pairKey(unit: ReportUnit): string {
  return `${unit.prompt.id}|seed=${unit.seed}`;
}

/** The metric's declared role; absent or unrecognised (a store written before roles existed) means 'secondary'. */
export function metricRole(metric: { role?: unknown }): MetricRole {
  return METRIC_ROLES.includes(metric.role as MetricRole) ? (metric.role as MetricRole) : 'secondary';
}

/** Scorer ids in the order of the experiment's `scorers` list (entries are ids or `{ id, options }`). */
export function scorerOrder(spec: Record<string, unknown> | null): string[] {
  const scorers = spec?.scorers;
  if (!Array.isArray(scorers)) return [];
  return scorers
    .map((entry: unknown) => (typeof entry === 'string' ? entry : entry !== null && typeof entry === 'object' ? (entry as { id?: unknown }).id : undefined))
    .filter((id): id is string => typeof id === 'string');
}

/**
 * Report order: by role (primary, secondary, diagnostic, detail), then by the scorer's place in the
 * experiment's `scorers` list (scorers it does not list come after, by id), then by name. The store
 * keeps no declaration order within a scorer, so the role is what puts e.g. clip_score before clip_cosine.
 */
export function orderMetrics(metrics: readonly ReportMetric[], scorers: readonly string[]): ReportMetric[] {
  const scorerRank = (id: string) => {
    const rank = scorers.indexOf(id);
    return rank === -1 ? scorers.length : rank;
  };
  return [...metrics].sort(
    (a, b) =>
      METRIC_ROLES.indexOf(metricRole(a)) - METRIC_ROLES.indexOf(metricRole(b)) ||
      scorerRank(a.scorer) - scorerRank(b.scorer) ||
      compareText(a.scorer, b.scorer) ||
      compareText(a.name, b.name),
  );
}

function inferMetric(name: string, scores: readonly ReportScore[]): ReportMetric {
  const values = scores.map((score) => score.value).filter((value): value is number => value !== null);
  const labelled = scores.some((score) => score.label !== undefined);
  const kind = values.length === 0 && labelled ? 'categorical' : values.every((value) => value === 0 || value === 1) ? 'binary' : 'continuous';
  const first = scores[0];
  return {
    name,
    description: `${name} (no metadata stored; kind inferred from the values)`,
    higherIsBetter: null,
    range: null,
    kind,
    scorer: first?.scorer ?? 'unknown',
    scorerVersion: first?.scorerVersion ?? 'unknown',
    inferred: true,
  };
}

export function indexRun(records: RunRecords): RunIndex {
  const units = [...records.units].sort((a, b) => compareText(a.key, b.key));
  const unitByKey = new Map(units.map((unit) => [unit.key, unit]));
  const sampleByKey = new Map(records.samples.map((sample) => [sample.key, sample]));
  const conditions = orderedConditions(units.map((unit) => unit.condition));
  const conditionRank = new Map(conditions.map((condition, i) => [condition.id, i]));

  const scoresByMetric = new Map<string, ReportScore[]>();
  const sortedScores = [...records.scores].sort(
    (a, b) => compareText(a.metric, b.metric) || compareText(a.sampleKey, b.sampleKey) || compareText(a.scorer, b.scorer),
  );
  for (const score of sortedScores) {
    const list = scoresByMetric.get(score.metric) ?? [];
    list.push(score);
    scoresByMetric.set(score.metric, list);
  }

  const metricByName = new Map<string, ReportMetric>();
  for (const metric of [...records.metrics].sort((a, b) => compareText(a.name, b.name))) metricByName.set(metric.name, metric);
  for (const [name, scores] of scoresByMetric) if (!metricByName.has(name)) metricByName.set(name, inferMetric(name, scores));
  const metrics = orderMetrics([...metricByName.values()], scorerOrder(records.spec));

  const observations = new Map<string, Observation[]>();
  for (const [name, scores] of scoresByMetric) {
    const seen = new Set<string>();
    const list: Observation[] = [];
    for (const score of scores) {
      const unit = unitByKey.get(score.sampleKey);
      const sample = sampleByKey.get(score.sampleKey);
      // one record per sample and metric; a score without its unit or ok sample is not reportable
      if (!unit || !sample || sample.status !== 'ok' || seen.has(score.sampleKey)) continue;
      seen.add(score.sampleKey);
      list.push({ unit, sample, score });
    }
    list.sort(
      (a, b) =>
        (conditionRank.get(a.unit.condition.id) ?? 0) - (conditionRank.get(b.unit.condition.id) ?? 0) ||
        compareText(a.unit.prompt.id, b.unit.prompt.id) ||
        a.unit.seed - b.unit.seed ||
        compareText(a.unit.key, b.unit.key),
    );
    observations.set(name, list);
  }
  return { conditions, units, unitByKey, sampleByKey, metrics, metricByName, observations };
}
