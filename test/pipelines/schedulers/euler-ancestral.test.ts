import { describe, expect, it } from 'vitest';
import { UserError } from '../../../pipelines/errors.js';
import { EulerAncestralDiscreteScheduler } from '../../../pipelines/schedulers/euler-ancestral-discrete.js';
import { EulerDiscreteScheduler } from '../../../pipelines/schedulers/euler-discrete.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import type { NoiseSource } from '../../../pipelines/schedulers/types.js';
import { TorchGenerator } from '../../../pipelines/noise/torch-generator.js';
import { absMean, absSum, dummyModel, dummyNoiseDeter, dummySampleDeter, eulerLoop, scaled } from './diffusers-fixtures.js';

const f = Math.fround;

/** A generator that records its draws and returns a constant. */
function constantNoise(value: number): NoiseSource & { draws: number[][] } {
  const draws: number[][] = [];
  return {
    draws,
    randn(shape) {
      draws.push([...shape]);
      return new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value);
    },
  };
}

describe('EulerAncestralDiscreteScheduler', () => {
  it('shares Euler’s schedule and initial noise scale', () => {
    const ancestral = new EulerAncestralDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    const euler = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    ancestral.setTimesteps(30);
    euler.setTimesteps(30);
    expect(Array.from(ancestral.timesteps)).toEqual(Array.from(euler.timesteps));
    expect(Array.from(ancestral.sigmas)).toEqual(Array.from(euler.sigmas));
    expect(ancestral.initNoiseSigma).toBe(euler.initNoiseSigma);
  });

  it('steps to σ_down and adds σ_up·noise, with σ_up² + σ_down² = σ_next²', () => {
    const scheduler = new EulerAncestralDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(30);
    const x = new Float32Array([1.5, -0.5]);
    const eps = new Float32Array([0.3, -0.1]);
    const t = scheduler.timesteps[0];
    const noise = constantNoise(1);
    const { prevSample, predOriginalSample } = scheduler.step(eps, t, x, noise);
    expect(noise.draws).toEqual([[2]]);

    const [from, to] = [scheduler.sigmas[0], scheduler.sigmas[1]];
    const up = f(Math.sqrt(f(f(f(to * to) * f(f(from * from) - f(to * to))) / f(from * from))));
    const down = f(Math.sqrt(f(f(to * to) - f(up * up))));
    expect(up * up + down * down).toBeCloseTo(to * to, 4);
    const x0 = f(x[0] - f(from * eps[0]));
    expect(predOriginalSample![0]).toBe(x0);
    const derivative = f(f(x[0] - x0) / from);
    expect(prevSample[0]).toBe(f(f(x[0] + f(derivative * f(down - from))) + up));
  });

  it('draws noise on every step, also the last one where σ_up = 0', () => {
    const scheduler = new EulerAncestralDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(3);
    const noise = constantNoise(5);
    let sample = dummySampleDeter();
    for (const t of scheduler.timesteps) {
      sample = scheduler.scaleModelInput(sample, t);
      sample = scheduler.step(dummyModel(sample, t), t, sample, noise).prevSample;
    }
    expect(noise.draws).toEqual([[768], [768], [768]]);

    const lastStep = (value: number) => {
      const s = new EulerAncestralDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
      s.setTimesteps(3);
      s.setBeginIndex(2);
      const t = s.timesteps[2];
      const x = s.scaleModelInput(dummySampleDeter(), t);
      return Array.from(s.step(dummyModel(x, t), t, x, constantNoise(value)).prevSample);
    };
    expect(lastStep(5)).toEqual(lastStep(0));
  });

  it('needs a generator and rejects prediction_type "sample" like diffusers', () => {
    const scheduler = new EulerAncestralDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(5);
    expect(() => scheduler.step(new Float32Array(1), scheduler.timesteps[0], new Float32Array(1))).toThrow(/generator/);
    expect(() => new EulerAncestralDiscreteScheduler({ prediction_type: 'sample' })).toThrow(UserError);
  });

});

/**
 * diffusers tests/schedulers/test_scheduler_euler_ancestral.py: 1100 linear betas, 10 steps, linspace,
 * noise from torch.manual_seed(0) — the torch-compatible generator reproduces that stream.
 */
describe('EulerAncestralDiscreteScheduler: diffusers full-loop goldens', () => {
  const testConfig = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

  function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
    const scheduler = new EulerAncestralDiscreteScheduler({ ...testConfig, ...extra });
    scheduler.setTimesteps(10);
    const sample = scaled(dummySampleDeter(), scheduler.initNoiseSigma);
    return eulerLoop(scheduler, sample, scheduler.timesteps, new TorchGenerator(0));
  }

  it('test_full_loop_no_noise: sum 152.3192, mean 0.1983', () => {
    const sample = fullLoop();
    expect(Math.abs(absSum(sample) - 152.3192)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.1983)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 108.4439, mean 0.1412', () => {
    const sample = fullLoop({ prediction_type: 'v_prediction' });
    expect(Math.abs(absSum(sample) - 108.4439)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.1412)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_noise: add_noise at timesteps[8], sum 56163.0508, mean 73.1290', () => {
    const scheduler = new EulerAncestralDiscreteScheduler(testConfig);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(8 * scheduler.order);
    const noised = scheduler.addNoise(scaled(dummySampleDeter(), scheduler.initNoiseSigma), dummyNoiseDeter(), timesteps[0]);
    const sample = eulerLoop(scheduler, noised, timesteps, new TorchGenerator(0));
    expect(Math.abs(absSum(sample) - 56163.0508)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 73.129)).toBeLessThan(1e-3);
  });
});
