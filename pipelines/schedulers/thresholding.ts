import { clamp, f32 } from './float32.js';

/**
 * Imagen's dynamic thresholding of the predicted x0 (diffusers' `_threshold_sample`): per batch row,
 * s = clamp(quantile(|x0|, ratio), 1, maxValue), then x0 ← clamp(x0, −s, s) / s. The quantile uses
 * torch's linear interpolation; its float32 reduction order is not reproduced bit for bit.
 */
export function thresholdSample(
  sample: Float32Array,
  batchSize: number,
  ratio: number,
  maxValue: number,
): Float32Array {
  if (sample.length % batchSize !== 0) {
    throw new RangeError(`thresholding: ${sample.length} values do not split into ${batchSize} batch rows`);
  }
  const rowLength = sample.length / batchSize;
  const out = new Float32Array(sample.length);
  for (let row = 0; row < batchSize; row++) {
    const start = row * rowLength;
    const values = sample.subarray(start, start + rowLength);
    const sorted = Float32Array.from(values, Math.abs).sort();
    const limit = clamp(quantileOfSorted(sorted, ratio), 1, maxValue);
    for (let i = 0; i < rowLength; i++) out[start + i] = clamp(values[i], -limit, limit) / limit;
  }
  return out;
}

function quantileOfSorted(sorted: Float32Array, q: number): number {
  const rank = f32(f32(q) * (sorted.length - 1));
  const below = Math.floor(rank);
  const above = Math.min(below + 1, sorted.length - 1);
  const weight = f32(rank - below);
  const low = sorted[below];
  const high = sorted[above];
  return weight < 0.5 ? f32(low + f32(weight * f32(high - low))) : f32(high - f32(f32(high - low) * f32(1 - weight)));
}
