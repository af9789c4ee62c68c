import { describe, expect, it } from 'vitest';
import { DDIMScheduler } from '../../../pipelines/schedulers/ddim.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import type { NoiseSource } from '../../../pipelines/schedulers/types.js';
import { absMean, absSum, dummyModel, dummyNoiseDeter, dummySampleDeter, plainLoop } from './diffusers-fixtures.js';

/** diffusers tests/schedulers/test_scheduler_ddim.py: 1000 linear betas with clip_sample, 10 steps, eta 0. */
const testConfig = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', clip_sample: true };

function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new DDIMScheduler({ ...testConfig, ...extra });
  scheduler.setTimesteps(10);
  return plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps);
}

describe('DDIMScheduler: diffusers goldens', () => {
  it('test_full_loop_no_noise: sum 172.0067, mean 0.223967', () => {
    const sample = fullLoop();
    expect(Math.abs(absSum(sample) - 172.0067)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.223967)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 52.5302, mean 0.0684', () => {
    const sample = fullLoop({ prediction_type: 'v_prediction' });
    expect(Math.abs(absSum(sample) - 52.5302)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.0684)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_set_alpha_to_one: sum 149.8295, mean 0.1951', () => {
    const sample = fullLoop({ set_alpha_to_one: true, beta_start: 0.01 });
    expect(Math.abs(absSum(sample) - 149.8295)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.1951)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_no_set_alpha_to_one: sum 149.0784, mean 0.1941', () => {
    const sample = fullLoop({ set_alpha_to_one: false, beta_start: 0.01 });
    expect(Math.abs(absSum(sample) - 149.0784)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.1941)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_noise: add_noise at timesteps[8], sum 354.5418, mean 0.4616', () => {
    const scheduler = new DDIMScheduler(testConfig);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const noised = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]);
    const sample = plainLoop(scheduler, noised, timesteps);
    expect(Math.abs(absSum(sample) - 354.5418)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.4616)).toBeLessThan(1e-3);
  });

  it('test_variance', () => {
    const scheduler = new DDIMScheduler(testConfig);
    const cases: [number, number, number][] = [[0, 0, 0.0], [420, 400, 0.14771], [980, 960, 0.3246], [487, 486, 0.00979], [999, 998, 0.02]];
    for (const [t, prev, expected] of cases) expect(Math.abs(scheduler.variance(t, prev) - expected)).toBeLessThan(1e-5);
  });

  it('test_steps_offset: 5 steps with offset 1 are 801, 601, 401, 201, 1', () => {
    const scheduler = new DDIMScheduler({ ...testConfig, steps_offset: 1 });
    scheduler.setTimesteps(5);
    expect(Array.from(scheduler.timesteps)).toEqual([801, 601, 401, 201, 1]);
  });
});

describe('DDIMScheduler from the SDXL config (spec §5.4)', () => {
  const scheduler = new DDIMScheduler(SDXL_SCHEDULER_CONFIG);
  scheduler.setTimesteps(30);

  it('has Euler’s leading timesteps, no sigma scaling and ᾱ_final = ᾱ_0', () => {
    expect(Array.from(scheduler.timesteps.slice(0, 3))).toEqual([958, 925, 892]);
    expect(scheduler.timesteps[29]).toBe(1);
    expect(scheduler.initNoiseSigma).toBe(1);
    expect(scheduler.sigmas).toBeNull();
    const x = new Float32Array([0.25, -2]);
    expect(scheduler.scaleModelInput(x, 958)).toBe(x);
    expect(scheduler.config.clip_sample).toBe(false);
    expect(scheduler.config.set_alpha_to_one).toBe(false);
  });

  it('steps x = √ᾱ_prev·x0 + √(1 − ᾱ_prev)·ε with x0 = (x − √(1 − ᾱ_t)·ε)/√ᾱ_t', () => {
    const ac = scheduler.tables.alphasCumprod;
    const x = new Float32Array([0.7]);
    const eps = new Float32Array([-0.3]);
    const { prevSample, predOriginalSample } = scheduler.step(eps, 958, x);
    const f = Math.fround;
    const x0 = f(f(0.7 - f(f(Math.sqrt(f(1 - ac[958]))) * f(-0.3))) / f(Math.sqrt(ac[958])));
    expect(predOriginalSample![0]).toBe(x0);
    const expected = f(f(f(Math.sqrt(ac[925])) * x0) + f(f(Math.sqrt(f(1 - ac[925]))) * f(-0.3)));
    expect(prevSample[0]).toBe(expected);
  });

  it('adds VP-space noise: √ᾱ_t·x0 + √(1 − ᾱ_t)·noise', () => {
    const ac = scheduler.tables.alphasCumprod;
    const noised = scheduler.addNoise(new Float32Array([1]), new Float32Array([1]), 265);
    expect(noised[0]).toBeCloseTo(Math.sqrt(ac[265]) + Math.sqrt(1 - ac[265]), 6);
  });
});

describe('DDIMScheduler with eta > 0', () => {
  it('adds σ_η·noise from the generator to the deterministic update with the reduced direction term', () => {
    const draws: number[][] = [];
    const ones: NoiseSource = {
      randn(shape) {
        draws.push([...shape]);
        return new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);
      },
    };
    const stochastic = new DDIMScheduler(testConfig, { eta: 1 });
    stochastic.setTimesteps(10);
    const sample = dummySampleDeter();
    const t = stochastic.timesteps[3];
    const out = stochastic.step(dummyModel(sample, t), t, sample, ones).prevSample;
    expect(draws).toEqual([[sample.length]]);
    const variance = stochastic.variance(t, t - 100);
    const std = Math.sqrt(variance);
    const ac = stochastic.tables.alphasCumprod;
    const i = 500;
    const eps = dummyModel(sample, t)[i];
    const x0 = Math.max(-1, Math.min(1, (sample[i] - Math.sqrt(1 - ac[t]) * eps) / Math.sqrt(ac[t])));
    const expected = Math.sqrt(ac[t - 100]) * x0 + Math.sqrt(1 - ac[t - 100] - variance) * eps + std;
    expect(out[i]).toBeCloseTo(expected, 5);
    expect(() => stochastic.step(dummyModel(sample, t), stochastic.timesteps[4], sample)).toThrow(/pass a generator/);
  });

  it('rejects a negative eta', () => {
    expect(() => new DDIMScheduler(testConfig, { eta: -0.5 })).toThrow(/eta/);
  });
});
