/**
 * CLIP image preprocessing with the semantics of transformers' (slow, PIL-based) `CLIPImageProcessor`,
 * driven by the folder's `preprocessor_config.json`:
 *  1. resize so the shorter side is `size.shortest_edge`, the longer side `int(shortest_edge · long / short)`
 *     (transformers' `get_resize_output_image_size`, truncating), with Pillow's resampling (`resample`,
 *     3 = bicubic) — see pipelines/image/resize.ts;
 *  2. center crop to `crop_size` with offsets `(size − crop) // 2` (zero padding where the image is smaller,
 *     as transformers' `center_crop` does);
 *  3. rescale: `float32(uint8 · rescale_factor)` (the product in double precision, then rounded);
 *  4. normalize per channel in float32: `(x − mean) / std`;
 *  5. channels first (CHW).
 * Note: transformers' newer "fast" image processors resize with torchvision instead of Pillow and differ
 * from this by up to a few 8-bit steps; the CLIP checkpoints were evaluated with the PIL path.
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { resampleFilterFromPilCode, resizeRgb } from '../../pipelines/image/resize.js';
import type { ClipPreprocessing } from '../../pipelines/model-folder.js';

/** Output (height, width) of transformers' `get_resize_output_image_size(size=shortestEdge, default_to_square=False)`. */
export function shortestEdgeResizeSize(height: number, width: number, shortestEdge: number): { height: number; width: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height ? { height: newLong, width: shortestEdge } : { height: shortestEdge, width: newLong };
}

/** transformers' `center_crop`: offsets `(size − crop) // 2`; an image smaller than the crop is zero-padded around its centre. */
export function centerCropRgb(image: RgbImage, cropHeight: number, cropWidth: number): RgbImage {
  const top = Math.floor((image.height - cropHeight) / 2);
  const left = Math.floor((image.width - cropWidth) / 2);
  if (top >= 0 && left >= 0 && top + cropHeight <= image.height && left + cropWidth <= image.width) {
    const out = new Uint8Array(cropHeight * cropWidth * 3);
    for (let y = 0; y < cropHeight; y++) {
      const start = ((top + y) * image.width + left) * 3;
      out.set(image.data.subarray(start, start + cropWidth * 3), y * cropWidth * 3);
    }
    return { width: cropWidth, height: cropHeight, data: out };
  }
  // pad to at least the crop size, the original placed at ceil(padding / 2), then take the crop window
  const paddedHeight = Math.max(cropHeight, image.height);
  const paddedWidth = Math.max(cropWidth, image.width);
  const padTop = Math.ceil((paddedHeight - image.height) / 2);
  const padLeft = Math.ceil((paddedWidth - image.width) / 2);
  const windowTop = Math.max(0, top + padTop);
  const windowLeft = Math.max(0, left + padLeft);
  const windowBottom = Math.min(paddedHeight, top + padTop + cropHeight);
  const windowRight = Math.min(paddedWidth, left + padLeft + cropWidth);
  const outHeight = windowBottom - windowTop;
  const outWidth = windowRight - windowLeft;
  const out = new Uint8Array(outHeight * outWidth * 3);
  for (let y = 0; y < outHeight; y++) {
    const sourceY = y + windowTop - padTop;
    if (sourceY < 0 || sourceY >= image.height) continue;
    for (let x = 0; x < outWidth; x++) {
      const sourceX = x + windowLeft - padLeft;
      if (sourceX < 0 || sourceX >= image.width) continue;
      const from = (sourceY * image.width + sourceX) * 3;
      const to = (y * outWidth + x) * 3;
      out[to] = image.data[from];
      out[to + 1] = image.data[from + 1];
      out[to + 2] = image.data[from + 2];
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/** The resized and cropped 8-bit image (steps 1–2), before any float conversion. */
export function resizeAndCropForClip(image: RgbImage, preprocessing: ClipPreprocessing): RgbImage {
  let current = image;
  if (preprocessing.doResize) {
    const size = shortestEdgeResizeSize(image.height, image.width, preprocessing.shortestEdge);
    const filter = resampleFilterFromPilCode(preprocessing.resample, 'preprocessor_config.json resample');
    current = resizeRgb(current, size.width, size.height, filter);
  }
  if (preprocessing.doCenterCrop) current = centerCropRgb(current, preprocessing.cropHeight, preprocessing.cropWidth);
  return current;
}

/** Steps 3–5 on an already resized and cropped image: float32 CHW pixel values. */
export function clipPixelValues(image: RgbImage, preprocessing: ClipPreprocessing): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(plane * 3);
  const mean = preprocessing.imageMean.map(Math.fround);
  const std = preprocessing.imageStd.map(Math.fround);
  for (let c = 0; c < 3; c++) {
    // the 256 possible results per channel, each computed once with numpy's float32 rounding steps
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = preprocessing.doRescale ? Math.fround(v * preprocessing.rescaleFactor) : v;
      if (preprocessing.doNormalize) x = Math.fround(Math.fround(x - mean[c]) / std[c]);
      table[v] = x;
    }
    const channel = out.subarray(c * plane, (c + 1) * plane);
    for (let i = 0; i < plane; i++) channel[i] = table[image.data[i * 3 + c]];
  }
  return out;
}

/** The whole pipeline: `pixel_values` for one image, CHW float32 of size 3 × crop height × crop width. */
export function preprocessClipImage(image: RgbImage, preprocessing: ClipPreprocessing): { data: Float32Array; height: number; width: number } {
  const cropped = resizeAndCropForClip(image, preprocessing);
  return { data: clipPixelValues(cropped, preprocessing), height: cropped.height, width: cropped.width };
}
