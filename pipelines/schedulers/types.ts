/**
 * The scheduler interface, in the spirit of diffusers' SchedulerMixin. Latents are flat float32
 * arrays (any layout, the schedulers work elementwise); timesteps are the schedule's own values
 * (float32 values for Euler, integers for DDIM / DPM-Solver), passed back exactly as listed in
 * `timesteps`.
 */

/** A seeded source of standard normal float32 noise (e.g. the torch-compatible generator). */
export interface NoiseSource {
  /** Draws product(shape) values, continuing the stream like consecutive `torch.randn` calls. */
  randn(shape: readonly number[]): Float32Array;
}

export interface SchedulerStepResult {
  /** The latents at the next (less noisy) timestep. */
  readonly prevSample: Float32Array;
  /** The model's estimate of the clean latents at this step, where the scheduler computes one. */
  readonly predOriginalSample?: Float32Array;
}

/**
 * Caller-owned arrays that `step` may write its results into instead of allocating new ones (a
 * denoising loop passes the same two buffers every step). A scheduler may ignore them, so callers
 * always use the arrays in the returned result. Neither may alias `modelOutput` or `sample`.
 * A scheduler that writes into `prevSample` keeps no reference to `sample` (the loop reuses that
 * array for a later step); no scheduler keeps `modelOutput` (the pipelines reuse it every step).
 */
export interface StepOutputs {
  /** Receives the next latents. */
  readonly prevSample?: Float32Array;
  /** Receives the clean-latent estimate; when `into` is given without it, the estimate may be left out of the result. */
  readonly predOriginalSample?: Float32Array;
}

/** Where `addNoise` takes its noise level from. */
export type NoiseLevel = number | { readonly stepIndex: number };

export type SchedulerClassName =
  | 'EulerDiscreteScheduler'
  | 'EulerAncestralDiscreteScheduler'
  | 'DDIMScheduler'
  | 'DPMSolverMultistepScheduler';

export interface DiffusionScheduler {
  readonly className: SchedulerClassName;
  /** The resolved config: every key the class reads, with diffusers' defaults filled in. */
  readonly config: Readonly<Record<string, unknown>>;
  /** diffusers' class attribute `order` (1 for all four schedulers here). */
  readonly order: number;
  /** Number of inference steps of the last `setTimesteps`, or null before it. */
  readonly numInferenceSteps: number | null;
  /** Descending timesteps of the schedule (float32 values stored as doubles). */
  readonly timesteps: Float64Array;
  /** N + 1 noise levels (the last one final, 0 by default), or null where the scheduler has none. */
  readonly sigmas: Float32Array | null;
  /** Standard deviation of the initial noise (1 for the VP-space schedulers). */
  readonly initNoiseSigma: number;
  /** Index of the next step, or null before the first `scaleModelInput` / `step`. */
  readonly stepIndex: number | null;
  readonly beginIndex: number | null;

  setTimesteps(numInferenceSteps: number): void;
  /** Where a pipeline starts mid-schedule (img2img, refiner): the first step uses this index. */
  setBeginIndex(index: number): void;
  /** The step index diffusers would find for a timestep (second match when it occurs twice). */
  indexForTimestep(timestep: number): number;
  /**
   * The UNet input for this step; may return `sample` itself when no scaling applies. Where it
   * scales, it may write into `into` (same length as `sample`, not aliasing it) instead of allocating.
   */
  scaleModelInput(sample: Float32Array, timestep: number, into?: Float32Array): Float32Array;
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generator?: NoiseSource, into?: StepOutputs): SchedulerStepResult;
  /** Noises clean latents to a timestep (number) or to an explicit step index. */
  addNoise(original: Float32Array, noise: Float32Array, at: NoiseLevel): Float32Array;
  /** An independent copy with the same schedule and state, for branching one trajectory. */
  clone(): DiffusionScheduler;
}
