import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { UserError } from './errors.js';
import { simdKernels } from './simd/kernels.js';

/**
 * A thin wrapper around an onnxruntime-node session that hides the differences between exporter
 * generations (spec §2): callers pass plain numbers (Float32Array / Int32Array / Float64Array) and
 * the wrapper converts each feed to the dtype and rank the graph declares, and converts every
 * float output back to Float32Array.
 */

/** A host-side tensor. Values are plain numbers; the session converts them to the declared dtype. */
export interface HostTensor {
  data: Float32Array | Float64Array | Int32Array;
  dims: readonly number[];
  /**
   * Promise that `data` does not change while this object is in use: a session converts it to the
   * graph's dtype once and reuses the result (conditioning fed at every denoising step, which an fp16
   * UNet would otherwise re-convert each step).
   */
  constant?: boolean;
}

/** A float output converted to float32 (float16/float64 outputs are converted exactly/rounded). */
export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

export interface SessionOptions {
  /** Execution provider name: cpu (default), cuda, tensorrt, dml, webgpu, coreml, ... */
  provider?: string;
  /** When the provider cannot be created, fall back to CPU (default true) instead of failing. */
  fallbackToCpu?: boolean;
  /** Receives one line per notable event (which provider ran, extra feeds, feed dumps on error). */
  log?: (line: string) => void;
  /** Short name used in log lines, e.g. "base/unet". Defaults to the file path. */
  label?: string;
  intraOpNumThreads?: number;
  /**
   * Also add up the process CPU time spent inside `session.run` (`runCpuMs`): two getrusage calls
   * per run, which cost time with several ORT threads — for benchmarks, off by default.
   */
  measureCpu?: boolean;
  /**
   * Let ORT's CPU thread-pool threads keep spinning after `run` returns (ORT's own default). Off by
   * default: between UNet calls this process does its host work, which the spinning threads would
   * compete with for cores (`session.force_spinning_stop`; spinning resumes with the next run).
   */
  spinBetweenRuns?: boolean;
}

/** Metadata of one declared input or output. `shape` is empty for rank-0 tensors. */
export interface IoSpec {
  name: string;
  type: string;
  shape: ReadonlyArray<number | string>;
}

const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);
const INT_TYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64', 'bool']);

export class OnnxSession {
  /** Milliseconds spent inside `session.run` since creation (for overhead accounting). */
  runMs = 0;
  /** Process CPU milliseconds (user + system, all threads) spent inside `session.run`; 0 unless `measureCpu`. */
  runCpuMs = 0;
  runCount = 0;
  private disposed = false;
  /** converted `constant` feeds, per host tensor object */
  private readonly constantFeeds = new WeakMap<HostTensor, ort.Tensor>();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly path: string,
    readonly provider: string,
    readonly label: string,
    readonly inputs: readonly IoSpec[],
    readonly outputs: readonly IoSpec[],
    private readonly log: (line: string) => void,
    private readonly measureCpu: boolean,
  ) {}

  /**
   * Loads a graph by file path, so ORT resolves external data (`model.onnx_data`) beside it.
   * If the requested provider cannot be created and `fallbackToCpu` is on, retries on CPU and
   * logs that it did; the chosen provider is always logged.
   */
  static async create(path: string, options: SessionOptions = {}): Promise<OnnxSession> {
    const log = options.log ?? (() => {});
    const label = options.label ?? path;
    const requested = (options.provider ?? 'cpu').toLowerCase();
    if (!existsSync(path)) throw new UserError(`ONNX model file not found: ${path}`, 'check the model folder');
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      // onnxruntime-node passes `extra` as flat session config entries (string values)
      ...(options.spinBetweenRuns ? {} : { extra: { 'session.force_spinning_stop': '1' } }),
    };
    let session: ort.InferenceSession;
    let provider = requested;
    try {
      // Only the requested provider: listing 'cpu' after it would make onnxruntime-common drop an
      // unavailable provider silently. ORT still places nodes the provider lacks on its CPU kernels.
      // A missing provider library makes ORT print C++ errors; keep them out of the user's terminal.
      session = await ort.InferenceSession.create(path, {
        ...base,
        executionProviders: [requested],
        logSeverityLevel: requested === 'cpu' ? 2 : 4,
      });
    } catch (error) {
      if (requested === 'cpu' || options.fallbackToCpu === false) {
        throw new Error(`could not load ${label} on provider ${requested}: ${(error as Error).message}`);
      }
      log(`${label}: provider ${requested} unavailable (${firstLine((error as Error).message)}); falling back to cpu`);
      session = await ort.InferenceSession.create(path, { ...base, executionProviders: ['cpu'] });
      provider = 'cpu';
    }
    log(`${label}: running on ${provider}`);
    const inputs = session.inputMetadata.map(toIoSpec);
    const outputs = session.outputMetadata.map(toIoSpec);
    return new OnnxSession(session, path, provider, label, inputs, outputs, log, options.measureCpu === true);
  }

  get inputNames(): string[] {
    return this.inputs.map((io) => io.name);
  }

  get outputNames(): string[] {
    return this.outputs.map((io) => io.name);
  }

  input(name: string): IoSpec | undefined {
    return this.inputs.find((io) => io.name === name);
  }

  output(name: string): IoSpec | undefined {
    return this.outputs.find((io) => io.name === name);
  }

  /**
   * Runs the graph. Missing inputs are an error listing them; extra feeds are dropped with a
   * warning. `fetches` limits which outputs are copied out (default: all). On an ORT error every
   * feed's dtype and dims are logged before the error is rethrown.
   */
  async run(
    feeds: Record<string, HostTensor>,
    fetches?: readonly string[],
    options: { into?: Record<string, { data: Float32Array; dims: readonly number[] }> } = {},
  ): Promise<Record<string, FloatTensor>> {
    if (this.disposed) throw new Error(`${this.label}: session used after dispose()`);
    const missing = this.inputs.filter((io) => !(io.name in feeds)).map((io) => io.name);
    if (missing.length > 0) {
      throw new Error(`${this.label}: missing inputs ${missing.join(', ')} (graph inputs: ${this.inputNames.join(', ')})`);
    }
    const extra = Object.keys(feeds).filter((name) => !this.input(name));
    if (extra.length > 0) this.log(`warning: ${this.label}: ignoring feeds the graph does not take: ${extra.join(', ')}`);
    const unknownFetches = (fetches ?? []).filter((name) => !this.output(name));
    if (unknownFetches.length > 0) {
      throw new Error(`${this.label}: no outputs named ${unknownFetches.join(', ')} (graph outputs: ${this.outputNames.join(', ')})`);
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const io of this.inputs) {
      const feed = feeds[io.name];
      let tensor = feed.constant ? this.constantFeeds.get(feed) : undefined;
      if (!tensor) {
        tensor = toOrtTensor(io, feed, this.label);
        if (feed.constant) this.constantFeeds.set(feed, tensor);
      }
      ortFeeds[io.name] = tensor;
    }
    // float32 outputs the caller wants written into its own arrays: ORT writes them in place (the
    // binding still returns copies, which are dropped); other dtypes are converted as usual
    const intoOutputs = Object.entries(options.into ?? {}).filter(([name, target]) => {
      if (target.data.length !== target.dims.reduce((a, b) => a * b, 1)) throw new RangeError(`${this.label}: into.${name} has ${target.data.length} values for dims [${target.dims.join(', ')}]`);
      return this.output(name)?.type === 'float32' && fitsShape(this.output(name)!, target.dims);
    });
    const started = performance.now();
    const cpuStarted = this.measureCpu ? process.cpuUsage() : null;
    let results: ort.InferenceSession.ReturnType;
    try {
      if (intoOutputs.length > 0) {
        const outputs: Record<string, ort.Tensor | null> = {};
        for (const name of fetches ?? this.outputNames) outputs[name] = null;
        for (const [name, target] of intoOutputs) outputs[name] = new ort.Tensor('float32', target.data, [...target.dims]);
        results = await this.session.run(ortFeeds, outputs as ort.InferenceSession.FetchesType);
      } else {
        results = fetches ? await this.session.run(ortFeeds, [...fetches]) : await this.session.run(ortFeeds);
      }
    } catch (error) {
      for (const [name, tensor] of Object.entries(ortFeeds)) {
        this.log(`${this.label}: feed ${name}: ${tensor.type} [${tensor.dims.join(', ')}]`);
      }
      throw error;
    } finally {
      this.runMs += performance.now() - started;
      if (cpuStarted) {
        const cpu = process.cpuUsage(cpuStarted);
        this.runCpuMs += (cpu.user + cpu.system) / 1000;
      }
      this.runCount += 1;
    }
    const out: Record<string, FloatTensor> = {};
    for (const name of fetches ?? this.outputNames) {
      const value = results[name];
      out[name] = fromOrtTensor(value, `${this.label} output ${name}`);
    }
    for (const [name, target] of intoOutputs) out[name] = { data: target.data, dims: [...target.dims] };
    return out;
  }

  /** True when any float input or output of the graph is float16. */
  get usesFloat16(): boolean {
    return [...this.inputs, ...this.outputs].some((io) => io.type === 'float16');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}

/** True when `dims` can be the shape of `io` (same rank; fixed dimensions equal). */
function fitsShape(io: IoSpec, dims: readonly number[]): boolean {
  return io.shape.length === dims.length && io.shape.every((dim, i) => typeof dim !== 'number' || dim < 0 || dim === dims[i]);
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 200);
}

function toIoSpec(meta: ort.InferenceSession.ValueMetadata): IoSpec {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', shape: [] };
  return { name: meta.name, type: meta.type, shape: meta.shape };
}

/**
 * Converts a host tensor to what the graph declares:
 * - dtype: float32 / float16 (bit patterns, round-to-nearest-even) / float64 / int32 / int64
 *   (BigInt64Array); floats fed to an integer input are truncated toward zero like NumPy's
 *   `astype` (spec §2.2: int64 timesteps);
 * - rank: a one-element tensor is reshaped to rank 0 (`dims []`) or rank 1 (`[1]`) as declared
 *   (gen A timestep is int64 [1], gen B a float scalar).
 */
export function toOrtTensor(io: IoSpec, tensor: HostTensor, label = ''): ort.Tensor {
  const count = tensor.dims.reduce((a, b) => a * b, 1);
  if (count !== tensor.data.length) {
    throw new Error(`${label}: feed ${io.name} has ${tensor.data.length} values but dims [${tensor.dims.join(', ')}]`);
  }
  let dims = [...tensor.dims];
  if (io.shape.length !== dims.length && count === 1 && io.shape.length <= 1) dims = io.shape.length === 0 ? [] : [1];
  if (io.shape.length !== dims.length) {
    throw new Error(
      `${label}: feed ${io.name} has rank ${dims.length} [${dims.join(', ')}] but the graph declares rank ${io.shape.length} [${io.shape.join(', ')}]`,
    );
  }
  const source = tensor.data;
  switch (io.type) {
    case 'float32':
      return new ort.Tensor('float32', source instanceof Float32Array ? source : Float32Array.from(source), dims);
    case 'float64':
      return new ort.Tensor('float64', source instanceof Float64Array ? source : Float64Array.from(source), dims);
    case 'float16':
      return new ort.Tensor('float16', float32ToFloat16Array(source), dims);
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = Math.trunc(source[i]);
      return new ort.Tensor('int32', out, dims);
    }
    case 'int64': {
      const out = new BigInt64Array(count);
      for (let i = 0; i < count; i++) out[i] = BigInt(Math.trunc(source[i]));
      return new ort.Tensor('int64', out, dims);
    }
    default:
      throw new Error(`${label}: input ${io.name} has unsupported type ${io.type}`);
  }
}

function fromOrtTensor(value: ort.OnnxValue | undefined, what: string): FloatTensor {
  if (!value) throw new Error(`${what}: missing from the results`);
  const tensor = value as ort.Tensor;
  const dims = [...tensor.dims];
  switch (tensor.type) {
    case 'float32':
      // onnxruntime-node hands every output its own buffer (never reused by a later run): no copy
      return { data: tensor.data as Float32Array, dims };
    case 'float16':
      return { data: float16ToFloat32Array(tensor.data as Uint16Array), dims };
    case 'float64':
      return { data: Float32Array.from(tensor.data as Float64Array), dims };
    default:
      if (INT_TYPES.has(tensor.type)) {
        const data = tensor.data as ArrayLike<number | bigint>;
        const out = new Float32Array(data.length);
        for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
        return { data: out, dims };
      }
      throw new Error(`${what}: unsupported output type ${tensor.type}`);
  }
}

export function isFloatType(type: string): boolean {
  return FLOAT_TYPES.has(type);
}

// ---------------------------------------------------------------------------------------------
// float16 <-> float32, exact (IEEE 754 binary16, round to nearest, ties to even)

/** The binary16 bit pattern nearest to `value` rounded to float32 (ties to even; overflow → ±Inf; NaN stays NaN). */
export function float32ToFloat16Bits(value: number): number {
  return halfFromFloatBits(new Uint32Array(Float32Array.of(value).buffer)[0]);
}

function halfFromFloatBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // result is subnormal (or zero): value = significand · 2^(exponent-150), unit = 2^-24
    const shift = 14 - halfExponent;
    if (shift > 24) return sign;
    const significand = mantissa | 0x800000;
    let half = significand >>> shift;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (and reaches Inf at the top)
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** The exact float value of a binary16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Converts to binary16 bit patterns; non-float32 input is first rounded to float32. */
export function float32ToFloat16Array(values: ArrayLike<number>): Uint16Array {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values);
  const kernels = simdKernels();
  return kernels ? kernels.float32ToFloat16(floats) : float32ToFloat16ArrayReference(floats);
}

/** `float32ToFloat16Array` in plain JavaScript (the fallback without WebAssembly SIMD; same bits). */
export function float32ToFloat16ArrayReference(floats: Float32Array): Uint16Array {
  const bits = new Uint32Array(floats.buffer, floats.byteOffset, floats.length);
  const out = new Uint16Array(floats.length);
  for (let i = 0; i < floats.length; i++) out[i] = halfFromFloatBits(bits[i]);
  return out;
}

const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = float16BitsToFloat32(bits);
  return table;
})();

/** The exact float32 values of binary16 bit patterns (a NaN may keep its payload). */
export function float16ToFloat32Array(bits: Uint16Array): Float32Array {
  const kernels = simdKernels();
  return kernels ? kernels.float16ToFloat32(bits) : float16ToFloat32ArrayReference(bits);
}

/** `float16ToFloat32Array` in plain JavaScript (the fallback without WebAssembly SIMD; NaN canonical). */
export function float16ToFloat32ArrayReference(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = HALF_TO_FLOAT[bits[i]];
  return out;
}

/**
 * A session created on first use and released on demand (to keep only one large UNet resident);
 * `get()` after `release()` loads it again.
 */
export class LazySession {
  private loading: Promise<OnnxSession> | null = null;
  /** `session.run` time of sessions already released, so totals survive a release */
  private releasedRunMs = 0;
  private releasedRunCpuMs = 0;
  private releasedRunCount = 0;

  /** `existing`: an already created session for `path`, adopted as the first load. */
  constructor(
    readonly path: string,
    private readonly options: SessionOptions,
    existing?: OnnxSession,
  ) {
    if (existing) this.loading = Promise.resolve(existing);
  }

  get loaded(): boolean {
    return this.loading !== null;
  }

  get(): Promise<OnnxSession> {
    this.loading ??= OnnxSession.create(this.path, this.options).catch((error) => {
      this.loading = null;
      throw error;
    });
    return this.loading;
  }

  /** Total milliseconds inside `session.run`, across releases. */
  async runMs(): Promise<number> {
    return this.releasedRunMs + (this.loading ? (await this.loading).runMs : 0);
  }

  /** Process CPU milliseconds inside `session.run`, across releases. */
  async runCpuMs(): Promise<number> {
    return this.releasedRunCpuMs + (this.loading ? (await this.loading).runCpuMs : 0);
  }

  async runCount(): Promise<number> {
    return this.releasedRunCount + (this.loading ? (await this.loading).runCount : 0);
  }

  async release(): Promise<void> {
    const loading = this.loading;
    if (!loading) return;
    this.loading = null;
    const session = await loading;
    this.releasedRunMs += session.runMs;
    this.releasedRunCpuMs += session.runCpuMs;
    this.releasedRunCount += session.runCount;
    await session.dispose();
  }
}
