/**
 * The few image operations the OCR pipeline needs, on 8-bit RGB (HWC) images. PaddleOCR uses OpenCV;
 * an exact OpenCV match is not needed for OCR, so these are simple and documented instead:
 * - `resizeBilinear`: separable triangle (bilinear) filter; when shrinking, the filter widens with the
 *   scale (area-like antialiasing, as PIL's BILINEAR does) so small text stays legible.
 * - `warpQuad`: perspective crop of a quadrilateral to an upright rectangle, bilinear sampling,
 *   replicated border (PaddleOCR's `get_rotate_crop_image` uses cv2.warpPerspective the same way).
 */
import type { RgbImage } from '../../pipelines/image/png.js';

export type Point = [number, number];
/** corners in order top-left, top-right, bottom-right, bottom-left */
export type Quad = [Point, Point, Point, Point];

interface FilterTaps {
  /** first source index per output index */
  first: Int32Array;
  /** number of taps per output index */
  count: Int32Array;
  /** weights, `maxTaps` per output index */
  weights: Float64Array;
  maxTaps: number;
}

function triangleTaps(sourceSize: number, targetSize: number): FilterTaps {
  const scale = sourceSize / targetSize;
  const support = Math.max(1, scale);
  const maxTaps = Math.ceil(support) * 2 + 2;
  const first = new Int32Array(targetSize);
  const count = new Int32Array(targetSize);
  const weights = new Float64Array(targetSize * maxTaps);
  for (let out = 0; out < targetSize; out++) {
    const centre = (out + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(sourceSize, Math.ceil(centre + support));
    let total = 0;
    let n = 0;
    for (let s = lo; s < hi; s++, n++) {
      const w = Math.max(0, 1 - Math.abs((s + 0.5 - centre) / support));
      weights[out * maxTaps + n] = w;
      total += w;
    }
    if (total === 0) {
      // a target pixel between two source centres at the border: take the nearest
      const nearest = Math.min(sourceSize - 1, Math.max(0, Math.floor(centre)));
      first[out] = nearest;
      count[out] = 1;
      weights[out * maxTaps] = 1;
      continue;
    }
    for (let k = 0; k < n; k++) weights[out * maxTaps + k] /= total;
    first[out] = lo;
    count[out] = n;
  }
  return { first, count, weights, maxTaps };
}

export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  if (!(width >= 1 && height >= 1)) throw new Error(`resize: target size ${width}x${height} must be at least 1x1`);
  if (width === image.width && height === image.height) return { width, height, data: image.data.slice() };
  const horizontal = triangleTaps(image.width, width);
  const vertical = triangleTaps(image.height, height);
  const rows = new Float64Array(image.height * width * 3);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const base = x * horizontal.maxTaps;
      for (let k = 0; k < horizontal.count[x]; k++) {
        const w = horizontal.weights[base + k];
        const i = row + (horizontal.first[x] + k) * 3;
        r += w * image.data[i];
        g += w * image.data[i + 1];
        b += w * image.data[i + 2];
      }
      const o = (y * width + x) * 3;
      rows[o] = r;
      rows[o + 1] = g;
      rows[o + 2] = b;
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const base = y * vertical.maxTaps;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < vertical.count[y]; k++) v += vertical.weights[base + k] * rows[((vertical.first[y] + k) * width + x) * 3 + c];
        data[(y * width + x) * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
  return { width, height, data };
}

/**
 * The projective map of the unit square onto `quad` ((0,0) → tl, (1,0) → tr, (1,1) → br, (0,1) → bl),
 * as a function (u, v) → (x, y) (Heckbert's square-to-quad formulas).
 */
export function squareToQuad(quad: Quad): (u: number, v: number) => Point {
  const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = quad;
  const sx = x0 - x1 + x2 - x3;
  const sy = y0 - y1 + y2 - y3;
  let g = 0;
  let h = 0;
  if (Math.abs(sx) > 1e-9 || Math.abs(sy) > 1e-9) {
    const dx1 = x1 - x2;
    const dx2 = x3 - x2;
    const dy1 = y1 - y2;
    const dy2 = y3 - y2;
    const den = dx1 * dy2 - dx2 * dy1;
    if (Math.abs(den) > 1e-12) {
      g = (sx * dy2 - dx2 * sy) / den;
      h = (dx1 * sy - sx * dy1) / den;
    }
  }
  const a = x1 - x0 + g * x1;
  const b = x3 - x0 + h * x3;
  const d = y1 - y0 + g * y1;
  const e = y3 - y0 + h * y3;
  return (u, v) => {
    const w = g * u + h * v + 1;
    return [(a * u + b * v + x0) / w, (d * u + e * v + y0) / w];
  };
}

/** Samples `quad` of `image` into an upright width×height image (pixel centres at integer coordinates). */
export function warpQuad(image: RgbImage, quad: Quad, width: number, height: number): RgbImage {
  const map = squareToQuad(quad);
  const data = new Uint8Array(width * height * 3);
  const maxX = image.width - 1;
  const maxY = image.height - 1;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      const [sx, sy] = map(i / width, j / height);
      const x = Math.min(maxX, Math.max(0, sx));
      const y = Math.min(maxY, Math.max(0, sy));
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      const x1 = Math.min(maxX, x0 + 1);
      const y1 = Math.min(maxY, y0 + 1);
      const fx = x - x0;
      const fy = y - y0;
      for (let c = 0; c < 3; c++) {
        const top = image.data[(y0 * image.width + x0) * 3 + c] * (1 - fx) + image.data[(y0 * image.width + x1) * 3 + c] * fx;
        const bottom = image.data[(y1 * image.width + x0) * 3 + c] * (1 - fx) + image.data[(y1 * image.width + x1) * 3 + c] * fx;
        data[(j * width + i) * 3 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { width, height, data };
}

/** Rotates 90° counter-clockwise (NumPy `rot90`). */
export function rotateCounterClockwise(image: RgbImage): RgbImage {
  const { width, height } = image;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // source (x, y) → target (y, width − 1 − x) in a height-wide image
      const target = ((width - 1 - x) * height + y) * 3;
      const source = (y * width + x) * 3;
      data[target] = image.data[source];
      data[target + 1] = image.data[source + 1];
      data[target + 2] = image.data[source + 2];
    }
  }
  return { width: height, height: width, data };
}
