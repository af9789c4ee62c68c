import { denoise } from './denoise.js';
import type { RgbImage } from './image/png.js';
import type { DiffusionScheduler } from './schedulers/types.js';
import type { PipelineContext, SdxlModel } from './sdxl-base.js';
import { encodeRefinerConditioning } from './text-encoding.js';
import { refinerTimeIds, timeIdWidthMismatch, timeIdsFeed } from './time-ids.js';
import { encodeImage } from './vae.js';

/**
 * SDXL refiner (diffusers `StableDiffusionXLImg2ImgPipeline` with the refiner weights), two ways in:
 * - ensemble (`denoising_start`): the base's raw latents are taken verbatim, no noise is added, and
 *   denoising resumes at `beginIndex` (spec §7);
 * - SDEdit (`strength`): the finished base image is VAE-encoded (one generator draw), re-noised to
 *   σ[beginIndex] with a second draw, then denoised (spec §8).
 * Random stream: a fresh generator `createGenerator(seed)` per refiner call, i.e. diffusers called
 * with `generator=torch.Generator().manual_seed(seed)`: SDEdit draws the VAE sample first and the
 * add-noise tensor second; stochastic schedulers continue the same stream in `step`.
 */

export type RefinerStart =
  | { kind: 'latents'; latents: Float32Array; latentDims: readonly number[] }
  | { kind: 'image'; image: RgbImage };

export interface RefinerRequest {
  prompt: string;
  negativePrompt: string | null;
  seed: number;
  steps: number;
  guidance: number;
  guidanceRescale?: number;
  aestheticScore?: number;
  negativeAestheticScore?: number;
  /** a fresh scheduler (its timesteps are set here) */
  scheduler: DiffusionScheduler;
  /** first step index: the ensemble's t_start, or SDEdit's t_start · order */
  beginIndex: number;
  start: RefinerStart;
}

export interface RefinerResult {
  latents: Float32Array;
  latentDims: number[];
  stepsRun: number;
  /** false when a gen-A VAE encoder sampled inside the graph (unseeded) */
  reproducible: boolean;
  timings: { textEncodeMs: number; vaeEncodeMs: number; denoiseMs: number };
}

export async function runSdxlRefiner(model: SdxlModel, request: RefinerRequest, context: PipelineContext): Promise<RefinerResult> {
  // 1. check inputs
  const { beginIndex } = request;
  if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex > request.steps) {
    throw new Error(`refiner: beginIndex ${beginIndex} must be an integer in 0..${request.steps}`);
  }
  const guided = request.guidance > 1;

  // 2. encode the prompt with text_encoder_2 only (the refiner encodes an empty negative prompt)
  const encodeStart = performance.now();
  const text = await encodeRefinerConditioning(
    model.textEncoder2,
    request.prompt,
    request.negativePrompt,
    { guided, forceZerosForEmptyPrompt: model.forceZerosForEmptyPrompt },
    context,
  );
  const textEncodeMs = performance.now() - encodeStart;

  // 3. prepare timesteps: the full schedule, entered at beginIndex
  const scheduler = request.scheduler;
  scheduler.setTimesteps(request.steps);
  scheduler.setBeginIndex(beginIndex);
  const timesteps = scheduler.timesteps;

  // 4. prepare latents
  const generator = context.createGenerator(request.seed);
  let latents: Float32Array;
  let latentDims: number[];
  let reproducible = true;
  let vaeEncodeMs = 0;
  if (request.start.kind === 'latents') {
    // ensemble: the base's latents verbatim — no VAE, no scaling, no added noise
    latents = Float32Array.from(request.start.latents);
    latentDims = [...request.start.latentDims];
  } else {
    if (!model.vaeEncoder) throw new Error(`${model.dir}: SDEdit refinement needs vae_encoder`);
    const encodeImageStart = performance.now();
    const encoded = await encodeImage(await model.vaeEncoder.get(), request.start.image, model.vaeScalingFactor, generator, context.log);
    vaeEncodeMs = performance.now() - encodeImageStart;
    latentDims = encoded.dims;
    reproducible = encoded.reproducible;
    const noise = generator.randn(latentDims);
    latents = scheduler.addNoise(encoded.latents, noise, { stepIndex: beginIndex });
  }

  // 5. micro-conditioning: [orig_h, orig_w, top, left, aesthetic], rows [negative; positive]
  const rows = refinerTimeIds({
    height: latentDims[2] * 8,
    width: latentDims[3] * 8,
    aestheticScore: request.aestheticScore,
    negativeAestheticScore: request.negativeAestheticScore,
  });
  const mismatch = timeIdWidthMismatch(rows.positive.length, model.unetConfig ?? {}, text.textEmbeds.dims[1]);
  if (mismatch) throw new Error(`${model.dir}: refiner UNet does not take 5 time ids: ${mismatch}`);
  const conditioning = { ...text, timeIds: timeIdsFeed(rows, guided) };

  // 6. denoising loop over timesteps[beginIndex:]
  const loopStart = performance.now();
  latents = await denoise({
    unet: await model.unet.get(),
    scheduler,
    from: beginIndex,
    to: timesteps.length,
    latents,
    latentDims,
    conditioning,
    guidance: request.guidance,
    guidanceRescale: request.guidanceRescale,
    generator,
    inspectFeeds: context.inspectUnetFeeds && ((feeds) => context.inspectUnetFeeds!('refiner', feeds)),
  });

  // 7. return latents (decoded by the caller with this model's VAE)
  return {
    latents,
    latentDims,
    stepsRun: timesteps.length - beginIndex,
    reproducible,
    timings: { textEncodeMs, vaeEncodeMs, denoiseMs: performance.now() - loopStart },
  };
}
