/** Largest finite float32, and the value from which round-to-nearest float32 overflows to ±Infinity. */
const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT32_OVERFLOW_THRESHOLD = 2 ** 128 - 2 ** 103;

/**
 * `fma32(a, b, c)` = float32(a·b + c) with a single rounding, for float32 inputs (what an FMA
 * instruction computes; JS has none).
 *
 * a·b of two float32 values is exact in a double (48 significant bits). The double sum s = a·b + c is
 * rounded once; rounding s to float32 again can differ from rounding the exact sum only when s lands
 * exactly halfway between two float32 values while the exact sum does not. That case is detected and
 * resolved with the TwoSum error term (exact residue of the double addition).
 */
export function fma32(a: number, b: number, c: number): number {
  const product = a * b;
  const sum = product + c;
  const rounded = Math.fround(sum);
  if (rounded === sum) return rounded;
  if (!Number.isFinite(rounded)) return roundOverflow(product, c, sum, rounded);
  // When `sum` is a float32 midpoint, `other` is the float32 on its far side; otherwise it is not a float32.
  const other = 2 * sum - rounded;
  if (Math.fround(other) !== other) return rounded;
  const residue = twoSumResidue(product, c, sum);
  if (residue === 0) return rounded; // a true tie: Math.fround already rounded half to even
  return residue > 0 === other > rounded ? other : rounded;
}

/** The exact error of `sum = fl(x + y)`, i.e. x + y − sum (Knuth's TwoSum). */
function twoSumResidue(x: number, y: number, sum: number): number {
  const yVirtual = sum - x;
  const xVirtual = sum - yVirtual;
  return x - xVirtual + (y - yVirtual);
}

function roundOverflow(product: number, c: number, sum: number, rounded: number): number {
  if (Math.abs(sum) !== FLOAT32_OVERFLOW_THRESHOLD) return rounded;
  const residue = twoSumResidue(product, c, sum);
  const towardZero = sum > 0 ? residue < 0 : residue > 0;
  return towardZero ? Math.sign(sum) * FLOAT32_MAX : rounded;
}
