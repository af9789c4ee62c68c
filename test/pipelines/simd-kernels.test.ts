import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EulerDiscreteScheduler } from '../../pipelines/schedulers/euler-discrete.js';
import { SDXL_SCHEDULER_CONFIG } from '../../pipelines/schedulers/sdxl-default-config.js';
import { assembleKernels } from '../../pipelines/simd/assemble.js';
import { KERNELS_WASM_BASE64 } from '../../pipelines/simd/kernels-wasm.js';
import { GuidedEulerWorkspace, SimdKernels, eulerGuidedStepReference, simdKernels, type GuidedStepScalars } from '../../pipelines/simd/kernels.js';
import { boxMuller16Reference } from '../../pipelines/noise/torch-generator.js';
import { decodedToRgbReference, decodedValueToByte } from '../../pipelines/vae.js';
import { float16ToFloat32ArrayReference, float32ToFloat16ArrayReference } from '../../pipelines/session.js';
import { spreadFloat32 } from '../support/float32-values.js';

const f32 = Math.fround;

/** Values over eight decades, with zeros, subnormals and huge values mixed in. */
const values = (count: number, seed: number, scale: number) =>
  spreadFloat32(count, seed, scale, { decades: 8, specials: [0, -0, 1e-40, -1e-40, 1.4e-45, 3e38, -3e38, 1e-30], specialStride: 7 });

/** Up to five positions where the bit patterns differ (NaN payloads are not part of the contract). */
function bitMismatches(actual: Float32Array, expected: Float32Array): string[] {
  const out: string[] = [];
  if (actual.length !== expected.length) return [`length ${actual.length} vs ${expected.length}`];
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length && out.length < 5; i++) {
    if (a[i] !== e[i] && !(Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) out.push(`[${i}] ${actual[i]} vs ${expected[i]}`);
  }
  return out;
}

const kernels = SimdKernels.create();

describe('WebAssembly SIMD kernels', () => {
  it('are available on this Node.js, and used unless REFINERY_KERNELS=js', () => {
    expect(kernels).not.toBeNull();
    if (process.env.REFINERY_KERNELS !== 'js') expect(simdKernels()).toBeInstanceOf(SimdKernels);
  });

  it('kernels-wasm.ts is exactly what kernels.wat assembles to', async () => {
    const wat = readFileSync(new URL('../../pipelines/simd/kernels.wat', import.meta.url), 'utf8');
    const assembled = await assembleKernels(wat);
    expect(Buffer.from(assembled).toString('base64')).toBe(KERNELS_WASM_BASE64);
  });
});

/** Runs the kernel and the reference, with and without the next input; returns the reference latents. */
function expectKernelEqualsReference(unet: Float32Array, sample: Float32Array, scalars: GuidedStepScalars): Float32Array {
  const n = sample.length;
  const expectedPrev = new Float32Array(n);
  const expectedNext = new Float32Array(2 * n);
  eulerGuidedStepReference(unet, sample, expectedPrev, expectedNext, scalars);
  const prev = new Float32Array(n);
  const next = new Float32Array(2 * n);
  kernels!.eulerGuidedStep(unet, sample, prev, next, scalars);
  expect(bitMismatches(prev, expectedPrev)).toEqual([]);
  expect(bitMismatches(next, expectedNext)).toEqual([]);
  const prevOnly = new Float32Array(n);
  kernels!.eulerGuidedStep(unet, sample, prevOnly, null, scalars);
  expect(bitMismatches(prevOnly, expectedPrev)).toEqual([]);
  return expectedPrev;
}

describe('euler_guided_step equals the JavaScript reference bit for bit', () => {
  // σ̂, dt and the next input divisor of every step of a real 40-step SDXL Euler schedule
  const scheduler = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
  scheduler.setTimesteps(40);
  const steps: GuidedStepScalars[] = [];
  for (let i = 0; i + 1 < scheduler.sigmas.length; i++) {
    const sigmaHat = f32(scheduler.sigmas[i]);
    const next = scheduler.sigmas[i + 1];
    steps.push({ guidance: f32(5 + i * 0.37), sigmaHat, dt: f32(next - sigmaHat), divisor: f32(Math.sqrt(f32(f32(next * next) + 1))) });
  }

  // lengths that exercise the vector loop alone, the scalar tail alone, and both
  it.each([1, 3, 4, 7, 64, 1027])('n = %i, every step of the schedule, with and without the next input', (n) => {
    for (const [index, scalars] of steps.entries()) {
      expectKernelEqualsReference(values(2 * n, 10 + index, 3), values(n, 1000 + index, scalars.sigmaHat), scalars);
    }
  });

  it('propagates overflow to ±Inf and NaN like the reference', () => {
    const unet = Float32Array.from([3e38, -3e38, Infinity, NaN, 0, 1, 2, 3, 4, 3e38, 3e38, -Infinity, 1, 0, 1, 2, 3, 4]);
    const sample = Float32Array.from([1, 2, 3, 4, 3e38, -3e38, 1e-45, 0, -0]);
    const scalars = { guidance: f32(7.5), sigmaHat: f32(14.6146), dt: f32(-1.5), divisor: f32(13.1) };
    const expected = expectKernelEqualsReference(unet, sample, scalars);
    expect(Array.from(expected).some((x) => !Number.isFinite(x))).toBe(true);
  });

  it('works on subarray views and after the memory grew for a larger call', () => {
    const big = 1 << 18; // 1 MiB of latents: forces the instance memory to grow
    const scalars = steps[3];
    const unetBacking = values(2 * big + 5, 7, 2);
    const unet = unetBacking.subarray(5);
    const sample = values(big, 8, 10);
    const expected = new Float32Array(big);
    eulerGuidedStepReference(unet, sample, expected, null, scalars);
    const prev = new Float32Array(big);
    kernels!.eulerGuidedStep(unet, sample, prev, null, scalars);
    expect(bitMismatches(prev, expected)).toEqual([]);
    // a small call after the growth still sees fresh inputs
    const small = values(6, 9, 1);
    const smallUnet = values(12, 10, 1);
    const expectedSmall = new Float32Array(6);
    eulerGuidedStepReference(smallUnet, small, expectedSmall, null, scalars);
    const prevSmall = new Float32Array(6);
    kernels!.eulerGuidedStep(smallUnet, small, prevSmall, null, scalars);
    expect(bitMismatches(prevSmall, expectedSmall)).toEqual([]);
  });
});

describe('GuidedEulerWorkspace', () => {
  it('steps in place on its own buffers with the bits of the reference, over a whole loop', () => {
    const n = 4 * 9 * 7;
    const scheduler = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    const reference = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    for (const s of [scheduler, reference]) s.setTimesteps(10);
    const workspace = GuidedEulerWorkspace.create(n)!;
    expect(workspace).not.toBeNull();
    let [latents, spare] = workspace.latents;
    latents.set(values(n, 21, 14));
    let referenceLatents = latents.slice();
    const referenceFeed = new Float32Array(2 * n);
    const feedBefore = workspace.feed;
    for (let i = 0; i < 9; i++) {
      const t = scheduler.timesteps[i];
      const unet = values(2 * n, 300 + i, 1);
      const hasNext = i + 1 < 9;
      scheduler.guidedStep(unet, 6, t, latents, spare, hasNext ? workspace.feed : null, workspace.kernels);
      const next = new Float32Array(n);
      reference.guidedStep(unet, 6, t, referenceLatents, next, hasNext ? referenceFeed : null, null);
      [latents, spare] = [spare, latents];
      referenceLatents = next;
      expect(bitMismatches(latents, referenceLatents)).toEqual([]);
      if (hasNext) expect(bitMismatches(workspace.feed, referenceFeed)).toEqual([]);
    }
    // the views were never detached by a memory growth
    expect(workspace.feed).toBe(feedBefore);
    expect(workspace.feed.length).toBe(2 * n);
  });

  it('refuses a call that would grow its memory (which would detach its views)', () => {
    const workspace = GuidedEulerWorkspace.create(16)!;
    const big = 1 << 16;
    expect(() => workspace.kernels.eulerGuidedStep(new Float32Array(2 * big), new Float32Array(big), new Float32Array(big), null, {
      guidance: 5, sigmaHat: 1, dt: -0.5, divisor: 1.5,
    })).toThrow(/set aside/);
    expect(workspace.feed.length).toBe(32);
  });
});

describe('box_muller16 equals the JavaScript Box–Muller bit for bit', () => {
  /** 24-bit uniforms k·2^-24: the extremes, every quadrant boundary of θ = 2π·u, and a random spread. */
  function uniforms(): Float32Array {
    const k: number[] = [0, 1, 2, 3, 2 ** 24 - 1, 2 ** 24 - 2, 2 ** 23, 2 ** 22, 1 << 12];
    for (let eighth = 0; eighth <= 8; eighth++) {
      const centre = eighth * 2 ** 21;
      for (let d = -40; d <= 40; d++) if (centre + d >= 0 && centre + d < 2 ** 24) k.push(centre + d);
    }
    let state = 17;
    while (k.length % 16 !== 0 || k.length < 1 << 16) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      k.push(state >>> 8);
    }
    // the same specials in both halves of blocks: as radius uniforms (lanes 0..7) and as angles (8..15)
    const out = Float32Array.from(k, (value) => value * 2 ** -24);
    const mirrored = new Float32Array(out.length * 2);
    mirrored.set(out);
    for (let block = 0; block < out.length / 16; block++) {
      mirrored.set(out.subarray(block * 16 + 8, block * 16 + 16), out.length + block * 16);
      mirrored.set(out.subarray(block * 16, block * 16 + 8), out.length + block * 16 + 8);
    }
    return mirrored;
  }

  it('on every edge and 65,536 random uniforms', () => {
    const data = uniforms();
    const expected = data.slice();
    for (let start = 0; start < expected.length; start += 16) boxMuller16Reference(expected, start);
    const actual = data.slice();
    kernels!.boxMuller16(actual, actual.length / 16);
    expect(bitMismatches(actual, expected)).toEqual([]);
    expect(Array.from(actual.subarray(0, 64)).every(Number.isFinite)).toBe(true);
  });

  it('leaves values after the given blocks alone', () => {
    const data = uniforms().subarray(0, 40);
    const copy = data.slice();
    kernels!.boxMuller16(data, 2);
    expect(Array.from(data.subarray(32))).toEqual(Array.from(copy.subarray(32)));
    expect(() => kernels!.boxMuller16(data, 3)).toThrow(/3 blocks/);
  });
});

describe('decoded_to_rgb equals the spec formula and the JavaScript conversion', () => {
  /** Every float32 within ±200 ulps of each byte boundary, plus a spread of ordinary and odd values. */
  function boundaryValues(): number[] {
    const out: number[] = [];
    const probe = new Float32Array(1);
    const probeBits = new Uint32Array(probe.buffer);
    for (let k = 0; k <= 255; k++) {
      const centre = f32(((k + 0.5) / 255) * 2 - 1);
      for (let d = -200; d <= 200; d++) {
        // walk d ulps along the value axis (at 0 the walk goes to ±subnormals)
        probe[0] = centre === 0 ? 0 : centre;
        probeBits[0] += centre === 0 ? Math.abs(d) : d * (centre < 0 ? -1 : 1);
        out.push(centre === 0 && d < 0 ? -probe[0] : probe[0]);
      }
    }
    let state = 5;
    for (let i = 0; i < 20000; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out.push(f32((state / 2 ** 32) * 3 - 1.5));
    }
    out.push(-0, 0, 1, -1, 1e-45, -1e-45, 3e38, -3e38, 1.0000001, -1.0000001);
    return out;
  }

  it('on every boundary neighbourhood, with the 16-pixel loop and the scalar tail', () => {
    const all = boundaryValues();
    for (const plane of [Math.floor(all.length / 3), 16 * 7, 5]) {
      const decoded = Float32Array.from(all.slice(0, 3 * plane));
      const bytes = new Uint8Array(3 * plane);
      expect(kernels!.decodedToRgb(decoded, plane, bytes)).toBe(0);
      const reference = decodedToRgbReference(decoded, 1, plane).image!.data;
      const mismatches: string[] = [];
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < plane; p++) {
          const x = decoded[c * plane + p];
          const expected = decodedValueToByte(x);
          const got = bytes[p * 3 + c];
          if (got !== expected || reference[p * 3 + c] !== expected) mismatches.push(`${x}: wasm ${got}, js ${reference[p * 3 + c]}, spec ${expected}`);
        }
      }
      expect(mismatches.slice(0, 5)).toEqual([]);
    }
  });

  it('counts NaN and ±Inf wherever they are, like the JavaScript conversion', () => {
    for (const plane of [64, 19]) {
      const decoded = values(3 * plane, 3, 1);
      const positions = [0, 5, 17, plane + 2, 2 * plane + plane - 1, 3 * plane - 2];
      decoded[positions[0]] = NaN;
      decoded[positions[1]] = Infinity;
      decoded[positions[2]] = -Infinity;
      decoded[positions[3]] = NaN;
      decoded[positions[4]] = -Infinity;
      decoded[positions[5]] = NaN;
      const expected = new Set(positions).size;
      expect(kernels!.decodedToRgb(decoded, plane, new Uint8Array(3 * plane))).toBe(expected);
      expect(decodedToRgbReference(decoded, 1, plane).nonFinite).toBe(expected);
    }
  });
});

describe('float32 <-> float16 kernels equal the JavaScript conversions', () => {
  it('float16 -> float32 on all 65,536 bit patterns (NaN payloads aside)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    expect(bitMismatches(kernels!.float16ToFloat32(all), float16ToFloat32ArrayReference(all))).toEqual([]);
  });

  it('handles lengths that are not a multiple of four (the one-lane tail)', () => {
    for (const n of [0, 1, 2, 3, 5, 6, 7, 9]) {
      const floats = Float32Array.from({ length: n }, (_, i) => (i - 3.3) * 1234.567 + 1e-6 * i);
      expect(Array.from(kernels!.float32ToFloat16(floats))).toEqual(Array.from(float32ToFloat16ArrayReference(floats)));
      const halves = Uint16Array.from({ length: n }, (_, i) => (i * 0x2f3b + 0x0101) & 0xffff);
      expect(bitMismatches(kernels!.float16ToFloat32(halves), float16ToFloat32ArrayReference(halves))).toEqual([]);
    }
  });

  it('float32 -> float16 at and around every rounding midpoint, specials and 1,000,000 random floats', () => {
    const values: number[] = [];
    const probe = new Float32Array(1);
    const probeBits = new Uint32Array(probe.buffer);
    const halves = float16ToFloat32ArrayReference(Uint16Array.from({ length: 0x7c00 }, (_, i) => i));
    for (let h = 0; h + 1 < halves.length; h++) {
      const midpoint = Math.fround((halves[h] + halves[h + 1]) / 2);
      probe[0] = midpoint;
      for (const d of [-1, 0, 1]) {
        const bits = probeBits[0];
        probeBits[0] = bits + d;
        values.push(probe[0], -probe[0]);
        probeBits[0] = bits;
      }
      values.push(halves[h], -halves[h]);
    }
    values.push(65504, 65519.996, 65520, 65536, 1e10, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0000001, 2 ** -26, 1e-40, -0, 0, Infinity, -Infinity);
    let state = 99;
    for (let i = 0; i < 1_000_000; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      probeBits[0] = state;
      values.push(probe[0]); // every exponent, including NaNs with payloads
    }
    const floats = Float32Array.from(values);
    // Float32Array.from canonicalises NaN payloads: write some payload NaNs in directly
    const words = new Uint32Array(floats.buffer);
    words.set([0x7f800001, 0xff800001, 0x7fc00000, 0x7fffffff, 0x7fa02000], 0);
    const actual = kernels!.float32ToFloat16(floats);
    const expected = float32ToFloat16ArrayReference(floats);
    const mismatches: string[] = [];
    for (let i = 0; i < floats.length && mismatches.length < 5; i++) {
      if (actual[i] !== expected[i]) mismatches.push(`0x${words[i].toString(16)}: wasm 0x${actual[i].toString(16)}, js 0x${expected[i].toString(16)}`);
    }
    expect(mismatches).toEqual([]);
  });
});
