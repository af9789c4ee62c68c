import { describe, expect, it } from 'vitest';
import { decodedToRgb, decodedToRgbReference, rgbToVaeInput, roundHalfEven, sampleLatentDistribution, unscaleLatents } from '../../pipelines/vae.js';

describe('pixel conversion (spec §9)', () => {
  it('rounds half to even like NumPy', () => {
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(127.5)).toBe(128);
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(1.5)).toBe(2);
    expect(roundHalfEven(254.5)).toBe(254);
    expect(roundHalfEven(2.5000001)).toBe(3);
    expect(roundHalfEven(3.4999)).toBe(3);
  });

  it('maps [-1, 1] to 0..255 with clamp, HWC order and half-even rounding', () => {
    // x = f32(-0.4): y = f32(f32(x·0.5) + 0.5) and f32(y·255) is exactly 76.5 → half-even 76 (Math.round: 77)
    const x = Math.fround(-0.4);
    expect(Math.fround(Math.fround(Math.fround(x * 0.5) + 0.5) * 255)).toBe(76.5);
    // channels-first 1×3×1×4 input: R plane, G plane, B plane
    const decoded = Float32Array.of(-1, 1, 0, x, -7, 7, 0.5, -0.5, x, x, x, x);
    const { image, nonFinite } = decodedToRgb(decoded, 1, 4);
    expect(nonFinite).toBe(0);
    expect(Array.from(image!.data)).toEqual([0, 0, 76, 255, 255, 76, 128, 191, 76, 76, 64, 76]);
  });

  it('reports NaN/Inf instead of producing an image', () => {
    const decoded = Float32Array.of(0, NaN, 0, 0, Infinity, 0, 0, 0, 0, 0, 0, 0);
    const result = decodedToRgb(decoded, 2, 2);
    expect(result.image).toBeNull();
    expect(result.nonFinite).toBe(2);
  });

  it('unscales latents by division by f32(0.13025)', () => {
    const latents = Float32Array.of(0.13025, 1, -2.5);
    const z = unscaleLatents(latents, 0.13025);
    const f = Math.fround(0.13025);
    expect(Array.from(z)).toEqual([Math.fround(Math.fround(0.13025) / f), Math.fround(1 / f), Math.fround(-2.5 / f)]);
    expect(z[0]).toBe(1);
  });

  it('preprocesses 8-bit pixels to [-1, 1] channels-first', () => {
    const input = rgbToVaeInput({ width: 2, height: 1, data: Uint8Array.of(0, 255, 128, 10, 20, 30) });
    expect(input[0]).toBe(-1); // R of pixel 0
    expect(input[1]).toBe(Math.fround(Math.fround(2 * Math.fround(10 / 255)) - 1)); // R of pixel 1
    expect(input[2]).toBe(1); // G of pixel 0
    expect(input[4]).toBe(Math.fround(Math.fround(2 * Math.fround(128 / 255)) - 1));
    expect(input[4]).toBeCloseTo(128 / 127.5 - 1, 6);
  });

  it('samples the latent distribution as mean + exp(0.5·clamp(logvar)) · noise, one draw', () => {
    const draws: number[][] = [];
    const generator = {
      randn(shape: number[]) {
        draws.push(shape);
        return Float32Array.of(1, -1, 2, 0.5);
      },
    };
    // [1, 8, 1, 1]... h·w = 1: mean = ch 0..3, logvar = ch 4..7
    const parameters = Float32Array.of(0.1, 0.2, 0, 0.4, 0, Math.log(4), -100, 100);
    const sample = sampleLatentDistribution(parameters, [1, 8, 1, 1], generator);
    expect(draws).toEqual([[1, 4, 1, 1]]);
    expect(sample[0]).toBeCloseTo(0.1 + 1, 6);
    expect(sample[1]).toBeCloseTo(0.2 - 2, 6);
    expect(sample[2] / (2 * Math.exp(-15))).toBeCloseTo(1, 5); // logvar clamped to -30
    expect(sample[3]).toBeCloseTo(0.4 + 0.5 * Math.exp(10), 1); // clamped to 20
  });
});

describe.each([
  ['WebAssembly SIMD', decodedToRgb],
  ['JavaScript', decodedToRgbReference],
])('pixel conversion (%s) agrees with the plain spec formula', (_name, convert) => {
  it('on random values, exact ties and out-of-range values', () => {
    const values: number[] = [];
    let state = 99;
    for (let i = 0; i < 30000; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      values.push(Math.fround(((state / 2 ** 32) * 2.4 - 1.2)));
    }
    // every k/255 tie point the conversion can hit: x with f32(f32(f32(x·0.5)+0.5)·255) = k + 0.5
    for (let k = 0; k < 255; k++) {
      let x = Math.fround(((k + 0.5) / 255) * 2 - 1);
      for (let d = -64; d <= 64; d++) values.push(Math.fround(x + d * 2 ** -24));
    }
    values.push(-0, 0, 1, -1, 2 ** -140, -(2 ** -140), 3e38, -3e38, 1.0000001, -1.0000001);
    while (values.length % 3 !== 0) values.push(0);
    const plane = values.length / 3;
    const decoded = Float32Array.from(values);
    const { image } = convert(decoded, 1, plane);
    const mismatches: number[] = [];
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < plane; p++) {
        const x = decoded[c * plane + p];
        const y = Math.min(Math.max(Math.fround(Math.fround(x * 0.5) + 0.5), 0), 1);
        const expected = roundHalfEven(Math.fround(y * 255)); // the spec formula, written plainly
        if (image!.data[p * 3 + c] !== expected) mismatches.push(x);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
