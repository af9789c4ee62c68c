/**
 * GPT-2 / CLIP byte-level mapping: every UTF-8 byte becomes one printable Unicode character, so BPE
 * never sees whitespace or control characters. Bytes `!`..`~`, `¡`..`¬`, `®`..`ÿ` map to themselves;
 * the other 68 bytes map to U+0100, U+0101, … in increasing byte order.
 */

/** The 256 byte values in the order CLIP's vocabulary lists them (printable bytes first). */
export const BYTES_IN_VOCAB_ORDER: readonly number[] = buildByteOrder();

/** BYTE_TO_SYMBOL[byte] is the one-character symbol standing for that byte. */
export const BYTE_TO_SYMBOL: readonly string[] = buildByteToSymbol();

const SYMBOL_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_SYMBOL.map((symbol, byte) => [symbol, byte]));

function isSelfMappedByte(byte: number): boolean {
  return (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
}

function buildByteOrder(): number[] {
  const order: number[] = [];
  for (let byte = 0; byte < 256; byte++) if (isSelfMappedByte(byte)) order.push(byte);
  for (let byte = 0; byte < 256; byte++) if (!isSelfMappedByte(byte)) order.push(byte);
  return order;
}

function buildByteToSymbol(): string[] {
  const symbols = new Array<string>(256);
  let shifted = 0;
  for (let byte = 0; byte < 256; byte++) {
    symbols[byte] = String.fromCharCode(isSelfMappedByte(byte) ? byte : 256 + shifted++);
  }
  return symbols;
}

const utf8Encoder = new TextEncoder();

/** UTF-8 encodes `text` and maps each byte to its symbol. */
export function toByteSymbols(text: string): string {
  let mapped = '';
  for (const byte of utf8Encoder.encode(text)) mapped += BYTE_TO_SYMBOL[byte];
  return mapped;
}

/**
 * The bytes a token string stands for. Characters outside the byte alphabet (possible only in
 * added tokens) contribute their own UTF-8 bytes.
 */
export function symbolsToBytes(symbols: string, out: number[] = []): number[] {
  for (const char of symbols) {
    const byte = SYMBOL_TO_BYTE.get(char);
    if (byte !== undefined) out.push(byte);
    else out.push(...utf8Encoder.encode(char));
  }
  return out;
}
