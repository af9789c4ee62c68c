// Building blocks for the tiny models: seeded weights (optionally stored as fp16 and cast up at use),
// fixed constants, and a few layers expressed as plain ONNX ops.
import { float16Tensor, float32Tensor, int64Tensor } from '../onnx/tensor.js';
import { GraphBuilder, attr } from '../onnx/writer.js';
import { SeededRandom } from './random.js';

export type WeightPrecision = 'float32' | 'float16';

const FLOAT = 1; // TensorProto.DataType.FLOAT
const FLOAT16 = 10;

/** A graph under construction with a weight source: every tensor is a pure function of (seed, scope, name). */
export class TinyNet {
  readonly graph: GraphBuilder;

  /**
   * @param scope graph name
   * @param streamScope prefix of the weight streams (default `scope`); models that share weights in
   *   SDXL (text_encoder_2 and the VAE of base and refiner) share it, the two UNets do not.
   */
  constructor(
    readonly scope: string,
    private readonly seed: number,
    readonly weightPrecision: WeightPrecision,
    private readonly streamScope: string = scope,
  ) {
    this.graph = new GraphBuilder(scope);
  }

  /** A trainable-style weight N(mean, std²); returns a float32 value (a Cast follows fp16 storage). */
  weight(name: string, dims: number[], std: number, mean = 0): string {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = new SeededRandom(this.seed, `${this.streamScope}/${name}`).normals(count, std, mean);
    return this.storeWeight(name, dims, values);
  }

  /** A weight with given values (e.g. LayerNorm gain), stored at the weight precision. */
  weightValues(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.storeWeight(name, dims, values);
  }

  private storeWeight(name: string, dims: number[], values: ArrayLike<number>): string {
    if (this.weightPrecision === 'float32') return this.graph.initializer(name, float32Tensor(dims, values));
    const stored = this.graph.initializer(name, float16Tensor(dims, values));
    return this.graph.node('Cast', [stored], { to: attr.int(FLOAT) }, { name: `${name}/upcast` });
  }

  /** A fixed float32 constant that is part of the architecture (frequencies, masks), never fp16. */
  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    return this.graph.initializer(name, float32Tensor(dims, values));
  }

  ints(name: string, values: number[]): string {
    return this.graph.initializer(name, int64Tensor([values.length], values));
  }

  op(opType: string, inputs: string[], attributes: Parameters<GraphBuilder['node']>[2] = {}): string {
    return this.graph.node(opType, inputs, attributes);
  }

  toFloat32(value: string): string {
    return this.op('Cast', [value], { to: attr.int(FLOAT) });
  }

  /** Casts a float32 value to the interface dtype (no-op for float32). */
  toInterface(value: string, dtype: WeightPrecision): string {
    return dtype === 'float16' ? this.op('Cast', [value], { to: attr.int(FLOAT16) }) : value;
  }

  /** x · W (+ b) over the last axis; W ~ N(0, gain²/inDim). */
  linear(x: string, name: string, inDim: number, outDim: number, options: { bias?: boolean; gain?: number } = {}): string {
    const weight = this.weight(`${name}.weight`, [inDim, outDim], (options.gain ?? 1) / Math.sqrt(inDim));
    const product = this.op('MatMul', [x, weight]);
    if (options.bias === false) return product;
    return this.op('Add', [product, this.weight(`${name}.bias`, [outDim], 0.1)]);
  }

  silu(x: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [x])]);
  }

  layerNorm(x: string, name: string, width: number): string {
    const gamma = this.weight(`${name}.weight`, [width], 0.05, 1);
    const beta = this.weight(`${name}.bias`, [width], 0.05);
    return this.op('LayerNormalization', [x, gamma, beta], { axis: attr.int(-1), epsilon: attr.float(1e-5) });
  }

  /** 2-D convolution with "same" padding for odd kernels; W ~ N(0, gain²/fan_in). */
  conv(
    x: string,
    name: string,
    inChannels: number,
    outChannels: number,
    kernel: number,
    options: { gain?: number; stride?: number; groups?: number; pad?: number; bias?: boolean } = {},
  ): string {
    const groups = options.groups ?? 1;
    const fanIn = (inChannels / groups) * kernel * kernel;
    const weight = this.weight(`${name}.weight`, [outChannels, inChannels / groups, kernel, kernel], (options.gain ?? 1) / Math.sqrt(fanIn));
    const pad = options.pad ?? (kernel - 1) / 2;
    const inputs = [x, weight];
    if (options.bias !== false) inputs.push(this.weight(`${name}.bias`, [outChannels], 0.05));
    return this.op('Conv', inputs, {
      kernel_shape: attr.ints([kernel, kernel]),
      pads: attr.ints([pad, pad, pad, pad]),
      strides: attr.ints([options.stride ?? 1, options.stride ?? 1]),
      group: attr.int(groups),
    });
  }

  /**
   * Sinusoidal features of `values` (any shape): concat(sin(v·f_k), cos(v·f_k)) along a new last axis,
   * with f_k = 10000^(−k/count), k = 0..count−1 — the diffusers timestep / time-id embedding family.
   */
  fourierFeatures(values: string, name: string, count: number): string {
    const frequencies = Array.from({ length: count }, (_, k) => Math.exp((-Math.log(10000) * k) / count));
    const expanded = this.op('Unsqueeze', [values, this.ints(`${name}.axis`, [-1])]);
    const angles = this.op('Mul', [expanded, this.constant(`${name}.frequencies`, [count], frequencies)]);
    return this.op('Concat', [this.op('Sin', [angles]), this.op('Cos', [angles])], { axis: attr.int(-1) });
  }
}
