// The thumbnail JPEG encoder's file structure and tables, against ITU-T T.81 (Annex K) and the IJG
// quality scaling. That Chromium decodes the files to the source pixels is checked in
// report-browser.test.ts.
import { describe, expect, it } from 'vitest';
import { encodeJpeg, LUMINANCE_QUANT, scaledQuantTable } from '../../reports/jpeg.js';
import { thumbnailDataUri } from '../../reports/thumbnails.js';

/** T.81 Figure A.6: zigzag position → natural (row-major) index */
const T81_ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52,
  45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/** libjpeg's luminance table at quality 75 (scale factor 50 %), first two rows */
const IJG_Q75_LUMINANCE_ROWS = [
  [8, 6, 5, 8, 12, 20, 26, 31],
  [6, 6, 7, 10, 13, 29, 30, 28],
];

function segments(bytes: Buffer): { marker: number; payload: Buffer }[] {
  const found: { marker: number; payload: Buffer }[] = [];
  let offset = 2;
  while (offset < bytes.length) {
    expect(bytes[offset]).toBe(0xff);
    const marker = bytes[offset + 1];
    const length = bytes.readUInt16BE(offset + 2);
    found.push({ marker, payload: bytes.subarray(offset + 4, offset + 2 + length) });
    offset += 2 + length;
    if (marker === 0xda) break;
  }
  return found;
}

function noise(width: number, height: number): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return { width, height, data };
}

describe('encodeJpeg', () => {
  it('IJG quality scaling: quality 50 is Annex K table K.1, 75 matches libjpeg, 100 is all ones', () => {
    expect(scaledQuantTable(LUMINANCE_QUANT, 50)).toEqual(LUMINANCE_QUANT);
    expect(LUMINANCE_QUANT.slice(0, 8)).toEqual([16, 11, 10, 16, 24, 40, 51, 61]);
    expect(scaledQuantTable(LUMINANCE_QUANT, 75).slice(0, 16)).toEqual(IJG_Q75_LUMINANCE_ROWS.flat());
    expect(new Set(scaledQuantTable(LUMINANCE_QUANT, 100))).toEqual(new Set([1]));
  });

  it('writes SOI, JFIF APP0, DQT in zigzag order, SOF0 (size, 3 components, no subsampling), DHT, SOS, stuffed data and EOI', () => {
    const image = noise(21, 13);
    const bytes = encodeJpeg(image, 75);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]);
    expect([bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd9]);
    const found = segments(bytes);
    expect(found.map((s) => s.marker)).toEqual([0xe0, 0xdb, 0xc0, 0xc4, 0xda]);
    expect(found[0].payload.subarray(0, 5).toString('latin1')).toBe('JFIF\0');
    const dqt = found[1].payload;
    expect(dqt[0]).toBe(0x00);
    const natural = new Array<number>(64);
    T81_ZIGZAG.forEach((position, i) => (natural[position] = dqt[1 + i]));
    expect(natural.slice(0, 16)).toEqual(IJG_Q75_LUMINANCE_ROWS.flat());
    const sof = found[2].payload;
    expect([sof[0], sof.readUInt16BE(1), sof.readUInt16BE(3), sof[5]]).toEqual([8, 13, 21, 3]);
    expect([sof[7], sof[10], sof[13]]).toEqual([0x11, 0x11, 0x11]);
    // DHT: four tables, each 16 counts whose sum is the number of symbols that follow
    const dht = found[3].payload;
    let offset = 0;
    const tables: number[] = [];
    while (offset < dht.length) {
      tables.push(dht[offset]);
      const counts = [...dht.subarray(offset + 1, offset + 17)];
      const total = counts.reduce((a, b) => a + b, 0);
      const symbols = [...dht.subarray(offset + 17, offset + 17 + total)];
      expect(new Set(symbols).size).toBe(total);
      // Kraft: a prefix code fits in 16 bits
      expect(counts.reduce((sum, count, i) => sum + count / 2 ** (i + 1), 0)).toBeLessThanOrEqual(1);
      offset += 17 + total;
    }
    expect(tables).toEqual([0x00, 0x10, 0x01, 0x11]);
    // entropy-coded data: every 0xFF is followed by a stuffed 0x00
    const sosEnd = bytes.indexOf(Buffer.from([0xff, 0xda])) + 2 + bytes.readUInt16BE(bytes.indexOf(Buffer.from([0xff, 0xda])) + 2);
    const entropy = bytes.subarray(sosEnd, bytes.length - 2);
    for (let i = 0; i < entropy.length; i++) if (entropy[i] === 0xff) expect(entropy[i + 1]).toBe(0x00);
  });

  it('is deterministic, and thumbnails take the smaller encoding (PNG for flat images, JPEG for noise)', () => {
    const image = noise(64, 64);
    expect(encodeJpeg(image).equals(encodeJpeg(image))).toBe(true);
    expect(thumbnailDataUri(image).startsWith('data:image/jpeg;base64,')).toBe(true);
    const flat = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(7) };
    expect(thumbnailDataUri(flat).startsWith('data:image/png;base64,')).toBe(true);
  });
});
