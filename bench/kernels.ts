/**
 * Elementwise kernel benchmark: the WebAssembly SIMD kernels (pipelines/simd/kernels.wat) against the
 * JavaScript loops they replace, side by side in one process, at SDXL's real sizes — the fused guided
 * Euler step on [1, 4, 128, 128] latents (one per UNet call), the Box–Muller half of `randn` for the
 * initial latents (one per trajectory), the decoder-output → 8-bit pixel conversion of a 1024×1024
 * image (one per image) and, for float16 models, the float32 → float16 conversion of the [x; x] UNet
 * feed and back for the UNet output (once each per UNet call). Rounds alternate the two implementations; every
 * round also checks that both give the same bits. Prints medians and the ratio.
 *
 *   npx tsx bench/kernels.ts [--size 1024] [--rounds 15]
 */
import { parseArgs } from 'node:util';
import { SimdKernels, eulerGuidedStepReference, type GuidedStepScalars } from '../pipelines/simd/kernels.js';
import { boxMuller16Reference } from '../pipelines/noise/torch-generator.js';
import { float16ToFloat32ArrayReference, float32ToFloat16ArrayReference } from '../pipelines/session.js';
import { decodedToRgbReference } from '../pipelines/vae.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '15' },
  },
});
const size = Number(values.size);
const rounds = Number(values.rounds);
if (!Number.isInteger(size) || size % 8 !== 0 || size <= 0) throw new Error(`--size must be a positive multiple of 8, got ${values.size}`);

const kernels = SimdKernels.create();
if (!kernels) throw new Error('WebAssembly SIMD is not available in this Node.js');

/** Gaussian-ish deterministic values (sum of uniforms), like UNet outputs and latents. */
function normalish(count: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      sum += state / 2 ** 32;
    }
    out[i] = (sum - 2) * scale;
  }
  return out;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const sameBits = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const n = 4 * (size / 8) * (size / 8);
const unetOutput = normalish(2 * n, 1, 1.2);
const sample = normalish(n, 2, 14.6);
const scalars: GuidedStepScalars = { guidance: 5, sigmaHat: Math.fround(14.6146), dt: Math.fround(-1.4263), divisor: Math.fround(13.2249) };
const plane = size * size;
const decoded = normalish(3 * plane, 3, 0.6);

const stepsPerRound = 40;
const uniforms = Float32Array.from(normalish(n, 4, 1), (x) => Math.floor((x / 4 + 0.5) * 2 ** 24) * 2 ** -24).map((u) => Math.min(Math.max(u, 0), 1 - 2 ** -24));
const timings = { stepJs: [] as number[], stepSimd: [] as number[], pixelsJs: [] as number[], pixelsSimd: [] as number[], randnJs: [] as number[], randnSimd: [] as number[], halfJs: [] as number[], halfSimd: [] as number[] };
let identical = true;
for (let round = 0; round <= rounds; round++) {
  const prevJs = new Float32Array(n);
  const nextJs = new Float32Array(2 * n);
  const prevSimd = new Float32Array(n);
  const nextSimd = new Float32Array(2 * n);
  let started = performance.now();
  for (let i = 0; i < stepsPerRound; i++) eulerGuidedStepReference(unetOutput, sample, prevJs, nextJs, scalars);
  const stepJs = (performance.now() - started) / stepsPerRound;
  started = performance.now();
  for (let i = 0; i < stepsPerRound; i++) kernels.eulerGuidedStep(unetOutput, sample, prevSimd, nextSimd, scalars);
  const stepSimd = (performance.now() - started) / stepsPerRound;

  started = performance.now();
  const pixelsJs = decodedToRgbReference(decoded, size, size);
  const pixelsJsMs = performance.now() - started;
  started = performance.now();
  const bytes = new Uint8Array(3 * plane);
  const nonFinite = kernels.decodedToRgb(decoded, plane, bytes);
  const pixelsSimdMs = performance.now() - started;

  const normalsJs = uniforms.slice();
  started = performance.now();
  for (let start = 0; start + 16 <= n; start += 16) boxMuller16Reference(normalsJs, start);
  const randnJsMs = performance.now() - started;
  const normalsSimd = uniforms.slice();
  started = performance.now();
  kernels.boxMuller16(normalsSimd, Math.floor(n / 16));
  const randnSimdMs = performance.now() - started;

  started = performance.now();
  const halfJs = float16ToFloat32ArrayReference(float32ToFloat16ArrayReference(unetOutput));
  const halfJsMs = performance.now() - started;
  started = performance.now();
  const halfSimd = kernels.float16ToFloat32(kernels.float32ToFloat16(unetOutput));
  const halfSimdMs = performance.now() - started;

  identical &&= sameBits(halfJs, halfSimd);
  identical &&= sameBits(normalsJs, normalsSimd);
  identical &&= sameBits(prevJs, prevSimd) && sameBits(nextJs, nextSimd) && nonFinite === 0 && sameBits(pixelsJs.image!.data, bytes);
  if (round === 0) continue; // warm-up: compilation and tier-up of both
  timings.stepJs.push(stepJs);
  timings.stepSimd.push(stepSimd);
  timings.pixelsJs.push(pixelsJsMs);
  timings.pixelsSimd.push(pixelsSimdMs);
  timings.randnJs.push(randnJsMs);
  timings.randnSimd.push(randnSimdMs);
  timings.halfJs.push(halfJsMs);
  timings.halfSimd.push(halfSimdMs);
}

const line = (what: string, js: number[], simd: number[], perImage: number) =>
  console.log(
    `${what}: JavaScript ${median(js).toFixed(3)} ms, WebAssembly SIMD ${median(simd).toFixed(3)} ms = ${(median(js) / median(simd)).toFixed(2)}x faster; ` +
      `per image (${perImage}×): ${(median(js) * perImage).toFixed(1)} vs ${(median(simd) * perImage).toFixed(1)} ms`,
  );
console.log(`${size}x${size} image, latents [1, 4, ${size / 8}, ${size / 8}]; medians of ${rounds} rounds after a warm-up`);
line('guided Euler step (CFG + step + next UNet input)', timings.stepJs, timings.stepSimd, 40);
line('Box-Muller of the initial latents (randn without the MT19937 draws)', timings.randnJs, timings.randnSimd, 1);
line('decoder output -> RGB bytes', timings.pixelsJs, timings.pixelsSimd, 1);
line('float32 -> float16 -> float32 of a [2, 4, 128, 128] tensor (float16 UNet feed and output)', timings.halfJs, timings.halfSimd, 40);
console.log(`identical bits in every round: ${identical}`);
if (!identical) process.exitCode = 1;
