import { UserError } from '../errors.js';
import { ConfigReader, type SchedulerConfigInput } from './config.js';
import { f32 } from './float32.js';
import { eulerGuidedStepReference, simdKernels, type SimdKernels } from '../simd/kernels.js';
import { buildNoiseTables, readBetaScheduleConfig, type BetaScheduleConfig, type NoiseTables } from './noise-tables.js';
import {
  checkStepCount,
  eulerInitNoiseSigma,
  eulerSpacedTimesteps,
  interpolateSigmas,
  karrasSigmas,
  logSigmaTable,
  sigmaToTimestep,
  TIMESTEP_SPACINGS,
  type TimestepSpacing,
} from './spacing.js';
import { StepIndexedScheduler, checkSameLength, outputArray } from './step-indexed.js';
import type { DiffusionScheduler, NoiseLevel, NoiseSource, SchedulerStepResult, StepOutputs } from './types.js';

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
    return eulerInitNoiseSigma(this.schedule ? this.schedule.sigmas : this.tables.trainingSigmas, this.config.timestep_spacing);
  }

  setTimesteps(numInferenceSteps: number): void {
    const { num_train_timesteps: trainSteps, timestep_spacing: spacing } = this.config;
    checkStepCount(numInferenceSteps, trainSteps);
    let timesteps = eulerSpacedTimesteps(spacing, trainSteps, numInferenceSteps, this.config.steps_offset);

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
    return this.timestepIndexOrThrow(timestep);
  }

  scaleModelInput(sample: Float32Array, timestep: number, into?: Float32Array): Float32Array {
    return this.scaleBySigma(sample, timestep, into);
  }


  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, generator?: NoiseSource, into?: StepOutputs): SchedulerStepResult {
    const { sigmas } = this.requireSchedule();
    const name = `${this.className}.step`;
    checkSameLength(name, modelOutput, sample);
    const index = this.ensureStepIndex(timestep);
    if (index >= sigmas.length - 1) throw new RangeError(`${name}: the schedule is already finished`);
    const sigma = sigmas[index];
    const nextSigma = sigmas[index + 1];
    const prevSample = outputArray(name, into?.prevSample, sample, sample, modelOutput);
    const predOriginalSample =
      into && !into.predOriginalSample ? null : outputArray(name, into?.predOriginalSample, sample, sample, modelOutput, prevSample);

    const { sChurn, sTmin, sTmax, sNoise } = this.churn;
    const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), 2 ** 0.5 - 1) : 0;
    const sigmaHat = f32(sigma * f32(gamma + 1));
    let current = sample;
    if (gamma > 0) {
      if (!generator) throw new Error(`${name}: s_churn > 0 needs a generator`);
      const noise = generator.randn([sample.length]);
      const noiseScale = f32(Math.sqrt(f32(f32(sigmaHat * sigmaHat) - f32(sigma * sigma))));
      const noiseFactor = f32(sNoise);
      current = new Float32Array(sample.length);
      for (let i = 0; i < sample.length; i++) current[i] = sample[i] + f32(f32(noise[i] * noiseFactor) * noiseScale);
    }

    // x0 estimate, derivative (x − x0)/σ̂ and the Euler update x + d·(σ_next − σ̂), in one pass
    const dt = f32(nextSigma - sigmaHat);
    const type = this.config.prediction_type;
    if (type === 'epsilon') {
      eulerUpdateFromEpsilon(modelOutput, current, sigmaHat, dt, prevSample, predOriginalSample);
    } else if (type === 'v_prediction') {
      const variance = f32(f32(sigma * sigma) + 1);
      const outputScale = f32(-sigma / f32(Math.sqrt(variance)));
      eulerUpdateFromVelocity(modelOutput, current, outputScale, variance, sigmaHat, dt, prevSample, predOriginalSample);
    } else {
      eulerUpdateFromSample(modelOutput, current, sigmaHat, dt, prevSample, predOriginalSample);
    }
    this.currentStepIndex = index + 1;
    return predOriginalSample ? { prevSample, predOriginalSample } : { prevSample };
  }

  /**
   * True when `guidedStep` applies: ε-prediction without churn (every SDXL Euler loop by default).
   */
  get supportsGuidedStep(): boolean {
    return this.config.prediction_type === 'epsilon' && this.churn.sChurn === 0;
  }

  /**
   * `combineGuidance` → `step` → the next `scaleModelInput`, fused into one pass for the guided
   * ε-prediction loops (only when `supportsGuidedStep`). Per element the float32 operations and
   * their order are exactly those of the three separate calls, so the bits are the same:
   * ε = f32(u + f32(g·f32(c − u))), then the Euler update into `prevSample`, then, when
   * `nextInput` (length 2·n, the `[x; x]` UNet feed) is given, f32(x_next / √(σ_next² + 1)) into
   * both halves. `unetOutput` is the raw `[uncond; cond]` UNet output. `kernels` runs the loop
   * (default: the shared WebAssembly SIMD instance; a `GuidedEulerWorkspace`'s to use its buffers in
   * place; null for the JavaScript loop) — the bits are the same either way.
   */
  guidedStep(
    unetOutput: Float32Array,
    guidanceScale: number,
    timestep: number,
    sample: Float32Array,
    prevSample: Float32Array,
    nextInput: Float32Array | null,
    kernels: SimdKernels | null = simdKernels(),
  ): void {
    const { sigmas } = this.requireSchedule();
    const name = `${this.className}.guidedStep`;
    if (!this.supportsGuidedStep) throw new Error(`${name}: needs prediction_type epsilon and no churn`);
    const n = sample.length;
    if (unetOutput.length !== 2 * n) throw new RangeError(`${name}: UNet output has length ${unetOutput.length}, expected ${2 * n}`);
    if (prevSample.length !== n || overlaps(prevSample, sample) || overlaps(prevSample, unetOutput)) {
      throw new RangeError(`${name}: prevSample must be a separate array of length ${n}`);
    }
    if (nextInput && (nextInput.length !== 2 * n || overlaps(nextInput, unetOutput) || overlaps(nextInput, sample) || overlaps(nextInput, prevSample))) {
      throw new RangeError(`${name}: nextInput must be a separate array of length ${2 * n}`);
    }
    const index = this.ensureStepIndex(timestep);
    if (index >= sigmas.length - 1) throw new RangeError(`${name}: the schedule is already finished`);
    if (nextInput && index + 1 >= sigmas.length - 1) throw new RangeError(`${name}: no next step to prepare an input for`);
    const sigma = sigmas[index];
    const nextSigma = sigmas[index + 1];
    // gamma is 0 without churn: σ̂ = f32(σ · f32(0 + 1)) as in `step`
    const sigmaHat = f32(sigma * f32(0 + 1));
    const scalars = {
      guidance: f32(guidanceScale),
      sigmaHat,
      dt: f32(nextSigma - sigmaHat),
      divisor: f32(Math.sqrt(f32(f32(nextSigma * nextSigma) + 1))),
    };
    if (kernels) kernels.eulerGuidedStep(unetOutput, sample, prevSample, nextInput, scalars);
    else eulerGuidedStepReference(unetOutput, sample, prevSample, nextInput, scalars);
    this.currentStepIndex = index + 1;
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

/** True when two arrays share any bytes. */
function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

// The elementwise kernels below round every float32 operation with `f32` in the spec's order; a
// Float32Array store is the last rounding of each output.

/** ε-prediction: x0 = x − f32(σ̂·ε). */
function eulerUpdateFromEpsilon(
  epsilon: Float32Array,
  sample: Float32Array,
  sigmaHat: number,
  dt: number,
  prevSample: Float32Array,
  predOriginalSample: Float32Array | null,
): void {
  const n = sample.length;
  if (predOriginalSample === null) {
    // the hot path of every SDXL loop: a separate loop without the store is measurably faster
    for (let i = 0; i < n; i++) {
      const x = sample[i];
      const x0 = f32(x - f32(sigmaHat * epsilon[i]));
      const derivative = f32(f32(x - x0) / sigmaHat);
      prevSample[i] = x + f32(derivative * dt);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const x = sample[i];
    const x0 = f32(x - f32(sigmaHat * epsilon[i]));
    const derivative = f32(f32(x - x0) / sigmaHat);
    prevSample[i] = x + f32(derivative * dt);
    predOriginalSample[i] = x0;
  }
}

/** v-prediction: x0 = f32(v·outputScale) + f32(x / variance), with the unchurned σ. */
function eulerUpdateFromVelocity(
  velocity: Float32Array,
  sample: Float32Array,
  outputScale: number,
  variance: number,
  sigmaHat: number,
  dt: number,
  prevSample: Float32Array,
  predOriginalSample: Float32Array | null,
): void {
  const n = sample.length;
  for (let i = 0; i < n; i++) {
    const x = sample[i];
    const x0 = f32(f32(velocity[i] * outputScale) + f32(x / variance));
    const derivative = f32(f32(x - x0) / sigmaHat);
    prevSample[i] = x + f32(derivative * dt);
    if (predOriginalSample !== null) predOriginalSample[i] = x0;
  }
}

/** sample / original_sample prediction: the model output is x0. */
function eulerUpdateFromSample(
  predicted: Float32Array,
  sample: Float32Array,
  sigmaHat: number,
  dt: number,
  prevSample: Float32Array,
  predOriginalSample: Float32Array | null,
): void {
  const n = sample.length;
  for (let i = 0; i < n; i++) {
    const x = sample[i];
    const x0 = predicted[i];
    const derivative = f32(f32(x - x0) / sigmaHat);
    prevSample[i] = x + f32(derivative * dt);
    if (predOriginalSample !== null) predOriginalSample[i] = x0;
  }
}
