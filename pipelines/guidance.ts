import type { HostTensor, OnnxSession } from './session.js';

/**
 * Classifier-free guidance (spec §6). The UNet batch is `[uncond; cond]`; its output is split in
 * halves `u` and `c` and combined elementwise in float32 as `ε = f32(u + f32(g · f32(c − u)))`.
 * Each intermediate is rounded with Math.fround: a float32 op evaluated in double and then
 * rounded equals the IEEE float32 op, so this is bit-exact to torch's float32 arithmetic.
 */
export function combineGuidance(unetOutput: Float32Array, guidanceScale: number, into?: Float32Array): Float32Array {
  if (unetOutput.length % 2 !== 0) throw new Error(`guided UNet output has odd length ${unetOutput.length}`);
  const half = unetOutput.length >>> 1;
  if (into && into.length !== half) throw new RangeError(`combineGuidance: output buffer has length ${into.length}, expected ${half}`);
  const out = into ?? new Float32Array(half);
  const uncond = unetOutput.subarray(0, half);
  const cond = unetOutput.subarray(half);
  const g = Math.fround(guidanceScale);
  for (let i = 0; i < half; i++) {
    const u = uncond[i];
    out[i] = u + Math.fround(g * Math.fround(cond[i] - u)); // the Float32Array store is the last rounding
  }
  return out;
}

/** Sample standard deviation (Bessel's correction, N − 1) of a float32 slice, accumulated in double. */
export function besselStd(values: Float32Array, start = 0, end = values.length): number {
  const count = end - start;
  let sum = 0;
  for (let i = start; i < end; i++) sum += values[i];
  const mean = sum / count;
  let squares = 0;
  for (let i = start; i < end; i++) {
    const d = values[i] - mean;
    squares += d * d;
  }
  return Math.sqrt(squares / (count - 1));
}

/**
 * diffusers `rescale_noise_cfg` (Lin et al. 2023, §3.4) for one image, in place on `guided`:
 * `ε_r = ε · (std(c) / std(ε))`, `ε = φ·ε_r + (1 − φ)·ε`, std with Bessel's correction over all
 * C·H·W values. The std reduction order is implementation-specific, so this matches the
 * reference to tolerance, not bitwise (spec §6).
 */
export function rescaleGuidance(guided: Float32Array, cond: Float32Array, rescale: number): Float32Array {
  if (rescale <= 0) return guided;
  const ratio = Math.fround(Math.fround(besselStd(cond)) / Math.fround(besselStd(guided)));
  const phi = Math.fround(rescale);
  const keep = Math.fround(1 - rescale);
  for (let i = 0; i < guided.length; i++) {
    const rescaled = Math.fround(guided[i] * ratio);
    guided[i] = Math.fround(phi * rescaled) + Math.fround(keep * guided[i]);
  }
  return guided;
}

/** Text conditioning for one UNet, already batched `[uncond; cond]` when guided. */
export interface UnetConditioning {
  /** [b, 77, width] */
  encoderHiddenStates: HostTensor;
  /** [b, 1280] */
  textEmbeds: HostTensor;
  /** [b, 5 or 6] */
  timeIds: HostTensor;
  /** b = 2 with classifier-free guidance, 1 without */
  guided: boolean;
}

export interface NoisePredictionOptions {
  guidanceScale: number;
  guidanceRescale?: number;
  /**
   * Buffers reused across the steps of one loop (allocated on first use): the doubled `[x; x]`
   * sample feed and the guided ε, which is then valid only until the next call with this workspace.
   */
  workspace?: { sample?: Float32Array; guided?: Float32Array };
  /**
   * `workspace.sample` already holds the `[x; x]` feed for this call (written by a fused scheduler
   * step); `scaledLatents` then only gives the size.
   */
  sampleReady?: boolean;
  /** Return the raw `[uncond; cond]` UNet output without combining it (a fused step combines). */
  raw?: boolean;
  /** With `raw`: an array for ORT to write a float32 output into (e.g. WebAssembly memory); ignored otherwise */
  outputInto?: Float32Array;
  /** Test hook: sees (and may change) copies of the UNet feeds before the call. */
  inspectFeeds?: (feeds: Record<string, HostTensor>) => void;
}

/**
 * One guided UNet evaluation: the scaled latents are fed twice (`[x; x]`) in ONE call together
 * with the batched conditioning, then combined with CFG (and optional rescale).
 * `scaledLatents` is [1, 4, h, w]; returns ε of the same size.
 */
export async function predictNoise(
  unet: OnnxSession,
  scaledLatents: Float32Array,
  latentDims: readonly number[],
  timestep: number,
  conditioning: UnetConditioning,
  options: NoisePredictionOptions,
): Promise<Float32Array> {
  const batch = conditioning.guided ? 2 : 1;
  let sample = scaledLatents;
  if (conditioning.guided) {
    const size = scaledLatents.length * 2;
    const reusable = options.workspace?.sample;
    if (options.sampleReady) {
      if (!reusable || reusable.length !== size) throw new Error('predictNoise: sampleReady needs workspace.sample of twice the latent size');
      sample = reusable;
    } else {
      sample = reusable && reusable.length === size ? reusable : new Float32Array(size);
      if (options.workspace) options.workspace.sample = sample;
      sample.set(scaledLatents, 0);
      sample.set(scaledLatents, scaledLatents.length);
    }
  }
  const feeds: Record<string, HostTensor> = {
    sample: { data: sample, dims: [batch, ...latentDims.slice(1)] },
    timestep: { data: Float32Array.of(timestep), dims: [] },
    encoder_hidden_states: conditioning.encoderHiddenStates,
    text_embeds: conditioning.textEmbeds,
    time_ids: conditioning.timeIds,
  };
  if (options.inspectFeeds) {
    // the hook gets private copies: changes affect this call only, never the shared conditioning
    for (const [name, tensor] of Object.entries(feeds)) feeds[name] = { data: tensor.data.slice(), dims: [...tensor.dims] };
    options.inspectFeeds(feeds);
  }
  const outputName = unet.outputNames[0];
  const into = options.raw && options.outputInto ? { [outputName]: { data: options.outputInto, dims: feeds.sample.dims } } : undefined;
  const result = await unet.run(feeds, [outputName], into ? { into } : {});
  const noise = result[outputName].data;
  if (!conditioning.guided || options.raw) return noise;
  const workspace = options.workspace;
  const reusable = workspace?.guided;
  const guided = combineGuidance(noise, options.guidanceScale, reusable && reusable.length === noise.length / 2 ? reusable : undefined);
  if (workspace) workspace.guided = guided;
  if (options.guidanceRescale && options.guidanceRescale > 0) {
    rescaleGuidance(guided, noise.subarray(noise.length / 2), options.guidanceRescale);
  }
  return guided;
}
