import { describe, expect, it } from 'vitest';
import { createScheduler, SCHEDULER_NAMES } from '../../../pipelines/schedulers/registry.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import type { DiffusionScheduler } from '../../../pipelines/schedulers/types.js';

/**
 * Properties every scheduler must have, whatever its parametrisation: with an oracle model that
 * predicts the exact noise, a deterministic sampler lands on the clean latents, from the start of the
 * schedule and from any begin index (the img2img / refiner entry point).
 */

const DETERMINISTIC = SCHEDULER_NAMES.filter((name) => name !== 'euler-ancestral');
const clean = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 0.7) * 0.8);
const noise = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 1.3) * 1.1);

/** Euler-family latents are x0 + σ·ε, VP-space latents √ᾱ·x0 + √(1 − ᾱ)·ε; both predict ε. */
function denoiseWithOracle(scheduler: DiffusionScheduler, beginIndex: number): Float32Array {
  scheduler.setBeginIndex(beginIndex);
  const timesteps = scheduler.timesteps.slice(beginIndex);
  let sample = scheduler.addNoise(clean, noise, timesteps[0]);
  for (const t of timesteps) {
    scheduler.scaleModelInput(sample, t);
    sample = scheduler.step(noise, t, sample).prevSample;
  }
  return sample;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);
}

describe('scheduler conformance', () => {
  for (const name of DETERMINISTIC) {
    it(`${name}: an exact noise prediction recovers the clean latents, from step 0 and mid-schedule`, () => {
      // DDIM ends on ᾱ_final; with set_alpha_to_one that is 1 (noise-free), see the next test for ᾱ_0
      const config = { ...SDXL_SCHEDULER_CONFIG, set_alpha_to_one: true };
      for (const [steps, begin] of [[30, 0], [30, 21], [40, 32], [8, 3]]) {
        const scheduler = createScheduler(name, config);
        scheduler.setTimesteps(steps);
        expect(maxAbsDifference(denoiseWithOracle(scheduler, begin), clean), `${steps} steps from ${begin}`).toBeLessThan(2e-4);
      }
    });
  }

  it('ddim on the SDXL config (set_alpha_to_one false) ends at the noise level of t = 0, like diffusers', () => {
    const scheduler = createScheduler('ddim', SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(30);
    const expected = scheduler.addNoise(clean, noise, 0);
    expect(maxAbsDifference(denoiseWithOracle(scheduler, 0), expected)).toBeLessThan(2e-4);
  });

  for (const name of SCHEDULER_NAMES) {
    it(`${name}: N descending timesteps inside the training range, sigmas N + 1 or none, state reset by setTimesteps`, () => {
      const scheduler = createScheduler(name, SDXL_SCHEDULER_CONFIG);
      expect(() => scheduler.step(noise, 999, clean)).toThrow(/setTimesteps/);
      for (const steps of [1, 7, 30, 50]) {
        scheduler.setTimesteps(steps);
        const t = Array.from(scheduler.timesteps);
        expect(t).toHaveLength(steps);
        expect(scheduler.numInferenceSteps).toBe(steps);
        expect(t.every((v, i) => i === 0 || v <= t[i - 1])).toBe(true);
        expect(Math.max(...t)).toBeLessThanOrEqual(999);
        expect(Math.min(...t)).toBeGreaterThanOrEqual(0);
        if (scheduler.sigmas) expect(scheduler.sigmas).toHaveLength(steps + 1);
        expect(scheduler.stepIndex).toBeNull();
        expect(scheduler.beginIndex).toBeNull();
        expect(Number.isFinite(scheduler.initNoiseSigma) && scheduler.initNoiseSigma >= 1).toBe(true);
      }
    });

    it(`${name}: a clone continues the trajectory exactly like the original`, () => {
      const generatorFor = () => {
        let calls = 0;
        return { randn: (shape: readonly number[]) => Float32Array.from({ length: shape[0] }, (_, i) => Math.sin(i + ++calls)) };
      };
      const original = createScheduler(name, SDXL_SCHEDULER_CONFIG);
      original.setTimesteps(12);
      const g1 = generatorFor();
      let sample: Float32Array = Float32Array.from(noise);
      for (let i = 0; i < 5; i++) {
        const t = original.timesteps[i];
        const input = original.scaleModelInput(sample, t);
        sample = original.step(input.map((v) => v * 0.5), t, sample, g1).prevSample;
      }
      const branch = original.clone();
      const results = [original, branch].map((scheduler) => {
        const g = generatorFor();
        let x: Float32Array = sample;
        for (let i = 5; i < 12; i++) {
          const t = scheduler.timesteps[i];
          x = scheduler.step(scheduler.scaleModelInput(x, t).map((v) => v * 0.5), t, x, g).prevSample;
        }
        return Array.from(x);
      });
      expect(results[1]).toEqual(results[0]);
    });
  }
});
