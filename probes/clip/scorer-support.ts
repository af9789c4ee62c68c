/** What the CLIP-based scorers share: option checking, finding the model folder, image sources. */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../../pipelines/errors.js';
import type { Lease, ScorerFactoryContext } from '../registry.js';
import type { ScorableSample, ScoringContext } from '../types.js';
import { ClipModel, type ImageSource } from './clip-model.js';

/** Options every CLIP-based scorer takes. */
export const clipModelOptions = {
  /** CLIP folder; default: the experiment's `models.clip` */
  model: z.string().min(1).optional(),
  /** images per vision-model call */
  batchSize: z.number().int().positive().max(256).optional(),
};

/** Parses scorer options; every problem is named with its option path in one UserError. */
export function parseScorerOptions<T>(scorerId: string, schema: z.ZodType<T>, options: Record<string, unknown>): T {
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');
    return `options${path}: ${issue.message}`;
  });
  throw new UserError(`scorer '${scorerId}': ${problems.join('; ')}`);
}

/** The CLIP folder for a scorer: its `model` option (relative to the experiment file) or `models.clip`. */
export function resolveClipDir(scorerId: string, model: string | undefined, context: ScorerFactoryContext): string {
  if (model !== undefined) return isAbsolute(model) ? model : resolve(context.baseDir, model);
  const fromExperiment = context.models?.clip;
  if (fromExperiment) return fromExperiment;
  throw new UserError(
    `scorer '${scorerId}' needs a CLIP model folder: set models.clip in the experiment (a transformers.js CLIP folder, or 'tiny' for the random-weight test model) or the scorer option 'model'`,
  );
}

/**
 * The scorer's CLIP model. With `context.shared`, scorers naming the same folder (and batch size) hold
 * one `ClipModel`, so its embedding caches serve them all; release the lease in the scorer's `dispose`.
 */
export async function openClipModel(scorerId: string, options: { model?: string; batchSize?: number }, context: ScorerFactoryContext): Promise<Lease<ClipModel>> {
  const dir = resolve(resolveClipDir(scorerId, options.model, context));
  const open = () =>
    ClipModel.load(dir, {
      provider: context.device,
      ...(context.log ? { log: context.log } : {}),
      ...(options.batchSize ? { imageBatchSize: options.batchSize } : {}),
      ...(context.hashCacheFile ? { hashCacheFile: context.hashCacheFile } : {}),
    });
  const close = (model: ClipModel) => model.dispose();
  if (!context.shared) {
    const model = await open();
    return { value: model, release: () => close(model) };
  }
  const key = JSON.stringify(['clip-model', dir, context.device ?? 'cpu', options.batchSize ?? null]);
  return context.shared.acquire(key, open, close);
}

/** Samples as image sources keyed by sample key (the model's image cache key). */
export function imageSources(samples: readonly ScorableSample[], context: ScoringContext): ImageSource[] {
  return samples.map((sample) => ({ key: sample.key, load: () => context.loadImage(sample) }));
}
