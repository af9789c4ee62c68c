import { Float32Bits, logAvx, sinCosAvx } from './avx-mathfun.js';
import { Mt19937 } from './mt19937.js';
import { simdKernels } from '../simd/kernels.js';

/**
 * Reproduces `torch.Generator('cpu').manual_seed(seed)` followed by `torch.randn(shape, generator=g)`
 * (float32) bit for bit, as torch runs on x86-64 CPUs with AVX2 (spec §10.2). Consecutive `randn`
 * calls continue the stream exactly like consecutive torch calls on the same generator.
 *
 * - ≥ 16 elements (every latent): one 24-bit uniform per element, then Box–Muller in blocks of 16 with
 *   the float32 `avx_mathfun` log/sincos; if the count is not a multiple of 16, the last 16 outputs are
 *   recomputed from 16 fresh uniforms (torch's `normal_fill_AVX2`). The blocks run in the WebAssembly
 *   SIMD kernel (`pipelines/simd`) unless the JavaScript loops are selected; the bits are the same.
 * - < 16 elements: torch's scalar path, `at::normal_distribution<double>`: 53-bit uniforms from two
 *   32-bit words, r = sqrt(−2·log1p(−u2)), θ = 2π·u1, returns r·cos θ and caches r·sin θ in the
 *   generator for the next scalar draw, each value then rounded to float32. The float64 log1p/sin/cos
 *   come from V8 rather than glibc; both are within an ulp of the true value, which float32 rounding
 *   hides except in astronomically rare cases.
 *
 * Seeds: torch accepts any integer in [−2⁶³, 2⁶⁴) (negative seeds as their 64-bit two's complement)
 * and MT19937 uses only the low 32 bits, so 2³² + 5 seeds like 5 and −1 like 4294967295.
 */
export type TorchSeed = number | bigint;

/** Elements below which torch uses its scalar float64 Box–Muller path. */
const VECTOR_PATH_MIN_ELEMENTS = 16;
const TWO_PI_FLOAT32 = Math.fround(2 * Math.PI);
const UNIFORM24_SCALE = 2 ** -24;
const TWO_POW_32 = 2 ** 32;
const UNIFORM53_SCALE = 2 ** -53;
const MIN_SEED = -(2n ** 63n);
const MAX_SEED_EXCLUSIVE = 2n ** 64n;

export class TorchGenerator {
  /** The seed as torch stores it (`initial_seed()`): an unsigned 64-bit integer. */
  readonly initialSeed: bigint;
  private engine: Mt19937;
  private cachedNormal: number | undefined;
  private readonly scratch = { bits: new Float32Bits(), sinCos: new Float64Array(2) };

  constructor(seed: TorchSeed) {
    this.initialSeed = normalizeSeed(seed);
    this.engine = new Mt19937(Number(this.initialSeed & 0xffffffffn));
  }

  /** One raw 32-bit MT19937 output (torch's `generator->random()`). */
  nextUint32(): number {
    return this.engine.nextUint32();
  }

  /** torch's `uniform_real_distribution<float>(0, 1)`: 24 random bits scaled into [0, 1). */
  uniformFloat32(): number {
    return (this.engine.nextUint32() & 0xffffff) * UNIFORM24_SCALE;
  }

  /** torch's `uniform_real_distribution<double>(0, 1)`: 53 bits of `random64()` (first word high) into [0, 1). */
  uniformFloat64(): number {
    const high = this.engine.nextUint32();
    const low = this.engine.nextUint32();
    return ((high & 0x1fffff) * TWO_POW_32 + low) * UNIFORM53_SCALE;
  }

  /** `torch.randn(shape, generator=this)` for float32, in row-major order. */
  randn(shape: readonly number[]): Float32Array {
    const count = elementCount(shape);
    return count >= VECTOR_PATH_MIN_ELEMENTS ? this.randnVectorPath(count) : this.randnScalarPath(count);
  }

  /** An independent generator at the same point of the stream (torch's `Generator.clone_state`). */
  clone(): TorchGenerator {
    const copy = new TorchGenerator(this.initialSeed);
    copy.engine = this.engine.clone();
    copy.cachedNormal = this.cachedNormal;
    return copy;
  }

  private randnVectorPath(count: number): Float32Array {
    const out = new Float32Array(count);
    this.engine.fillUniform24(out, 0, count);
    const blocks = Math.floor(count / VECTOR_PATH_MIN_ELEMENTS);
    const kernels = simdKernels();
    if (kernels) kernels.boxMuller16(out, blocks);
    else for (let block = 0; block < blocks; block++) boxMuller16Reference(out, block * VECTOR_PATH_MIN_ELEMENTS, this.scratch);
    if (count % VECTOR_PATH_MIN_ELEMENTS !== 0) {
      const tailStart = count - VECTOR_PATH_MIN_ELEMENTS;
      this.engine.fillUniform24(out, tailStart, count);
      boxMuller16Reference(out, tailStart, this.scratch);
    }
    return out;
  }

  private randnScalarPath(count: number): Float32Array {
    const out = new Float32Array(count);
    // torch returns normal·std + mean with std 1, mean 0 (adding +0 turns −0 into +0)
    for (let i = 0; i < count; i++) out[i] = this.nextStandardNormalFloat64() + 0;
    return out;
  }

  private nextStandardNormalFloat64(): number {
    if (this.cachedNormal !== undefined) {
      const cached = this.cachedNormal;
      this.cachedNormal = undefined;
      return cached;
    }
    const u1 = this.uniformFloat64();
    const u2 = this.uniformFloat64();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }
}

/**
 * In place: 16 uniforms at `start` → 16 normals (cosines in the first 8, sines in the last 8), the
 * JavaScript form of one block of torch's AVX2 Box–Muller (`SimdKernels.boxMuller16` runs many).
 */
export function boxMuller16Reference(
  data: Float32Array,
  start: number,
  scratch: { bits: Float32Bits; sinCos: Float64Array } = { bits: new Float32Bits(), sinCos: new Float64Array(2) },
): void {
  const f = Math.fround;
  const { bits, sinCos } = scratch;
  for (let lane = 0; lane < 8; lane++) {
    const u1 = f(1 - data[start + lane]);
    const u2 = data[start + lane + 8];
    const radius = f(Math.sqrt(f(-2 * logAvx(u1, bits))));
    const theta = f(TWO_PI_FLOAT32 * u2);
    sinCosAvx(theta, sinCos);
    // torch stores fma(n, std = 1, mean = 0): adding +0 turns a −0 into +0
    data[start + lane] = f(radius * sinCos[1]) + 0;
    data[start + lane + 8] = f(radius * sinCos[0]) + 0;
  }
}

function normalizeSeed(seed: TorchSeed): bigint {
  let value: bigint;
  if (typeof seed === 'bigint') {
    value = seed;
  } else if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
    value = BigInt(seed);
  } else {
    throw new RangeError(`seed must be an integer (a safe-integer number or a bigint), got ${String(seed)}`);
  }
  if (value < MIN_SEED || value >= MAX_SEED_EXCLUSIVE) {
    throw new RangeError(`seed ${value} is outside torch's range [-2^63, 2^64)`);
  }
  return BigInt.asUintN(64, value);
}

function elementCount(shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw new TypeError('randn shape must be an array of dimension sizes');
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`randn shape [${shape.join(', ')}] has an invalid dimension ${dim}`);
    count *= dim;
  }
  if (!Number.isSafeInteger(count) || count > 2 ** 31) throw new RangeError(`randn shape [${shape.join(', ')}] is too large`);
  return count;
}
