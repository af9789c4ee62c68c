import type { EmbeddingCache } from './embedding-cache.js';
import { predictNoise } from './guidance.js';
import { GuidedEulerWorkspace } from './simd/kernels.js';
import { EulerDiscreteScheduler } from './schedulers/euler-discrete.js';
import type { DiffusionScheduler, NoiseSource } from './schedulers/types.js';
import type { HostTensor, LazySession } from './session.js';
import { encodeBaseConditioning, type TextEncoder } from './text-encoding.js';
import { baseTimeIds, timeIdWidthMismatch, timeIdsFeed } from './time-ids.js';

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

export async function runSdxlBase(model: SdxlModel, request: BaseRequest, context: PipelineContext): Promise<BaseResult> {
  // 1. check inputs
  checkSize(request.width, request.height);
  if (!model.textEncoder1) throw new Error(`${model.dir}: the base pipeline needs text_encoder (CLIP-L)`);
  const stopAfter = request.stopAfter ?? request.steps;
  if (!Number.isInteger(stopAfter) || stopAfter < 0 || stopAfter > request.steps) {
    throw new Error(`base: stopAfter ${stopAfter} must be an integer in 0..${request.steps}`);
  }
  const guided = request.guidance > 1;

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
  const timesteps = scheduler.timesteps;

  // 4. prepare latents: one draw from a fresh generator; the same generator feeds stochastic steps
  const generator = context.createGenerator(request.seed);
  const latentDims = [1, 4, request.height / 8, request.width / 8];
  let latents = initialLatents(generator, latentDims, scheduler.initNoiseSigma);

  // 5. micro-conditioning time ids [negative; positive]
  const rows = baseTimeIds({ height: request.height, width: request.width });
  const mismatch = timeIdWidthMismatch(rows.positive.length, model.unetConfig ?? {}, text.textEmbeds.dims[1]);
  if (mismatch) throw new Error(`${model.dir}: base UNet does not take 6 time ids: ${mismatch}`);
  const conditioning = { ...text, timeIds: timeIdsFeed(rows, guided) };

  // 6. denoising loop over timesteps[0 : stopAfter]
  const unet = await model.unet.get();
  const snapshotAfter = new Set(request.snapshotAfter ?? []);
  const snapshots = new Map<number, LatentSnapshot>();
  // buffers reused by every step: the UNet input, the CFG feed and ε, and a spare for the next latents
  const workspace: { sample?: Float32Array; guided?: Float32Array } = {};
  // guided ε-prediction Euler without rescale: CFG, step and the next UNet input in one pass (same bits)
  const fusedStep =
    guided && !(request.guidanceRescale && request.guidanceRescale > 0) && scheduler instanceof EulerDiscreteScheduler && scheduler.supportsGuidedStep
      ? scheduler
      : null;
  // with the SIMD kernels the latents and the [x; x] feed live in WebAssembly memory: no copies per step
  const simd = fusedStep ? GuidedEulerWorkspace.forLoop(latents.length) : null;
  if (simd) {
    simd.latents[0].set(latents);
    latents = simd.latents[0];
    workspace.sample = simd.feed;
  }
  let inputReady = false;
  const modelInputBuffer = new Float32Array(latents.length);
  let spareLatents: Float32Array = simd ? simd.latents[1] : new Float32Array(latents.length);
  const loopStart = performance.now();
  if (snapshotAfter.has(0)) snapshots.set(0, { latents: Float32Array.from(latents), denoiseMs: 0 });
  for (let i = 0; i < stopAfter; i++) {
    const t = timesteps[i];
    // the fused step already wrote this step's [x; x] UNet feed into the workspace
    const modelInput = inputReady ? modelInputBuffer : scheduler.scaleModelInput(latents, t, modelInputBuffer);
    const noise = await predictNoise(unet, modelInput, latentDims, t, conditioning, {
      guidanceScale: request.guidance,
      guidanceRescale: request.guidanceRescale,
      workspace,
      sampleReady: inputReady,
      raw: fusedStep !== null,
      inspectFeeds: context.inspectUnetFeeds && ((feeds) => context.inspectUnetFeeds!('base', feeds)),
    });
    let next: Float32Array;
    if (fusedStep) {
      const hasNextStep = i + 1 < stopAfter;
      fusedStep.guidedStep(noise, request.guidance, t, latents, spareLatents, hasNextStep ? workspace.sample! : null, simd?.kernels);
      inputReady = hasNextStep;
      next = spareLatents;
    } else {
      next = scheduler.step(noise, t, latents, generator, { prevSample: spareLatents }).prevSample;
    }
    // when the scheduler wrote into the spare, the previous latents become the next spare
    if (next === spareLatents) spareLatents = latents;
    latents = next;
    if (snapshotAfter.has(i + 1)) snapshots.set(i + 1, { latents: Float32Array.from(latents), denoiseMs: performance.now() - loopStart });
  }

  // 7. return raw latents (output_type="latent"), as an ordinary array when they lived in the workspace
  if (simd) latents = latents.slice();
  return { latents, latentDims, snapshots, stepsRun: stopAfter, timings: { textEncodeMs, denoiseMs: performance.now() - loopStart } };
}
