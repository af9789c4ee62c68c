import { promisify } from 'node:util';
import { crc32, deflate, deflateSync, inflateSync } from 'node:zlib';
import { UserError } from '../errors.js';

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  /** length width·height·3 */
  data: Uint8Array;
}

/** A PNG text chunk: `tEXt` when the value is Latin-1, `iTXt` (UTF-8) otherwise. */
export interface PngText {
  keyword: string;
  text: string;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  // the chunk CRC covers the type and the data (zlib's CRC-32, the one PNG specifies)
  const crc = crc32(data, crc32(head.subarray(4, 8)));
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc >>> 0, 0);
  return Buffer.concat([head, data, tail]);
}

function isLatin1(text: string): boolean {
  return /^[\x00-\xff]*$/.test(text);
}

function textChunk({ keyword, text }: PngText): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`invalid PNG text keyword: ${JSON.stringify(keyword)}`);
  if (isLatin1(text)) {
    return chunk('tEXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]));
  }
  // iTXt: keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL, text
  return chunk(
    'iTXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
  );
}

/**
 * Encodes an RGB image as PNG. The output is a pure function of the pixels and texts (fixed
 * filter and zlib level), so the same image always gives the same bytes.
 */
export function encodePng(image: RgbImage, texts: PngText[] = []): Buffer {
  const { raw, assemble } = pngParts(image, texts);
  return assemble(deflateSync(raw, ZLIB_OPTIONS));
}

/** `encodePng` with the compression on a libuv worker thread (same bytes), so several encode at once. */
export async function encodePngAsync(image: RgbImage, texts: PngText[] = []): Promise<Buffer> {
  const { raw, assemble } = pngParts(image, texts);
  return assemble(await deflateAsync(raw, ZLIB_OPTIONS));
}

const ZLIB_OPTIONS = { level: 6 } as const;
const deflateAsync = promisify(deflate);

/** The filtered scanlines to compress, and how to wrap their compressed form into the file. */
function pngParts(image: RgbImage, texts: PngText[]): { raw: Buffer; assemble: (compressed: Uint8Array) => Buffer } {
  const { width, height, data } = image;
  if (data.length !== width * height * 3) throw new Error(`RGB data length ${data.length} != ${width}x${height}x3`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: truecolour
  const stride = width * 3;
  // filter "Sub" on every row: cheap and compresses photographic content well
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const out = y * (stride + 1) + 1;
    const row = y * stride;
    raw[out - 1] = 1;
    // the first pixel has no left neighbour; Buffer stores keep the low 8 bits of the difference
    const head = Math.min(3, stride);
    for (let x = 0; x < head; x++) raw[out + x] = data[row + x];
    for (let x = 3; x < stride; x++) raw[out + x] = data[row + x] - data[row + x - 3];
  }
  const before = [SIGNATURE, chunk('IHDR', header), ...texts.map(textChunk)];
  return { raw, assemble: (compressed) => Buffer.concat([...before, chunk('IDAT', compressed), chunk('IEND', new Uint8Array(0))]) };
}

export interface DecodedPng {
  image: RgbImage;
  texts: PngText[];
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA or palette) into RGB.
 * Alpha is dropped (composited on nothing: the colour channels are kept as they are).
 * `source` names the file in errors.
 */
export function decodePng(bytes: Uint8Array, source = 'PNG'): DecodedPng {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new UserError(`${source}: not a PNG file`);
  let offset = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colourType = 0;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  const texts: PngText[] = [];
  while (offset + 8 <= buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (body.length !== length) throw new UserError(`${source}: truncated PNG (chunk ${type})`);
    offset += 12 + length;
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      bitDepth = body[8];
      colourType = body[9];
      interlace = body[12];
    } else if (type === 'PLTE') palette = new Uint8Array(body);
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'tEXt') {
      const nul = body.indexOf(0);
      texts.push({ keyword: body.toString('latin1', 0, nul), text: body.toString('latin1', nul + 1) });
    } else if (type === 'iTXt') {
      const nul = body.indexOf(0);
      const keyword = body.toString('latin1', 0, nul);
      const compressed = body[nul + 1] === 1;
      let p = nul + 3;
      p = body.indexOf(0, p) + 1; // language tag
      p = body.indexOf(0, p) + 1; // translated keyword
      const payload = body.subarray(p);
      texts.push({ keyword, text: (compressed ? inflateSync(payload) : payload).toString('utf8') });
    } else if (type === 'IEND') break;
  }
  if (!width || !height) throw new UserError(`${source}: PNG has no IHDR chunk`);
  if (bitDepth !== 8 || interlace !== 0) {
    throw new UserError(`${source}: only 8-bit non-interlaced PNGs are supported (bit depth ${bitDepth}, interlace ${interlace})`);
  }
  const channelsByType: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  const channels = channelsByType[colourType];
  if (!channels) throw new UserError(`${source}: unsupported PNG colour type ${colourType}`);
  if (colourType === 3 && !palette) throw new UserError(`${source}: palette PNG without PLTE chunk`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < (stride + 1) * height) throw new UserError(`${source}: truncated PNG image data`);
  const pixels = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const inRow = y * (stride + 1) + 1;
    const outRow = y * stride;
    for (let x = 0; x < stride; x++) {
      const value = raw[inRow + x];
      const a = x >= channels ? pixels[outRow + x - channels] : 0;
      const b = y > 0 ? pixels[outRow - stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[outRow - stride + x - channels] : 0;
      let out: number;
      switch (filter) {
        case 0: out = value; break;
        case 1: out = value + a; break;
        case 2: out = value + b; break;
        case 3: out = value + ((a + b) >> 1); break;
        case 4: out = value + paeth(a, b, c); break;
        default: throw new UserError(`${source}: bad PNG filter type ${filter} on row ${y}`);
      }
      pixels[outRow + x] = out & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    if (colourType === 2 || colourType === 6) {
      rgb[i * 3] = pixels[i * channels];
      rgb[i * 3 + 1] = pixels[i * channels + 1];
      rgb[i * 3 + 2] = pixels[i * channels + 2];
    } else if (colourType === 3) {
      const index = pixels[i] * 3;
      rgb[i * 3] = palette![index];
      rgb[i * 3 + 1] = palette![index + 1];
      rgb[i * 3 + 2] = palette![index + 2];
    } else {
      const grey = pixels[i * channels];
      rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = grey;
    }
  }
  return { image: { width, height, data: rgb }, texts };
}
