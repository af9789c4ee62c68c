/**
 * Scalar helpers that reproduce, bit for bit, the float32 / float64 arithmetic of the reference
 * stack (torch CPU kernels, NumPy) that the schedulers depend on. JS numbers are doubles, so every
 * float32 operation is written as a double operation followed by `f32` (a correctly rounded float32
 * result, because a double holds more than twice the float32 precision for + − × ÷ √).
 */

export const f32 = Math.fround;

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

/** The IEEE bit pattern of the float32 value of `x`, e.g. 0x4169d598. */
export function float32Bits(x: number): number {
  scratchFloat[0] = x;
  return scratchBits[0];
}

export function float32FromBits(bits: number): number {
  scratchBits[0] = bits >>> 0;
  return scratchFloat[0];
}

/** The next float32 after `x` in the direction of `toward` (x must be a finite float32). */
function adjacentFloat32(x: number, toward: number): number {
  if (x === toward) return x;
  if (x === 0) return toward > 0 ? float32FromBits(1) : float32FromBits(0x80000001);
  const bits = float32Bits(x);
  const awayFromZero = (toward > x) === (x > 0);
  return float32FromBits(awayFromZero ? bits + 1 : bits - 1);
}

/**
 * `f32(a·b + c)` with a single rounding, as a compiled kernel with FMA contraction computes it.
 * The caller guarantees that `a·b` is exact in double (a float32 times an integer below 2^29).
 * The double sum may land exactly on a float32 rounding midpoint while the exact sum does not;
 * the two-sum error term decides those ties.
 */
export function fma32(a: number, b: number, c: number): number {
  const product = a * b;
  const sum = product + c;
  const virtualC = sum - product;
  const error = product - (sum - virtualC) + (c - virtualC);
  const rounded = f32(sum);
  if (error === 0 || rounded === sum) return rounded;
  const neighbour = adjacentFloat32(rounded, rounded > sum ? -Infinity : Infinity);
  const midpoint = (rounded + neighbour) / 2;
  if (sum !== midpoint) return rounded;
  return error > 0 ? Math.max(rounded, neighbour) : Math.min(rounded, neighbour);
}

/** Round half to even on a double: Python's `round(x)` and NumPy's `np.round(x)`. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `torch.linspace(start, end, steps, dtype=float32)` on CPU, torch ≥ 2: the first half counts up
 * from `start`, the second half down from `end`, each element one fused multiply-add.
 * `start`/`end` are the Python doubles; torch converts them to float32 first.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const first = f32(start);
  const last = f32(end);
  if (steps === 1) {
    out[0] = first;
    return out;
  }
  const step = f32(f32(last - first) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? fma32(step, i, first) : fma32(-step, steps - 1 - i, last);
  }
  return out;
}

/** `np.linspace(start, stop, num)` in float64 (endpoint included). */
export function numpyLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const divisor = num - 1;
  const delta = stop - start;
  if (divisor > 0) {
    const step = delta / divisor;
    for (let i = 0; i < num; i++) out[i] = (step === 0 ? (i / divisor) * delta : i * step) + start;
    out[num - 1] = stop;
  } else if (num === 1) {
    out[0] = start;
  }
  return out;
}

/**
 * `np.arange(start, stop, step)` for doubles: the length is ceil((stop − start)/step), the first
 * two elements are start and start + step, and element i is start + i·(second − first).
 */
export function numpyArange(start: number, stop: number, step: number): Float64Array {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Float64Array(length);
  if (length === 0) return out;
  out[0] = start;
  if (length === 1) return out;
  const next = start + step;
  const delta = next - start;
  out[1] = next;
  for (let i = 2; i < length; i++) out[i] = start + i * delta;
  return out;
}

/**
 * `np.interp(x, arange(len(table)), table)` for one x, in float64 (the table holds float32 values).
 * Exact table entries are returned unchanged; outside the range the end values are used.
 */
export function interpolateOnIndexGrid(x: number, table: ArrayLike<number>): number {
  const lastIndex = table.length - 1;
  if (x > lastIndex) return table[lastIndex];
  if (x < 0) return table[0];
  const j = Math.floor(x);
  if (j === lastIndex || j === x) return table[j];
  const slope = (table[j + 1] - table[j]) / (j + 1 - j);
  return slope * (x - j) + table[j];
}

/** `torch.clamp(x, min=lo, max=hi)`: max first, then min, so lo > hi yields hi everywhere. */
export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}
