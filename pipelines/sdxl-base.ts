import type { EmbeddingCache } from './embedding-cache.js';
import { denoise } from './denoise.js';
import type { DiffusionScheduler, NoiseSource } from './schedulers/types.js';
import type { HostTensor, LazySession } from './session.js';
import { encodeBaseConditioning, type TextConditioning, type TextEncoder } from './text-encoding.js';
import { baseTimeIds, timeIdWidthMismatch, timeIdsFeed, type TimeIdRows } from './time-ids.js';

/**
 * SDXL base text-to-image (diffusers `StableDiffusionXLPipeline`), stopping early for the
 * ensemble handoff (`denoising_end`) and returning raw latents — no VAE here.
 */

/** One loaded model folder: the parts the pipelines call, sessions created on first use. */
export interface SdxlModel {
  role: 'base' | 'refiner';
  dir: string;
  /** CLIP-L (base only) */
  textEncoder1?: TextEncoder;
  /** OpenCLIP bigG with projection (base and refiner) */
  textEncoder2: TextEncoder;
  unet: LazySession;
  vaeDecoder: LazySession;
  vaeEncoder?: LazySession;
  /** VAE config `scaling_factor` (0.13025 for SDXL) */
  vaeScalingFactor: number;
  /** model_index.json `force_zeros_for_empty_prompt` */
  forceZerosForEmptyPrompt: boolean;
  /** UNet config.json, for the time-id width check */
  unetConfig?: Record<string, unknown>;
}

export interface PipelineContext {
  cache: EmbeddingCache;
  log: (line: string) => void;
  /** a fresh torch-compatible CPU generator seeded like `torch.Generator().manual_seed(seed)` */
  createGenerator: (seed: number) => NoiseSource;
  /** test hook: sees (and may change) every UNet feed before the call */
  inspectUnetFeeds?: (stage: 'base' | 'refiner', feeds: Record<string, HostTensor>) => void;
}

export interface BaseRequest {
  prompt: string;
  negativePrompt: string | null;
  seed: number;
  steps: number;
  guidance: number;
  guidanceRescale?: number;
  width: number;
  height: number;
  /** a fresh scheduler (its timesteps are set here) */
  scheduler: DiffusionScheduler;
  /** run only the first `stopAfter` steps (the ensemble's n_base); default: all */
  stopAfter?: number;
  /** step counts after which the latents are copied out (trajectory sharing) */
  snapshotAfter?: readonly number[];
}

export interface LatentSnapshot {
  latents: Float32Array;
  /** wall milliseconds from the start of the denoising loop to this snapshot */
  denoiseMs: number;
}

export interface BaseResult {
  /** raw latents after the last step run (Euler space; not divided by the VAE scaling factor) */
  latents: Float32Array;
  latentDims: number[];
  snapshots: Map<number, LatentSnapshot>;
  stepsRun: number;
  timings: { textEncodeMs: number; denoiseMs: number };
}

export function checkSize(width: number, height: number): void {
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(value) || value <= 0 || value % 8 !== 0) {
      throw new Error(`${name} ${value} must be a positive multiple of 8`);
    }
  }
}

/** `f32(randn · init_noise_sigma)`, drawn in ONE call of shape [1, 4, H/8, W/8]. */
export function initialLatents(generator: NoiseSource, dims: readonly number[], initNoiseSigma: number): Float32Array {
  const noise = generator.randn([...dims]);
  const sigma = Math.fround(initNoiseSigma);
  for (let i = 0; i < noise.length; i++) noise[i] = noise[i] * sigma;
  return noise;
}

/** The number of base steps a request runs (`stopAfter`, default all), checked. */
export function baseStopAfter(request: BaseRequest): number {
  const stopAfter = request.stopAfter ?? request.steps;
  if (!Number.isInteger(stopAfter) || stopAfter < 0 || stopAfter > request.steps) {
    throw new Error(`base: stopAfter ${stopAfter} must be an integer in 0..${request.steps}`);
  }
  return stopAfter;
}

/** One base trajectory, ready for its denoising loop. */
export interface PreparedBaseTrajectory {
  text: TextConditioning;
  textEncodeMs: number;
  /** the request's scheduler, timesteps set, begin index 0 */
  scheduler: DiffusionScheduler;
  /** the fresh seeded generator, after the initial latents' draw */
  generator: NoiseSource;
  latentDims: number[];
  latents: Float32Array;
  /** micro-conditioning rows [orig_h, orig_w, top, left, target_h, target_w] */
  timeIds: TimeIdRows;
}

/**
 * Steps 2–5 of the base pipeline for one request (shared with the UNet-batched form): encode the
 * prompt, set the timesteps, draw the initial latents, build and check the time ids.
 */
export async function prepareBaseTrajectory(model: SdxlModel, request: BaseRequest, guided: boolean, context: PipelineContext): Promise<PreparedBaseTrajectory> {
  if (!model.textEncoder1) throw new Error(`${model.dir}: the base pipeline needs text_encoder (CLIP-L)`);
  // 2. encode the prompt (negative branch zeroed when there is no negative prompt and the model says so)
  const encodeStart = performance.now();
  const text = await encodeBaseConditioning(
    model.textEncoder1,
    model.textEncoder2,
    request.prompt,
    request.negativePrompt,
    { guided, forceZerosForEmptyPrompt: model.forceZerosForEmptyPrompt },
    context,
  );
  const textEncodeMs = performance.now() - encodeStart;

  // 3. prepare timesteps
  const scheduler = request.scheduler;
  scheduler.setTimesteps(request.steps);
  scheduler.setBeginIndex(0);

  // 4. prepare latents: one draw from a fresh generator; the same generator feeds stochastic steps
  const generator = context.createGenerator(request.seed);
  const latentDims = [1, 4, request.height / 8, request.width / 8];
  const latents = initialLatents(generator, latentDims, scheduler.initNoiseSigma);

  // 5. micro-conditioning time ids
  const timeIds = baseTimeIds({ height: request.height, width: request.width });
  const mismatch = timeIdWidthMismatch(timeIds.positive.length, model.unetConfig ?? {}, text.textEmbeds.dims[1]);
  if (mismatch) throw new Error(`${model.dir}: base UNet does not take 6 time ids: ${mismatch}`);
  return { text, textEncodeMs, scheduler, generator, latentDims, latents, timeIds };
}

export async function runSdxlBase(model: SdxlModel, request: BaseRequest, context: PipelineContext): Promise<BaseResult> {
  // 1. check inputs
  checkSize(request.width, request.height);
  const stopAfter = baseStopAfter(request);
  const guided = request.guidance > 1;

  // 2.–5. prompt, timesteps, initial latents, time ids [negative; positive]
  const prepared = await prepareBaseTrajectory(model, request, guided, context);
  const { scheduler, generator, latentDims, textEncodeMs } = prepared;
  let latents = prepared.latents;
  const conditioning = { ...prepared.text, timeIds: timeIdsFeed(prepared.timeIds, guided) };

  // 6. denoising loop over timesteps[0 : stopAfter], copying out the requested snapshots
  const snapshotAfter = new Set(request.snapshotAfter ?? []);
  const snapshots = new Map<number, LatentSnapshot>();
  const loopStart = performance.now();
  if (snapshotAfter.has(0)) snapshots.set(0, { latents: Float32Array.from(latents), denoiseMs: 0 });
  latents = await denoise({
    unet: await model.unet.get(),
    scheduler,
    from: 0,
    to: stopAfter,
    latents,
    latentDims,
    conditioning,
    guidance: request.guidance,
    guidanceRescale: request.guidanceRescale,
    generator,
    inspectFeeds: context.inspectUnetFeeds && ((feeds) => context.inspectUnetFeeds!('base', feeds)),
    afterStep: (stepsDone, current) => {
      if (snapshotAfter.has(stepsDone)) snapshots.set(stepsDone, { latents: Float32Array.from(current), denoiseMs: performance.now() - loopStart });
    },
  });

  // 7. return raw latents (output_type="latent")
  return { latents, latentDims, snapshots, stepsRun: stopAfter, timings: { textEncodeMs, denoiseMs: performance.now() - loopStart } };
}
