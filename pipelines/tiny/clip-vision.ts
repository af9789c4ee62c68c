// A tiny CLIP vision tower with the transformers.js / optimum `vision_model.onnx` contract:
// pixel_values [B,3,224,224] → image_embeds [B,P], last_hidden_state [B,1+patches,width]. Patches do
// not overlap and cover the image, and the class token mixes the mean of all tokens in every layer,
// so every pixel region reaches image_embeds.
import { attr } from '../onnx/writer.js';
import { TinyNet } from './net.js';

export interface VisionTowerSpec {
  seed: number;
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  projectionDim: number;
}

export function buildVisionTower(spec: VisionTowerSpec): TinyNet {
  if (spec.imageSize % spec.patchSize !== 0) throw new Error('image size must be a multiple of the patch size');
  const net = new TinyNet('vision_model', spec.seed, 'float32');
  const { graph } = net;
  const { width } = spec;
  const tokenCount = (spec.imageSize / spec.patchSize) ** 2 + 1;
  const pixels = graph.input('pixel_values', 'float32', ['batch_size', 'num_channels', 'height', 'width']);

  const patches = net.conv(pixels, 'embeddings.patch_embedding', 3, width, spec.patchSize, {
    stride: spec.patchSize,
    pad: 0,
    bias: false,
  });
  const patchTokens = net.op('Transpose', [net.op('Reshape', [patches, net.ints('shape_b_c_flat', [0, 0, -1])])], { perm: attr.ints([0, 2, 1]) });
  const batch = net.op('Shape', [pixels], { start: attr.int(0), end: attr.int(1) });
  const classShape = net.op('Concat', [batch, net.ints('class_tail', [1, width])], { axis: attr.int(0) });
  const classToken = net.op('Expand', [net.weight('embeddings.class_embedding', [1, 1, width], 1), classShape]);
  const tokens = net.op('Concat', [classToken, patchTokens], { axis: attr.int(1) });
  let hidden = net.layerNorm(net.op('Add', [tokens, net.weight('embeddings.position_embedding', [tokenCount, width], 0.3)]), 'pre_layrnorm', width);

  const half = net.constant('half', [], [0.5]);
  for (let layer = 0; layer < spec.layers; layer++) {
    const mean = net.op('ReduceMean', [hidden], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const update = net.op('Tanh', [net.linear(net.op('Add', [hidden, mean]), `encoder.layers.${layer}.mlp`, width, width)]);
    hidden = net.op('Add', [hidden, net.op('Mul', [update, half])]);
  }
  const classState = net.op('Gather', [hidden, net.ints('class_index', [0])], { axis: attr.int(1) }); // [B,1,W]
  const pooled = net.layerNorm(net.op('Squeeze', [classState, net.ints('axis1', [1])]), 'post_layernorm', width);
  const imageEmbeds = net.linear(pooled, 'visual_projection', width, spec.projectionDim, { bias: false });
  graph.output('image_embeds', 'float32', ['batch_size', spec.projectionDim], imageEmbeds);
  graph.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', width], hidden);
  return net;
}
