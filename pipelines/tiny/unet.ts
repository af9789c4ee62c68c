// A tiny UNet with the SDXL UNet I/O contract. Every input reaches the output: sinusoidal timestep
// features, per-time-id Fourier features (each id with its own weights, so raw values like 1024 never
// saturate), a pooled-embedding projection, and a cross-attention from every latent pixel to every
// context token (softmax over the sequence). The output is the sample plus a learned residual, which
// behaves like a crude denoiser: Euler sampling over ~40 steps keeps latents in a sane range.
import { attr } from '../onnx/writer.js';
import { TinyNet, type WeightPrecision } from './net.js';

export interface UnetSpec {
  seed: number;
  /** Which UNet's weights: base and refiner UNets differ. */
  stage: 'base' | 'refiner';
  /** Conv channels of the latent-resolution trunk (cost scales with it). */
  width: number;
  /** Last dim of encoder_hidden_states (base: te1 + te2 widths; refiner: te2 width). */
  contextWidth: number;
  /** Width of text_embeds (the pooled, projected te2 output). */
  pooledWidth: number;
  /** 6 (base) or 5 (refiner). */
  timeIdCount: number;
  /** Features per time id: sin + cos of half this many frequencies (diffusers' addition_time_embed_dim). */
  timeIdEmbedDim: number;
  /** Generation A: int64 `timestep` of shape [steps]; generation B: a rank-0 scalar of the float dtype. */
  timestep: 'int64-rank1' | 'float-scalar';
  precision: WeightPrecision;
}

/** Width of the shared conditioning embedding (timestep + time ids + pooled text). */
const EMBED_DIM = 32;
/** Query/key width of the cross-attention. */
const ATTENTION_DIM = 16;
/** The cross-attention queries sit on a G×G grid resampled from the latent trunk. */
const ATTENTION_GRID = 16;
/** Scale of the learned residual added to the sample. */
const RESIDUAL_GAIN = 0.3;

export function buildUnet(spec: UnetSpec): TinyNet {
  const net = new TinyNet('unet', spec.seed, spec.precision, `${spec.stage}/unet`);
  const { graph } = net;
  const dtype = spec.precision;
  const C = spec.width;

  const sampleIn = graph.input('sample', dtype, ['batch_size', 4, 'height', 'width']);
  const timestepIn =
    spec.timestep === 'int64-rank1' ? graph.input('timestep', 'int64', ['steps']) : graph.input('timestep', dtype, []);
  const contextIn = graph.input('encoder_hidden_states', dtype, ['batch_size', 'sequence_length', spec.contextWidth]);
  const pooledIn = graph.input('text_embeds', dtype, ['batch_size', spec.pooledWidth]);
  const timeIdsIn = graph.input('time_ids', dtype, ['batch_size', spec.timeIdCount]);

  const sample = dtype === 'float32' ? sampleIn : net.toFloat32(sampleIn);
  const context = dtype === 'float32' ? contextIn : net.toFloat32(contextIn);
  const pooled = dtype === 'float32' ? pooledIn : net.toFloat32(pooledIn);
  const timeIds = dtype === 'float32' ? timeIdsIn : net.toFloat32(timeIdsIn);

  // Timestep: one value for the whole batch → [1, EMBED_DIM].
  const timestep = net.op('Reshape', [net.toFloat32(timestepIn), net.ints('shape_1', [1])]);
  const timestepFeatures = net.fourierFeatures(timestep, 'time_proj', 16); // [1, 32]
  const timeEmbedding = net.linear(net.silu(net.linear(timestepFeatures, 'time_embedding.linear_1', 32, EMBED_DIM)), 'time_embedding.linear_2', EMBED_DIM, EMBED_DIM);

  // Time ids: [B, N] → [B, N, D] Fourier features → [B, N·D] → each id's rows of one matrix.
  const timeIdFeatures = net.fourierFeatures(timeIds, 'add_time_proj', spec.timeIdEmbedDim / 2);
  const flatTimeIds = net.op('Reshape', [timeIdFeatures, net.ints('shape_b_flat', [0, -1])]);
  const timeIdEmbedding = net.linear(flatTimeIds, 'add_embedding.time_ids', spec.timeIdCount * spec.timeIdEmbedDim, EMBED_DIM);
  const pooledEmbedding = net.linear(pooled, 'add_embedding.text_embeds', spec.pooledWidth, EMBED_DIM);

  const embedding = net.silu(net.op('Add', [net.op('Add', [timeEmbedding, timeIdEmbedding]), pooledEmbedding]));
  const channelBias = net.op('Unsqueeze', [net.linear(embedding, 'time_emb_proj', EMBED_DIM, C), net.ints('axes23', [2, 3])]);

  // Trunk at latent resolution.
  let hidden = net.silu(net.op('Add', [net.conv(sample, 'conv_in', 4, C, 3), channelBias]));
  const hiddenShape = net.op('Shape', [hidden]);

  // Cross-attention from a fixed coarse grid of query positions (cheap at any latent size), computed
  // channels-first so nothing large is transposed: scores [B, S, G²] = K [B, S, A] · Q [B, A, G²];
  // softmax over the S context tokens; out [B, C, G²] = Vᵀ [B, C, S] · P; then resized back to h×w
  // and added to every latent pixel.
  const batchAndChannels = net.op('Shape', [hidden], { start: attr.int(0), end: attr.int(2) });
  const gridSizes = net.op('Concat', [batchAndChannels, net.ints('attention_grid', [ATTENTION_GRID, ATTENTION_GRID])], { axis: attr.int(0) });
  const coarse = net.op('Resize', [hidden, '', '', gridSizes], { mode: attr.string('linear') });
  const queries = net.op('Reshape', [net.conv(coarse, 'attn.to_q', C, ATTENTION_DIM, 1, { bias: false }), net.ints('shape_b_c_flat', [0, 0, -1])]);
  const keys = net.linear(context, 'attn.to_k', spec.contextWidth, ATTENTION_DIM, { bias: false });
  const valuesT = net.op('Transpose', [net.linear(context, 'attn.to_v', spec.contextWidth, C, { bias: false })], { perm: attr.ints([0, 2, 1]) });
  const scale = net.constant('attn.scale', [], [1 / Math.sqrt(ATTENTION_DIM)]);
  const probabilities = net.op('Softmax', [net.op('Mul', [net.op('MatMul', [keys, queries]), scale])], { axis: attr.int(1) });
  const attendedCoarse = net.op('Reshape', [net.op('MatMul', [valuesT, probabilities]), gridSizes]);
  const attended = net.op('Resize', [attendedCoarse, '', '', hiddenShape], { mode: attr.string('linear') });
  hidden = net.op('Add', [hidden, attended]);

  // Depthwise mixing, then back to 4 channels as a residual on the sample.
  hidden = net.op('Add', [hidden, net.silu(net.conv(hidden, 'mid.depthwise', C, C, 3, { groups: C }))]);
  const residual = net.conv(hidden, 'conv_out', C, 4, 3, { gain: RESIDUAL_GAIN });
  const outSample = net.op('Add', [sample, residual]);
  graph.output('out_sample', dtype, ['batch_size', 4, 'height', 'width'], net.toInterface(outSample, dtype));
  return net;
}
