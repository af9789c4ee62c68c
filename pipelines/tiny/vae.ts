// Tiny VAE halves with the SDXL AutoencoderKL export contract: 8× spatial factor, 4 latent channels.
// Always float32: the real SDXL VAE overflows in fp16 (contract §9), so fp16 exports keep it in fp32
// and so do these.
import { attr } from '../onnx/writer.js';
import { TinyNet } from './net.js';

export const VAE_SCALE = 8;
export const LATENT_CHANNELS = 4;

/**
 * latent_sample [B,4,h,w] → sample [B,3,8h,8w]: a 3×3 conv + SiLU and a direct 1×1 path produce
 * 3·8·8 channels per latent pixel, rearranged by DepthToSpace. Gains are set so that latents of unit
 * scale after `/ 0.13025` map to pixels roughly in [-1, 1], with some values beyond.
 */
export function buildVaeDecoder(seed: number): TinyNet {
  const net = new TinyNet('vae_decoder', seed, 'float32');
  const { graph } = net;
  const latent = graph.input('latent_sample', 'float32', ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent']);
  const pixelsPerLatent = 3 * VAE_SCALE * VAE_SCALE;
  const scaled = net.op('Mul', [latent, net.constant('post_quant_scale', [], [0.13025])]);
  const features = net.silu(net.conv(scaled, 'decoder.conv_in', LATENT_CHANNELS, 16, 3, { gain: 2 }));
  const detail = net.conv(features, 'decoder.conv_out', 16, pixelsPerLatent, 1, { gain: 0.3 });
  const direct = net.conv(scaled, 'decoder.direct', LATENT_CHANNELS, pixelsPerLatent, 1, { gain: 0.4, bias: false });
  const blocks = net.op('Add', [detail, direct]);
  const image = net.op('DepthToSpace', [blocks], { blocksize: attr.int(VAE_SCALE), mode: attr.string('DCR') });
  graph.output('sample', 'float32', ['batch_size', 'num_channels', 'height', 'width'], image);
  return net;
}

/**
 * sample [B,3,H,W] → the diagonal Gaussian's parameters [B,8,h,w] (mean ⊕ logvar) via SpaceToDepth and
 * convs. Generation B outputs them as `latent_parameters`; generation A draws `latent_sample` inside
 * the graph with an unseeded RandomNormalLike, exactly as non-deterministic as the real gen-A export.
 */
export function buildVaeEncoder(seed: number, generation: 'A' | 'B'): TinyNet {
  const net = new TinyNet('vae_encoder', seed, 'float32');
  const { graph } = net;
  const image = graph.input('sample', 'float32', ['batch_size', 'num_channels', 'height', 'width']);
  const blockChannels = 3 * VAE_SCALE * VAE_SCALE;
  const blocks = net.op('SpaceToDepth', [image], { blocksize: attr.int(VAE_SCALE) });
  const features = net.silu(net.conv(blocks, 'encoder.conv_in', blockChannels, 16, 1, { gain: 2 }));
  const parameters = net.op('Add', [
    net.conv(features, 'encoder.conv_out', 16, 2 * LATENT_CHANNELS, 3, { gain: 1 }),
    net.conv(blocks, 'encoder.direct', blockChannels, 2 * LATENT_CHANNELS, 1, { gain: 12, bias: false }),
  ]);
  // Scale the mean to the real latents' magnitude (unit scale after × 0.13025) and centre logvar low.
  const channelScale = net.constant('quant_scale', [1, 2 * LATENT_CHANNELS, 1, 1], [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1]);
  const channelShift = net.constant('quant_shift', [1, 2 * LATENT_CHANNELS, 1, 1], [0, 0, 0, 0, -6, -6, -6, -6]);
  const moments = net.op('Add', [net.op('Mul', [parameters, channelScale]), channelShift]);
  const latentDims = ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent'];
  if (generation === 'B') {
    graph.output('latent_parameters', 'float32', latentDims, moments);
    return net;
  }
  const [mean, logvar] = graph.nodeOutputs('Split', [moments, net.ints('split_sizes', [LATENT_CHANNELS, LATENT_CHANNELS])], { axis: attr.int(1) }, { outputs: 2 });
  const clamped = net.op('Clip', [logvar, net.constant('logvar_min', [], [-30]), net.constant('logvar_max', [], [20])]);
  const std = net.op('Exp', [net.op('Mul', [clamped, net.constant('half', [], [0.5])])]);
  const noise = net.op('RandomNormalLike', [mean]);
  graph.output('latent_sample', 'float32', latentDims, net.op('Add', [mean, net.op('Mul', [std, noise])]));
  return net;
}
