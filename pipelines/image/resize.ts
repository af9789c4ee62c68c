/**
 * Image resampling that reproduces Pillow's `Image.resize` on 8-bit RGB images (Pillow's
 * `libImaging/Resample.c`), so that preprocessing written against PIL (CLIP's `CLIPImageProcessor`,
 * clean-fid, diffusers' image loading) gives the same pixels here.
 *
 * What Pillow does, and what this file does the same way:
 *  - separable: a horizontal pass into an 8-bit intermediate image, then a vertical pass; a pass is
 *    skipped when that side keeps its size;
 *  - per output index `o` (input size `n`, output size `m`): `scale = n / m`, `filterScale = max(scale, 1)`
 *    (the kernel widens when downscaling: anti-aliasing), `support = filter support · filterScale`,
 *    `center = (o + 0.5) · scale`, taps `i` from `trunc(center − support + 0.5)` (at least 0) to
 *    `trunc(center + support + 0.5)` (at most n), exclusive, weight `filter((i − center + 0.5) / filterScale)`,
 *    weights divided by their sum (all in double precision);
 *  - the weights become fixed point with 22 fractional bits, rounded half away from zero;
 *  - each output value is `(2^21 + Σ pixel · weight) >> 22` clipped to 0…255.
 * The kernels: bicubic with a = −0.5 (support 2), bilinear (triangle, support 1), Lanczos-3 (support 3),
 * box (support ½) and Hamming (support 1). Bicubic, bilinear and box are pure arithmetic, so the result
 * is bit-exact; Lanczos and Hamming call `sin`/`cos`, whose last-ulp rounding may differ between C's libm
 * and JavaScript, which can move a weight by one fixed-point step in rare ties.
 */
import { UserError } from '../errors.js';
import type { RgbImage } from './png.js';

export type ResampleFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

/** Pillow's `Image.Resampling` codes as they appear in `preprocessor_config.json` (`resample`). */
export const PIL_RESAMPLE_CODES: Readonly<Record<number, ResampleFilter | 'nearest'>> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
  5: 'hamming',
};

/** The filter for a Pillow resample code; `source` names the config field in the error. */
export function resampleFilterFromPilCode(code: number, source = 'resample'): ResampleFilter {
  const filter = PIL_RESAMPLE_CODES[code];
  if (filter === undefined) {
    throw new UserError(`${source}: unknown Pillow resample code ${code}; use 1 (lanczos), 2 (bilinear), 3 (bicubic), 4 (box) or 5 (hamming)`);
  }
  if (filter === 'nearest') {
    throw new UserError(`${source}: resample 0 (nearest) is not supported; use 3 (bicubic), which CLIP was trained with`);
  }
  return filter;
}

const PRECISION_BITS = 22;
const FIXED_ONE = 2 ** PRECISION_BITS;
const ROUNDING_OFFSET = 2 ** (PRECISION_BITS - 1);

interface Kernel {
  support: number;
  weight(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

// Pillow writes 0.54f and 0.46f: single-precision literals promoted to double.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

const KERNELS: Readonly<Record<ResampleFilter, Kernel>> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** The taps of one resampling pass: for output index o, inputs `first[o] … first[o] + count[o] − 1`. */
export interface ResampleTaps {
  first: Int32Array;
  count: Int32Array;
  /** taps per output index (the stride of `weights`) */
  stride: number;
  /** fixed-point weights (22 fractional bits), `stride` per output index, unused ones 0 */
  weights: Int32Array;
}

/** Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for one axis. */
export function resampleTaps(inSize: number, outSize: number, filter: ResampleFilter): ResampleTaps {
  const kernel = KERNELS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = kernel.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const exact = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let t = 0; t < n; t++) {
      const w = kernel.weight((t + lo - center + 0.5) / filterScale);
      exact[t] = w;
      sum += w;
    }
    for (let t = 0; t < n; t++) {
      const w = sum !== 0 ? exact[t] / sum : exact[t];
      // C's (int) cast truncates toward zero: ±0.5 first rounds half away from zero
      weights[o * stride + t] = w < 0 ? Math.trunc(-0.5 + w * FIXED_ONE) : Math.trunc(0.5 + w * FIXED_ONE);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, stride, weights };
}

function clip8(accumulator: number): number {
  const value = Math.floor(accumulator / FIXED_ONE);
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** Horizontal pass over rows `rowStart … rowStart + rows − 1` of `source` (Pillow's `ImagingResampleHorizontal_8bpc`). */
function resampleRows(source: RgbImage, rowStart: number, rows: number, outWidth: number, taps: ResampleTaps): RgbImage {
  const out = new Uint8Array(outWidth * rows * 3);
  const { first, count, stride, weights } = taps;
  const inRow = source.width * 3;
  for (let y = 0; y < rows; y++) {
    const rowOffset = (y + rowStart) * inRow;
    for (let x = 0; x < outWidth; x++) {
      let r = ROUNDING_OFFSET;
      let g = ROUNDING_OFFSET;
      let b = ROUNDING_OFFSET;
      const lo = first[x];
      const k = x * stride;
      for (let t = 0; t < count[x]; t++) {
        const w = weights[k + t];
        const p = rowOffset + (lo + t) * 3;
        r += source.data[p] * w;
        g += source.data[p + 1] * w;
        b += source.data[p + 2] * w;
      }
      const q = (y * outWidth + x) * 3;
      out[q] = clip8(r);
      out[q + 1] = clip8(g);
      out[q + 2] = clip8(b);
    }
  }
  return { width: outWidth, height: rows, data: out };
}

/** Vertical pass; `rowShift` is subtracted from the taps' row indices (the intermediate starts at a later row). */
function resampleColumns(source: RgbImage, outHeight: number, taps: ResampleTaps, rowShift: number): RgbImage {
  const width = source.width;
  const out = new Uint8Array(width * outHeight * 3);
  const { first, count, stride, weights } = taps;
  const row = width * 3;
  for (let y = 0; y < outHeight; y++) {
    const lo = first[y] - rowShift;
    const k = y * stride;
    for (let x = 0; x < width; x++) {
      let r = ROUNDING_OFFSET;
      let g = ROUNDING_OFFSET;
      let b = ROUNDING_OFFSET;
      for (let t = 0; t < count[y]; t++) {
        const w = weights[k + t];
        const p = (lo + t) * row + x * 3;
        r += source.data[p] * w;
        g += source.data[p + 1] * w;
        b += source.data[p + 2] * w;
      }
      const q = (y * width + x) * 3;
      out[q] = clip8(r);
      out[q + 1] = clip8(g);
      out[q + 2] = clip8(b);
    }
  }
  return { width, height: outHeight, data: out };
}

/**
 * `image.resize((width, height), resample=filter)` as Pillow computes it for an RGB image (no box, no
 * reducing_gap). Returns a copy when the size is unchanged.
 */
export function resizeRgb(image: RgbImage, width: number, height: number, filter: ResampleFilter): RgbImage {
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`resizeRgb: ${name} must be a positive integer, got ${value}`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(`resizeRgb: image data has ${image.data.length} bytes, expected ${image.width}·${image.height}·3`);
  }
  if (!(filter in KERNELS)) throw new RangeError(`resizeRgb: unknown filter '${filter}'`);
  const vertical = height !== image.height ? resampleTaps(image.height, height, filter) : null;
  let current = image;
  let rowShift = 0;
  if (width !== image.width) {
    // only the rows the vertical pass reads (Pillow's ybox_first … ybox_last)
    const rowStart = vertical ? vertical.first[0] : 0;
    const rowEnd = vertical ? vertical.first[height - 1] + vertical.count[height - 1] : image.height;
    current = resampleRows(image, rowStart, rowEnd - rowStart, width, resampleTaps(image.width, width, filter));
    rowShift = rowStart;
  }
  if (vertical) current = resampleColumns(current, height, vertical, rowShift);
  return current === image ? { width: image.width, height: image.height, data: new Uint8Array(image.data) } : current;
}
