import { describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import { decodePng, encodePng, encodePngAsync } from '../../pipelines/image/png.js';

describe('PNG codec', () => {
  it('round-trips pixels and UTF-8 / Latin-1 text chunks', () => {
    const width = 5;
    const height = 3;
    const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
    const texts = [
      { keyword: 'parameters', text: 'a cat, Steps: 40' },
      { keyword: 'refinery', text: JSON.stringify({ prompt: 'café ☕ <b>' }) },
    ];
    const bytes = encodePng({ width, height, data }, texts);
    const decoded = decodePng(bytes);
    expect(decoded.image.width).toBe(width);
    expect(Array.from(decoded.image.data)).toEqual(Array.from(data));
    expect(decoded.texts).toEqual(texts);
    expect(encodePng({ width, height, data }, texts).equals(bytes)).toBe(true);
  });

  it('decodes a PNG written by another encoder (resvg, RGBA with filters)', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="2"><rect width="2" height="2" fill="#ff0000"/><rect x="2" width="2" height="2" fill="#0000ff"/></svg>';
    const png = new Resvg(svg, { background: '#ffffff' }).render().asPng();
    const { image } = decodePng(png);
    expect([image.width, image.height]).toEqual([4, 2]);
    expect(Array.from(image.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(image.data.subarray(9, 12))).toEqual([0, 0, 255]);
  });

  it('rejects non-PNG input with the source named', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(/x\.png: not a PNG/);
  });
});

describe('encodePngAsync', () => {
  it('gives the bytes of encodePng (compression on a worker thread), several at once', async () => {
    const images = [
      [1, 1],
      [3, 2],
      [64, 48],
      [257, 31],
    ].map(([width, height]) => ({ width, height, data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 131 + width) & 255) }));
    const texts = [{ keyword: 'parameters', text: 'a red cube, Steps: 40' }, { keyword: 'refinery', text: '{"prompt":"café"}' }];
    const encoded = await Promise.all(images.map((image) => encodePngAsync(image, texts)));
    encoded.forEach((png, i) => expect(png.equals(encodePng(images[i], texts))).toBe(true));
    expect(decodePng(encoded[2]).image.data).toEqual(images[2].data);
  });
});
