/**
 * SDXL micro-conditioning `time_ids` (spec §4), row layouts as diffusers builds them.
 * Base: `[orig_h, orig_w, crop_top, crop_left, target_h, target_w]` (6 values).
 * Refiner: `[orig_h, orig_w, crop_top, crop_left, aesthetic_score]` (5 values).
 */

export type Size = readonly [height: number, width: number];
export type Coords = readonly [top: number, left: number];

export interface TimeIdRows {
  negative: number[];
  positive: number[];
}

export interface BaseTimeIdOptions {
  height: number;
  width: number;
  originalSize?: Size;
  cropsCoordsTopLeft?: Coords;
  targetSize?: Size;
  negativeOriginalSize?: Size;
  negativeCropsCoordsTopLeft?: Coords;
  negativeTargetSize?: Size;
}

/**
 * Base rows. The negative row equals the positive one unless both `negativeOriginalSize` and
 * `negativeTargetSize` are given (diffusers `StableDiffusionXLPipeline.__call__`).
 */
export function baseTimeIds(options: BaseTimeIdOptions): TimeIdRows {
  const original = options.originalSize ?? [options.height, options.width];
  const crops = options.cropsCoordsTopLeft ?? [0, 0];
  const target = options.targetSize ?? [options.height, options.width];
  const positive = [...original, ...crops, ...target];
  if (options.negativeOriginalSize && options.negativeTargetSize) {
    const negativeCrops = options.negativeCropsCoordsTopLeft ?? [0, 0];
    return { negative: [...options.negativeOriginalSize, ...negativeCrops, ...options.negativeTargetSize], positive };
  }
  return { negative: [...positive], positive };
}

export interface RefinerTimeIdOptions {
  /** Size of the image being refined (latent size × 8). */
  height: number;
  width: number;
  originalSize?: Size;
  cropsCoordsTopLeft?: Coords;
  negativeOriginalSize?: Size;
  negativeCropsCoordsTopLeft?: Coords;
  /** default 6.0 */
  aestheticScore?: number;
  /** default 2.5 */
  negativeAestheticScore?: number;
}

export const DEFAULT_AESTHETIC_SCORE = 6.0;
export const DEFAULT_NEGATIVE_AESTHETIC_SCORE = 2.5;

/** Refiner rows (`requires_aesthetics_score`); `negativeOriginalSize` defaults to `originalSize`. */
export function refinerTimeIds(options: RefinerTimeIdOptions): TimeIdRows {
  const original = options.originalSize ?? [options.height, options.width];
  const crops = options.cropsCoordsTopLeft ?? [0, 0];
  const negativeOriginal = options.negativeOriginalSize ?? original;
  const negativeCrops = options.negativeCropsCoordsTopLeft ?? [0, 0];
  return {
    negative: [...negativeOriginal, ...negativeCrops, options.negativeAestheticScore ?? DEFAULT_NEGATIVE_AESTHETIC_SCORE],
    positive: [...original, ...crops, options.aestheticScore ?? DEFAULT_AESTHETIC_SCORE],
  };
}

/**
 * The UNet `time_ids` feed for one image: `[negative; positive]` ([2, k]) with classifier-free
 * guidance, `[positive]` ([1, k]) without. Values are rounded to float32 like the torch tensor.
 */
export function timeIdsFeed(rows: TimeIdRows, guided: boolean): { data: Float32Array; dims: number[] } {
  const width = rows.positive.length;
  if (rows.negative.length !== width) throw new Error(`time id rows differ in length: ${rows.negative.length} vs ${width}`);
  const data = Float32Array.from(guided ? [...rows.negative, ...rows.positive] : rows.positive);
  return { data, dims: [guided ? 2 : 1, width] };
}

/**
 * The UNet's add-embedding input width must equal `addition_time_embed_dim · len(time_ids) +
 * pooled width` (2816 = 6·256 + 1280 for the base, 2560 = 5·256 + 1280 for the refiner).
 * Returns an explanation when it does not, else null.
 */
export function timeIdWidthMismatch(
  timeIdCount: number,
  unetConfig: { addition_time_embed_dim?: unknown; projection_class_embeddings_input_dim?: unknown },
  pooledWidth: number,
): string | null {
  const perId = unetConfig.addition_time_embed_dim;
  const expected = unetConfig.projection_class_embeddings_input_dim;
  if (typeof perId !== 'number' || typeof expected !== 'number') return null;
  const actual = perId * timeIdCount + pooledWidth;
  if (actual === expected) return null;
  return `${timeIdCount} time ids × ${perId} + pooled ${pooledWidth} = ${actual}, but the UNet expects ${expected}`;
}
