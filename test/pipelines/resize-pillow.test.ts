import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resizeRgb, type ResampleFilter } from '../../pipelines/image/resize.js';
import type { RgbImage } from '../../pipelines/image/png.js';

// Goldens from Pillow 9.4.0 (Debian bookworm python3-pil): Image.frombytes('RGB', …, pattern(w, h))
// .resize((ow, oh), filter).tobytes(), sha256 of the bytes and five sample bytes (first three, middle, last).
const PILLOW_CASES: [number, number, number, number, ResampleFilter, string, number[]][] = [
  [300, 200, 336, 224, 'bicubic', 'ecf21c8a45dee61957bc9da886a41acc255294811cb4ab5c87da48eb87692f24', [0, 29, 58, 18, 31]],
  [300, 200, 90, 60, 'bicubic', '62ea65ecf555b17396532d0cbdfb1c2a29b867e83e11a9063c3878c4c71c0818', [26, 55, 84, 41, 45]],
  [257, 131, 224, 114, 'bicubic', '345c5df75d8a96dc0fbc9aed3fd585998c345da285de9948928534681bf973cc', [2, 31, 60, 159, 220]],
  [64, 48, 37, 29, 'bilinear', 'c6c576d157d052df1353153d0b1484e06bb8124c1f707d45b45833995c595b8c', [10, 39, 68, 52, 128]],
  [64, 48, 100, 75, 'lanczos', 'aa16f95804f45410fc078760e823c4eca45fa7f3c3cfa531f6e795872634c11f', [0, 28, 57, 24, 177]],
  [50, 70, 17, 23, 'box', '3c6fa314c0a924c7bc4d1376a5824a3b003c452e8b426ac3c05c877641ac0aa6', [21, 50, 79, 166, 146]],
  [80, 60, 41, 33, 'hamming', '8eac9800e02784fa34e785343a7249e6a254ff4f9d8daa6bef9a2f4b559b9627', [10, 39, 68, 187, 95]],
];

/** The same deterministic test pattern the Pillow goldens were made from (stripes, ramps and a checker). */
function pattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const checker = (Math.floor(x / 9) + Math.floor(y / 7)) % 2 ? (x ^ y) * 5 : 0;
        data[i++] = (x * 7 + y * 13 + c * 29 + ((x * y) % 17) + checker) % 256;
      }
    }
  }
  return { width, height, data };
}

describe('resizeRgb equals Pillow byte for byte', () => {
  for (const [inW, inH, outW, outH, filter, sha256, samples] of PILLOW_CASES) {
    it(`${filter} ${inW}x${inH} → ${outW}x${outH}`, () => {
      const out = resizeRgb(pattern(inW, inH), outW, outH, filter).data;
      const picked = [out[0], out[1], out[2], out[Math.floor(out.length / 2)], out[out.length - 1]];
      expect(picked).toEqual(samples);
      expect(createHash('sha256').update(out).digest('hex')).toBe(sha256);
    });
  }
});
