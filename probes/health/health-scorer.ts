/**
 * Scorer `health`: applies to every image. Flags black, blank (near-constant) and very flat images, and
 * measures clipping and colour saturation (image-health.ts has the definitions and default thresholds).
 *
 * Metrics (one record each per image; `detail` carries all statistics and the thresholds used):
 * - `health_ok` (binary, 1 = no flag raised; `label` lists the problems, e.g. "black+blank+low_variance")
 * - `black`, `blank`, `low_variance` (binary flags, 1 = the defect is present, lower is better)
 * - `clipped_fraction`, `saturated_fraction` (0..1, lower is better), `pixel_std` (0..127.5, no direction)
 *
 * Non-finite (NaN / Inf) decoder outputs are not seen here: the runner records them as failed units and
 * writes no image. An image file that cannot be read gets `health_ok` = 0 with label `unreadable`.
 */
import { z } from 'zod';
import { describeIssues } from '../../datasets/expectations.js';
import { UserError } from '../../pipelines/errors.js';
import type { ScorerDefinition } from '../registry.js';
import type { MetricMeta, ScoreRecord, Scorer } from '../types.js';
import { assessImageHealth, DEFAULT_HEALTH_THRESHOLDS, type HealthAssessment, type HealthThresholds } from './image-health.js';

export const HEALTH_ID = 'health';
export const HEALTH_VERSION = '1';

export const HEALTH_METRICS: MetricMeta[] = [
  {
    name: 'health_ok',
    description: 'the image is not black, blank, very flat, heavily clipped or burned out with saturated colour (thresholds in the scorer options)',
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'diagnostic',
    failureMeans: 'a degenerate image: black, blank, flat, clipped or colour-saturated (see the label)',
  },
  {
    name: 'black',
    description: 'flag, 1 = the image is black (mean channel value and pixel std both below thresholds)',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'binary',
    role: 'detail',
  },
  {
    name: 'blank',
    description: 'flag, 1 = the image is near-constant (one flat colour: pixel std below a threshold)',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'binary',
    role: 'detail',
  },
  {
    name: 'low_variance',
    description: 'flag, 1 = the pixel std is very low (flat, washed-out image; includes blank images)',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'binary',
    role: 'detail',
  },
  {
    name: 'clipped_fraction',
    description: 'fraction of 8-bit channel values at 0 or 255',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'continuous',
    role: 'detail',
  },
  {
    name: 'saturated_fraction',
    description: 'fraction of pixels with HSV saturation ≈ 1 and a high value (burned-out colour)',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'continuous',
    role: 'detail',
  },
  {
    name: 'pixel_std',
    description: 'root mean square of the per-channel pixel standard deviations (0..255 units)',
    higherIsBetter: null,
    range: [0, 127.5],
    kind: 'continuous',
    role: 'detail',
  },
];

const fraction = z.number().min(0).max(1);
const level = z.number().min(0).max(255);

export const healthOptionsSchema = z
  .object({
    black_max_mean: level.default(DEFAULT_HEALTH_THRESHOLDS.blackMaxMean),
    black_max_std: level.default(DEFAULT_HEALTH_THRESHOLDS.blackMaxStd),
    blank_max_std: level.default(DEFAULT_HEALTH_THRESHOLDS.blankMaxStd),
    low_variance_max_std: level.default(DEFAULT_HEALTH_THRESHOLDS.lowVarianceMaxStd),
    saturation_min: fraction.default(DEFAULT_HEALTH_THRESHOLDS.saturationMin),
    saturated_value_min: fraction.default(DEFAULT_HEALTH_THRESHOLDS.saturatedValueMin),
    max_clipped_fraction: fraction.default(DEFAULT_HEALTH_THRESHOLDS.maxClippedFraction),
    max_saturated_fraction: fraction.default(DEFAULT_HEALTH_THRESHOLDS.maxSaturatedFraction),
  })
  .strict();

export function resolveHealthThresholds(options: Record<string, unknown> = {}): HealthThresholds {
  const parsed = healthOptionsSchema.safeParse(options);
  if (!parsed.success) throw new UserError(`scorer '${HEALTH_ID}' options: ${describeIssues(parsed.error)}`);
  const o = parsed.data;
  return {
    blackMaxMean: o.black_max_mean,
    blackMaxStd: o.black_max_std,
    blankMaxStd: o.blank_max_std,
    lowVarianceMaxStd: o.low_variance_max_std,
    saturationMin: o.saturation_min,
    saturatedValueMin: o.saturated_value_min,
    maxClippedFraction: o.max_clipped_fraction,
    maxSaturatedFraction: o.max_saturated_fraction,
  };
}

/** The seven records of one image. */
export function healthRecords(sampleKey: string, assessment: HealthAssessment, thresholds: HealthThresholds): ScoreRecord[] {
  const { stats } = assessment;
  const detail = { stats, problems: assessment.problems, thresholds };
  const record = (metric: string, value: number, label?: string): ScoreRecord => ({
    sampleKey,
    scorer: HEALTH_ID,
    metric,
    value,
    ...(label !== undefined ? { label } : {}),
    detail,
  });
  const flag = (set: boolean) => (set ? 1 : 0);
  return [
    record('health_ok', flag(assessment.ok), assessment.ok ? 'ok' : assessment.problems.join('+')),
    record('black', flag(assessment.black)),
    record('blank', flag(assessment.blank)),
    record('low_variance', flag(assessment.lowVariance)),
    record('clipped_fraction', stats.clippedFraction),
    record('saturated_fraction', stats.saturatedFraction),
    record('pixel_std', stats.pixelStd),
  ];
}

export function createHealthScorer(options: Record<string, unknown> = {}): Scorer {
  const thresholds = resolveHealthThresholds(options);
  return {
    id: HEALTH_ID,
    version: HEALTH_VERSION,
    description: healthScorer.description,
    metrics: HEALTH_METRICS,
    appliesTo: () => true,
    async score(samples, context) {
      const records: ScoreRecord[] = [];
      for (const sample of samples) {
        let image;
        try {
          image = await context.loadImage(sample);
        } catch (error) {
          const message = (error as Error).message;
          context.log(`health: ${sample.imagePath}: unreadable (${message})`);
          records.push({ sampleKey: sample.key, scorer: HEALTH_ID, metric: 'health_ok', value: 0, label: 'unreadable', detail: { error: message } });
          continue;
        }
        records.push(...healthRecords(sample.key, assessImageHealth(image, thresholds), thresholds));
      }
      return records;
    },
  };
}

export const healthScorer: ScorerDefinition = {
  id: HEALTH_ID,
  description: 'image health on every image: black, blank, low variance, clipped and colour-saturated pixels',
  metrics: HEALTH_METRICS,
  probe: { tests: 'degenerate outputs (black, blank, flat, clipped, burned-out colour)', suites: [] },
  create: (options) => createHealthScorer(options),
};
