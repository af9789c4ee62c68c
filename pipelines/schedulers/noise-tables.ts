import type { ConfigReader } from './config.js';
import { f32, torchLinspaceFloat32 } from './float32.js';

/** The training-time noise schedule keys every scheduler shares (diffusers names and defaults). */
export interface BetaScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas: number[] | null;
  rescale_betas_zero_snr: boolean;
}

export function readBetaScheduleConfig(reader: ConfigReader): BetaScheduleConfig {
  const numTrainTimesteps = reader.integer('num_train_timesteps', 1000, 2);
  const nonNegative = (v: number) => Number.isFinite(v) && v >= 0;
  return {
    num_train_timesteps: numTrainTimesteps,
    beta_start: reader.number('beta_start', 0.0001, nonNegative, 'a number ≥ 0'),
    beta_end: reader.number('beta_end', 0.02, nonNegative, 'a number ≥ 0'),
    beta_schedule: reader.choice('beta_schedule', 'linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
    trained_betas: reader.numberList('trained_betas', numTrainTimesteps),
    rescale_betas_zero_snr: reader.boolean('rescale_betas_zero_snr', false),
  };
}

/** Per-timestep tables, index t = 0 … num_train_timesteps − 1, all float32 as torch holds them. */
export interface NoiseTables {
  readonly numTrainTimesteps: number;
  readonly betas: Float32Array;
  readonly alphas: Float32Array;
  /** ᾱ_t: torch's CPU cumprod accumulates in float64 and rounds every prefix to float32. */
  readonly alphasCumprod: Float32Array;
  /** σ_full[t] = √((1 − ᾱ_t)/ᾱ_t), one float32 rounding per operation. */
  readonly trainingSigmas: Float32Array;
}

export interface NoiseTableOptions {
  /**
   * Euler, Euler-Ancestral and DPM-Solver replace the last ᾱ by 2⁻²⁴ after a zero-terminal-SNR
   * rescale (so the first sigma is finite); DDIM keeps the exact zero.
   */
  readonly pinLastAlphaCumprodWhenRescaled: boolean;
}

export function buildNoiseTables(config: BetaScheduleConfig, options: NoiseTableOptions): NoiseTables {
  const n = config.num_train_timesteps;
  let betas = initialBetas(config);
  if (config.rescale_betas_zero_snr) betas = rescaleToZeroTerminalSnr(betas);

  const alphas = new Float32Array(n);
  for (let t = 0; t < n; t++) alphas[t] = f32(1 - betas[t]);
  const alphasCumprod = cumulativeProduct(alphas);
  if (config.rescale_betas_zero_snr && options.pinLastAlphaCumprodWhenRescaled) alphasCumprod[n - 1] = 2 ** -24;

  const trainingSigmas = new Float32Array(n);
  for (let t = 0; t < n; t++) trainingSigmas[t] = sigmaFromAlphaCumprod(alphasCumprod[t]);
  return { numTrainTimesteps: n, betas, alphas, alphasCumprod, trainingSigmas };
}

/** `((1 − ᾱ) / ᾱ) ** 0.5` on a float32 value. */
export function sigmaFromAlphaCumprod(alphaCumprod: number): number {
  return f32(Math.sqrt(f32(f32(1 - alphaCumprod) / alphaCumprod)));
}

function initialBetas(config: BetaScheduleConfig): Float32Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas) return Float32Array.from(config.trained_betas);
  switch (config.beta_schedule) {
    case 'linear':
      return torchLinspaceFloat32(config.beta_start, config.beta_end, n);
    case 'scaled_linear': {
      const roots = torchLinspaceFloat32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
  }
}

/** Glide's cosine schedule ("betas_for_alpha_bar"), computed in float64 and stored as float32. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  const betas = new Float32Array(n);
  for (let i = 0; i < n; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  return betas;
}

function cumulativeProduct(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let accumulator = 1.0;
  for (let i = 0; i < values.length; i++) {
    accumulator *= values[i];
    out[i] = accumulator;
  }
  return out;
}

/** Lin et al. 2023, Algorithm 1, in float32 tensor arithmetic as diffusers runs it. */
function rescaleToZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const alphas = betas.map((b) => f32(1 - b));
  const sqrtAlphaBar = cumulativeProduct(alphas).map((a) => f32(Math.sqrt(a)));
  const first = sqrtAlphaBar[0];
  const last = sqrtAlphaBar[n - 1];
  const scale = f32(first / f32(first - last));
  const alphaBar = sqrtAlphaBar.map((s) => {
    const shifted = f32(f32(s - last) * scale);
    return f32(shifted * shifted);
  });
  const rescaled = new Float32Array(n);
  rescaled[0] = f32(1 - alphaBar[0]);
  for (let i = 1; i < n; i++) rescaled[i] = f32(1 - f32(alphaBar[i] / alphaBar[i - 1]));
  return rescaled;
}
