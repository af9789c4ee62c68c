import type { PromptInstance } from '../datasets/types.js';
import type { RgbImage } from '../pipelines/image/png.js';

/** What a metric means, so the runner and the reports never branch on a scorer's name. */
export interface MetricMeta {
  /** unique across scorers, e.g. "clip_score", "relation_correct" */
  name: string;
  description: string;
  /** true / false, or null where direction is undefined (e.g. a perceived-attribute label) */
  higherIsBetter: boolean | null;
  /** [min, max] of value, or null when unbounded */
  range: [number, number] | null;
  /** binary: value is 0 or 1 (McNemar, failure rates); continuous: numbers; categorical: `label` carries it */
  kind: 'continuous' | 'binary' | 'categorical';
  /** what a failure (value 0 for binary, low for continuous) means, for the limitations report */
  failureMeans?: string;
  /** how prominently reports show the metric; absent means 'secondary' (see `MetricRole`) */
  role?: MetricRole;
}

/**
 * How prominently reports show a metric, in this order:
 * - `primary`: the answer its scorer exists to give (e.g. clip_score, relation_correct); shown in the
 *   report's at-a-glance summary and first in every section.
 * - `secondary`: a supporting measure of the same question (e.g. clip_cosine, contrastive_margin).
 * - `diagnostic`: a sanity check on the images rather than on the prompt (e.g. health_ok).
 * - `detail`: one component of a diagnostic (e.g. the individual health flags); reports fold these
 *   into one compact table.
 */
export type MetricRole = 'primary' | 'secondary' | 'diagnostic' | 'detail';

/** Report order of the roles; a metric without a role counts as 'secondary'. */
export const METRIC_ROLES: readonly MetricRole[] = ['primary', 'secondary', 'diagnostic', 'detail'];

/** A generated (or imported) image and what it was made for. */
export interface ScorableSample {
  /** the unit key (or an id for imported images); ScoreRecords refer to it */
  key: string;
  imagePath: string;
  prompt: PromptInstance;
  seed?: number;
  /** condition id of the unit, when known */
  condition?: string;
}

export interface ScoreRecord {
  sampleKey: string;
  scorer: string;
  metric: string;
  /** null = undetermined (e.g. an object is missing, so a relation cannot be judged) */
  value: number | null;
  /** categorical outcome, e.g. a perceived-attribute label or "correct" / "wrong" / "undetermined" */
  label?: string;
  /** JSON-serialisable evidence (boxes, OCR text, margins) for reports */
  detail?: unknown;
}

/** Shared, per-run resources a scorer may use (image cache, logger). */
export interface ScoringContext {
  loadImage(sample: ScorableSample): Promise<RgbImage>;
  log(message: string): void;
}

export interface Scorer {
  /** registry id, e.g. "clip", "colour-geometry" */
  id: string;
  /** bump when results would change; recorded with every score */
  version: string;
  description: string;
  metrics: MetricMeta[];
  /** false when the sample has nothing for this scorer (e.g. no relation expectation) */
  appliesTo?(sample: ScorableSample): boolean;
  score(samples: ScorableSample[], context: ScoringContext): Promise<ScoreRecord[]>;
  dispose?(): Promise<void>;
}
