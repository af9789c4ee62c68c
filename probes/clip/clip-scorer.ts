/**
 * `clip`: image–prompt similarity with a CLIP model.
 *  - `clip_score`: torchmetrics' CLIPScore, 100 · max(cos(E_image, E_prompt), 0) (the scale HEIM reports);
 *  - `clip_cosine`: the raw cosine, T2I-CompBench's scale (can be negative).
 * Prompts longer than CLIP's 77-token window are cut to bos + 75 tokens + eos (transformers' truncation);
 * the record's detail says so and how many tokens were dropped. (torchmetrics instead cuts the ids at 77,
 * dropping eos; for prompts that fit, the two agree.)
 */
import { z } from 'zod';
import type { MetricMeta, ScorableSample, Scorer, ScoreRecord, ScoringContext } from '../types.js';
import type { Lease, ScorerDefinition } from '../registry.js';
import { cosine, type ClipModel } from './clip-model.js';
import { clipModelOptions, imageSources, openClipModel, parseScorerOptions } from './scorer-support.js';

export const CLIP_SCORER_ID = 'clip';
const VERSION = '1';

export const CLIP_METRICS: MetricMeta[] = [
  {
    name: 'clip_score',
    description: 'CLIPScore on the torchmetrics scale: 100 · max(cosine(image, prompt), 0)',
    higherIsBetter: true,
    range: [0, 100],
    kind: 'continuous',
    role: 'primary',
    failureMeans: 'the image matches its prompt poorly in CLIP space (a coarse, bag-of-words-like signal: it misses relations and counts)',
  },
  {
    name: 'clip_cosine',
    description: "raw cosine similarity of CLIP image and prompt embeddings (T2I-CompBench's CLIP scale)",
    higherIsBetter: true,
    range: [-1, 1],
    kind: 'continuous',
    role: 'secondary',
    failureMeans: 'the image matches its prompt poorly in CLIP space',
  },
];

const optionsSchema = z.object(clipModelOptions).strict();

export interface PromptTruncation {
  truncated: boolean;
  /** content tokens of the whole prompt (bos/eos not counted) */
  contentTokens: number;
  droppedTokens?: number;
  droppedText?: string;
}

export function describeTruncation(model: ClipModel, text: string): PromptTruncation {
  const encoding = model.encode(text);
  if (!encoding.truncated) return { truncated: false, contentTokens: encoding.contentTokenCount };
  return {
    truncated: true,
    contentTokens: encoding.contentTokenCount,
    droppedTokens: encoding.contentTokenCount - encoding.tokens.length,
    ...(encoding.droppedText !== undefined ? { droppedText: encoding.droppedText } : {}),
  };
}

class ClipScorer implements Scorer {
  readonly id = CLIP_SCORER_ID;
  readonly version = VERSION;
  readonly description = 'CLIP image–prompt similarity (CLIPScore and raw cosine)';
  readonly metrics = CLIP_METRICS;

  /** prompts whose truncation was already logged */
  private readonly reportedTruncations = new Set<string>();

  private readonly model: ClipModel;

  constructor(private readonly lease: Lease<ClipModel>) {
    this.model = lease.value;
  }

  appliesTo(sample: ScorableSample): boolean {
    return sample.prompt.text.trim().length > 0;
  }

  async score(samples: ScorableSample[], context: ScoringContext): Promise<ScoreRecord[]> {
    const texts = await this.model.embedTexts(samples.map((sample) => sample.prompt.text));
    const images = await this.model.embedImages(imageSources(samples, context));
    const records: ScoreRecord[] = [];
    samples.forEach((sample, i) => {
      const similarity = cosine(images[i], texts[i]);
      const truncation = describeTruncation(this.model, sample.prompt.text);
      if (truncation.truncated && !this.reportedTruncations.has(sample.prompt.text)) {
        this.reportedTruncations.add(sample.prompt.text);
        context.log(`clip: prompt ${sample.prompt.id} is longer than CLIP's 77 tokens; ${truncation.droppedTokens} token(s) dropped: "${truncation.droppedText ?? ''}"`);
      }
      const detail = { model: this.model.folder.name, ...truncation };
      records.push({ sampleKey: sample.key, scorer: this.id, metric: 'clip_score', value: 100 * Math.max(similarity, 0), detail });
      records.push({ sampleKey: sample.key, scorer: this.id, metric: 'clip_cosine', value: similarity });
    });
    return records;
  }

  dispose(): Promise<void> {
    return this.lease.release();
  }
}

export const clipScorer: ScorerDefinition = {
  id: CLIP_SCORER_ID,
  description: 'CLIP image–prompt similarity: CLIPScore (torchmetrics scale, 0–100) and raw cosine (T2I-CompBench scale)',
  metrics: CLIP_METRICS,
  async create(options, context) {
    const parsed = parseScorerOptions(CLIP_SCORER_ID, optionsSchema, options);
    return new ClipScorer(await openClipModel(CLIP_SCORER_ID, parsed, context));
  },
};
