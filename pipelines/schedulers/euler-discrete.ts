import { UserError } from '../errors.js';
import { ConfigReader, type SchedulerConfigInput } from './config.js';
import { f32 } from './float32.js';
import { buildNoiseTables, readBetaScheduleConfig, type BetaScheduleConfig, type NoiseTables } from './noise-tables.js';
import {
  TIMESTEP_SPACINGS,
  checkStepCount,
  interpolateSigmas,
  karrasSigmas,
  leadingTimesteps,
  linspaceTimesteps,
  logSigmaTable,
  sigmaToTimestep,
  trailingTimesteps,
  type TimestepSpacing,
} from './spacing.js';
import { StepIndexedScheduler, checkSameLength } from './step-indexed.js';
import type { DiffusionScheduler, NoiseLevel, NoiseSource, SchedulerStepResult } from './types.js';

export interface EulerDiscreteConfig extends BetaScheduleConfig {
  prediction_type: 'epsilon' | 'v_prediction' | 'sample' | 'original_sample';
  interpolation_type: 'linear';
  use_karras_sigmas: boolean;
  sigma_min: number | null;
  sigma_max: number | null;
  timestep_spacing: TimestepSpacing;
  timestep_type: 'discrete' | 'continuous';
  steps_offset: number;
  final_sigmas_type: 'zero' | 'sigma_min';
}

/** The stochastic-churn arguments of diffusers' `EulerDiscreteScheduler.step` (all off by default). */
export interface EulerChurnOptions {
  readonly sChurn?: number;
  readonly sTmin?: number;
  readonly sTmax?: number;
  readonly sNoise?: number;
}

export function readEulerDiscreteConfig(input: SchedulerConfigInput): EulerDiscreteConfig {
  const reader = new ConfigReader(input, 'EulerDiscreteScheduler');
  for (const key of ['use_exponential_sigmas', 'use_beta_sigmas']) reader.unsupportedUnless(key, [false]);
  reader.unsupportedUnless('interpolation_type', ['linear']);
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  const config: EulerDiscreteConfig = {
    ...readBetaScheduleConfig(reader),
    prediction_type: reader.choice('prediction_type', 'epsilon', ['epsilon', 'v_prediction', 'sample', 'original_sample']),
    interpolation_type: 'linear',
    use_karras_sigmas: reader.boolean('use_karras_sigmas', false),
    sigma_min: reader.optionalNumber('sigma_min', positive, 'null or a number > 0'),
    sigma_max: reader.optionalNumber('sigma_max', positive, 'null or a number > 0'),
    timestep_spacing: reader.choice('timestep_spacing', 'linspace', TIMESTEP_SPACINGS),
    timestep_type: reader.choice('timestep_type', 'discrete', ['discrete', 'continuous']),
    steps_offset: reader.integer('steps_offset', 0, 0),
    final_sigmas_type: reader.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min']),
  };
  if (config.timestep_type === 'continuous' && config.prediction_type === 'v_prediction') {
    throw new UserError(
      'EulerDiscreteScheduler config: "timestep_type" = "continuous" with "prediction_type" = "v_prediction" ' +
        '(EDM-style timesteps) is not supported by refinery (use "discrete")',
    );
  }
  return config;
}

/**
 * diffusers' EulerDiscreteScheduler (k-diffusion's Euler method), the SDXL default. Latents live in
 * the "x0 + σ·ε" space: the UNet input is divided by √(σ² + 1), and `addNoise` is x0 + σ·noise.
 */
export class EulerDiscreteScheduler extends StepIndexedScheduler implements DiffusionScheduler {
  readonly className = 'EulerDiscreteScheduler' as const;
  readonly order = 1;
  readonly config: Readonly<EulerDiscreteConfig>;
  readonly tables: NoiseTables;
  private readonly churn: Required<EulerChurnOptions>;

  constructor(config: SchedulerConfigInput = {}, churn: EulerChurnOptions = {}) {
    super();
    this.config = Object.freeze(readEulerDiscreteConfig(config));
    this.tables = buildNoiseTables(this.config, { pinLastAlphaCumprodWhenRescaled: true });
    this.churn = { sChurn: 0, sTmin: 0, sTmax: Infinity, sNoise: 1, ...churn };
  }

  get initNoiseSigma(): number {
    // before setTimesteps diffusers holds the training sigmas, whose maximum is the last one
    const sigmas = this.schedule ? this.schedule.sigmas : this.tables.trainingSigmas;
    const maxSigma = sigmas.reduce((m, s) => Math.max(m, s), -Infinity);
    if (this.config.timestep_spacing !== 'leading') return maxSigma;
    return f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1)));
  }

  setTimesteps(numInferenceSteps: number): void {
    const { num_train_timesteps: trainSteps, timestep_spacing: spacing } = this.config;
    checkStepCount(numInferenceSteps, trainSteps);
    let timesteps =
      spacing === 'linspace'
        ? linspaceTimesteps(trainSteps, numInferenceSteps).map(f32)
        : spacing === 'leading'
          ? leadingTimesteps(trainSteps, numInferenceSteps, this.config.steps_offset)
          : trailingTimesteps(trainSteps, numInferenceSteps);

    let sigmas = interpolateSigmas(timesteps, this.tables.trainingSigmas);
    if (this.config.use_karras_sigmas) {
      const sigmaMin = this.config.sigma_min ?? sigmas[sigmas.length - 1];
      const sigmaMax = this.config.sigma_max ?? sigmas[0];
      sigmas = karrasSigmas(sigmaMin, sigmaMax, numInferenceSteps);
      const logSigmas = logSigmaTable(this.tables.trainingSigmas);
      timesteps = sigmas.map((s) => f32(sigmaToTimestep(s, logSigmas)));
    }

    const finalSigma = this.config.final_sigmas_type === 'zero' ? 0 : this.tables.trainingSigmas[0];
    const allSigmas = new Float32Array(numInferenceSteps + 1);
    allSigmas.set(sigmas);
    allSigmas[numInferenceSteps] = finalSigma;

    this.schedule = { timesteps, sigmas: allSigmas };
    this.currentStepIndex = null;
    this.firstStepIndex = null;
  }

  indexForTimestep(timestep: number): number {
    const index = this.findTimestepIndex(timestep);
    if (index === undefined) throw new RangeError(`${this.className}: timestep ${timestep} is not in the schedule`);
    return index;
  }

  scaleModelInput(sample: Float32Array, timestep: number): Float32Array {
    this.requireSchedule();
    const sigma = this.sigmas[this.ensureStepIndex(timestep)];
    const divisor = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i] / divisor;
    return out;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generator?: NoiseSource): SchedulerStepResult {
    const { sigmas } = this.requireSchedule();
    checkSameLength(`${this.className}.step`, modelOutput, sample);
    const index = this.ensureStepIndex(timestep);
    if (index >= sigmas.length - 1) throw new RangeError(`${this.className}.step: the schedule is already finished`);
    const sigma = sigmas[index];
    const nextSigma = sigmas[index + 1];

    const { sChurn, sTmin, sTmax, sNoise } = this.churn;
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f32(sigma * f32(gamma + 1));
    let current = sample;
    if (gamma > 0) {
      if (!generator) throw new Error(`${this.className}.step: s_churn > 0 needs a generator`);
      const noise = generator.randn([sample.length]);
      const noiseScale = f32(Math.sqrt(f32(f32(sigmaHat * sigmaHat) - f32(sigma * sigma))));
      const noiseFactor = f32(sNoise);
      current = new Float32Array(sample.length);
      for (let i = 0; i < sample.length; i++) current[i] = sample[i] + f32(f32(noise[i] * noiseFactor) * noiseScale);
    }

    const predOriginalSample = this.predictOriginal(modelOutput, current, sigma, sigmaHat);
    const dt = f32(nextSigma - sigmaHat);
    const prevSample = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const derivative = f32(f32(current[i] - predOriginalSample[i]) / sigmaHat);
      prevSample[i] = current[i] + f32(derivative * dt);
    }
    this.currentStepIndex = index + 1;
    return { prevSample, predOriginalSample };
  }

  private predictOriginal(modelOutput: Float32Array, sample: Float32Array, sigma: number, sigmaHat: number): Float32Array {
    const type = this.config.prediction_type;
    if (type === 'sample' || type === 'original_sample') return Float32Array.from(modelOutput);
    const out = new Float32Array(sample.length);
    if (type === 'epsilon') {
      for (let i = 0; i < sample.length; i++) out[i] = sample[i] - f32(sigmaHat * modelOutput[i]);
      return out;
    }
    const variance = f32(f32(sigma * sigma) + 1);
    const outputScale = f32(-sigma / f32(Math.sqrt(variance)));
    for (let i = 0; i < sample.length; i++) {
      out[i] = f32(modelOutput[i] * outputScale) + f32(sample[i] / variance);
    }
    return out;
  }

  addNoise(original: Float32Array, noise: Float32Array, at: NoiseLevel): Float32Array {
    this.requireSchedule();
    checkSameLength(`${this.className}.addNoise`, original, noise);
    const sigma = this.sigmas[this.noiseLevelIndex(at)];
    const out = new Float32Array(original.length);
    for (let i = 0; i < original.length; i++) out[i] = original[i] + f32(noise[i] * sigma);
    return out;
  }

  clone(): EulerDiscreteScheduler {
    const copy = Object.create(EulerDiscreteScheduler.prototype) as EulerDiscreteScheduler;
    Object.assign(copy, this);
    return copy;
  }
}
