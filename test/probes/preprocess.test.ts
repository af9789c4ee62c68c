import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../pipelines/image/png.js';
import { resampleFilterFromPilCode, resampleTaps, resizeRgb, type ResampleFilter } from '../../pipelines/image/resize.js';
import type { ClipPreprocessing } from '../../pipelines/model-folder.js';
import { centerCropRgb, clipPixelValues, preprocessClipImage, shortestEdgeResizeSize } from '../../probes/clip/preprocess.js';

// ---------------------------------------------------------------------------------------------
// An independent reference: Pillow's arithmetic (Resample.c) written out per output pixel, with the
// kernels in their textbook polynomial / sinc form, double precision throughout and the fixed-point
// rounding (22 fractional bits, weights rounded half away from zero, (2^21 + Σ) >> 22, clip to 0…255)
// spelled out. No code is shared with pipelines/image/resize.ts.

function keysCubic(x: number): number {
  const t = Math.abs(x);
  if (t < 1) return 1.5 * t ** 3 - 2.5 * t ** 2 + 1;
  if (t < 2) return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2;
  return 0;
}
function triangle(x: number): number {
  return Math.max(0, 1 - Math.abs(x));
}
function lanczos3(x: number): number {
  if (x < -3 || x >= 3) return 0;
  const s = (v: number) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
  return s(x) * s(x / 3);
}
const REFERENCE_KERNELS: Record<string, { f: (x: number) => number; support: number }> = {
  bicubic: { f: keysCubic, support: 2 },
  bilinear: { f: triangle, support: 1 },
  lanczos: { f: lanczos3, support: 3 },
};

function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}
function referenceWeightsExact(inSize: number, outSize: number, o: number, filter: string): Array<[number, number]> {
  const { f, support: baseSupport } = REFERENCE_KERNELS[filter];
  const scale = inSize / outSize;
  const widen = scale > 1 ? scale : 1;
  const support = baseSupport * widen;
  const center = (o + 0.5) * scale;
  const from = Math.max(0, Math.trunc(center - support + 0.5));
  const to = Math.min(inSize, Math.trunc(center + support + 0.5));
  const raw: Array<[number, number]> = [];
  for (let i = from; i < to; i++) raw.push([i, f((i - center + 0.5) / widen)]);
  const total = raw.reduce((s, [, w]) => s + w, 0);
  return raw.map(([i, w]) => [i, roundHalfAway((total === 0 ? w : w / total) * 4194304)]);
}
function fixedToByte(sum: number): number {
  return Math.min(255, Math.max(0, Math.floor((sum + 2097152) / 4194304)));
}

function referenceResize(image: RgbImage, width: number, height: number, filter: string): RgbImage {
  const get = (x: number, y: number, c: number) => image.data[(y * image.width + x) * 3 + c];
  const columnWeights = Array.from({ length: width }, (_, x) => referenceWeightsExact(image.width, width, x, filter));
  const horizontal = (x: number, y: number, c: number): number => {
    if (width === image.width) return get(x, y, c);
    let sum = 0;
    for (const [i, w] of columnWeights[x]) sum += get(i, y, c) * w;
    return fixedToByte(sum);
  };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let value: number;
        if (height === image.height) value = horizontal(x, y, c);
        else {
          let sum = 0;
          for (const [j, w] of referenceWeightsExact(image.height, height, y, filter)) sum += horizontal(x, j, c) * w;
          value = fixedToByte(sum);
        }
        data[(y * width + x) * 3 + c] = value;
      }
    }
  }
  return { width, height, data };
}

/** a deterministic image with edges, gradients and saturated areas (where clipping matters) */
function testImage(width: number, height: number, seed = 1): RgbImage {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inSquare = x > width / 4 && x < (3 * width) / 4 && y > height / 3 && y < (2 * height) / 3;
      data[i] = inSquare ? 255 : Math.round((255 * x) / Math.max(1, width - 1));
      data[i + 1] = (x + y) % 7 === 0 ? 0 : 255;
      data[i + 2] = Math.floor(next() * 256);
    }
  }
  return { width, height, data };
}

const OPENAI_CLIP: ClipPreprocessing = {
  doResize: true,
  shortestEdge: 224,
  resample: 3,
  doCenterCrop: true,
  cropHeight: 224,
  cropWidth: 224,
  doRescale: true,
  rescaleFactor: 0.00392156862745098,
  doNormalize: true,
  imageMean: [0.48145466, 0.4578275, 0.40821073],
  imageStd: [0.26862954, 0.26130258, 0.27577711],
  doConvertRgb: true,
};

describe('Pillow-exact resampling', () => {
  it('matches hand-computed bicubic values for a 4 → 2 downscale of a step edge', () => {
    // Output 0: centre 1, filter scale 2, taps at (i − 1 + 0.5)/2 = −0.25, 0.25, 0.75, 1.25 with Keys
    // weights 0.8671875, 0.8671875, 0.2265625, −0.0703125 (sum 1.890625). On [0, 0, 255, 255]:
    // 255 · (0.2265625 − 0.0703125) / 1.890625 = 21.07 → 21; output 1 mirrors it: 233.93 → 234.
    const row = Uint8Array.from([0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
    const out = resizeRgb({ width: 4, height: 1, data: row }, 2, 1, 'bicubic');
    expect([...out.data]).toEqual([21, 21, 21, 234, 234, 234]);
  });

  it('matches hand-computed bilinear values for a 2 → 4 upscale (no widening when enlarging)', () => {
    // scale 0.5, support 1: output o has centre (o + 0.5) / 2 and taps i with weight 1 − |i + 0.5 − centre|
    // between trunc(centre − 0.5) and trunc(centre + 1.5) (exclusive, clamped to the input):
    // o=0: centre 0.25, only i=0 → 100; o=1: centre 0.75, weights 0.75 / 0.25 → 125;
    // o=2: centre 1.25, weights 0.25 / 0.75 → 175; o=3: centre 1.75, only i=1 → 200.
    const row = Uint8Array.from([100, 100, 100, 200, 200, 200]);
    const out = resizeRgb({ width: 2, height: 1, data: row }, 4, 1, 'bilinear');
    expect([...out.data].filter((_, i) => i % 3 === 0)).toEqual([100, 125, 175, 200]);
  });

  it('rounds weights to 22 fractional bits half away from zero and sums to about one', () => {
    const taps = resampleTaps(1024, 224, 'bicubic');
    for (let o = 0; o < 224; o++) {
      let sum = 0;
      for (let t = 0; t < taps.count[o]; t++) sum += taps.weights[o * taps.stride + t];
      expect(Math.abs(sum - 2 ** 22)).toBeLessThanOrEqual(taps.count[o]);
    }
    for (const o of [0, 1, 57, 111, 223]) {
      const reference = referenceWeightsExact(1024, 224, o, 'bicubic');
      expect(taps.first[o]).toBe(reference[0][0]);
      expect(taps.count[o]).toBe(reference.length);
      expect([...taps.weights.subarray(o * taps.stride, o * taps.stride + taps.count[o])]).toEqual(reference.map(([, w]) => w));
    }
  });

  const cases: Array<[string, number, number, number, number, ResampleFilter]> = [
    ['downscale both axes', 37, 29, 11, 9, 'bicubic'],
    ['non-integer downscale ratio', 50, 41, 23, 17, 'bicubic'],
    ['upscale', 7, 5, 19, 13, 'bicubic'],
    ['horizontal only', 40, 12, 15, 12, 'bicubic'],
    ['vertical only', 12, 40, 12, 15, 'bicubic'],
    ['bilinear mixed', 33, 21, 14, 30, 'bilinear'],
    ['lanczos downscale', 45, 30, 16, 11, 'lanczos'],
  ];
  for (const [name, w, h, ow, oh, filter] of cases) {
    it(`equals the per-pixel reference: ${name} (${w}×${h} → ${ow}×${oh}, ${filter})`, () => {
      const image = testImage(w, h, w * 31 + h);
      expect(Buffer.from(resizeRgb(image, ow, oh, filter).data).equals(Buffer.from(referenceResize(image, ow, oh, filter).data))).toBe(true);
    });
  }

  it('returns an unchanged copy when the size is the same', () => {
    const image = testImage(9, 6);
    const out = resizeRgb(image, 9, 6, 'bicubic');
    expect(out.data).not.toBe(image.data);
    expect([...out.data]).toEqual([...image.data]);
  });

  it('maps Pillow resample codes and refuses nearest / unknown codes with the field named', () => {
    expect(resampleFilterFromPilCode(3)).toBe('bicubic');
    expect(resampleFilterFromPilCode(1)).toBe('lanczos');
    expect(() => resampleFilterFromPilCode(0, 'preprocessor_config.json resample')).toThrow(/preprocessor_config.json resample.*nearest/);
    expect(() => resampleFilterFromPilCode(9)).toThrow(/unknown Pillow resample code 9/);
  });
});

describe('CLIPImageProcessor semantics', () => {
  it('computes the resize size like get_resize_output_image_size (int() truncation of the long side)', () => {
    expect(shortestEdgeResizeSize(200, 300, 224)).toEqual({ height: 224, width: 336 });
    expect(shortestEdgeResizeSize(1024, 1024, 224)).toEqual({ height: 224, width: 224 });
    // 224 · 1000 / 768 = 291.67 → 291 (truncated, not rounded)
    expect(shortestEdgeResizeSize(1000, 768, 224)).toEqual({ height: 291, width: 224 });
    expect(shortestEdgeResizeSize(80, 100, 224)).toEqual({ height: 224, width: 280 });
  });

  it('center-crops with (size − crop) // 2 offsets', () => {
    const image = testImage(7, 5);
    const crop = centerCropRgb(image, 2, 4); // top (5−2)//2 = 1, left (7−4)//2 = 1
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 4; x++) {
        expect(crop.data[(y * 4 + x) * 3]).toBe(image.data[((y + 1) * 7 + x + 1) * 3]);
      }
    }
  });

  it('zero-pads an image smaller than the crop, placed at ceil(padding / 2)', () => {
    const image: RgbImage = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => 10 + i) };
    const crop = centerCropRgb(image, 4, 4);
    expect([crop.width, crop.height]).toEqual([4, 4]);
    // rows 1–2, columns 1–3 hold the image; the rest is 0
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const inside = y >= 1 && y <= 2 && x >= 1 && x <= 3;
        expect(crop.data[(y * 4 + x) * 3]).toBe(inside ? image.data[((y - 1) * 3 + (x - 1)) * 3] : 0);
      }
    }
  });

  it('rescales and normalizes with float32 rounding (hand-checked values)', () => {
    const image: RgbImage = { width: 2, height: 1, data: Uint8Array.from([255, 0, 128, 0, 255, 64]) };
    const values = clipPixelValues(image, OPENAI_CLIP);
    // (1 − 0.48145466) / 0.26862954 = 1.9303363; (0 − 0.4578275) / 0.26130258 = −1.7520971
    expect(values[0]).toBeCloseTo(1.9303363, 6);
    expect(values[1]).toBeCloseTo(-0.48145466 / 0.26862954, 6);
    expect(values[2]).toBeCloseTo(-1.7520971, 6);
    expect(values[3]).toBeCloseTo((1 - 0.4578275) / 0.26130258, 6);
    // 128/255 = 0.50196078 → (0.50196078 − 0.40821073) / 0.27577711 = 0.3399486
    expect(values[4]).toBeCloseTo(0.3399486, 6);
    // float32 chain: fround(fround(fround(v/255) − fround(mean)) / fround(std))
    const f = Math.fround;
    expect(values[5]).toBe(f(f(f(64 * 0.00392156862745098) - f(0.40821073)) / f(0.27577711)));
  });

  it('leaves a 224 × 224 image unresized: only rescale and normalize (identity case)', () => {
    const image = testImage(224, 224, 5);
    const { data, height, width } = preprocessClipImage(image, OPENAI_CLIP);
    expect([height, width]).toEqual([224, 224]);
    expect(data.length).toBe(3 * 224 * 224);
    const plane = 224 * 224;
    for (const i of [0, 1000, 30_000, plane - 1]) {
      for (let c = 0; c < 3; c++) {
        const v = image.data[i * 3 + c];
        const f = Math.fround;
        expect(data[c * plane + i]).toBe(f(f(f(v * OPENAI_CLIP.rescaleFactor) - f(OPENAI_CLIP.imageMean[c])) / f(OPENAI_CLIP.imageStd[c])));
      }
    }
  });

  it('resizes a 300 × 200 image to 336 × 224 with bicubic and crops columns 56…279 (per-pixel reference)', () => {
    const image = testImage(300, 200, 9);
    const { data } = preprocessClipImage(image, OPENAI_CLIP);
    const resized = referenceResize(image, 336, 224, 'bicubic');
    const plane = 224 * 224;
    let checked = 0;
    for (let y = 0; y < 224; y += 13) {
      for (let x = 0; x < 224; x += 11) {
        for (let c = 0; c < 3; c++) {
          const v = resized.data[(y * 336 + x + 56) * 3 + c];
          const f = Math.fround;
          expect(data[c * plane + y * 224 + x]).toBe(f(f(f(v * OPENAI_CLIP.rescaleFactor) - f(OPENAI_CLIP.imageMean[c])) / f(OPENAI_CLIP.imageStd[c])));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(900);
  });
});
