import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Float32Bits, logAvx, sinCosAvx } from '../../pipelines/noise/avx-mathfun.js';
import { fma32 } from '../../pipelines/noise/fma32.js';
import { SimdKernels } from '../../pipelines/simd/kernels.js';
import { Mt19937 } from '../../pipelines/noise/mt19937.js';
import { TorchGenerator } from '../../pipelines/noise/torch-generator.js';

/** sha256 over little-endian float32 bytes, as in spec §10.2. */
function sha256LittleEndian(values: Float32Array): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  return createHash('sha256').update(new Uint8Array(view.buffer)).digest('hex');
}

function float32Bits(value: number): number {
  return new Uint32Array(Float32Array.of(value).buffer)[0];
}

/** Published values printed with 4 decimals. */
function expectPrinted(actual: Float32Array, printed: number[]): void {
  expect(actual).toHaveLength(printed.length);
  printed.forEach((value, i) => expect(Math.abs(actual[i] - value), `element ${i}`).toBeLessThanOrEqual(5e-5));
}

describe('MT19937 and uniforms (spec §10.2 steps 1–2)', () => {
  it('gives the standard first outputs for seed 0', () => {
    const engine = new Mt19937(0);
    expect(Array.from({ length: 5 }, () => engine.nextUint32())).toEqual([2357136044, 2546248239, 3071714933, 3626093760, 2588848963]);
  });

  it('matches the reference MT19937 output 10000 for seed 5489 (C++ std::mt19937 requirement)', () => {
    const engine = new Mt19937(5489);
    let value = 0;
    for (let i = 0; i < 10000; i++) value = engine.nextUint32();
    expect(value).toBe(4123659995);
  });

  it('fills float32 uniforms in bulk exactly as one draw at a time, across twists', () => {
    const single = new Mt19937(12345);
    const bulk = new Mt19937(12345);
    const expected = Float32Array.from({ length: 2000 }, () => (single.nextUint32() & 0xffffff) * 2 ** -24);
    const actual = new Float32Array(2000);
    bulk.fillUniform24(actual, 0, 700); // ends past the first twist
    bulk.fillUniform24(actual, 700, 2000);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    expect(bulk.nextUint32()).toBe(single.nextUint32());
  });

  it('draws 24-bit float32 uniforms', () => {
    const generator = new TorchGenerator(0);
    const uniforms = [generator.uniformFloat32(), generator.uniformFloat32(), generator.uniformFloat32()];
    [0.49625659, 0.7682218, 0.0884774].forEach((expected, i) => expect(uniforms[i]).toBeCloseTo(expected, 7));
    expect(uniforms[0]).toBe((2357136044 & 0xffffff) / 2 ** 24);
  });
});

describe('TorchGenerator.randn ≥ 16 elements (spec §10.2 vectors)', () => {
  it('seed 0, first draw of (1,4,128,128)', () => {
    const noise = new TorchGenerator(0).randn([1, 4, 128, 128]);
    expect(sha256LittleEndian(noise)).toBe('33e5e1492edd7110d7f1a65492cbc485924cb2dc9343099bd01121af5e47a0e7');
    expect(float32Bits(noise[0])).toBe(0xbf901b85);
    expect(float32Bits(noise[1])).toBe(0xbf93808a);
    const first = [-1.1258398294448853, -1.152360200881958, -0.2505785822868347, -0.4338788092136383, 0.8487103581428528, 0.6920091509819031, -0.31601276993751526, -2.1152193546295166];
    expect(Array.from(noise.subarray(0, 8))).toEqual(first);
    expect(Array.from(noise.subarray(-4))).toEqual([0.9063947200775146, 0.13893580436706543, 0.26185494661331177, -1.4578040838241577]);
  });

  it('seed 0, second draw continues the stream', () => {
    const generator = new TorchGenerator(0);
    generator.randn([1, 4, 128, 128]);
    const second = generator.randn([1, 4, 128, 128]);
    expect(sha256LittleEndian(second)).toBe('591b3e113f94efd2f996cd386922ea70a222c3ca262609fcfbc2f9a8f28e7855');
    expect(Array.from(second.subarray(0, 4))).toEqual([0.019297275692224503, 0.4088961184024811, 0.13441060483455658, 0.3443029224872589]);
  });

  it('seed 42, (1,4,128,128) and (2,4,128,128)', () => {
    const single = new TorchGenerator(42).randn([1, 4, 128, 128]);
    expect(sha256LittleEndian(single)).toBe('23c72e908d9e3fbe50836a02f09ccde0acfcf28c00dec75b986c49dadf0c115e');
    expect(Array.from(single.subarray(0, 8))).toEqual([
      1.9269152879714966, 1.4872840642929077, 0.9007171988487244, -2.1055209636688232, 0.6784184575080872, -1.2345448732376099, -0.04306747764348984,
      -1.6046669483184814,
    ]);
    const batch = new TorchGenerator(42).randn([2, 4, 128, 128]);
    expect(sha256LittleEndian(batch)).toBe('10543f477ae1e5573e72cf20ce66ae39569c7bbd4aa56fd443947c53d34378a9');
    expect(Array.from(batch.subarray(65536, 65540))).toEqual([0.8884079456329346, 2.116025686264038, -2.264767646789551, -1.1556789875030518]);
    expect(batch.subarray(0, 65536)).toEqual(single);
  });

  it('recomputes the last 16 values from fresh uniforms when n % 16 ≠ 0 (published torch outputs, seed 42)', () => {
    // karpathy/llm.c docs: torch.manual_seed(42); torch.randn(2, 3, 4)
    expectPrinted(new TorchGenerator(42).randn([2, 3, 4]), [
      1.9269, 1.4873, 0.9007, -2.1055, 0.6784, -1.2345, -0.0431, -1.6047, 0.3559, -0.6866, -0.4934, 0.2415, -1.1109, 0.0915, -2.3169, -0.2168,
      -0.3097, -0.3957, 0.8034, -0.6216, -0.592, -0.0631, -0.8286, 0.3309,
    ]);
    // flashinfer docstrings: torch.manual_seed(42); torch.randn(4, 5)
    expectPrinted(new TorchGenerator(42).randn([4, 5]), [
      1.9269, 1.4873, 0.9007, -2.1055, -0.7581, 1.0783, 0.8008, 1.6806, 0.3559, -0.6866, -0.4934, 0.2415, -0.2316, 0.0418, -0.2516, 0.8599,
      -0.3097, -0.3957, 0.8034, -0.6216,
    ]);
    // a published INT4 fake-quantization walkthrough: torch.manual_seed(42); torch.randn(2, 16)
    expectPrinted(new TorchGenerator(42).randn([2, 16]), [
      1.9269, 1.4873, 0.9007, -2.1055, 0.6784, -1.2345, -0.0431, -1.6047, -0.7521, 1.6487, -0.3925, -1.4036, -0.7279, -0.5594, -0.7688, 0.7624,
      1.6423, -0.1596, -0.4974, 0.4396, -0.7581, 1.0783, 0.8008, 1.6806, 1.2791, 1.2964, 0.6105, 1.3347, -0.2316, 0.0418, -0.2516, 0.8599,
    ]);
  });

  it('tail rule: the first n−16 values come from the main blocks, the last 16 from 16 fresh uniforms', () => {
    const n = 40;
    const noise = new TorchGenerator(7).randn([n]);
    const mainBlocks = new TorchGenerator(7).randn([32]);
    expect(noise.subarray(0, n - 16)).toEqual(mainBlocks.subarray(0, n - 16));
    const afterUniforms = new TorchGenerator(7);
    for (let i = 0; i < n; i++) afterUniforms.uniformFloat32();
    expect(noise.subarray(n - 16)).toEqual(afterUniforms.randn([16]));
  });
});

describe('TorchGenerator.randn < 16 elements (float64 Box–Muller with a cached second value)', () => {
  it('matches torch.manual_seed(0); torch.randn(8) (spec) and randn(5)', () => {
    const noise = new TorchGenerator(0).randn([8]);
    [1.5409961, -0.2934289, -2.1787894, 0.5684313].forEach((expected, i) => expect(noise[i]).toBeCloseTo(expected, 7));
    expectPrinted(new TorchGenerator(0).randn([5]), [1.541, -0.2934, -2.1788, 0.5684, -1.0845]);
  });

  it('matches torch.manual_seed(42); torch.randn(2, 3) as published', () => {
    expectPrinted(new TorchGenerator(42).randn([2, 3]), [0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863]);
  });

  it('keeps the cached sine across calls, and vector draws neither use nor clear it', () => {
    const pair = new TorchGenerator(3).randn([2]);
    const generator = new TorchGenerator(3);
    expect(generator.randn([1])[0]).toBe(pair[0]);
    const vector = generator.randn([16]);
    expect(generator.randn([1])[0]).toBe(pair[1]);
    const reference = new TorchGenerator(3);
    for (let i = 0; i < 4; i++) reference.nextUint32(); // the pair's two 64-bit uniforms
    expect(vector).toEqual(reference.randn([16]));
  });

  it('treats [] as one element and [0] as none', () => {
    expect(new TorchGenerator(0).randn([])).toHaveLength(1);
    expect(new TorchGenerator(0).randn([2, 0, 3])).toHaveLength(0);
  });
});

describe('TorchGenerator seeds and state', () => {
  it('uses the low 32 bits of the seed; negative seeds as 64-bit two’s complement', () => {
    const draw = (seed: number | bigint) => new TorchGenerator(seed).randn([16]);
    expect(draw(2n ** 32n + 5n)).toEqual(draw(5));
    expect(draw(-1)).toEqual(draw(0xffffffff));
    expect(new TorchGenerator(-1).initialSeed).toBe(2n ** 64n - 1n);
    expect(new TorchGenerator(2n ** 64n - 1n).randn([16])).toEqual(draw(-1));
  });

  it('rejects seeds torch would reject and bad shapes', () => {
    expect(() => new TorchGenerator(2n ** 64n)).toThrow(RangeError);
    expect(() => new TorchGenerator(-(2n ** 63n) - 1n)).toThrow(RangeError);
    expect(() => new TorchGenerator(1.5)).toThrow(RangeError);
    expect(() => new TorchGenerator(Number.NaN)).toThrow(RangeError);
    expect(() => new TorchGenerator(0).randn([2, -1])).toThrow(RangeError);
    expect(() => new TorchGenerator(0).randn([2.5])).toThrow(RangeError);
  });

  it('clone() continues from the same point, independently', () => {
    const generator = new TorchGenerator(11);
    generator.randn([3]); // leaves a cached value
    const copy = generator.clone();
    expect(copy.randn([5])).toEqual(generator.randn([5]));
    expect(copy.randn([64])).toEqual(generator.randn([64]));
  });
});

describe('float32 polynomial log / sincos (avx_mathfun emulation) stay close to the true functions', () => {
  it('log within 2 float32 ulps on (0, 1], sin/cos within 2^-22 on [0, 2π)', () => {
    const bits = new Float32Bits();
    const out = new Float64Array(2);
    for (let k = 1; k <= 4096; k++) {
      const x = Math.fround(k / 4096) ** 3;
      const x32 = Math.fround(x);
      const truth = Math.log(x32);
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(truth) || 1)) - 23);
      expect(Math.abs(logAvx(x32, bits) - truth)).toBeLessThanOrEqual(2 * ulp);
      const theta = Math.fround(Math.fround(2 * Math.PI) * Math.fround(k / 4096));
      sinCosAvx(theta, out);
      expect(Math.abs(out[0] - Math.sin(theta))).toBeLessThanOrEqual(2 ** -22);
      expect(Math.abs(out[1] - Math.cos(theta))).toBeLessThanOrEqual(2 ** -22);
    }
  });
});

// ---- fma32 against exact rational arithmetic ----

const FLOAT32_MAX = 3.4028234663852886e38;

interface Float32Parts {
  negative: boolean;
  mantissa: bigint;
  exponent: number; // |value| = mantissa · 2^exponent
}

function partsOf(value: number): Float32Parts {
  const bits = float32Bits(value);
  const field = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  return {
    negative: bits >>> 31 === 1,
    mantissa: BigInt(field === 0 ? fraction : fraction | 0x800000),
    exponent: field === 0 ? -149 : field - 150,
  };
}

/** Round `numerator · 2^exponent` to float32, ties to even, with subnormals and overflow. */
function roundToFloat32(numerator: bigint, exponent: number): number {
  const negative = numerator < 0n;
  const magnitude = negative ? -numerator : numerator;
  const floorLog2 = magnitude.toString(2).length - 1 + exponent;
  const quantum = Math.max(floorLog2 - 23, -149);
  const shift = quantum - exponent;
  let q: bigint;
  if (shift <= 0) {
    q = magnitude << BigInt(-shift);
  } else {
    q = magnitude >> BigInt(shift);
    const remainder = magnitude - (q << BigInt(shift));
    const half = 1n << BigInt(shift - 1);
    if (remainder > half || (remainder === half && (q & 1n) === 1n)) q += 1n;
  }
  let value = Number(q) * 2 ** quantum;
  if (value > FLOAT32_MAX) value = Infinity;
  return negative ? -value : value;
}

function exactFma32(a: number, b: number, c: number): number {
  const pa = partsOf(a);
  const pb = partsOf(b);
  const pc = partsOf(c);
  const productNegative = pa.negative !== pb.negative;
  const productExponent = pa.exponent + pb.exponent;
  const base = Math.min(productExponent, pc.exponent);
  const product = pa.mantissa * pb.mantissa * (productNegative ? -1n : 1n) * 2n ** BigInt(productExponent - base);
  const addend = pc.mantissa * (pc.negative ? -1n : 1n) * 2n ** BigInt(pc.exponent - base);
  const sum = product + addend;
  if (sum === 0n) return productNegative && pc.negative ? -0 : 0;
  return roundToFloat32(sum, base);
}

function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function float32FromFields(negative: boolean, exponentField: number, fraction: number): number {
  const words = new Uint32Array([((negative ? 1 : 0) << 31) | (exponentField << 23) | fraction]);
  return new Float32Array(words.buffer)[0];
}

const simd = SimdKernels.create()!;
let lane = 0;
/** The WebAssembly kernels' FMA on one triple, placed in a rotating lane beside ordinary lanes. */
function simdFma32(a: number, b: number, c: number): number {
  const at = lane++ % 4;
  const as = Float32Array.of(1.5, 0.25, -3, 7);
  const bs = Float32Array.of(2, -1.25, 0.5, 0.125);
  const cs = Float32Array.of(0.75, 1, -0.5, 2);
  as[at] = a;
  bs[at] = b;
  cs[at] = c;
  return simd.fma32(as, bs, cs)[at];
}

describe.each([
  ['fma32 (JavaScript)', fma32],
  ['the WebAssembly SIMD kernels\' FMA', simdFma32],
])('%s is a correctly rounded float32 fused multiply-add', (_name, fma) => {
  it('agrees with exact BigInt arithmetic on 20,000 random float32 triples', () => {
    const random = xorshift(20240611);
    const randomFloat = (exponentSpread: number) =>
      float32FromFields(random() < 0.5, 127 + Math.floor((random() * 2 - 1) * exponentSpread), Math.floor(random() * 0x800000));
    for (let i = 0; i < 20000; i++) {
      const a = randomFloat(20);
      const b = randomFloat(20);
      // half the time, an addend that nearly cancels the product
      const c = i % 2 === 0 ? randomFloat(40) : Math.fround(-a * b * (1 + (random() - 0.5) * 2 ** -20));
      expect(Object.is(fma(a, b, c), exactFma32(a, b, c)), `fma32(${a}, ${b}, ${c})`).toBe(true);
    }
  });

  it('rounds correctly when the double sum lands exactly on a float32 midpoint (double-rounding cases)', () => {
    const random = xorshift(7);
    let naiveWrong = 0;
    let cases = 0;
    for (let i = 0; i < 3000; i++) {
      const k = Math.floor(random() * 200) - 100; // c in [2^k, 2^(k+1))
      const fraction = Math.floor(random() * 0x800000);
      const lower = float32FromFields(false, 127 + k, fraction);
      const upper = float32FromFields(false, 127 + k, fraction + 1 === 0x800000 ? fraction : fraction + 1);
      const j = 1 + Math.floor(random() * 300);
      const a = Math.fround(1 + j * 2 ** -23);
      const b = Math.fround((1 - j * 2 ** -23) * 2 ** (k - 24)); // a·b = half an ulp of c, minus a sliver
      const sign = random() < 0.5 ? 1 : -1;
      for (const [x, y, z] of [
        [sign * a, b, sign * lower], // exact sum just below the midpoint above `lower`
        [-sign * a, b, sign * upper], // exact sum just above the midpoint below `upper`
      ]) {
        cases++;
        const exact = exactFma32(x, y, z);
        expect(Object.is(fma(x, y, z), exact), `fma32(${x}, ${y}, ${z})`).toBe(true);
        if (Math.fround(x * y + z) !== exact) naiveWrong++;
      }
    }
    expect(cases).toBe(6000);
    expect(naiveWrong).toBeGreaterThan(1000); // the cases do exercise double rounding
  });

  it('handles exact ties, signed zeros, subnormals and the overflow threshold', () => {
    const cases: Array<[number, number, number]> = [
      [1, Math.fround(1 + 2 ** -23), 2 ** -24], // exact tie
      [-0, 1, 0],
      [-0, 1, -0],
      [2 ** -75, 2 ** -75, 2 ** -149], // subnormal result
      [Math.fround(1 + 2 ** -23), 2 ** -100, -(2 ** -100)],
      [Math.fround(1 + 2 ** -23), Math.fround((1 - 2 ** -23) * 2 ** 103), FLOAT32_MAX], // just below overflow threshold
      [2 ** 64, 2 ** 64, 0],
    ];
    for (const [a, b, c] of cases) expect(Object.is(fma(a, b, c), exactFma32(a, b, c)), `fma32(${a}, ${b}, ${c})`).toBe(true);
    expect(fma(Math.fround(1 + 2 ** -23), Math.fround((1 - 2 ** -23) * 2 ** 103), FLOAT32_MAX)).toBe(FLOAT32_MAX);
  });
});
