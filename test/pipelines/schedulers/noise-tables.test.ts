import { describe, expect, it } from 'vitest';
import {
  float32Bits,
  fma32,
  numpyArange,
  numpyLinspace,
  roundHalfEven,
  torchLinspaceFloat32,
} from '../../../pipelines/schedulers/float32.js';
import { buildNoiseTables, type BetaScheduleConfig } from '../../../pipelines/schedulers/noise-tables.js';

const SDXL_BETAS: BetaScheduleConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  rescale_betas_zero_snr: false,
};

describe('SDXL noise tables (spec §5.2, torch ≥ 2 recipe)', () => {
  const tables = buildNoiseTables(SDXL_BETAS, { pinLastAlphaCumprodWhenRescaled: true });

  it('reproduces the reference alphas_cumprod and training sigmas bit for bit', () => {
    expect(tables.alphasCumprod[0]).toBe(0.9991499781608582);
    expect(tables.alphasCumprod[999]).toBe(0.00466009508818388);
    expect(float32Bits(tables.trainingSigmas[999])).toBe(0x4169d598);
    expect(tables.trainingSigmas[999]).toBe(14.614646911621094);
    expect(tables.trainingSigmas[0]).toBe(0.029167532920837402);
    expect(float32Bits(tables.trainingSigmas[1])).toBe(0x3d29395f);
    expect(tables.trainingSigmas[200]).toBe(0.5716663599014282);
  });

  it('differs from the torch 1.13 values the spec lists, so the recipe matters', () => {
    expect(tables.alphasCumprod[999]).not.toBe(0.0046600960195064545);
    expect(tables.trainingSigmas[999]).not.toBe(14.614645004272461);
  });

  it('keeps every value float32 and the schedule monotone', () => {
    for (let t = 1; t < 1000; t++) {
      expect(tables.alphasCumprod[t]).toBeLessThan(tables.alphasCumprod[t - 1]);
      expect(tables.trainingSigmas[t]).toBeGreaterThan(tables.trainingSigmas[t - 1]);
    }
  });

  it('reproduces the SD 1.5 linspace-7 and trailing-4 reference sigmas the spec cross-checked', async () => {
    const { EulerDiscreteScheduler } = await import('../../../pipelines/schedulers/euler-discrete.js');
    const linspace = new EulerDiscreteScheduler({ ...SDXL_BETAS, timestep_spacing: 'linspace' });
    linspace.setTimesteps(7);
    const expected = [14.614646912, 5.948918343, 2.918308496, 1.61558342, 0.932358325, 0.493553519, 0.029167533];
    expected.forEach((sigma, i) => expect(linspace.sigmas[i]).toBeCloseTo(sigma, 8));
    const trailing = new EulerDiscreteScheduler({ ...SDXL_BETAS, timestep_spacing: 'trailing' });
    trailing.setTimesteps(4);
    [14.6146469, 4.08173084, 1.61288702, 0.69320542].forEach((sigma, i) => expect(trailing.sigmas[i]).toBeCloseTo(sigma, 6));
  });
});

describe('float32 helpers', () => {
  it('fma32 rounds once: a double sum that lands on a float32 midpoint follows the exact value', () => {
    // 1 + 2^-24 is the midpoint between 1 and the next float32; 2^-80 pushes the exact sum above it.
    const a = 2 ** -24;
    expect(fma32(a, 1, 1)).toBe(1); // exact midpoint: ties to even
    const tiny = 2 ** -80;
    expect(fma32(tiny, 1, 1 + 2 ** -24)).toBe(Math.fround(1 + 2 ** -23));
    expect(fma32(-tiny, 1, 1 + 2 ** -24)).toBe(1);
  });

  it('torch linspace counts up from start in the first half and down from end in the second', () => {
    const values = torchLinspaceFloat32(0.0001, 0.02, 1000);
    expect(values[0]).toBe(Math.fround(0.0001));
    expect(values[999]).toBe(Math.fround(0.02));
    const step = Math.fround(Math.fround(Math.fround(0.02) - Math.fround(0.0001)) / 999);
    expect(values[499]).toBe(fma32(step, 499, Math.fround(0.0001)));
    expect(values[500]).toBe(fma32(-step, 499, Math.fround(0.02)));
  });

  it('rounds halves to even like Python round / np.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 199.5, 200.5, 2.4999].map((x) => roundHalfEven(x) + 0)).toEqual([0, 2, 2, 0, -2, 200, 200, 2]);
  });

  it('follows numpy linspace and arange element formulas', () => {
    // element i is i·step + start with step = 999/10; the endpoint is set exactly
    const linspace = numpyLinspace(0, 999, 11);
    expect(linspace[3]).toBe(3 * 99.9);
    expect(linspace[10]).toBe(999);
    expect(Array.from(linspace).map(roundHalfEven)).toEqual([0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
    const arange = numpyArange(1000, 0, -1000 / 3);
    expect(arange.length).toBe(3);
    expect(Array.from(arange).map(roundHalfEven)).toEqual([1000, 667, 333]);
  });
});
