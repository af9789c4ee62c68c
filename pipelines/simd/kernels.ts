import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/**
 * The hot elementwise loops of a generation (the fused guided Euler step, run once per UNet call,
 * and the decoder-output → 8-bit pixel conversion) in WebAssembly SIMD (kernels.wat), four float32
 * lanes at a time. They compute exactly what their JavaScript references below compute — same
 * float32 operations in the same order, every one correctly rounded — so switching between them never
 * changes a bit; only the speed differs (`bench/kernels.ts`: 6× for the Euler step, 3.5× for the pixels).
 *
 * Each call copies its inputs into the instance's memory, runs, and copies the results out, all
 * synchronously: an instance never holds data between calls, so one instance can serve any number of
 * pipelines in a thread. A denoising loop can avoid most of the copying with a `GuidedEulerWorkspace`:
 * its latents, UNet feed and (float32) UNet output live in the instance's memory, so nothing is copied per step.
 */
export class SimdKernels {
  private readonly memory: WebAssembly.Memory;
  private readonly exports: KernelExports;
  /** Bytes at the start of the memory that belong to pinned views (never grown once set). */
  private pinnedBytes = 0;

  private constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as KernelExports;
    this.memory = this.exports.memory;
  }

  /** A fresh instance, or null where WebAssembly SIMD is unavailable. */
  static create(): SimdKernels | null {
    const module = kernelModule();
    return module ? new SimdKernels(new WebAssembly.Instance(module, {})) : null;
  }

  /**
   * The guided ε-prediction Euler step fused with the next UNet input (see `eulerGuidedStepReference`).
   * `unetOutput` is the raw `[uncond; cond]` output (2n), `sample` the current latents (n); writes
   * `prevSample` (n) and, when given, `nextInput` (2n, the `[x; x]` feed). Arrays that are views of
   * this instance's memory (a workspace's) are used in place; the others are copied in and out.
   */
  eulerGuidedStep(
    unetOutput: Float32Array,
    sample: Float32Array,
    prevSample: Float32Array,
    nextInput: Float32Array | null,
    scalars: GuidedStepScalars,
  ): void {
    const n = sample.length;
    const arrays = [unetOutput, sample, prevSample, nextInput] as const;
    const own = arrays.map((array) => array !== null && array.buffer === this.memory.buffer);
    const scratch = this.reserve(arrays.map((array, i) => (array === null || own[i] ? 0 : array.length * 4)));
    const at = arrays.map((array, i) => (array !== null && own[i] ? array.byteOffset : scratch[i]));
    const heap = new Float32Array(this.memory.buffer);
    if (!own[0]) heap.set(unetOutput, at[0] >> 2);
    if (!own[1]) heap.set(sample, at[1] >> 2);
    this.exports.euler_guided_step(at[0], at[1], at[2], at[3], n, scalars.guidance, scalars.sigmaHat, scalars.dt, scalars.divisor, nextInput ? 1 : 0);
    if (!own[2]) prevSample.set(heap.subarray(at[2] >> 2, (at[2] >> 2) + n));
    if (nextInput && !own[3]) nextInput.set(heap.subarray(at[3] >> 2, (at[3] >> 2) + 2 * n));
  }

  /**
   * Planar decoder output [3, plane] → interleaved RGB bytes (see `decodedToRgbReference` in vae.ts).
   * Returns the number of NaN / ±Inf values; the bytes of those are meaningless.
   */
  decodedToRgb(decoded: Float32Array, plane: number, out: Uint8Array): number {
    // in slices of pixels small enough to stay in cache between the copy in, the kernel and the copy out
    const slice = Math.min(plane, PIXEL_SLICE);
    const [srcAt, dstAt, scratchAt] = this.reserve([12 * slice, 3 * slice, 3 * slice]);
    const heap = new Float32Array(this.memory.buffer);
    const bytes = new Uint8Array(this.memory.buffer, dstAt, 3 * slice);
    let nonFinite = 0;
    for (let start = 0; start < plane; start += slice) {
      const count = Math.min(slice, plane - start);
      for (let channel = 0; channel < 3; channel++) {
        const from = channel * plane + start;
        heap.set(decoded.subarray(from, from + count), (srcAt >> 2) + channel * count);
      }
      nonFinite += this.exports.decoded_to_rgb(srcAt, dstAt, scratchAt, count);
      out.set(count === slice ? bytes : bytes.subarray(0, 3 * count), 3 * start);
    }
    return nonFinite;
  }

  /**
   * torch's AVX2 Box–Muller (see `TorchGenerator`), in place: each of the first `blocks` blocks of 16
   * uniforms in `data` becomes 16 standard normals, bit for bit what the JavaScript path computes.
   */
  boxMuller16(data: Float32Array, blocks: number): void {
    const count = blocks * 16;
    if (count > data.length) throw new RangeError(`boxMuller16: ${blocks} blocks need ${count} values, got ${data.length}`);
    const [at] = this.reserve([count * 4]);
    const heap = new Float32Array(this.memory.buffer, at, count);
    heap.set(data.subarray(0, count));
    this.exports.box_muller16(at, blocks);
    data.set(heap);
  }

  /** float32 → IEEE binary16 bit patterns, round to nearest even (see `float32ToFloat16Array`). */
  float32ToFloat16(values: Float32Array): Uint16Array {
    return this.convert(values, Uint16Array, this.exports.float32_to_float16);
  }

  /** IEEE binary16 bit patterns → their exact float32 values (see `float16ToFloat32Array`). */
  float16ToFloat32(bits: Uint16Array): Float32Array {
    return this.convert(bits, Float32Array, this.exports.float16_to_float32);
  }

  /** Copies `input` in, runs an elementwise conversion kernel, returns its output as a new array. */
  private convert<Output extends Uint16Array | Float32Array>(
    input: Uint16Array | Float32Array,
    Output: { new (buffer: ArrayBuffer, byteOffset: number, length: number): Output; BYTES_PER_ELEMENT: number },
    kernel: (src: number, dst: number, n: number) => void,
  ): Output {
    const n = input.length;
    const [srcAt, dstAt] = this.reserve([input.byteLength, n * Output.BYTES_PER_ELEMENT]);
    const InputType = input.constructor as { new (buffer: ArrayBuffer, byteOffset: number, length: number): Uint16Array | Float32Array };
    new InputType(this.memory.buffer, srcAt, n).set(input);
    kernel(srcAt, dstAt, n);
    return new Output(this.memory.buffer, dstAt, n).slice() as Output;
  }

  /** float32(a·b + c) with one rounding per element (the kernels' emulated FMA; for tests). */
  fma32(a: Float32Array, b: Float32Array, c: Float32Array): Float32Array {
    const n = a.length;
    if (b.length !== n || c.length !== n) throw new RangeError('fma32: a, b and c must have the same length');
    const padded = (n + 3) & ~3;
    const offsets = this.reserve([padded * 4, padded * 4, padded * 4, padded * 4]);
    const heap = new Float32Array(this.memory.buffer);
    [a, b, c].forEach((values, i) => {
      heap.fill(0, offsets[i] >> 2, (offsets[i] >> 2) + padded);
      heap.set(values, offsets[i] >> 2);
    });
    this.exports.fma32x4(offsets[0], offsets[1], offsets[2], offsets[3], padded);
    return heap.slice(offsets[3] >> 2, (offsets[3] >> 2) + n);
  }

  /**
   * Float32 views of this instance's memory, one per length, for a workspace; `scratchBytes` more
   * are set aside so that later calls never need to grow the memory (growing would detach the views).
   */
  pin(floatLengths: number[], scratchBytes: number): Float32Array[] {
    if (this.pinnedBytes > 0) throw new Error('SimdKernels.pin: this instance already has pinned views');
    const offsets = this.reserve([...floatLengths.map((length) => length * 4), scratchBytes]);
    this.pinnedBytes = offsets[floatLengths.length]; // where the scratch space begins
    return floatLengths.map((length, i) => new Float32Array(this.memory.buffer, offsets[i], length));
  }

  /**
   * Byte offsets of consecutive 16-byte-aligned regions of the given byte lengths after the pinned
   * views, growing the memory when needed — which an instance with pinned views refuses.
   */
  private reserve(byteLengths: number[]): number[] {
    const offsets: number[] = [];
    let end = this.pinnedBytes;
    for (const length of byteLengths) {
      offsets.push(end);
      end += align16(length);
    }
    const missing = end - this.memory.buffer.byteLength;
    if (missing > 0) {
      if (this.pinnedBytes > 0) throw new Error(`SimdKernels: a workspace call needs ${missing} bytes more than were set aside`);
      this.memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
    }
    return offsets;
  }
}

/**
 * The buffers of one guided Euler denoising loop in WebAssembly memory: two latents buffers the loop
 * alternates between, the `[x; x]` UNet feed, written in place by each step for the next UNet call, and
 * the UNet output, which ORT writes in place (float32 outputs). Nothing is copied per step. Create one per loop; copy the final latents out
 * (`latents.slice()`) if they outlive it.
 */
export class GuidedEulerWorkspace {
  private constructor(
    readonly kernels: SimdKernels,
    /** the two latents buffers [1, 4, h, w] */
    readonly latents: readonly [Float32Array, Float32Array],
    /** the UNet `sample` feed, [x; x] */
    readonly feed: Float32Array,
    /** where ORT writes a float32 UNet output ([uncond; cond]) */
    readonly unetOutput: Float32Array,
  ) {}

  /** A workspace for a denoising loop over `n` latents, or null when the JavaScript loops are selected. */
  static forLoop(n: number): GuidedEulerWorkspace | null {
    return simdKernels() ? GuidedEulerWorkspace.create(n) : null;
  }

  /** A workspace for latents of `n` values, or null where WebAssembly SIMD is unavailable. */
  static create(n: number): GuidedEulerWorkspace | null {
    const kernels = SimdKernels.create();
    if (!kernels) return null;
    // scratch: a UNet output ORT could not write in place (float16) is copied in (2n)
    const [a, b, feed, unetOutput] = kernels.pin([n, n, 2 * n, 2 * n], 8 * n);
    return new GuidedEulerWorkspace(kernels, [a, b], feed, unetOutput);
  }
}

export interface GuidedStepScalars {
  /** guidance scale g, as float32 */
  guidance: number;
  /** σ̂ (σ without churn), float32 */
  sigmaHat: number;
  /** σ_next − σ̂, float32 */
  dt: number;
  /** √(σ_next² + 1), float32: the next step's input scaling */
  divisor: number;
}

interface KernelExports {
  memory: WebAssembly.Memory;
  euler_guided_step(
    unet: number, sample: number, prev: number, nextInput: number, n: number,
    guidance: number, sigmaHat: number, dt: number, divisor: number, writeNext: number,
  ): void;
  decoded_to_rgb(src: number, dst: number, scratch: number, plane: number): number;
  box_muller16(data: number, blocks: number): void;
  fma32x4(a: number, b: number, c: number, out: number, n: number): void;
  float32_to_float16(src: number, dst: number, n: number): void;
  float16_to_float32(src: number, dst: number, n: number): void;
}

/** Pixels per `decoded_to_rgb` call: 12 KiB of float32 per channel in, 12 KiB of bytes out. */
const PIXEL_SLICE = 4096;

const WASM_PAGE_BYTES = 65536;

function align16(bytes: number): number {
  return (bytes + 15) & ~15;
}

let cachedModule: WebAssembly.Module | null | undefined;
/** The compiled kernels (compiled once per thread), or null where WebAssembly SIMD is unavailable. */
function kernelModule(): WebAssembly.Module | null {
  if (cachedModule === undefined) {
    const bytes = new Uint8Array(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    cachedModule = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return cachedModule;
}

/** Which implementation of the elementwise loops a process uses. */
export type KernelChoice = 'wasm-simd' | 'js';

let sharedKernels: SimdKernels | null | undefined;

/**
 * The thread's shared kernel instance (it keeps nothing between calls, so sharing is safe), or null
 * for the JavaScript loops: when WebAssembly SIMD is unavailable, when `REFINERY_KERNELS=js` is set
 * (an escape hatch, read on first use), or after `selectKernels('js')`.
 */
export function simdKernels(): SimdKernels | null {
  if (sharedKernels === undefined) sharedKernels = process.env.REFINERY_KERNELS === 'js' ? null : SimdKernels.create();
  return sharedKernels;
}

/**
 * Switches the process between the WebAssembly SIMD and the JavaScript loops (both give the same
 * bits) and returns what is in use afterwards — 'js' when SIMD was asked for but is unavailable.
 * For benchmarks that compare both in one process (`bench/pipeline.ts`, `bench/kernels.ts`).
 */
export function selectKernels(choice: KernelChoice): KernelChoice {
  sharedKernels = choice === 'js' ? null : SimdKernels.create();
  return sharedKernels ? 'wasm-simd' : 'js';
}

/** What `simdKernels()` currently gives. */
export function kernelsInUse(): KernelChoice {
  return simdKernels() ? 'wasm-simd' : 'js';
}

// ---------------------------------------------------------------------------------------------
// JavaScript references: every float32 operation rounded with Math.fround in the kernel's order.

const f32 = Math.fround;

/**
 * ε = f32(u + f32(g·f32(c − u))); x0 = f32(x − f32(σ̂·ε)); d = f32(f32(x − x0) / σ̂);
 * next = f32(x + f32(d·dt)) → prevSample; next / divisor → both halves of nextInput.
 */
export function eulerGuidedStepReference(
  unetOutput: Float32Array,
  sample: Float32Array,
  prevSample: Float32Array,
  nextInput: Float32Array | null,
  { guidance: g, sigmaHat, dt, divisor }: GuidedStepScalars,
): void {
  const n = sample.length;
  for (let i = 0; i < n; i++) {
    const u = unetOutput[i];
    const epsilon = f32(u + f32(g * f32(unetOutput[n + i] - u)));
    const x = sample[i];
    const x0 = f32(x - f32(sigmaHat * epsilon));
    const derivative = f32(f32(x - x0) / sigmaHat);
    const next = f32(x + f32(derivative * dt));
    prevSample[i] = next;
    if (nextInput) {
      const scaled = next / divisor;
      nextInput[i] = scaled;
      nextInput[n + i] = scaled;
    }
  }
}
