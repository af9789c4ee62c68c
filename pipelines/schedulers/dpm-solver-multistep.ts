import { UserError } from '../errors.js';
import { ConfigReader, type SchedulerConfigInput } from './config.js';
import { f32, numpyArange, numpyLinspace, roundHalfEven } from './float32.js';
import { buildNoiseTables, readBetaScheduleConfig, type BetaScheduleConfig, type NoiseTables } from './noise-tables.js';
import {
  TIMESTEP_SPACINGS,
  checkStepCount,
  interpolateSigmas,
  karrasSigmas,
  logSigmaTable,
  sigmaToTimestep,
  type TimestepSpacing,
} from './spacing.js';
import { StepIndexedScheduler, checkSameLength } from './step-indexed.js';
import { thresholdSample } from './thresholding.js';
import type { DiffusionScheduler, NoiseLevel, NoiseSource, SchedulerStepResult } from './types.js';

export interface DPMSolverMultistepConfig extends BetaScheduleConfig {
  solver_order: 1 | 2 | 3;
  prediction_type: 'epsilon' | 'sample' | 'v_prediction';
  thresholding: boolean;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  algorithm_type: 'dpmsolver++' | 'dpmsolver';
  solver_type: 'midpoint' | 'heun';
  lower_order_final: boolean;
  euler_at_final: boolean;
  use_karras_sigmas: boolean;
  final_sigmas_type: 'zero' | 'sigma_min';
  lambda_min_clipped: number;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
  /**
   * Not DPM-Solver keys, but diffusers' `from_config` keeps them from a config written for another
   * class (e.g. Euler's), and the Karras ramp then uses them; null when absent.
   */
  sigma_min: number | null;
  sigma_max: number | null;
}

export interface DPMSolverMultistepOptions {
  /** Batch rows in the flat latents, for per-sample dynamic thresholding (default 1). */
  readonly batchSize?: number;
}

export function readDPMSolverMultistepConfig(input: SchedulerConfigInput): DPMSolverMultistepConfig {
  const reader = new ConfigReader(input, 'DPMSolverMultistepScheduler');
  for (const key of ['use_exponential_sigmas', 'use_beta_sigmas', 'use_lu_lambdas', 'use_flow_sigmas', 'use_dynamic_shifting']) {
    reader.unsupportedUnless(key, [false]);
  }
  reader.unsupportedUnless('variance_type', [null]);
  if (typeof input.algorithm_type === 'string' && input.algorithm_type.startsWith('sde-')) {
    reader.unsupportedUnless('algorithm_type', ['dpmsolver++']);
  }
  // diffusers re-registers these legacy names (DEIS / UniPC configs) as the DPM-Solver equivalents.
  const algorithm = input.algorithm_type === 'deis' ? 'dpmsolver++' : reader.choice('algorithm_type', 'dpmsolver++', ['dpmsolver++', 'dpmsolver']);
  const solverType =
    typeof input.solver_type === 'string' && ['logrho', 'bh1', 'bh2'].includes(input.solver_type)
      ? 'midpoint'
      : reader.choice('solver_type', 'midpoint', ['midpoint', 'heun']);
  const positive = (v: number) => Number.isFinite(v) && v > 0;
  const config: DPMSolverMultistepConfig = {
    ...readBetaScheduleConfig(reader),
    solver_order: reader.integer('solver_order', 2, 1, 3) as 1 | 2 | 3,
    prediction_type: reader.choice('prediction_type', 'epsilon', ['epsilon', 'sample', 'v_prediction']),
    thresholding: reader.boolean('thresholding', false),
    dynamic_thresholding_ratio: reader.number('dynamic_thresholding_ratio', 0.995, (v) => v >= 0 && v <= 1, 'a number from 0 to 1'),
    sample_max_value: reader.number('sample_max_value', 1.0, positive, 'a number > 0'),
    algorithm_type: algorithm,
    solver_type: solverType,
    lower_order_final: reader.boolean('lower_order_final', true),
    euler_at_final: reader.boolean('euler_at_final', false),
    use_karras_sigmas: reader.boolean('use_karras_sigmas', false),
    final_sigmas_type: reader.choice('final_sigmas_type', 'zero', ['zero', 'sigma_min']),
    lambda_min_clipped: reader.number('lambda_min_clipped', -Infinity, (v) => !Number.isNaN(v), 'a number or "-Infinity"'),
    timestep_spacing: reader.choice('timestep_spacing', 'linspace', TIMESTEP_SPACINGS),
    steps_offset: reader.integer('steps_offset', 0, 0),
    sigma_min: reader.optionalNumber('sigma_min', positive, 'null or a number > 0'),
    sigma_max: reader.optionalNumber('sigma_max', positive, 'null or a number > 0'),
  };
  if (config.algorithm_type === 'dpmsolver' && config.final_sigmas_type === 'zero') {
    throw new UserError(
      'DPMSolverMultistepScheduler config: "final_sigmas_type" = "zero" is not supported with "algorithm_type" = "dpmsolver" (use "sigma_min")',
    );
  }
  return config;
}

/** α_t = 1/√(σ² + 1) and σ_t = σ·α_t of a VP-space noise level σ. */
function alphaSigma(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigma: sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

/**
 * diffusers' DPMSolverMultistepScheduler (DPM-Solver++ by default, "DPM++ 2M" with solver_order 2
 * and the midpoint solver). Latents live in the VP space like DDIM; the scheduler keeps the last
 * `solver_order` converted model outputs, so a refiner that starts mid-schedule starts first-order.
 */
export class DPMSolverMultistepScheduler extends StepIndexedScheduler implements DiffusionScheduler {
  readonly className = 'DPMSolverMultistepScheduler' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  readonly config: Readonly<DPMSolverMultistepConfig>;
  readonly tables: NoiseTables;
  private readonly batchSize: number;
  private modelOutputs: (Float32Array | null)[];
  private lowerOrderNums = 0;

  constructor(config: SchedulerConfigInput = {}, options: DPMSolverMultistepOptions = {}) {
    super();
    this.config = Object.freeze(readDPMSolverMultistepConfig(config));
    this.tables = buildNoiseTables(this.config, { pinLastAlphaCumprodWhenRescaled: true });
    this.batchSize = options.batchSize ?? 1;
    this.modelOutputs = new Array(this.config.solver_order).fill(null);
  }

  setTimesteps(numInferenceSteps: number): void {
    const config = this.config;
    const trainSteps = config.num_train_timesteps;
    checkStepCount(numInferenceSteps, trainSteps);
    const lastTimestep = trainSteps - this.clippedLambdaCount();

    let timesteps: Float64Array;
    if (config.timestep_spacing === 'linspace') {
      timesteps = numpyLinspace(0, lastTimestep - 1, numInferenceSteps + 1).map(roundHalfEven).reverse().slice(0, numInferenceSteps);
    } else if (config.timestep_spacing === 'leading') {
      const ratio = Math.floor(lastTimestep / (numInferenceSteps + 1));
      timesteps = new Float64Array(numInferenceSteps);
      for (let i = 0; i < numInferenceSteps; i++) timesteps[i] = (numInferenceSteps - i) * ratio + config.steps_offset;
    } else {
      timesteps = numpyArange(lastTimestep, 0, -trainSteps / numInferenceSteps).map((t) => roundHalfEven(t) - 1);
    }

    const trainingSigmas = this.tables.trainingSigmas;
    let sigmas: Float64Array;
    if (config.use_karras_sigmas) {
      sigmas = karrasSigmas(
        config.sigma_min ?? trainingSigmas[0],
        config.sigma_max ?? trainingSigmas[trainSteps - 1],
        numInferenceSteps,
      );
      const logSigmas = logSigmaTable(trainingSigmas);
      const toInteger = config.beta_schedule === 'squaredcos_cap_v2' ? Math.trunc : roundHalfEven;
      timesteps = sigmas.map((s) => toInteger(sigmaToTimestep(s, logSigmas)));
    } else {
      sigmas = interpolateSigmas(timesteps, trainingSigmas);
    }

    const steps = timesteps.length;
    const allSigmas = new Float32Array(steps + 1);
    allSigmas.set(sigmas);
    allSigmas[steps] = config.final_sigmas_type === 'zero' ? 0 : trainingSigmas[0];

    this.schedule = { timesteps, sigmas: allSigmas };
    this.modelOutputs = new Array(config.solver_order).fill(null);
    this.lowerOrderNums = 0;
    this.currentStepIndex = null;
    this.firstStepIndex = null;
  }

  /** How many of the smallest log-SNRs fall below `lambda_min_clipped` (searchsorted on the flip). */
  private clippedLambdaCount(): number {
    const threshold = this.config.lambda_min_clipped;
    if (threshold === -Infinity) return 0;
    const ac = this.tables.alphasCumprod;
    let count = 0;
    for (let t = ac.length - 1; t >= 0; t--) {
      const lambda = f32(f32(Math.log(f32(Math.sqrt(ac[t])))) - f32(Math.log(f32(Math.sqrt(f32(1 - ac[t]))))));
      if (lambda < threshold) count++;
      else break;
    }
    return count;
  }

  /** diffusers' lookup; a timestep missing from the schedule maps to the last index. */
  indexForTimestep(timestep: number): number {
    return this.findTimestepIndex(timestep) ?? this.requireSchedule().timesteps.length - 1;
  }

  scaleModelInput(sample: Float32Array, _timestep?: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, _generator?: NoiseSource): SchedulerStepResult {
    const { timesteps } = this.requireSchedule();
    checkSameLength(`${this.className}.step`, modelOutput, sample);
    const index = this.ensureStepIndex(timestep);
    const steps = timesteps.length;
    if (index >= steps) throw new RangeError(`${this.className}.step: the schedule is already finished`);
    const config = this.config;
    const lowerOrderFinal =
      index === steps - 1 &&
      (config.euler_at_final || (config.lower_order_final && steps < 15) || config.final_sigmas_type === 'zero');
    const lowerOrderSecond = index === steps - 2 && config.lower_order_final && steps < 15;

    const converted = this.convertModelOutput(modelOutput, sample, index);
    this.modelOutputs = [...this.modelOutputs.slice(1), converted];

    let prevSample: Float32Array;
    if (config.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prevSample = this.firstOrderUpdate(converted, sample, index);
    } else if (config.solver_order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate(sample, index);
    } else {
      prevSample = this.thirdOrderUpdate(sample, index);
    }
    if (this.lowerOrderNums < config.solver_order) this.lowerOrderNums++;
    this.currentStepIndex = index + 1;
    return config.algorithm_type === 'dpmsolver++' ? { prevSample, predOriginalSample: converted } : { prevSample };
  }

  /** DPM-Solver++ works on the predicted x0, DPM-Solver on the predicted noise. */
  private convertModelOutput(modelOutput: Float32Array, sample: Float32Array, index: number): Float32Array {
    const { alpha, sigma } = alphaSigma(this.sigmas[index]);
    const n = sample.length;
    const type = this.config.prediction_type;
    if (this.config.algorithm_type === 'dpmsolver++') {
      let x0: Float32Array;
      if (type === 'sample') {
        x0 = Float32Array.from(modelOutput);
      } else {
        x0 = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          x0[i] =
            type === 'epsilon'
              ? f32(sample[i] - f32(sigma * modelOutput[i])) / alpha
              : f32(alpha * sample[i]) - f32(sigma * modelOutput[i]);
        }
      }
      return this.config.thresholding ? this.threshold(x0) : x0;
    }

    let epsilon: Float32Array;
    if (type === 'epsilon') {
      epsilon = Float32Array.from(modelOutput);
    } else {
      epsilon = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        epsilon[i] =
          type === 'sample'
            ? f32(sample[i] - f32(alpha * modelOutput[i])) / sigma
            : f32(alpha * modelOutput[i]) + f32(sigma * sample[i]);
      }
    }
    if (!this.config.thresholding) return epsilon;
    const x0 = new Float32Array(n);
    for (let i = 0; i < n; i++) x0[i] = f32(sample[i] - f32(sigma * epsilon[i])) / alpha;
    const thresholded = this.threshold(x0);
    for (let i = 0; i < n; i++) epsilon[i] = f32(sample[i] - f32(alpha * thresholded[i])) / sigma;
    return epsilon;
  }

  private threshold(x0: Float32Array): Float32Array {
    return thresholdSample(x0, this.batchSize, this.config.dynamic_thresholding_ratio, this.config.sample_max_value);
  }

  private firstOrderUpdate(converted: Float32Array, sample: Float32Array, index: number): Float32Array {
    const target = alphaSigma(this.sigmas[index + 1]);
    const source = alphaSigma(this.sigmas[index]);
    const h = f32(target.lambda - source.lambda);
    if (this.config.algorithm_type === 'dpmsolver++') {
      const expMinusH = f32(Math.exp(-h));
      return combine(sample, f32(target.sigma / source.sigma), [[converted, -f32(target.alpha * f32(expMinusH - 1))]]);
    }
    const expH = f32(Math.exp(h));
    return combine(sample, f32(target.alpha / source.alpha), [[converted, -f32(target.sigma * f32(expH - 1))]]);
  }

  private secondOrderUpdate(sample: Float32Array, index: number): Float32Array {
    const [m1, m0] = this.history(2);
    const t = alphaSigma(this.sigmas[index + 1]);
    const s0 = alphaSigma(this.sigmas[index]);
    const s1 = alphaSigma(this.sigmas[index - 1]);
    const h = f32(t.lambda - s0.lambda);
    const h0 = f32(s0.lambda - s1.lambda);
    const r0 = f32(h0 / h);
    const d1 = scaledDifference(f32(1 / r0), m0, m1);
    const midpoint = this.config.solver_type === 'midpoint';
    if (this.config.algorithm_type === 'dpmsolver++') {
      const phi = f32(t.alpha * f32(f32(Math.exp(-h)) - 1));
      const d1Coefficient = midpoint ? -f32(0.5 * phi) : f32(t.alpha * f32(f32(f32(f32(Math.exp(-h)) - 1) / h) + 1));
      return combine(sample, f32(t.sigma / s0.sigma), [
        [m0, -phi],
        [d1, d1Coefficient],
      ]);
    }
    const phi = f32(t.sigma * f32(f32(Math.exp(h)) - 1));
    const d1Coefficient = midpoint ? -f32(0.5 * phi) : -f32(t.sigma * f32(f32(f32(f32(Math.exp(h)) - 1) / h) - 1));
    return combine(sample, f32(t.alpha / s0.alpha), [
      [m0, -phi],
      [d1, d1Coefficient],
    ]);
  }

  private thirdOrderUpdate(sample: Float32Array, index: number): Float32Array {
    const [m2, m1, m0] = this.history(3);
    const t = alphaSigma(this.sigmas[index + 1]);
    const s0 = alphaSigma(this.sigmas[index]);
    const s1 = alphaSigma(this.sigmas[index - 1]);
    const s2 = alphaSigma(this.sigmas[index - 2]);
    const h = f32(t.lambda - s0.lambda);
    const r0 = f32(f32(s0.lambda - s1.lambda) / h);
    const r1 = f32(f32(s1.lambda - s2.lambda) / h);
    const d10 = scaledDifference(f32(1 / r0), m0, m1);
    const d11 = scaledDifference(f32(1 / r1), m1, m2);
    const rSum = f32(r0 + r1);
    const d1 = new Float32Array(d10.length);
    const d2 = new Float32Array(d10.length);
    const d1Weight = f32(r0 / rSum);
    const d2Weight = f32(1 / rSum);
    for (let i = 0; i < d10.length; i++) {
      const difference = f32(d10[i] - d11[i]);
      d1[i] = d10[i] + f32(d1Weight * difference);
      d2[i] = f32(d2Weight * difference);
    }
    const hSquared = f32(h * h);
    if (this.config.algorithm_type === 'dpmsolver++') {
      const em1 = f32(f32(Math.exp(-h)) - 1);
      return combine(sample, f32(t.sigma / s0.sigma), [
        [m0, -f32(t.alpha * em1)],
        [d1, f32(t.alpha * f32(f32(em1 / h) + 1))],
        [d2, -f32(t.alpha * f32(f32(f32(em1 + h) / hSquared) - 0.5))],
      ]);
    }
    const ep1 = f32(f32(Math.exp(h)) - 1);
    return combine(sample, f32(t.alpha / s0.alpha), [
      [m0, -f32(t.sigma * ep1)],
      [d1, -f32(t.sigma * f32(f32(ep1 / h) - 1))],
      [d2, -f32(t.sigma * f32(f32(f32(ep1 - h) / hSquared) - 0.5))],
    ]);
  }

  /** The last `count` converted outputs, oldest first. */
  private history(count: number): Float32Array[] {
    const recent = this.modelOutputs.slice(-count);
    if (recent.some((m) => m === null)) throw new Error(`${this.className}: missing model output history`);
    return recent as Float32Array[];
  }

  addNoise(original: Float32Array, noise: Float32Array, at: NoiseLevel): Float32Array {
    this.requireSchedule();
    checkSameLength(`${this.className}.addNoise`, original, noise);
    const { alpha, sigma } = alphaSigma(this.sigmas[this.noiseLevelIndex(at)]);
    const out = new Float32Array(original.length);
    for (let i = 0; i < original.length; i++) out[i] = f32(alpha * original[i]) + f32(sigma * noise[i]);
    return out;
  }

  clone(): DPMSolverMultistepScheduler {
    const copy = Object.create(DPMSolverMultistepScheduler.prototype) as DPMSolverMultistepScheduler;
    Object.assign(copy, this);
    copy.modelOutputs = [...this.modelOutputs];
    return copy;
  }
}

/** `scale · (a − b)` elementwise, the D1 terms. */
function scaledDifference(scale: number, a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f32(scale * f32(a[i] - b[i]));
  return out;
}

/**
 * `sampleScale·x + c₁·T₁ + c₂·T₂ + …`, accumulated left to right with one float32 rounding per
 * operation; a subtraction `− c·T` is passed as the coefficient −c (IEEE a − b ≡ a + (−b)).
 */
function combine(sample: Float32Array, sampleScale: number, terms: readonly (readonly [Float32Array, number])[]): Float32Array {
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    let acc = f32(sampleScale * sample[i]);
    for (const [tensor, coefficient] of terms) acc = f32(acc + f32(coefficient * tensor[i]));
    out[i] = acc;
  }
  return out;
}
