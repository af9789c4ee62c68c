/**
 * @module
 * The SDXL 1.0 model card's limitations, each matched to the run's probes by metric (or scorer) name,
 * with the probe's failure rate per condition (binary metrics: share of determined samples with the
 * worse value — 0, or 1 for a lower-is-better flag such as "black" — Wilson interval) or mean
 * (continuous metrics), and the worst examples with their evidence.
 * The themes are data: add a pattern here when a new probe measures one of them.
 */
import type { ReportMetric } from './load.js';
import { metricRole, type Observation, type RunIndex } from './observations.js';
import { detailExcerpt, detailImageSize, extractBoxes, type EvidenceBox } from './evidence.js';
import { wilsonInterval } from './stats/tests.js';
import type { MetricSummary } from './summarize.js';

export interface LimitationTheme {
  id: string;
  title: string;
  /** the model card's sentence */
  modelCard: string;
  /** tested against "<metric name> <scorer id>" */
  pattern: RegExp;
}

export const MODEL_CARD_THEMES: readonly LimitationTheme[] = [
  {
    id: 'composition',
    title: 'Compositional relations',
    modelCard: 'The model struggles with more difficult tasks which involve compositionality, such as rendering an image corresponding to "A red cube on top of a blue sphere".',
    pattern: /relation|position|spatial|composit|counting|count_|binding|colou?r[-_]?geometry|contrastive|geneval|detector/i,
  },
  {
    id: 'text',
    title: 'Legible text',
    modelCard: 'The model cannot render legible text.',
    pattern: /\btext|ocr|edit[-_]?distance|exact[-_]?match/i,
  },
  {
    id: 'faces',
    title: 'Faces and people',
    modelCard: 'Faces and people in general may not be generated properly.',
    pattern: /face|person|people|human|body/i,
  },
  {
    id: 'photorealism',
    title: 'Photorealism',
    modelCard: 'The model does not achieve perfect photorealism.',
    pattern: /photoreal|realism|aesthetic/i,
  },
  {
    id: 'autoencoder',
    title: 'Autoencoder lossiness',
    modelCard: 'The autoencoding part of the model is lossy.',
    pattern: /vae|round[-_]?trip|autoencod|reconstruct/i,
  },
];

export interface ThemeRow {
  conditionId: string;
  conditionLabel: string;
  /** samples with a determined value */
  n: number;
  undetermined: number;
  /** binary metrics: samples with the failing value (see `failureValue`) */
  failures: number | null;
  /** binary: failure rate; continuous: mean */
  estimate: number | null;
  lower: number | null;
  upper: number | null;
}

export interface WorstExample {
  sampleKey: string;
  conditionLabel: string;
  promptId: string;
  promptText: string;
  seed: number;
  value: number | null;
  label: string | null;
  imagePath: string | null;
  boxes: EvidenceBox[];
  /** the pixel space of the boxes when the detail states it, else the image's own size */
  boxSpace: { width: number; height: number } | null;
  detail: string;
}

export interface ThemeMetric {
  metric: string;
  description: string;
  kind: 'binary' | 'continuous';
  failureMeans: string | null;
  higherIsBetter: boolean | null;
  /** binary metrics: the value that counts as a failure (1 for lower-is-better flags, else 0) */
  failureValue: 0 | 1 | null;
  rows: ThemeRow[];
  worst: WorstExample[];
}

export interface ThemeResult {
  id: string;
  title: string;
  modelCard: string;
  metrics: ThemeMetric[];
}

function example(observation: Observation): WorstExample {
  return {
    sampleKey: observation.unit.key,
    conditionLabel: observation.unit.condition.label,
    promptId: observation.unit.prompt.id,
    promptText: observation.unit.prompt.text,
    seed: observation.unit.seed,
    value: observation.score.value,
    label: observation.score.label ?? null,
    imagePath: observation.sample.imagePath,
    boxes: extractBoxes(observation.score.detail),
    boxSpace: detailImageSize(observation.score.detail),
    detail: detailExcerpt(observation.score.detail),
  };
}

/** Takes examples round-robin across conditions so one condition does not fill every slot. */
function roundRobin(observations: readonly Observation[], limit: number): Observation[] {
  const queues = new Map<string, Observation[]>();
  for (const observation of observations) {
    const queue = queues.get(observation.unit.condition.id) ?? [];
    queue.push(observation);
    queues.set(observation.unit.condition.id, queue);
  }
  const chosen: Observation[] = [];
  while (chosen.length < limit && [...queues.values()].some((queue) => queue.length > 0)) {
    for (const queue of queues.values()) {
      const next = queue.shift();
      if (next && chosen.length < limit) chosen.push(next);
    }
  }
  return chosen;
}

function themeMetric(metric: ReportMetric, index: RunIndex, summaries: readonly MetricSummary[], confidence: number, maxExamples: number): ThemeMetric {
  const observations = index.observations.get(metric.name) ?? [];
  const kind = metric.kind === 'binary' ? 'binary' : 'continuous';
  const failureValue = kind === 'binary' ? (metric.higherIsBetter === false ? 1 : 0) : null;
  const rows: ThemeRow[] = [];
  for (const condition of index.conditions) {
    const list = observations.filter((o) => o.unit.condition.id === condition.id);
    if (list.length === 0) continue;
    const determined = list.filter((o) => o.score.value !== null);
    if (kind === 'binary') {
      const failures = determined.filter((o) => o.score.value === failureValue).length;
      const wilson = wilsonInterval(failures, determined.length, confidence);
      rows.push({
        conditionId: condition.id,
        conditionLabel: condition.label,
        n: determined.length,
        undetermined: list.length - determined.length,
        failures,
        estimate: wilson?.proportion ?? null,
        lower: wilson?.lower ?? null,
        upper: wilson?.upper ?? null,
      });
    } else {
      const summary = summaries.find((s) => s.metric === metric.name && s.conditionId === condition.id);
      rows.push({
        conditionId: condition.id,
        conditionLabel: condition.label,
        n: determined.length,
        undetermined: list.length - determined.length,
        failures: null,
        estimate: summary?.mean?.estimate ?? null,
        lower: summary?.mean?.lower ?? null,
        upper: summary?.mean?.upper ?? null,
      });
    }
  }
  let candidates: Observation[];
  if (kind === 'binary') {
    candidates = observations.filter((o) => o.score.value === failureValue);
  } else if (metric.higherIsBetter === null) {
    candidates = [];
  } else {
    const sign = metric.higherIsBetter ? 1 : -1;
    candidates = observations
      .filter((o) => o.score.value !== null)
      .map((o, order) => ({ o, order }))
      .sort((a, b) => sign * ((a.o.score.value as number) - (b.o.score.value as number)) || a.order - b.order)
      .map((entry) => entry.o);
  }
  return {
    metric: metric.name,
    description: metric.description,
    kind,
    failureMeans: metric.failureMeans ?? null,
    higherIsBetter: metric.higherIsBetter,
    failureValue,
    rows,
    worst: (kind === 'binary' ? roundRobin(candidates, maxExamples) : candidates.slice(0, maxExamples)).map(example),
  };
}

export function summarizeLimitations(
  index: RunIndex,
  summaries: readonly MetricSummary[],
  options: { confidence: number; maxExamples: number },
): { themes: ThemeResult[]; other: ThemeMetric[] } {
  const candidates = index.metrics.filter((metric) => metric.kind !== 'categorical' && (index.observations.get(metric.name)?.length ?? 0) > 0);
  const assigned = new Set<string>();
  const themes = MODEL_CARD_THEMES.map((theme) => {
    const matching = candidates.filter((metric) => !assigned.has(metric.name) && theme.pattern.test(`${metric.name} ${metric.scorer}`));
    // components of a diagnostic (role 'detail') only stand in for a theme nothing else measures
    const headline = matching.filter((metric) => metricRole(metric) !== 'detail');
    const metrics = headline.length > 0 ? headline : matching;
    for (const metric of matching) assigned.add(metric.name);
    return {
      id: theme.id,
      title: theme.title,
      modelCard: theme.modelCard,
      metrics: metrics.map((metric) => themeMetric(metric, index, summaries, options.confidence, options.maxExamples)),
    };
  });
  const other = candidates
    .filter((metric) => !assigned.has(metric.name) && metric.kind === 'binary' && metric.failureMeans && metricRole(metric) !== 'detail')
    .map((metric) => themeMetric(metric, index, summaries, options.confidence, options.maxExamples));
  return { themes, other };
}
