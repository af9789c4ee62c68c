/**
 * @module
 * PCG32 (O'Neill 2014, XSH-RR output, 64-bit LCG state) for resampling. Every bootstrap in the
 * reports draws from one of these, seeded from the report seed and a label, so an interval does not
 * change when other conditions or metrics are added to a run.
 *
 * @example
 * const rng = Pcg32.fromLabel(20240601, 'clip_score|handoff=0.8');
 * const index = rng.nextIndex(30);
 */

const MULTIPLIER_HI = 0x5851f42d;
const MULTIPLIER_LO = 0x4c957f2d;
const TWO_POW_32 = 4294967296;

/** high 32 bits of the 64-bit product of two uint32 values */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const middle = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(middle / 65536)) >>> 0;
}

function splitUint64(value: number | bigint, what: string): [hi: number, lo: number] {
  const big = typeof value === 'bigint' ? value : BigInt(value);
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
  if (big < 0n || big >= 1n << 64n) throw new RangeError(`${what} must fit in 64 bits, got ${big}`);
  return [Number(big >> 32n), Number(big & 0xffffffffn)];
}

/** FNV-1a (32-bit) of a string's UTF-8 bytes: turns a label into a PCG stream id. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export class Pcg32 {
  private stateHi = 0;
  private stateLo = 0;
  private readonly incHi: number;
  private readonly incLo: number;
  private spareGaussian: number | null = null;

  /** Seeds like pcg32_srandom_r(initstate, initseq) in the reference pcg-c-basic. */
  constructor(initState: number | bigint, initSequence: number | bigint = 0) {
    const [seqHi, seqLo] = splitUint64(initSequence, 'PCG sequence');
    // inc = (initseq << 1) | 1, mod 2^64
    this.incHi = ((seqHi << 1) | (seqLo >>> 31)) >>> 0;
    this.incLo = ((seqLo << 1) | 1) >>> 0;
    this.nextUint32();
    const [seedHi, seedLo] = splitUint64(initState, 'PCG seed');
    const lo = this.stateLo + seedLo;
    this.stateLo = lo >>> 0;
    this.stateHi = (this.stateHi + seedHi + (lo >= TWO_POW_32 ? 1 : 0)) >>> 0;
    this.nextUint32();
  }

  /** A generator for one named statistic: stream chosen by hashing the label. */
  static fromLabel(seed: number, label: string): Pcg32 {
    return new Pcg32(seed, fnv1a32(label));
  }

  nextUint32(): number {
    const oldHi = this.stateHi;
    const oldLo = this.stateLo;
    // state = state * multiplier + inc (mod 2^64)
    const productLo = Math.imul(oldLo, MULTIPLIER_LO) >>> 0;
    const productHi = (mulHigh32(oldLo, MULTIPLIER_LO) + Math.imul(oldHi, MULTIPLIER_LO) + Math.imul(oldLo, MULTIPLIER_HI)) >>> 0;
    const lo = productLo + this.incLo;
    this.stateLo = lo >>> 0;
    this.stateHi = (productHi + this.incHi + (lo >= TWO_POW_32 ? 1 : 0)) >>> 0;
    // output: rotr32(((old >> 18) ^ old) >> 27, old >> 59)
    const xorHi = oldHi ^ (oldHi >>> 18);
    const xorLo = oldLo ^ ((oldLo >>> 18) | (oldHi << 14));
    const xorShifted = ((xorLo >>> 27) | (xorHi << 5)) >>> 0;
    const rotation = oldHi >>> 27;
    return ((xorShifted >>> rotation) | (xorShifted << (-rotation & 31))) >>> 0;
  }

  /** uniform in [0, 1) with 32 bits of resolution */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** uniform integer in [0, n), without modulo bias (rejection) */
  nextIndex(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new RangeError(`nextIndex needs an integer n in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let draw = this.nextUint32();
    while (draw >= limit) draw = this.nextUint32();
    return draw % n;
  }

  /** standard normal draw (Box–Muller, both values used) */
  nextGaussian(): number {
    if (this.spareGaussian !== null) {
      const spare = this.spareGaussian;
      this.spareGaussian = null;
      return spare;
    }
    let u = 0;
    while (u === 0) u = this.nextFloat();
    const v = this.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareGaussian = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}
