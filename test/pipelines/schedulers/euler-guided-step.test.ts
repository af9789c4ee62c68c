import { describe, expect, it } from 'vitest';
import { combineGuidance } from '../../../pipelines/guidance.js';
import { EulerDiscreteScheduler } from '../../../pipelines/schedulers/euler-discrete.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import { spreadFloat32 } from '../../support/float32-values.js';

const values = (count: number, seed: number, scale: number) => spreadFloat32(count, seed, scale);

function bits(array: Float32Array): Uint32Array {
  return new Uint32Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
}

describe('EulerDiscreteScheduler.guidedStep', () => {
  it('gives the bits of combineGuidance → step → scaleModelInput over a whole loop', () => {
    const n = 257;
    const steps = 12;
    const separate = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    const fused = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    for (const scheduler of [separate, fused]) {
      scheduler.setTimesteps(steps);
      scheduler.setBeginIndex(2);
    }
    expect(fused.supportsGuidedStep).toBe(true);
    let latentsA = values(n, 1, 14);
    let latentsB = latentsA.slice();
    const feed = new Float32Array(2 * n);
    let inputB: Float32Array | null = null;
    for (let i = 2; i < steps; i++) {
      const t = separate.timesteps[i];
      const inputA = separate.scaleModelInput(latentsA, t);
      if (inputB === null) {
        inputB = fused.scaleModelInput(latentsB, t);
        feed.set(inputB, 0);
        feed.set(inputB, n);
      }
      expect(bits(feed.subarray(0, n))).toEqual(bits(inputA));
      expect(bits(feed.subarray(n))).toEqual(bits(inputA));
      // a stand-in UNet output that depends on the input, [uncond; cond]
      const output = values(2 * n, 100 + i, 1);
      for (let k = 0; k < n; k++) output[k] += inputA[k] * 0.5;
      const guidance = 7.5 - i * 0.25;
      const epsilon = combineGuidance(output, guidance);
      latentsA = separate.step(epsilon, t, latentsA).prevSample;
      const next = new Float32Array(n);
      const hasNext = i + 1 < steps;
      fused.guidedStep(output, guidance, t, latentsB, next, hasNext ? feed : null);
      latentsB = next;
      expect(bits(latentsB)).toEqual(bits(latentsA));
      expect(fused.stepIndex).toBe(separate.stepIndex);
    }
  });

  it('is refused for other prediction types, churn and overlapping buffers', () => {
    const velocity = new EulerDiscreteScheduler({ ...SDXL_SCHEDULER_CONFIG, prediction_type: 'v_prediction' });
    expect(velocity.supportsGuidedStep).toBe(false);
    expect(new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG, { sChurn: 0.5 }).supportsGuidedStep).toBe(false);
    const scheduler = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(4);
    const sample = new Float32Array(8);
    expect(() => scheduler.guidedStep(new Float32Array(16), 5, scheduler.timesteps[0], sample, sample, null)).toThrow(/prevSample/);
    expect(() => scheduler.guidedStep(new Float32Array(15), 5, scheduler.timesteps[0], sample, new Float32Array(8), null)).toThrow(/length/);
  });
});
