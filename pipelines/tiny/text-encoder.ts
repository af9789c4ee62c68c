// Tiny CLIP text towers with the I/O contract of the optimum exports: real layer counts, tiny widths.
// Each "layer" mixes tokens causally (position i sees the mean of positions ≤ i, like CLIP's causal
// mask) and applies a residual tanh MLP, so every token before EOS reaches the pooled output.
import { attr } from '../onnx/writer.js';
import { TinyNet, type WeightPrecision } from './net.js';

export const MAX_POSITIONS = 77;

export interface TextTowerSpec {
  /** Graph name and weight-stream scope, e.g. `text_encoder_2`. */
  scope: string;
  seed: number;
  vocabSize: number;
  width: number;
  layers: number;
  inputIdsDType: 'int32' | 'int64';
  /**
   * `pooled`: CLIPTextModel (last_hidden_state, pooler_output, hidden_states.0..L);
   * `projected`: CLIPTextModelWithProjection for SDXL (text_embeds, last_hidden_state, hidden_states.0..L);
   * `projected-scorer`: the transformers.js CLIP text model (text_embeds, last_hidden_state).
   */
  outputs: 'pooled' | 'projected' | 'projected-scorer';
  projectionDim?: number;
  /** Weight storage and the dtype of every float output. */
  precision: WeightPrecision;
}

function causalMeanMatrix(size: number): Float32Array {
  const matrix = new Float32Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j <= i; j++) matrix[i * size + j] = 1 / (i + 1);
  return matrix;
}

export function buildTextTower(spec: TextTowerSpec): TinyNet {
  const net = new TinyNet(spec.scope, spec.seed, spec.precision);
  const { graph } = net;
  const { width } = spec;
  const ids = graph.input('input_ids', spec.inputIdsDType, ['batch_size', 'sequence_length']);

  const sequenceLength = net.op('Shape', [ids], { start: attr.int(1), end: attr.int(2) });
  const zero = net.ints('zero', [0]);
  const tokens = net.op('Gather', [net.weight('token_embedding', [spec.vocabSize, width], 1), ids]);
  const positions = net.op('Slice', [
    net.weight('position_embedding', [MAX_POSITIONS, width], 0.3),
    zero,
    sequenceLength,
    zero,
  ]);
  const causal = net.op('Slice', [
    net.constant('causal_mean', [MAX_POSITIONS, MAX_POSITIONS], causalMeanMatrix(MAX_POSITIONS)),
    net.ints('zeros2', [0, 0]),
    net.op('Concat', [sequenceLength, sequenceLength], { axis: attr.int(0) }),
    net.ints('axes01', [0, 1]),
  ]);

  const hiddenStates: string[] = [net.op('Add', [tokens, positions])];
  const half = net.constant('half', [], [0.5]);
  for (let layer = 0; layer < spec.layers; layer++) {
    const previous = hiddenStates[hiddenStates.length - 1];
    const mixed = net.op('Add', [previous, net.op('MatMul', [causal, previous])]);
    const update = net.op('Tanh', [net.linear(mixed, `layers.${layer}.mlp`, width, width)]);
    hiddenStates.push(net.op('Add', [previous, net.op('Mul', [update, half])]));
  }
  const lastHidden = net.layerNorm(hiddenStates[hiddenStates.length - 1], 'final_layer_norm', width);

  // Pooled = the final-normed state at argmax(input_ids): the first EOS, as the legacy CLIP rule does.
  const eosIndex = net.op('ArgMax', [net.toFloat32(ids)], { axis: attr.int(1), keepdims: attr.int(0) });
  const pooled = net.op('GatherND', [lastHidden, net.op('Unsqueeze', [eosIndex, net.ints('axis1', [1])])], {
    batch_dims: attr.int(1),
  });

  const dtype = spec.precision;
  const sequenceDims = ['batch_size', 'sequence_length', width];
  const emit = (name: string, dims: Array<number | string>, value: string) =>
    graph.output(name, dtype, dims, net.toInterface(value, dtype));
  const projected = () => {
    const projectionDim = spec.projectionDim ?? width;
    return net.linear(pooled, 'text_projection', width, projectionDim, { bias: false });
  };
  if (spec.outputs === 'pooled') {
    emit('last_hidden_state', sequenceDims, lastHidden);
    emit('pooler_output', ['batch_size', width], pooled);
  } else {
    // optimum labels text_embeds' second axis "sequence_length" (a naming artefact kept for fidelity).
    const textEmbedsDims = spec.outputs === 'projected' ? ['batch_size', 'sequence_length'] : ['batch_size', spec.projectionDim ?? width];
    emit('text_embeds', textEmbedsDims, projected());
    emit('last_hidden_state', sequenceDims, lastHidden);
  }
  if (spec.outputs !== 'projected-scorer') {
    hiddenStates.forEach((state, index) => emit(`hidden_states.${index}`, sequenceDims, state));
  }
  return net;
}
