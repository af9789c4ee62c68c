import { UserError } from '../errors.js';
import { ConfigReader, type SchedulerConfigInput } from './config.js';
import { clamp, f32, roundHalfEven } from './float32.js';
import { buildNoiseTables, readBetaScheduleConfig, type BetaScheduleConfig, type NoiseTables } from './noise-tables.js';
import {
  TIMESTEP_SPACINGS,
  checkStepCount,
  leadingTimesteps,
  linspaceTimesteps,
  trailingTimesteps,
  type TimestepSpacing,
} from './spacing.js';
import { checkSameLength } from './step-indexed.js';
import { thresholdSample } from './thresholding.js';
import type { DiffusionScheduler, NoiseLevel, NoiseSource, SchedulerStepResult } from './types.js';

export interface DDIMConfig extends BetaScheduleConfig {
  clip_sample: boolean;
  set_alpha_to_one: boolean;
  steps_offset: number;
  prediction_type: 'epsilon' | 'sample' | 'v_prediction';
  thresholding: boolean;
  dynamic_thresholding_ratio: number;
  clip_sample_range: number;
  sample_max_value: number;
  timestep_spacing: TimestepSpacing;
}

export interface DDIMOptions {
  /** η of the DDIM paper: 0 is deterministic DDIM, 1 is DDPM-like; η > 0 draws noise every step. */
  readonly eta?: number;
  /** Batch rows in the flat latents, for per-sample dynamic thresholding (default 1). */
  readonly batchSize?: number;
}

export function readDDIMConfig(input: SchedulerConfigInput): DDIMConfig {
  const reader = new ConfigReader(input, 'DDIMScheduler');
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  return {
    ...readBetaScheduleConfig(reader),
    clip_sample: reader.boolean('clip_sample', true),
    set_alpha_to_one: reader.boolean('set_alpha_to_one', true),
    steps_offset: reader.integer('steps_offset', 0, 0),
    prediction_type: reader.choice('prediction_type', 'epsilon', ['epsilon', 'sample', 'v_prediction']),
    thresholding: reader.boolean('thresholding', false),
    dynamic_thresholding_ratio: reader.number('dynamic_thresholding_ratio', 0.995, (v) => v >= 0 && v <= 1, 'a number from 0 to 1'),
    clip_sample_range: reader.number('clip_sample_range', 1.0, positive, 'a number > 0'),
    sample_max_value: reader.number('sample_max_value', 1.0, positive, 'a number > 0'),
    timestep_spacing: reader.choice('timestep_spacing', 'leading', TIMESTEP_SPACINGS),
  };
}

/**
 * diffusers' DDIMScheduler. Latents live in the VP space (√ᾱ·x0 + √(1 − ᾱ)·ε): the initial noise
 * is not scaled, the UNet input is not scaled, and the previous timestep is always t − T div N.
 */
export class DDIMScheduler implements DiffusionScheduler {
  readonly className = 'DDIMScheduler' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly sigmas = null;
  readonly config: Readonly<DDIMConfig>;
  readonly tables: NoiseTables;
  readonly eta: number;
  private readonly batchSize: number;
  private readonly finalAlphaCumprod: number;
  private schedule: Float64Array | null = null;
  private currentStepIndex: number | null = null;
  private firstStepIndex: number | null = null;

  constructor(config: SchedulerConfigInput = {}, options: DDIMOptions = {}) {
    this.config = Object.freeze(readDDIMConfig(config));
    this.tables = buildNoiseTables(this.config, { pinLastAlphaCumprodWhenRescaled: false });
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.tables.alphasCumprod[0];
    this.eta = options.eta ?? 0;
    if (!Number.isFinite(this.eta) || this.eta < 0) throw new UserError(`DDIM eta must be a number ≥ 0, got ${options.eta}`);
    this.batchSize = options.batchSize ?? 1;
  }

  get numInferenceSteps(): number | null {
    return this.schedule ? this.schedule.length : null;
  }

  get timesteps(): Float64Array {
    return this.schedule ?? new Float64Array(0);
  }

  get stepIndex(): number | null {
    return this.currentStepIndex;
  }

  get beginIndex(): number | null {
    return this.firstStepIndex;
  }

  setTimesteps(numInferenceSteps: number): void {
    const { num_train_timesteps: trainSteps, timestep_spacing: spacing } = this.config;
    checkStepCount(numInferenceSteps, trainSteps);
    this.schedule =
      spacing === 'linspace'
        ? linspaceTimesteps(trainSteps, numInferenceSteps).map(roundHalfEven)
        : spacing === 'leading'
          ? leadingTimesteps(trainSteps, numInferenceSteps, this.config.steps_offset)
          : trailingTimesteps(trainSteps, numInferenceSteps);
    this.currentStepIndex = null;
    this.firstStepIndex = null;
  }

  /** diffusers' DDIM has no begin index (it steps by timestep value); kept for the common interface. */
  setBeginIndex(index: number): void {
    const steps = this.requireSchedule().length;
    if (!Number.isInteger(index) || index < 0 || index > steps) {
      throw new RangeError(`${this.className}.setBeginIndex: ${index} is outside 0 … ${steps}`);
    }
    this.firstStepIndex = index;
  }

  indexForTimestep(timestep: number): number {
    const index = this.requireSchedule().indexOf(timestep);
    if (index < 0) throw new RangeError(`${this.className}: timestep ${timestep} is not in the schedule`);
    return index;
  }

  scaleModelInput(sample: Float32Array, _timestep?: number): Float32Array {
    return sample;
  }

  /** diffusers' `_get_variance`: (1 − ᾱ_prev)/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_prev), the η = 1 step variance. */
  variance(timestep: number, prevTimestep: number): number {
    const alphaProd = this.alphaCumprodAt(timestep);
    const alphaProdPrev = prevTimestep >= 0 ? this.alphaCumprodAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    return f32(f32(betaProdPrev / betaProd) * f32(1 - f32(alphaProd / alphaProdPrev)));
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generator?: NoiseSource): SchedulerStepResult {
    const timesteps = this.requireSchedule();
    checkSameLength(`${this.className}.step`, modelOutput, sample);
    const prevTimestep = timestep - Math.floor(this.config.num_train_timesteps / timesteps.length);
    const alphaProd = this.alphaCumprodAt(timestep);
    const alphaProdPrev = prevTimestep >= 0 ? this.alphaCumprodAt(prevTimestep) : this.finalAlphaCumprod;
    const sqrtAlphaProd = f32(Math.sqrt(alphaProd));
    const sqrtBetaProd = f32(Math.sqrt(f32(1 - alphaProd)));
    const n = sample.length;

    let predOriginalSample: Float32Array = new Float32Array(n);
    const predEpsilon = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = sample[i];
      const out = modelOutput[i];
      if (this.config.prediction_type === 'epsilon') {
        predOriginalSample[i] = f32(x - f32(sqrtBetaProd * out)) / sqrtAlphaProd;
        predEpsilon[i] = out;
      } else if (this.config.prediction_type === 'sample') {
        predOriginalSample[i] = out;
        predEpsilon[i] = f32(x - f32(sqrtAlphaProd * out)) / sqrtBetaProd;
      } else {
        predOriginalSample[i] = f32(sqrtAlphaProd * x) - f32(sqrtBetaProd * out);
        predEpsilon[i] = f32(sqrtAlphaProd * out) + f32(sqrtBetaProd * x);
      }
    }

    if (this.config.thresholding) {
      predOriginalSample = thresholdSample(
        predOriginalSample,
        this.batchSize,
        this.config.dynamic_thresholding_ratio,
        this.config.sample_max_value,
      );
    } else if (this.config.clip_sample) {
      const range = f32(this.config.clip_sample_range);
      for (let i = 0; i < n; i++) predOriginalSample[i] = clamp(predOriginalSample[i], -range, range);
    }

    const stdDev = f32(f32(this.eta) * f32(Math.sqrt(this.variance(timestep, prevTimestep))));
    const directionScale = f32(Math.sqrt(f32(f32(1 - alphaProdPrev) - f32(stdDev * stdDev))));
    const sqrtAlphaProdPrev = f32(Math.sqrt(alphaProdPrev));
    const prevSample = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      prevSample[i] = f32(sqrtAlphaProdPrev * predOriginalSample[i]) + f32(directionScale * predEpsilon[i]);
    }
    if (this.eta > 0) {
      if (!generator) throw new Error(`${this.className}.step with eta > 0 draws noise: pass a generator`);
      const noise = generator.randn([n]);
      for (let i = 0; i < n; i++) prevSample[i] = prevSample[i] + f32(stdDev * noise[i]);
    }

    // DDIM steps by timestep value; the index is only bookkeeping, so an off-schedule timestep leaves it unset
    const index = this.currentStepIndex ?? this.firstStepIndex ?? timesteps.indexOf(timestep);
    this.currentStepIndex = index >= 0 ? index + 1 : null;
    return { prevSample, predOriginalSample };
  }

  addNoise(original: Float32Array, noise: Float32Array, at: NoiseLevel): Float32Array {
    checkSameLength(`${this.className}.addNoise`, original, noise);
    const timestep = typeof at === 'number' ? at : this.requireSchedule()[at.stepIndex];
    const alphaProd = this.alphaCumprodAt(timestep);
    const sqrtAlphaProd = f32(Math.sqrt(alphaProd));
    const sqrtOneMinusAlphaProd = f32(Math.sqrt(f32(1 - alphaProd)));
    const out = new Float32Array(original.length);
    for (let i = 0; i < original.length; i++) {
      out[i] = f32(sqrtAlphaProd * original[i]) + f32(sqrtOneMinusAlphaProd * noise[i]);
    }
    return out;
  }

  clone(): DDIMScheduler {
    const copy = Object.create(DDIMScheduler.prototype) as DDIMScheduler;
    Object.assign(copy, this);
    return copy;
  }

  private alphaCumprodAt(timestep: number): number {
    if (!Number.isInteger(timestep) || timestep < 0 || timestep >= this.config.num_train_timesteps) {
      throw new RangeError(`${this.className}: timestep ${timestep} is not an integer in 0 … ${this.config.num_train_timesteps - 1}`);
    }
    return this.tables.alphasCumprod[timestep];
  }

  private requireSchedule(): Float64Array {
    if (!this.schedule) throw new Error(`${this.className}: call setTimesteps(steps) first`);
    return this.schedule;
  }
}
