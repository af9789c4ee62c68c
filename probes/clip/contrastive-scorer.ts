/**
 * `contrastive`: does CLIP prefer the true caption over its counterfactuals (relation reversed, colours
 * swapped, count changed; see contrastive-captions.ts)?
 *  - `contrastive_correct`: 1 when the true caption's cosine with the image is higher than every
 *    counterfactual's, else 0;
 *  - `contrastive_margin`: true-caption cosine minus the best counterfactual's.
 * The detail lists every caption with its cosine. Applies to samples whose prompt has expectations that
 * yield at least one counterfactual.
 */
import { z } from 'zod';
import type { MetricMeta, ScorableSample, Scorer, ScoreRecord, ScoringContext } from '../types.js';
import type { Lease, ScorerDefinition } from '../registry.js';
import { cosine, type ClipModel } from './clip-model.js';
import { buildContrastiveCaptions, type CaptionOptions, type ContrastiveCaptions } from './contrastive-captions.js';
import { clipModelOptions, imageSources, openClipModel, parseScorerOptions } from './scorer-support.js';

export const CONTRASTIVE_SCORER_ID = 'contrastive';
const VERSION = '1';

export const CONTRASTIVE_METRICS: MetricMeta[] = [
  {
    name: 'contrastive_correct',
    description: 'CLIP ranks the true caption above every counterfactual (relation reversed, colours swapped, count ±1)',
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'primary',
    failureMeans: 'in CLIP space the image fits a caption with the relation reversed, the colours swapped or the count changed at least as well as the true one',
  },
  {
    name: 'contrastive_margin',
    description: 'cosine(image, true caption) minus the highest cosine(image, counterfactual caption)',
    higherIsBetter: true,
    range: [-2, 2],
    kind: 'continuous',
    role: 'secondary',
    failureMeans: 'a negative margin: a counterfactual caption fits the image better than the true one',
  },
];

const optionsSchema = z
  .object({
    ...clipModelOptions,
    /** caption prefix (default "a photo of ") */
    prefix: z.string().optional(),
    /** singular → plural overrides for count captions */
    plurals: z.record(z.string(), z.string()).optional(),
  })
  .strict();

class ContrastiveScorer implements Scorer {
  readonly id = CONTRASTIVE_SCORER_ID;
  readonly version = VERSION;
  readonly description = 'contrastive captions: CLIP similarity of the true caption against its counterfactuals';
  readonly metrics = CONTRASTIVE_METRICS;

  private readonly model: ClipModel;

  constructor(
    private readonly lease: Lease<ClipModel>,
    private readonly captionOptions: CaptionOptions,
  ) {
    this.model = lease.value;
  }

  captionsFor(sample: ScorableSample): ContrastiveCaptions | null {
    return buildContrastiveCaptions(sample.prompt.expectations, this.captionOptions);
  }

  appliesTo(sample: ScorableSample): boolean {
    return this.captionsFor(sample) !== null;
  }

  async score(samples: ScorableSample[], context: ScoringContext): Promise<ScoreRecord[]> {
    const work = samples.map((sample) => ({ sample, captions: this.captionsFor(sample) })).filter((item): item is { sample: ScorableSample; captions: ContrastiveCaptions } => item.captions !== null);
    if (work.length === 0) return [];
    const allCaptions = work.flatMap(({ captions }) => [captions.trueCaption, ...captions.counterfactuals.map((c) => c.caption)]);
    const textEmbeddings = new Map<string, Float32Array>();
    const embedded = await this.model.embedTexts(allCaptions);
    allCaptions.forEach((caption, i) => textEmbeddings.set(caption, embedded[i]));
    const images = await this.model.embedImages(imageSources(work.map(({ sample }) => sample), context));
    const records: ScoreRecord[] = [];
    work.forEach(({ sample, captions }, i) => {
      const similarity = (caption: string) => cosine(images[i], textEmbeddings.get(caption)!);
      const trueSimilarity = similarity(captions.trueCaption);
      const counterfactuals = captions.counterfactuals.map((c) => ({ ...c, similarity: similarity(c.caption) }));
      const best = counterfactuals.reduce((a, b) => (b.similarity > a.similarity ? b : a));
      const correct = counterfactuals.every((c) => trueSimilarity > c.similarity);
      records.push({
        sampleKey: sample.key,
        scorer: this.id,
        metric: 'contrastive_correct',
        value: correct ? 1 : 0,
        label: correct ? 'correct' : 'wrong',
        detail: { model: this.model.folder.name, trueCaption: captions.trueCaption, trueSimilarity, counterfactuals },
      });
      records.push({
        sampleKey: sample.key,
        scorer: this.id,
        metric: 'contrastive_margin',
        value: trueSimilarity - best.similarity,
        detail: { closestCounterfactual: best.kind, caption: best.caption },
      });
    });
    return records;
  }

  dispose(): Promise<void> {
    return this.lease.release();
  }
}

export const contrastiveScorer: ScorerDefinition = {
  id: CONTRASTIVE_SCORER_ID,
  description: 'contrastive captions: CLIP prefers the true caption over relation-reversed, colour-swapped and count-changed ones',
  metrics: CONTRASTIVE_METRICS,
  probe: { tests: 'spatial relations, attribute binding and counting, judged by CLIP against counterfactual captions', suites: ['relations', 'attribute-binding', 'counting'] },
  async create(options, context) {
    const parsed = parseScorerOptions(CONTRASTIVE_SCORER_ID, optionsSchema, options);
    const captionOptions: CaptionOptions = { ...(parsed.prefix !== undefined ? { prefix: parsed.prefix } : {}), ...(parsed.plurals ? { plurals: parsed.plurals } : {}) };
    return new ContrastiveScorer(await openClipModel(CONTRASTIVE_SCORER_ID, parsed, context), captionOptions);
  },
};
