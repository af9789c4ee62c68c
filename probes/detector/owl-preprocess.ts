/**
 * Image preprocessing of the two open-vocabulary detector families, as transformers' (slow, numpy)
 * image processors do it, driven by the folder's `preprocessor_config.json`:
 *
 * OWL-ViT (`OwlViTImageProcessor`): resize to `size` (height × width, aspect NOT kept) with Pillow's
 * filter `resample` (3 = bicubic), optional center crop, rescale `float32(uint8 · rescale_factor)`,
 * normalize `(x − mean) / std` in float32, channels first. Predicted boxes are relative to the stretched
 * image, so they scale back by (width, height) of the original.
 *
 * OWLv2 (`Owlv2ImageProcessor`): rescale to float32 first, pad bottom and right to a square with
 * `padValue` (0.0, as OWLv2's official implementation and transformers since PR #41938; OWL-ViT v1's
 * paper used 0.5 grey), then resize as scikit-image does: a Gaussian anti-aliasing blur with
 * σ = max(0, (in/out − 1) / 2) per axis (scipy `gaussian_filter`, truncate 4, mode "mirror"), then
 * linear interpolation (scipy `zoom`, order 1, `grid_mode=True`, mode "mirror"), clipped to the input's
 * range, then normalize. Predicted boxes are relative to the padded square, so both axes scale by
 * max(width, height) of the original.
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { resampleFilterFromPilCode, resizeRgb } from '../../pipelines/image/resize.js';
import { centerCropRgb } from '../clip/preprocess.js';

export type OwlModelType = 'owlvit' | 'owlv2';

export interface OwlPreprocessing {
  modelType: OwlModelType;
  doResize: boolean;
  /** target size of the resize (OWL-ViT: the stretched image; OWLv2: the padded square) */
  height: number;
  width: number;
  /** Pillow resample code (OWL-ViT only; OWLv2's resize is always linear with anti-aliasing) */
  resample: number;
  /** OWL-ViT only; a crop is accepted only when it equals the resize size (boxes would not map back otherwise) */
  doCenterCrop: boolean;
  cropHeight: number;
  cropWidth: number;
  /** OWLv2 only: pad to a square before resizing */
  doPad: boolean;
  padValue: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

export interface OwlPixelValues {
  /** CHW float32, 3 × height × width */
  data: Float32Array;
  height: number;
  width: number;
  /** multiply normalised box x coordinates by this to get original-image pixels */
  boxScaleX: number;
  /** multiply normalised box y coordinates by this to get original-image pixels */
  boxScaleY: number;
}

/** `pixel_values` for one image and how its normalised boxes map back to the original's pixels. */
export function owlPixelValues(image: RgbImage, preprocessing: OwlPreprocessing): OwlPixelValues {
  return preprocessing.modelType === 'owlv2' ? owlv2PixelValues(image, preprocessing) : owlvitPixelValues(image, preprocessing);
}

function owlvitPixelValues(image: RgbImage, p: OwlPreprocessing): OwlPixelValues {
  let current = image;
  if (p.doResize && (image.width !== p.width || image.height !== p.height)) {
    current = resizeRgb(image, p.width, p.height, resampleFilterFromPilCode(p.resample, 'preprocessor_config.json resample'));
  }
  if (p.doCenterCrop) current = centerCropRgb(current, p.cropHeight, p.cropWidth);
  const plane = current.width * current.height;
  const out = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = normalizeValue(p.doRescale ? Math.fround(v * p.rescaleFactor) : v, c, p);
    const channel = out.subarray(c * plane, (c + 1) * plane);
    for (let i = 0; i < plane; i++) channel[i] = table[current.data[i * 3 + c]];
  }
  return { data: out, height: current.height, width: current.width, boxScaleX: image.width, boxScaleY: image.height };
}

/** transformers' `normalize` on a float32 image: float32 mean/std, float32 arithmetic. */
function normalizeValue(x: number, channel: number, p: OwlPreprocessing): number {
  if (!p.doNormalize) return Math.fround(x);
  return Math.fround(Math.fround(x - Math.fround(p.imageMean[channel])) / Math.fround(p.imageStd[channel]));
}

/** One float32 channel plane, row-major. */
interface Plane {
  width: number;
  height: number;
  data: Float32Array;
}

function owlv2PixelValues(image: RgbImage, p: OwlPreprocessing): OwlPixelValues {
  const side = Math.max(image.width, image.height);
  const padded = p.doPad ? { width: side, height: side } : { width: image.width, height: image.height };
  const planes: Plane[] = [0, 1, 2].map((c) => {
    const data = new Float32Array(padded.width * padded.height).fill(Math.fround(p.padValue));
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const v = image.data[(y * image.width + x) * 3 + c];
        data[y * padded.width + x] = p.doRescale ? Math.fround(v * p.rescaleFactor) : v;
      }
    }
    return { ...padded, data };
  });
  // the clip range is taken over the whole (padded) HWC image, as skimage's `_clip_warp_output` does
  let min = Infinity;
  let max = -Infinity;
  for (const plane of planes) {
    for (const v of plane.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  const resized = planes.map((plane) =>
    p.doResize && (plane.width !== p.width || plane.height !== p.height) ? antialiasedLinearResize(plane, p.width, p.height, min, max) : plane,
  );
  const { width, height } = resized[0];
  const out = new Float32Array(width * height * 3);
  resized.forEach((plane, c) => {
    for (let i = 0; i < plane.data.length; i++) out[c * width * height + i] = normalizeValue(plane.data[i], c, p);
  });
  const scale = p.doPad ? side : undefined;
  return { data: out, height, width, boxScaleX: scale ?? image.width, boxScaleY: scale ?? image.height };
}

/** scipy's "mirror" boundary: reflect about the edge samples (d c b | a b c d | c b a). */
function mirrorIndex(index: number, length: number): number {
  if (length === 1) return 0;
  const period = 2 * (length - 1);
  let i = Math.abs(index) % period;
  if (i >= length) i = period - i;
  return i;
}

/** scipy `gaussian_filter1d` weights: radius int(4σ + 0.5), exp(−x²/2σ²) normalised. */
export function gaussianWeights(sigma: number): Float64Array {
  const radius = Math.trunc(4 * sigma + 0.5);
  const weights = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) {
    const w = Math.exp((-0.5 / (sigma * sigma)) * x * x);
    weights[x + radius] = w;
    sum += w;
  }
  for (let i = 0; i < weights.length; i++) weights[i] /= sum;
  return weights;
}

/** Correlates along one axis (0 = rows/y, 1 = columns/x) with mirror boundaries; float32 result. */
function filterAxis(plane: Plane, weights: Float64Array, axis: 0 | 1): Plane {
  const { width, height, data } = plane;
  const radius = (weights.length - 1) / 2;
  const out = new Float32Array(data.length);
  const length = axis === 0 ? height : width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const position = axis === 0 ? y : x;
      let sum = 0;
      for (let k = -radius; k <= radius; k++) {
        const j = mirrorIndex(position + k, length);
        sum += weights[k + radius] * data[axis === 0 ? j * width + x : y * width + j];
      }
      out[y * width + x] = sum;
    }
  }
  return { width, height, data: out };
}

/** Source index pairs and weights of scipy `zoom(order=1, grid_mode=True, mode="mirror")` along one axis. */
function linearTaps(inSize: number, outSize: number): { low: Int32Array; high: Int32Array; weight: Float64Array } {
  const low = new Int32Array(outSize);
  const high = new Int32Array(outSize);
  const weight = new Float64Array(outSize);
  const ratio = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const coordinate = (o + 0.5) * ratio - 0.5;
    const floor = Math.floor(coordinate);
    low[o] = mirrorIndex(floor, inSize);
    high[o] = mirrorIndex(floor + 1, inSize);
    weight[o] = coordinate - floor;
  }
  return { low, high, weight };
}

/**
 * skimage-style `resize(image, (height, width), order=1, anti_aliasing=True, mode="mirror")` of one
 * float32 plane, as transformers' `Owlv2ImageProcessor.resize` runs it (the blur is skipped on an axis
 * that is not downsampled), clipped to [min, max].
 */
export function antialiasedLinearResize(plane: Plane, width: number, height: number, min: number, max: number): Plane {
  let filtered = plane;
  const sigmaY = Math.max(0, (plane.height / height - 1) / 2);
  const sigmaX = Math.max(0, (plane.width / width - 1) / 2);
  if (sigmaY > 1e-15) filtered = filterAxis(filtered, gaussianWeights(sigmaY), 0);
  if (sigmaX > 1e-15) filtered = filterAxis(filtered, gaussianWeights(sigmaX), 1);
  const rows = linearTaps(plane.height, height);
  const columns = linearTaps(plane.width, width);
  const out = new Float32Array(width * height);
  const source = filtered.data;
  const stride = filtered.width;
  for (let y = 0; y < height; y++) {
    const wy = rows.weight[y];
    const top = rows.low[y] * stride;
    const bottom = rows.high[y] * stride;
    for (let x = 0; x < width; x++) {
      const wx = columns.weight[x];
      const left = columns.low[x];
      const right = columns.high[x];
      const value =
        (1 - wy) * ((1 - wx) * source[top + left] + wx * source[top + right]) + wy * ((1 - wx) * source[bottom + left] + wx * source[bottom + right]);
      out[y * width + x] = Math.min(max, Math.max(min, value));
    }
  }
  return { width, height, data: out };
}
