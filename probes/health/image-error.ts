/**
 * Reconstruction error between two 8-bit RGB images of one size, on the [0, 1] scale (channel value / 255):
 * - `mse`: mean over all channel values of the squared difference;
 * - `psnr`: 10 · log10(1 / mse) dB (data range 1), capped at `PSNR_CAP_DB` (identical images have an
 *   infinite PSNR; the cap keeps records finite — one 8-bit level of error on every value is 48.13 dB);
 * - `maxAbsError`: the largest absolute difference of one channel value.
 */
import type { RgbImage } from '../../pipelines/image/png.js';

export const PSNR_CAP_DB = 100;

export interface ImageError {
  mse: number;
  psnr: number;
  maxAbsError: number;
}

export function psnrFromMse(mse: number): number {
  if (mse < 0 || !Number.isFinite(mse)) throw new Error(`PSNR: mse must be finite and non-negative, got ${mse}`);
  return mse === 0 ? PSNR_CAP_DB : Math.min(PSNR_CAP_DB, 10 * Math.log10(1 / mse));
}

export function imageError(reference: RgbImage, other: RgbImage): ImageError {
  if (reference.width !== other.width || reference.height !== other.height) {
    throw new Error(`image error: sizes differ (${reference.width}x${reference.height} vs ${other.width}x${other.height})`);
  }
  const count = reference.width * reference.height * 3;
  if (reference.data.length !== count || other.data.length !== count) throw new Error('image error: buffer length does not match the size');
  let squares = 0;
  let maxAbs = 0;
  for (let i = 0; i < count; i++) {
    const difference = reference.data[i] - other.data[i];
    squares += difference * difference;
    const abs = difference < 0 ? -difference : difference;
    if (abs > maxAbs) maxAbs = abs;
  }
  const mse = squares / count / (255 * 255);
  return { mse, psnr: psnrFromMse(mse), maxAbsError: maxAbs / 255 };
}
