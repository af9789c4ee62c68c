/**
 * @module
 * A small baseline JPEG encoder (ITU-T T.81 sequential DCT, Huffman coded, JFIF) for report
 * thumbnails: 4:4:4 (no chroma subsampling, so small coloured objects keep their colour), the
 * Annex K quantisation tables scaled by the IJG quality rule, and the Annex K Huffman code lengths.
 * Integer arithmetic throughout (the DCT matrix is rounded to 12 fractional bits once), so the same
 * pixels always give the same bytes on any machine.
 */
import type { RgbImage } from '../pipelines/image/png.js';

/** Annex K.1, table K.1 (luminance) and K.2 (chrominance), in natural (row-major) order. */
export const LUMINANCE_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
  92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMINANCE_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, ...new Array<number>(32).fill(99),
];

interface HuffmanSpec {
  /** number of codes of each length 1..16 */
  counts: number[];
  /** symbols in order of increasing code length */
  symbols: number[];
}

/**
 * The AC symbols (run << 4 | size, plus EOB 0x00 and ZRL 0xF0) in Annex K order: the listed head,
 * then every other symbol in ascending order (which is how the tail of tables K.5 and K.6 runs).
 */
function acSymbols(head: number[]): number[] {
  const all: number[] = [0x00, 0xf0];
  for (let run = 0; run < 16; run++) for (let size = 1; size <= 10; size++) all.push((run << 4) | size);
  const used = new Set(head);
  return [...head, ...all.filter((symbol) => !used.has(symbol)).sort((a, b) => a - b)];
}

const DC_LUMINANCE: HuffmanSpec = { counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHROMINANCE: HuffmanSpec = { counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const AC_LUMINANCE: HuffmanSpec = {
  counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  symbols: acSymbols([
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1,
    0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a,
  ]),
};
const AC_CHROMINANCE: HuffmanSpec = {
  counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  symbols: acSymbols([
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52,
    0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1,
  ]),
};

/** zigzag index → natural (row-major) index, walking the anti-diagonals alternately up and down */
const ZIGZAG: number[] = (() => {
  const order: number[] = [];
  for (let diagonal = 0; diagonal < 15; diagonal++) {
    const rows: number[] = [];
    for (let row = Math.max(0, diagonal - 7); row <= Math.min(diagonal, 7); row++) rows.push(row);
    if (diagonal % 2 === 0) rows.reverse();
    for (const row of rows) order.push(row * 8 + (diagonal - row));
  }
  return order;
})();

const DCT_BITS = 12;
/** DCT-II basis, scaled by 2^12 and rounded: M[u][x] = C(u)/2 · cos((2x + 1)uπ/16), C(0) = 1/√2 */
const DCT_MATRIX: Int32Array = (() => {
  const matrix = new Int32Array(64);
  for (let u = 0; u < 8; u++) {
    for (let x = 0; x < 8; x++) {
      const c = u === 0 ? Math.SQRT1_2 : 1;
      matrix[u * 8 + x] = Math.round((c / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * (1 << DCT_BITS));
    }
  }
  return matrix;
})();

/** IJG scaling of a base table for quality 1..100 (50 = the table as printed). */
export function scaledQuantTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return base.map((value) => Math.min(255, Math.max(1, Math.floor((value * scale + 50) / 100))));
}

interface HuffmanCode {
  code: Int32Array;
  length: Int32Array;
}

function huffmanCode(spec: HuffmanSpec): HuffmanCode {
  const code = new Int32Array(256);
  const length = new Int32Array(256);
  let next = 0;
  let k = 0;
  for (let bits = 1; bits <= 16; bits++) {
    for (let i = 0; i < spec.counts[bits - 1]; i++) {
      const symbol = spec.symbols[k++];
      code[symbol] = next++;
      length[symbol] = bits;
    }
    next <<= 1;
  }
  return { code, length };
}

class BitWriter {
  private readonly bytes: number[] = [];
  private buffer = 0;
  private count = 0;

  write(value: number, length: number): void {
    for (let bit = length - 1; bit >= 0; bit--) {
      this.buffer = (this.buffer << 1) | ((value >> bit) & 1);
      if (++this.count === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.buffer);
    // a 0xFF in entropy-coded data is followed by a stuffed zero byte (T.81 F.1.2.3)
    if (this.buffer === 0xff) this.bytes.push(0x00);
    this.buffer = 0;
    this.count = 0;
  }

  /** pads the last byte with 1-bits */
  finish(): number[] {
    if (this.count > 0) this.write((1 << (8 - this.count)) - 1, 8 - this.count);
    return this.bytes;
  }
}

function bitLength(value: number): number {
  let magnitude = Math.abs(value);
  let bits = 0;
  while (magnitude > 0) {
    bits++;
    magnitude >>= 1;
  }
  return bits;
}

/** sign-symmetric rounding of numerator / denominator (denominator > 0) */
function roundDivide(numerator: number, denominator: number): number {
  const quotient = Math.floor((Math.abs(numerator) * 2 + denominator) / (2 * denominator));
  return numerator < 0 ? -quotient : quotient;
}

/** Forward DCT and quantisation of one 8×8 block of level-shifted samples; returns coefficients in zigzag order. */
function transformBlock(samples: Int32Array, quant: readonly number[], out: Int32Array): void {
  const rows = new Array<number>(64);
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = 0; x < 8; x++) sum += DCT_MATRIX[u * 8 + x] * samples[y * 8 + x];
      rows[y * 8 + u] = sum;
    }
  }
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) sum += DCT_MATRIX[v * 8 + y] * rows[y * 8 + u];
      // sum carries 2^(2·12) from the matrix; F(v, u) = sum / 2^24 (exact integers below 2^53)
      out[v * 8 + u] = roundDivide(sum, quant[v * 8 + u] * (1 << (2 * DCT_BITS)));
    }
  }
  const natural = Int32Array.from(out);
  for (let i = 0; i < 64; i++) out[i] = natural[ZIGZAG[i]];
}

function encodeBlock(writer: BitWriter, coefficients: Int32Array, previousDc: number, dc: HuffmanCode, ac: HuffmanCode): number {
  const difference = coefficients[0] - previousDc;
  const dcSize = bitLength(difference);
  writer.write(dc.code[dcSize], dc.length[dcSize]);
  if (dcSize > 0) writer.write(difference < 0 ? difference + (1 << dcSize) - 1 : difference, dcSize);
  let run = 0;
  for (let i = 1; i < 64; i++) {
    const value = coefficients[i];
    if (value === 0) {
      run++;
      continue;
    }
    while (run >= 16) {
      writer.write(ac.code[0xf0], ac.length[0xf0]);
      run -= 16;
    }
    const size = bitLength(value);
    const symbol = (run << 4) | size;
    writer.write(ac.code[symbol], ac.length[symbol]);
    writer.write(value < 0 ? value + (1 << size) - 1 : value, size);
    run = 0;
  }
  if (run > 0) writer.write(ac.code[0x00], ac.length[0x00]);
  return coefficients[0];
}

function segment(marker: number, payload: number[]): number[] {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

function huffmanSegmentPart(tableClass: number, id: number, spec: HuffmanSpec): number[] {
  return [(tableClass << 4) | id, ...spec.counts, ...spec.symbols];
}

/** Encodes an RGB image as a baseline JFIF JPEG, 4:4:4, at the given IJG quality (1..100). */
export function encodeJpeg(image: RgbImage, quality = 80): Buffer {
  const { width, height, data } = image;
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`encodeJpeg: unsupported size ${width}x${height}`);
  const lumaQuant = scaledQuantTable(LUMINANCE_QUANT, quality);
  const chromaQuant = scaledQuantTable(CHROMINANCE_QUANT, quality);
  const codes = { dcLuma: huffmanCode(DC_LUMINANCE), acLuma: huffmanCode(AC_LUMINANCE), dcChroma: huffmanCode(DC_CHROMINANCE), acChroma: huffmanCode(AC_CHROMINANCE) };

  // JFIF YCbCr with 16-bit fixed-point weights, level-shifted by -128
  const planes = [new Int32Array(width * height), new Int32Array(width * height), new Int32Array(width * height)];
  for (let i = 0; i < width * height; i++) {
    const r = data[3 * i];
    const g = data[3 * i + 1];
    const b = data[3 * i + 2];
    planes[0][i] = roundDivide(19595 * r + 38470 * g + 7471 * b, 65536) - 128;
    planes[1][i] = roundDivide(-11059 * r - 21709 * g + 32768 * b, 65536);
    planes[2][i] = roundDivide(32768 * r - 27439 * g - 5329 * b, 65536);
  }

  const writer = new BitWriter();
  const previousDc = [0, 0, 0];
  const samples = new Int32Array(64);
  const coefficients = new Int32Array(64);
  for (let blockY = 0; blockY < height; blockY += 8) {
    for (let blockX = 0; blockX < width; blockX += 8) {
      for (let component = 0; component < 3; component++) {
        const plane = planes[component];
        // blocks past the edge repeat the last row and column
        for (let y = 0; y < 8; y++) {
          const sourceY = Math.min(blockY + y, height - 1);
          for (let x = 0; x < 8; x++) samples[y * 8 + x] = plane[sourceY * width + Math.min(blockX + x, width - 1)];
        }
        transformBlock(samples, component === 0 ? lumaQuant : chromaQuant, coefficients);
        previousDc[component] =
          component === 0
            ? encodeBlock(writer, coefficients, previousDc[0], codes.dcLuma, codes.acLuma)
            : encodeBlock(writer, coefficients, previousDc[component], codes.dcChroma, codes.acChroma);
      }
    }
  }

  const bytes = [
    0xff,
    0xd8,
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]),
    ...segment(0xdb, [0x00, ...ZIGZAG.map((i) => lumaQuant[i]), 0x01, ...ZIGZAG.map((i) => chromaQuant[i])]),
    ...segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]),
    ...segment(0xc4, [
      ...huffmanSegmentPart(0, 0, DC_LUMINANCE),
      ...huffmanSegmentPart(1, 0, AC_LUMINANCE),
      ...huffmanSegmentPart(0, 1, DC_CHROMINANCE),
      ...huffmanSegmentPart(1, 1, AC_CHROMINANCE),
    ]),
    ...segment(0xda, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]),
  ];
  const entropy = writer.finish();
  const out = Buffer.alloc(bytes.length + entropy.length + 2);
  out.set(bytes, 0);
  out.set(entropy, bytes.length);
  out[out.length - 2] = 0xff;
  out[out.length - 1] = 0xd9;
  return out;
}
