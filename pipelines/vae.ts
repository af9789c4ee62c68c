import type { RgbImage } from './image/png.js';
import type { NoiseSource } from './schedulers/types.js';
import type { OnnxSession } from './session.js';
import { simdKernels } from './simd/kernels.js';

/** NumPy `round` (half to even) for non-negative values below 2^52. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `z = f32(latents / f32(scaling_factor))` (spec §9; a division, not a reciprocal multiply). */
export function unscaleLatents(latents: Float32Array, scalingFactor: number): Float32Array {
  const factor = Math.fround(scalingFactor);
  const out = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) out[i] = latents[i] / factor;
  return out;
}

export interface PixelConversion {
  /** null when any value is NaN or ±Inf: such an image must be reported, never saved. */
  image: RgbImage | null;
  nonFinite: number;
}

/**
 * Decoder output [1, 3, H, W] in [-1, 1] → 8-bit RGB (HWC), as diffusers' `VaeImageProcessor`
 * postprocess + `numpy_to_pil`: `y = clamp(f32(f32(x·0.5) + 0.5), 0, 1)`, `v = f32(y·255)`,
 * round half to even, uint8. Non-finite values are counted instead of converted.
 */
export function decodedToRgb(decoded: Float32Array, height: number, width: number): PixelConversion {
  const plane = height * width;
  if (decoded.length !== plane * 3) throw new Error(`decoded image has ${decoded.length} values, expected 3·${height}·${width}`);
  const kernels = simdKernels();
  if (!kernels) return decodedToRgbReference(decoded, height, width);
  const data = new Uint8Array(plane * 3);
  const nonFinite = kernels.decodedToRgb(decoded, plane, data);
  if (nonFinite > 0) return { image: null, nonFinite };
  return { image: { width, height, data }, nonFinite: 0 };
}

/** `decodedToRgb` in plain JavaScript (the fallback without WebAssembly SIMD; same bytes). */
export function decodedToRgbReference(decoded: Float32Array, height: number, width: number): PixelConversion {
  const plane = height * width;
  if (decoded.length !== plane * 3) throw new Error(`decoded image has ${decoded.length} values, expected 3·${height}·${width}`);
  const thresholds = BYTE_THRESHOLDS;
  const data = new Uint8Array(plane * 3);
  let nonFinite = 0;
  for (let channel = 0; channel < 3; channel++) {
    const source = decoded.subarray(channel * plane, (channel + 1) * plane);
    for (let p = 0, out = channel; p < plane; p++, out += 3) {
      const x = source[p];
      if (x - x !== 0) {
        nonFinite++; // NaN or ±Inf
        continue;
      }
      // a guess within one of the exact byte, then corrected against the exact thresholds
      const guess = x * 127.5 + 128;
      let byte = guess < 0 ? 0 : guess > 255 ? 255 : guess | 0;
      if (x < thresholds[byte]) byte--;
      else if (x >= thresholds[byte + 1]) byte++;
      data[out] = byte;
    }
  }
  if (nonFinite > 0) return { image: null, nonFinite };
  return { image: { width, height, data }, nonFinite: 0 };
}

/** The spec formula for one finite decoder value: clamp(f32(f32(x·0.5) + 0.5)), f32(·255), half-even. */
export function decodedValueToByte(x: number): number {
  let y = Math.fround(Math.fround(x * 0.5) + 0.5);
  y = y < 0 ? 0 : y > 1 ? 1 : y;
  return roundHalfEven(Math.fround(y * 255));
}

/**
 * `thresholds[k]` = the smallest float32 x with `decodedValueToByte(x) ≥ k` (the map is monotonic),
 * with −Inf at 0 and +Inf at 256, found by bisection over float32 values. With them the byte of x is
 * the k with thresholds[k] ≤ x < thresholds[k + 1] — exactly the spec formula, fewer operations.
 * Every threshold is a float32 value (or ±Inf), so a Float32Array holds them exactly; comparing
 * float32 with float32 is measurably faster than with a Float64Array table.
 */
const BYTE_THRESHOLDS: Float32Array = (() => {
  const table = new Float32Array(257);
  table[0] = -Infinity;
  table[256] = Infinity;
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  // order-preserving map between float32 values and integers
  const toKey = (x: number) => {
    asFloat[0] = x;
    return bits[0] & 0x80000000 ? 0x7fffffff - (bits[0] & 0x7fffffff) : 0x7fffffff + 1 + bits[0];
  };
  const fromKey = (key: number) => {
    bits[0] = key > 0x7fffffff ? key - 0x80000000 : (0x7fffffff - key) | 0x80000000;
    return asFloat[0];
  };
  for (let k = 1; k < 256; k++) {
    let low = toKey(-2); // byte 0
    let high = toKey(2); // byte 255
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (decodedValueToByte(fromKey(mid)) >= k) high = mid;
      else low = mid;
    }
    table[k] = fromKey(high);
  }
  return table;
})();

/**
 * 8-bit RGB → VAE encoder input [1, 3, H, W] as diffusers' `VaeImageProcessor.preprocess` does for
 * a PIL image of a size that is already a multiple of 8: `f32(v / 255)`, then `f32(f32(2·x) − 1)`.
 */
export function rgbToVaeInput(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let channel = 0; channel < 3; channel++) {
      const x = Math.fround(image.data[p * 3 + channel] / 255);
      out[channel * plane + p] = Math.fround(2 * x) - 1;
    }
  }
  return out;
}

export interface DecodeResult extends PixelConversion {
  /** explanation when `image` is null */
  error?: string;
}

/**
 * Decodes final latents [1, 4, h, w] with the VAE decoder: `z = latents / scaling_factor`, run,
 * convert to pixels. An fp16 decoder gets fp16 inputs (the graph cannot be upcast here) and the
 * caller is told so through `log`; the original SDXL VAE overflows in fp16 (spec §9), which
 * surfaces as a non-finite result reported in `error`.
 */
export async function decodeLatents(
  decoder: OnnxSession,
  latents: Float32Array,
  latentDims: readonly number[],
  scalingFactor: number,
  log: (line: string) => void = () => {},
): Promise<DecodeResult> {
  const [, , h, w] = latentDims;
  const nonFiniteLatents = countNonFinite(latents);
  if (nonFiniteLatents > 0) {
    return { image: null, nonFinite: nonFiniteLatents, error: `latents contain ${nonFiniteLatents} non-finite values (NaN/Inf) before the VAE` };
  }
  if (decoder.usesFloat16) log(`${decoder.label}: VAE decoder is float16; latents are cast to float16 (fp16 VAEs can overflow to NaN; prefer an fp32 or fp16-fix VAE)`);
  const inputName = decoder.inputNames[0];
  const outputName = decoder.outputNames[0];
  const result = await decoder.run({ [inputName]: { data: unscaleLatents(latents, scalingFactor), dims: latentDims } }, [outputName]);
  const decoded = result[outputName];
  const [height, width] = decoded.dims.slice(2);
  if (height !== h * 8 || width !== w * 8) throw new Error(`${decoder.label}: decoded size ${height}x${width} is not 8× the latent size ${h}x${w}`);
  const pixels = decodedToRgb(decoded.data, height, width);
  if (pixels.image) return pixels;
  return { ...pixels, error: `VAE decoder output contains ${pixels.nonFinite} non-finite values (NaN/Inf)${decoder.usesFloat16 ? '; the VAE is float16' : ''}` };
}

export function countNonFinite(values: Float32Array): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) count++;
  return count;
}

/**
 * The diagonal Gaussian sample of a gen-B encoder's `latent_parameters` [1, 8, h, w]
 * (mean = channels 0..3, logvar = 4..7): `logvar = clamp(logvar, −30, 20)`,
 * `std = exp(0.5·logvar)`, `sample = mean + std·randn(generator)` (diffusers
 * `DiagonalGaussianDistribution.sample`). Draws exactly one [1, 4, h, w] tensor. `exp` is libm
 * here and vectorised in torch: equal to tolerance, not bitwise.
 */
export function sampleLatentDistribution(parameters: Float32Array, dims: readonly number[], generator: NoiseSource): Float32Array {
  const [batch, channels, h, w] = dims;
  if (batch !== 1 || channels !== 8) throw new Error(`latent_parameters must be [1, 8, h, w], got [${dims.join(', ')}]`);
  const count = 4 * h * w;
  const noise = generator.randn([1, 4, h, w]);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const logvar = Math.min(Math.max(parameters[count + i], -30), 20);
    const std = Math.fround(Math.exp(Math.fround(0.5 * logvar)));
    out[i] = parameters[i] + Math.fround(std * noise[i]);
  }
  return out;
}

export interface EncodeResult {
  /** scaled latents [1, 4, H/8, W/8] = f32(scaling_factor · sample) */
  latents: Float32Array;
  dims: number[];
  /** false for gen-A encoders that sample inside the graph with an unseeded RNG */
  reproducible: boolean;
}

/**
 * Encodes an 8-bit image to model-space latents like diffusers' img2img `prepare_latents`:
 * preprocess, encode, sample the latent distribution with `generator` (consuming one
 * [1, 4, h, w] draw), multiply by the scaling factor.
 * Gen-A encoders (output `latent_sample`) draw inside the graph, unseeded: the result is not
 * reproducible. One draw is still taken from `generator` and discarded so that the following
 * add-noise draw is the second draw of the stream, as in diffusers.
 */
export async function encodeImage(
  encoder: OnnxSession,
  image: RgbImage,
  scalingFactor: number,
  generator: NoiseSource,
  log: (line: string) => void = () => {},
): Promise<EncodeResult> {
  if (image.width % 8 !== 0 || image.height % 8 !== 0) throw new Error(`image size ${image.width}x${image.height} is not a multiple of 8`);
  const inputName = encoder.inputNames[0];
  const sample = { data: rgbToVaeInput(image), dims: [1, 3, image.height, image.width] };
  if (encoder.usesFloat16) log(`${encoder.label}: VAE encoder is float16; the image is cast to float16`);
  const factor = Math.fround(scalingFactor);
  const h = image.height / 8;
  const w = image.width / 8;
  if (encoder.output('latent_parameters')) {
    const result = await encoder.run({ [inputName]: sample }, ['latent_parameters']);
    const parameters = result.latent_parameters;
    const drawn = sampleLatentDistribution(parameters.data, parameters.dims, generator);
    return { latents: scale(drawn, factor), dims: [1, 4, h, w], reproducible: true };
  }
  const outputName = encoder.output('latent_sample') ? 'latent_sample' : encoder.outputNames[0];
  log(
    `warning: ${encoder.label}: this VAE encoder (older optimum export, output ${outputName}) samples the latent inside the graph without a seed; SDEdit results are not reproducible. Re-export with optimum >= 1.23 for latent_parameters.`,
  );
  const result = await encoder.run({ [inputName]: sample }, [outputName]);
  generator.randn([1, 4, h, w]);
  return { latents: scale(result[outputName].data, factor), dims: [1, 4, h, w], reproducible: false };
}

function scale(values: Float32Array, factor: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = factor * values[i];
  return out;
}
