import { UserError } from '../errors.js';
import { f32, interpolateOnIndexGrid, numpyArange, numpyLinspace, roundHalfEven } from './float32.js';

/**
 * How inference timesteps are picked from the training range (Lin et al. 2023, Table 2) and the
 * Karras sigma ramp, each in the exact NumPy arithmetic diffusers uses. All lists are descending.
 */

export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['linspace', 'leading', 'trailing'];

export function checkStepCount(steps: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new UserError(
      `steps must be an integer from 1 to num_train_timesteps (${numTrainTimesteps}), got ${steps}`,
    );
  }
}

/** `np.linspace(0, T − 1, N)[::-1]` in float64 (callers cast or round). */
export function linspaceTimesteps(numTrainTimesteps: number, steps: number): Float64Array {
  return numpyLinspace(0, numTrainTimesteps - 1, steps).reverse();
}

/** `(arange(0, N) · (T div N)).round()[::-1] + steps_offset`. */
export function leadingTimesteps(numTrainTimesteps: number, steps: number, stepsOffset: number): Float64Array {
  const ratio = Math.floor(numTrainTimesteps / steps);
  const out = new Float64Array(steps);
  for (let i = 0; i < steps; i++) out[i] = (steps - 1 - i) * ratio + stepsOffset;
  return out;
}

/** `round(arange(T, 0, −T/N)) − 1`. */
export function trailingTimesteps(numTrainTimesteps: number, steps: number): Float64Array {
  return numpyArange(numTrainTimesteps, 0, -numTrainTimesteps / steps).map((t) => roundHalfEven(t) - 1);
}

/** `np.interp(timesteps, arange(T), σ_full)` for each timestep (float64 results). */
export function interpolateSigmas(timesteps: ArrayLike<number>, trainingSigmas: Float32Array): Float64Array {
  const out = new Float64Array(timesteps.length);
  for (let i = 0; i < timesteps.length; i++) out[i] = interpolateOnIndexGrid(timesteps[i], trainingSigmas);
  return out;
}

/** Karras et al. 2022 ramp with ρ = 7, in float64 from σmax down to σmin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number): Float64Array {
  const rho = 7.0;
  const ramp = numpyLinspace(0, 1, steps);
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInvRho + r * (minInvRho - maxInvRho)) ** rho);
}

/** `np.log` of the float32 training sigmas: a float32 table, ascending in t. */
export function logSigmaTable(trainingSigmas: Float32Array): Float32Array {
  return trainingSigmas.map((s) => f32(Math.log(s)));
}

/**
 * diffusers' `_sigma_to_t`: the fractional timestep whose interpolated log σ equals log σ. The
 * bracketing index is the last one with log σ_full ≤ log σ (clipped to T − 2); the weight mixes a
 * float64 numerator with the float32 bracket width (NumPy ≥ 2 promotion) and is clipped to [0, 1].
 */
export function sigmaToTimestep(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) {
    if (logSigma - logSigmas[i] >= 0) low = i;
  }
  low = Math.min(low, logSigmas.length - 2);
  const high = low + 1;
  const width = f32(logSigmas[low] - logSigmas[high]);
  const weight = Math.min(Math.max((logSigmas[low] - logSigma) / width, 0), 1);
  return (1 - weight) * low + weight * high;
}

/** The spaced timesteps of the Euler-family schedulers for `timestep_spacing` (float32 values, descending). */
export function eulerSpacedTimesteps(spacing: string, numTrainTimesteps: number, steps: number, stepsOffset: number): Float64Array {
  if (spacing === 'linspace') return linspaceTimesteps(numTrainTimesteps, steps).map(f32);
  if (spacing === 'leading') return leadingTimesteps(numTrainTimesteps, steps, stepsOffset);
  return trailingTimesteps(numTrainTimesteps, steps);
}

/**
 * Euler-family `init_noise_sigma`: the largest sigma, or sqrt(σmax² + 1) for "leading" spacing, in float32.
 * Before setTimesteps diffusers holds the training sigmas, whose maximum is the last one.
 */
export function eulerInitNoiseSigma(sigmas: ArrayLike<number>, spacing: string): number {
  let maxSigma = -Infinity;
  for (let i = 0; i < sigmas.length; i++) maxSigma = Math.max(maxSigma, sigmas[i]);
  if (spacing !== 'leading') return maxSigma;
  return f32(Math.sqrt(f32(f32(maxSigma * maxSigma) + 1)));
}
