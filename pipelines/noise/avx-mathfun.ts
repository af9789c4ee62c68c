import { fma32 } from './fma32.js';

/**
 * Lane-exact float32 emulation of the Cephes-derived `log256_ps` and `sincos256_ps` from
 * `avx_mathfun.h`, which torch's AVX2 `normal_fill` uses, as compiled with FMA contraction
 * (spec §10.2 step 5 lists which multiply-adds are fused). Every intermediate is rounded to float32.
 */

const f = Math.fround;

const SQRT_HALF = f(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1,
  -2.4999993993e-1, 3.3333331174e-1,
].map(f);
const LOG_Q1 = f(-2.12194440e-4);
const LOG_Q2 = f(0.693359375);

const FOUR_OVER_PI = f(1.27323954473516);
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853515625e-4);
const DP3 = f(-3.77489497744594108e-8);
const SIN_P0 = f(-1.9515295891e-4);
const SIN_P1 = f(8.3321608736e-3);
const SIN_P2 = f(-1.6666654611e-1);
const COS_P0 = f(2.443315711809948e-5);
const COS_P1 = f(-1.388731625493765e-3);
const COS_P2 = f(4.166664568298827e-2);
const MIN_NORMAL_FLOAT32 = 2 ** -126;

/** Reads float32 bit patterns; one per caller, so no shared mutable buffer. */
export class Float32Bits {
  private readonly floats = new Float32Array(1);
  private readonly words = new Uint32Array(this.floats.buffer);

  toBits(value: number): number {
    this.floats[0] = value;
    return this.words[0];
  }

  fromBits(bits: number): number {
    this.words[0] = bits;
    return this.floats[0];
  }
}

/** Natural log of a positive float32, exactly as `log256_ps` computes one lane. */
export function logAvx(value: number, bits: Float32Bits): number {
  const x = Math.max(value, MIN_NORMAL_FLOAT32);
  const pattern = bits.toBits(x);
  // x = m·2^e with m in [0.5, 1): e is the biased exponent − 126
  let e = (pattern >>> 23) - 126;
  let m = bits.fromBits((pattern & 0x807fffff) | 0x3f000000);
  if (m < SQRT_HALF) {
    e -= 1;
    m = f(f(m - 1) + m);
  } else {
    m = f(m - 1);
  }
  const z = f(m * m);
  let y = LOG_P[0];
  for (let i = 1; i < LOG_P.length; i++) y = fma32(y, m, LOG_P[i]);
  y = f(y * m);
  y = fma32(y, z, f(e * LOG_Q1));
  y = fma32(z, -0.5, y);
  m = f(m + y);
  return fma32(e, LOG_Q2, m);
}

/** Writes sin(θ) to out[0] and cos(θ) to out[1], exactly as `sincos256_ps` computes one lane. */
export function sinCosAvx(theta: number, out: Float64Array | number[]): void {
  let x = Math.abs(theta);
  let negateSin = theta < 0 || Object.is(theta, -0);
  let j = Math.trunc(f(x * FOUR_OVER_PI));
  j = (j + 1) & ~1;
  const quadrant = j;
  if (quadrant & 4) negateSin = !negateSin;
  const negateCos = ((quadrant - 2) & 4) === 0;
  const sinFromSinPolynomial = (quadrant & 2) === 0;

  // extended-precision reduction: x − j·π/4 in three parts
  x = fma32(quadrant, DP1, x);
  x = fma32(quadrant, DP2, x);
  x = fma32(quadrant, DP3, x);
  const z = f(x * x);

  let cosPoly = fma32(COS_P0, z, COS_P1);
  cosPoly = fma32(cosPoly, z, COS_P2);
  cosPoly = f(cosPoly * z);
  cosPoly = fma32(cosPoly, z, -f(0.5 * z));
  cosPoly = f(cosPoly + 1);

  let sinPoly = fma32(SIN_P0, z, SIN_P1);
  sinPoly = fma32(sinPoly, z, SIN_P2);
  sinPoly = f(sinPoly * z);
  sinPoly = fma32(sinPoly, x, x);

  // The AVX code selects with masks and adds the masked-out lane's +0, which turns −0 into +0.
  let sin = (sinFromSinPolynomial ? sinPoly : cosPoly) + 0;
  let cos = (sinFromSinPolynomial ? cosPoly : sinPoly) + 0;
  if (negateSin) sin = -sin;
  if (negateCos) cos = -cos;
  out[0] = sin;
  out[1] = cos;
}
