import { UserError } from '../errors.js';
import { ConfigReader, type SchedulerConfigInput } from './config.js';
import { f32 } from './float32.js';
import { buildNoiseTables, readBetaScheduleConfig, type BetaScheduleConfig, type NoiseTables } from './noise-tables.js';
import {
  checkStepCount,
  eulerInitNoiseSigma,
  eulerSpacedTimesteps,
  interpolateSigmas,
  TIMESTEP_SPACINGS,
  type TimestepSpacing,
} from './spacing.js';
import { StepIndexedScheduler, checkSameLength, outputArray } from './step-indexed.js';
import type { DiffusionScheduler, NoiseLevel, NoiseSource, SchedulerStepResult, StepOutputs } from './types.js';

export interface EulerAncestralDiscreteConfig extends BetaScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction';
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

export function readEulerAncestralDiscreteConfig(input: SchedulerConfigInput): EulerAncestralDiscreteConfig {
  const reader = new ConfigReader(input, 'EulerAncestralDiscreteScheduler');
  if (input.prediction_type === 'sample') {
    throw new UserError(
      'EulerAncestralDiscreteScheduler config: "prediction_type" = "sample" is not implemented in diffusers ' +
        '(use "epsilon" or "v_prediction")',
    );
  }
  return {
    ...readBetaScheduleConfig(reader),
    prediction_type: reader.choice('prediction_type', 'epsilon', ['epsilon', 'v_prediction']),
    timestep_spacing: reader.choice('timestep_spacing', 'linspace', TIMESTEP_SPACINGS),
    steps_offset: reader.integer('steps_offset', 0, 0),
  };
}

/**
 * diffusers' EulerAncestralDiscreteScheduler: an Euler step down to σ_down followed by fresh noise
 * of size σ_up drawn from the generator at every step (including the last, where σ_up = 0).
 */
export class EulerAncestralDiscreteScheduler extends StepIndexedScheduler implements DiffusionScheduler {
  readonly className = 'EulerAncestralDiscreteScheduler' as const;
  readonly order = 1;
  readonly config: Readonly<EulerAncestralDiscreteConfig>;
  readonly tables: NoiseTables;

  constructor(config: SchedulerConfigInput = {}) {
    super();
    this.config = Object.freeze(readEulerAncestralDiscreteConfig(config));
    this.tables = buildNoiseTables(this.config, { pinLastAlphaCumprodWhenRescaled: true });
  }

  get initNoiseSigma(): number {
    return eulerInitNoiseSigma(this.schedule ? this.schedule.sigmas : this.tables.trainingSigmas, this.config.timestep_spacing);
  }

  setTimesteps(numInferenceSteps: number): void {
    const { num_train_timesteps: trainSteps, timestep_spacing: spacing } = this.config;
    checkStepCount(numInferenceSteps, trainSteps);
    const timesteps = eulerSpacedTimesteps(spacing, trainSteps, numInferenceSteps, this.config.steps_offset);
    const sigmas = new Float32Array(numInferenceSteps + 1);
    sigmas.set(interpolateSigmas(timesteps, this.tables.trainingSigmas));
    this.schedule = { timesteps, sigmas };
    this.currentStepIndex = null;
    this.firstStepIndex = null;
  }

  indexForTimestep(timestep: number): number {
    return this.timestepIndexOrThrow(timestep);
  }

  scaleModelInput(sample: Float32Array, timestep: number, into?: Float32Array): Float32Array {
    return this.scaleBySigma(sample, timestep, into);
  }


  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generator?: NoiseSource, into?: StepOutputs): SchedulerStepResult {
    const { sigmas } = this.requireSchedule();
    const name = `${this.className}.step`;
    checkSameLength(name, modelOutput, sample);
    if (!generator) throw new Error(`${name} draws noise at every step: pass a generator`);
    const index = this.ensureStepIndex(timestep);
    if (index >= sigmas.length - 1) throw new RangeError(`${name}: the schedule is already finished`);
    const sigmaFrom = sigmas[index];
    const sigmaTo = sigmas[index + 1];
    const sigmaFromSq = f32(sigmaFrom * sigmaFrom);
    const sigmaToSq = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(sigmaToSq * f32(sigmaFromSq - sigmaToSq)) / sigmaFromSq)));
    const sigmaDown = f32(Math.sqrt(f32(sigmaToSq - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigmaFrom);

    const prevSample = outputArray(name, into?.prevSample, sample, sample, modelOutput);
    const predOriginalSample =
      into && !into.predOriginalSample ? null : outputArray(name, into?.predOriginalSample, sample, sample, modelOutput, prevSample);
    const noise = generator.randn([sample.length]);
    const epsilon = this.config.prediction_type === 'epsilon';
    // v-prediction: x0 = f32(v·outputScale) + f32(x / variance)
    const variance = f32(sigmaFromSq + 1);
    const outputScale = f32(-sigmaFrom / f32(Math.sqrt(variance)));
    const n = sample.length;
    // x0 estimate, derivative (x − x0)/σ, deterministic step to σ_down, then noise·σ_up, in one pass
    for (let i = 0; i < n; i++) {
      const x = sample[i];
      const x0 = epsilon ? f32(x - f32(sigmaFrom * modelOutput[i])) : f32(f32(modelOutput[i] * outputScale) + f32(x / variance));
      const derivative = f32(f32(x - x0) / sigmaFrom);
      const deterministic = f32(x + f32(derivative * dt));
      prevSample[i] = deterministic + f32(noise[i] * sigmaUp);
      if (predOriginalSample !== null) predOriginalSample[i] = x0;
    }
    this.currentStepIndex = index + 1;
    return predOriginalSample ? { prevSample, predOriginalSample } : { prevSample };
  }

  addNoise(original: Float32Array, noise: Float32Array, at: NoiseLevel): Float32Array {
    this.requireSchedule();
    checkSameLength(`${this.className}.addNoise`, original, noise);
    const sigma = this.sigmas[this.noiseLevelIndex(at)];
    const out = new Float32Array(original.length);
    for (let i = 0; i < original.length; i++) out[i] = original[i] + f32(noise[i] * sigma);
    return out;
  }

  clone(): EulerAncestralDiscreteScheduler {
    const copy = Object.create(EulerAncestralDiscreteScheduler.prototype) as EulerAncestralDiscreteScheduler;
    Object.assign(copy, this);
    return copy;
  }
}
