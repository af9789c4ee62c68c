/**
 * The deterministic fixtures of diffusers' scheduler test suite (tests/schedulers/test_schedulers.py),
 * rebuilt here: a (4, 3, 8, 8) sample that is arange(768)/768 reshaped to (3, 8, 8, 4) and permuted
 * to (b, c, h, w), the noise built the same way from the flipped arange, and the dummy model
 * `sample · t / (t + 1)` in float32. Arrays are in contiguous (b, c, h, w) order, the order in which
 * torch.randn fills a fresh tensor, so generator noise meets the same sample element as in diffusers.
 */
import type { DiffusionScheduler } from '../../../pipelines/schedulers/types.js';

const f32 = Math.fround;
const [BATCH, CHANNELS, HEIGHT, WIDTH] = [4, 3, 8, 8];
const ELEMENTS = BATCH * CHANNELS * HEIGHT * WIDTH;

/** Position in arange(768) of the element at contiguous (b, c, h, w) index `index`. */
function arangeIndex(index: number): number {
  const w = index % WIDTH;
  const h = Math.floor(index / WIDTH) % HEIGHT;
  const c = Math.floor(index / (WIDTH * HEIGHT)) % CHANNELS;
  const b = Math.floor(index / (WIDTH * HEIGHT * CHANNELS));
  return ((c * HEIGHT + h) * WIDTH + w) * BATCH + b;
}

export function dummySampleDeter(): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, i) => arangeIndex(i) / ELEMENTS);
}

export function dummyNoiseDeter(): Float32Array {
  return Float32Array.from({ length: ELEMENTS }, (_, i) => (ELEMENTS - 1 - arangeIndex(i)) / ELEMENTS);
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
