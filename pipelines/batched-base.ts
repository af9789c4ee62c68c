import { combineGuidance, rescaleGuidance } from './guidance.js';
import { baseStopAfter, checkSize, prepareBaseTrajectory, type BaseRequest, type BaseResult, type LatentSnapshot, type PipelineContext, type SdxlModel } from './sdxl-base.js';
import type { DiffusionScheduler, NoiseSource } from './schedulers/types.js';
import type { HostTensor } from './session.js';
import type { TextConditioning } from './text-encoding.js';
import type { TimeIdRows } from './time-ids.js';

/**
 * SDXL base text-to-image for several trajectories at once (diffusers `StableDiffusionXLPipeline`
 * called with a list of prompts and a list of generators): one UNet call per step whose batch is
 * `[uncond_0 … uncond_{B−1}; cond_0 … cond_{B−1}]` (spec §6), or `[cond_0 … cond_{B−1}]` without
 * guidance. Each trajectory keeps what a run of its own has:
 * - its own `torch.Generator().manual_seed(seed)`: the initial latents are that generator's first
 *   [1, 4, H/8, W/8] draw (spec §10.1, list of generators), and stochastic steps continue it;
 * - its own scheduler (state per trajectory), its own stop step and latent snapshots;
 * - its own text conditioning and time-id rows.
 * Every float32 operation outside the UNet is the one `runSdxlBase` performs, so a trajectory run
 * in a batch equals its run alone whenever the UNet returns the same rows for either batch size
 * (measured bit-identical on ONNX Runtime CPU; see docs/experiment-reference.md, `run.batch`).
 *
 * Time ids are stacked per row (`[neg × B; pos × B]`, the embeddings' order). diffusers tiles the
 * base's `[neg; pos]` pair B times instead (spec §4); both give the same feed here because every
 * trajectory of a batch has the same size and so the same rows.
 */

/** What trajectories must share to go through the UNet together (the request's other fields may differ). */
export function baseBatchKey(request: Pick<BaseRequest, 'steps' | 'guidance' | 'guidanceRescale' | 'width' | 'height' | 'scheduler'>): string {
  return JSON.stringify({
    steps: request.steps,
    guided: request.guidance > 1,
    guidance: request.guidance,
    guidanceRescale: request.guidanceRescale ?? 0,
    width: request.width,
    height: request.height,
    scheduler: request.scheduler.className,
    config: sortedEntries(request.scheduler.config),
  });
}

function sortedEntries(config: Readonly<Record<string, unknown>>): Array<[string, unknown]> {
  return Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

interface TrajectoryState {
  request: BaseRequest;
  scheduler: DiffusionScheduler;
  generator: NoiseSource;
  text: TextConditioning;
  timeIds: TimeIdRows;
  latents: Float32Array;
  stopAfter: number;
  snapshotAfter: Set<number>;
  snapshots: Map<number, LatentSnapshot>;
  textEncodeMs: number;
  /** this trajectory's share of the batched loop's wall time so far */
  denoiseMs: number;
}

/** The batched UNet feeds that stay the same while the set of running trajectories does not change. */
interface BatchFeeds {
  count: number;
  sample: Float32Array;
  encoderHiddenStates: HostTensor;
  textEmbeds: HostTensor;
  timeIds: HostTensor;
}

/**
 * Runs `requests` (each with a fresh scheduler of its own) as one batch and returns one result per
 * request, in order. Throws when the requests differ in a setting the batch shares (`baseBatchKey`).
 */
export async function runSdxlBaseBatch(model: SdxlModel, requests: readonly BaseRequest[], context: PipelineContext): Promise<BaseResult[]> {
  // 1. check inputs: one shared schedule, size and guidance
  if (requests.length === 0) return [];
  if (!model.textEncoder1) throw new Error(`${model.dir}: the base pipeline needs text_encoder (CLIP-L)`);
  const first = requests[0];
  checkSize(first.width, first.height);
  const key = baseBatchKey(first);
  requests.forEach((request, index) => {
    if (baseBatchKey(request) !== key) {
      throw new Error(`base batch: request ${index} differs from request 0 in steps, guidance, size or scheduler; such trajectories cannot share a UNet batch`);
    }
    baseStopAfter(request);
  });
  if (new Set(requests.map((request) => request.scheduler)).size !== requests.length) {
    throw new Error('base batch: every request needs a scheduler of its own (scheduler state is per trajectory)');
  }
  const guided = first.guidance > 1;
  const latentDims = [1, 4, first.height / 8, first.width / 8];

  // 2. per trajectory: conditioning, schedule, seeded initial latents, time ids (steps 2–5 of runSdxlBase)
  const trajectories: TrajectoryState[] = [];
  for (const request of requests) {
    const { text, textEncodeMs, scheduler, generator, latents, timeIds } = await prepareBaseTrajectory(model, request, guided, context);
    const snapshotAfter = new Set(request.snapshotAfter ?? []);
    const snapshots = new Map<number, LatentSnapshot>();
    if (snapshotAfter.has(0)) snapshots.set(0, { latents: Float32Array.from(latents), denoiseMs: 0 });
    trajectories.push({
      request,
      scheduler,
      generator,
      text,
      timeIds,
      latents,
      stopAfter: baseStopAfter(request),
      snapshotAfter,
      snapshots,
      textEncodeMs,
      denoiseMs: 0,
    });
  }
  const timesteps = trajectories[0].scheduler.timesteps;
  for (const trajectory of trajectories) {
    if (!sameValues(trajectory.scheduler.timesteps, timesteps)) throw new Error('base batch: the schedulers disagree on the timesteps');
  }

  // 3. denoising loop: each step feeds the trajectories that have not reached their stop yet
  const unet = await model.unet.get();
  const outputName = unet.outputNames[0];
  const latentSize = trajectories[0].latents.length;
  const lastStep = Math.max(...trajectories.map((trajectory) => trajectory.stopAfter));
  let feeds: BatchFeeds | null = null;
  for (let i = 0; i < lastStep; i++) {
    const stepStart = performance.now();
    const running = trajectories.filter((trajectory) => trajectory.stopAfter > i);
    const batch: BatchFeeds = feeds !== null && feeds.count === running.length ? feeds : batchFeeds(running, guided, latentSize);
    feeds = batch;
    const t = timesteps[i];
    running.forEach((trajectory, k) => {
      const modelInput = trajectory.scheduler.scaleModelInput(trajectory.latents, t);
      batch.sample.set(modelInput, k * latentSize);
      if (guided) batch.sample.set(modelInput, (running.length + k) * latentSize);
    });
    const unetFeeds: Record<string, HostTensor> = {
      sample: { data: batch.sample, dims: [batch.sample.length / latentSize, ...latentDims.slice(1)] },
      timestep: { data: Float32Array.of(t), dims: [] },
      encoder_hidden_states: batch.encoderHiddenStates,
      text_embeds: batch.textEmbeds,
      time_ids: batch.timeIds,
    };
    if (context.inspectUnetFeeds) {
      // the hook gets private copies: changes affect this call only
      for (const [name, tensor] of Object.entries(unetFeeds)) unetFeeds[name] = { data: tensor.data.slice(), dims: [...tensor.dims] };
      context.inspectUnetFeeds('base', unetFeeds);
    }
    const output = (await unet.run(unetFeeds, [outputName]))[outputName].data;
    running.forEach((trajectory, k) => {
      const noise = guided
        ? guidedNoise(output, k, running.length, latentSize, trajectory.request)
        : output.slice(k * latentSize, (k + 1) * latentSize);
      trajectory.latents = trajectory.scheduler.step(noise, t, trajectory.latents, trajectory.generator).prevSample;
    });
    // the step's wall time is shared equally by the trajectories it advanced
    const share = (performance.now() - stepStart) / running.length;
    for (const trajectory of running) {
      trajectory.denoiseMs += share;
      if (trajectory.snapshotAfter.has(i + 1)) {
        trajectory.snapshots.set(i + 1, { latents: Float32Array.from(trajectory.latents), denoiseMs: trajectory.denoiseMs });
      }
    }
  }

  // 4. raw latents per trajectory (output_type="latent")
  return trajectories.map((trajectory) => ({
    latents: trajectory.latents,
    latentDims: [...latentDims],
    snapshots: trajectory.snapshots,
    stepsRun: trajectory.stopAfter,
    timings: { textEncodeMs: trajectory.textEncodeMs, denoiseMs: trajectory.denoiseMs },
  }));
}

/**
 * ε for row k of a guided batch of `count` trajectories: its uncond row k and cond row count + k,
 * combined by the same functions (and so the same float32 operations) as a batch-1 call.
 */
function guidedNoise(output: Float32Array, k: number, count: number, latentSize: number, request: BaseRequest): Float32Array {
  const pair = new Float32Array(2 * latentSize);
  pair.set(output.subarray(k * latentSize, (k + 1) * latentSize), 0);
  pair.set(output.subarray((count + k) * latentSize, (count + k + 1) * latentSize), latentSize);
  const guided = combineGuidance(pair, request.guidance);
  if (request.guidanceRescale && request.guidanceRescale > 0) rescaleGuidance(guided, pair.subarray(latentSize), request.guidanceRescale);
  return guided;
}

/** Stacks the running trajectories' conditioning as `[uncond × n; cond × n]` (or `[cond × n]`). */
function batchFeeds(running: readonly TrajectoryState[], guided: boolean, latentSize: number): BatchFeeds {
  const count = running.length;
  const rowsPerTrajectory = guided ? 2 : 1;
  const [, tokens, width] = running[0].text.encoderHiddenStates.dims;
  const pooledWidth = running[0].text.textEmbeds.dims[1];
  const timeIdWidth = running[0].timeIds.positive.length;
  const hidden = new Float32Array(count * rowsPerTrajectory * tokens * width);
  const pooled = new Float32Array(count * rowsPerTrajectory * pooledWidth);
  const timeIds = new Float32Array(count * rowsPerTrajectory * timeIdWidth);
  running.forEach((trajectory, k) => {
    const { encoderHiddenStates, textEmbeds } = trajectory.text;
    if (encoderHiddenStates.dims[1] !== tokens || encoderHiddenStates.dims[2] !== width || textEmbeds.dims[1] !== pooledWidth) {
      throw new Error('base batch: the trajectories disagree on the text conditioning shapes');
    }
    // a trajectory's own conditioning is [uncond; cond] (guided) or [cond]; row r of it goes to batch row r·count + k
    for (let r = 0; r < rowsPerTrajectory; r++) {
      const row = r * count + k;
      hidden.set(encoderHiddenStates.data.subarray(r * tokens * width, (r + 1) * tokens * width), row * tokens * width);
      pooled.set(textEmbeds.data.subarray(r * pooledWidth, (r + 1) * pooledWidth), row * pooledWidth);
      const ids = guided && r === 0 ? trajectory.timeIds.negative : trajectory.timeIds.positive;
      timeIds.set(Float32Array.from(ids), row * timeIdWidth);
    }
  });
  const rows = count * rowsPerTrajectory;
  return {
    count,
    sample: new Float32Array(rows * latentSize),
    encoderHiddenStates: { data: hidden, dims: [rows, tokens, width] },
    textEmbeds: { data: pooled, dims: [rows, pooledWidth] },
    timeIds: { data: timeIds, dims: [rows, timeIdWidth] },
  };
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}
