/**
 * The deterministic fixtures of diffusers' scheduler test suite (tests/schedulers/test_schedulers.py),
 * rebuilt here: a (4, 3, 8, 8) sample holding arange(768)/768 in a permuted layout, the noise holding
 * the flipped arange at the same positions, and the dummy model `sample · t / (t + 1)` in float32.
 * The schedulers work elementwise and the tests compare sums of |x|, so only the pairing of sample
 * and noise values per element matters, not the layout.
 */
import type { DiffusionScheduler } from '../../../pipelines/schedulers/types.js';

const f32 = Math.fround;
const ELEMENTS = 4 * 3 * 8 * 8;

export function dummySampleDeter(): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, k) => k / ELEMENTS);
}

export function dummyNoiseDeter(): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, k) => (ELEMENTS - 1 - k) / ELEMENTS);
}

/** `sample * t / (t + 1)` with t cast to float32, as the dummy model computes it. */
export function dummyModel(sample: Float32Array, timestep: number): Float32Array {
  const t = f32(timestep);
  const denominator = f32(t + 1);
  return sample.map((x) => f32(x * t) / denominator);
}

export function scaled(sample: Float32Array, factor: number): Float32Array {
  return sample.map((x) => x * factor);
}

export function absSum(values: Float32Array): number {
  return values.reduce((sum, v) => sum + Math.abs(v), 0);
}

export function absMean(values: Float32Array): number {
  return absSum(values) / values.length;
}

/** The Euler-family loop of the diffusers tests: scale (and keep the scaled sample), model, step. */
export function eulerLoop(
  scheduler: DiffusionScheduler,
  sample: Float32Array,
  timesteps: ArrayLike<number>,
  generator?: Parameters<DiffusionScheduler['step']>[3],
): Float32Array {
  let current = sample;
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    current = scheduler.scaleModelInput(current, t);
    const output = dummyModel(current, t);
    current = scheduler.step(output, t, current, generator).prevSample;
  }
  return current;
}

/** The DDIM / DPM-Solver loop of the diffusers tests: model on the raw sample, step. */
export function plainLoop(scheduler: DiffusionScheduler, sample: Float32Array, timesteps: ArrayLike<number>): Float32Array {
  let current = sample;
  for (let i = 0; i < timesteps.length; i++) {
    current = scheduler.step(dummyModel(current, timesteps[i]), timesteps[i], current).prevSample;
  }
  return current;
}
