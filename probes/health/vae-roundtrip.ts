/**
 * Scorer `vae-roundtrip`: the autoencoder-lossiness probe. Each image is encoded with an SDXL VAE encoder
 * and decoded again; the 8-bit reconstruction (converted exactly as the pipeline saves images) is compared
 * with the image (image-error.ts): `vae_psnr` (dB, higher is better), `vae_mse` and `vae_max_abs_error`
 * (on the [0, 1] scale, lower is better). Fine detail the VAE cannot represent — small text, faces in
 * crowds, high-frequency texture — shows up as a low PSNR: no refiner can produce what the decoder loses.
 *
 * Encoding is deterministic for exporter generation B (`latent_parameters`): the decoder gets the mean of
 * the latent distribution. A generation-A encoder (`latent_sample`) draws the latent inside the graph with
 * an unseeded RNG: the round trip then includes that sampling noise and is not reproducible; records say
 * so (`detail.sampled`).
 *
 * Images whose sides are not multiples of 8 are centre-cropped to the nearest smaller multiple (recorded).
 * A decoder output with NaN/Inf (fp16 SDXL VAEs overflow) gives null metrics labelled `non-finite`.
 * Cost: one encoder and one decoder pass per image — the full SDXL VAE at 1024² takes tens of seconds on
 * a CPU.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../../datasets/expectations.js';
import { UserError } from '../../pipelines/errors.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { inspectModelFolder, type SdxlFolderInfo } from '../../pipelines/model-folder.js';
import { OnnxSession } from '../../pipelines/session.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';
import { countNonFinite, decodedToRgb, rgbToVaeInput } from '../../pipelines/vae.js';
import type { ScorerDefinition, ScorerFactoryContext } from '../registry.js';
import type { MetricMeta, ScoreRecord, Scorer } from '../types.js';
import { imageError, PSNR_CAP_DB } from './image-error.js';

export const VAE_ROUNDTRIP_ID = 'vae-roundtrip';
export const VAE_ROUNDTRIP_VERSION = '1';

export const VAE_ROUNDTRIP_METRICS: MetricMeta[] = [
  {
    name: 'vae_psnr',
    description: `PSNR (dB, data range 1, capped at ${PSNR_CAP_DB}) of the image after a VAE encode + decode round trip against the image`,
    higherIsBetter: true,
    range: [0, PSNR_CAP_DB],
    kind: 'continuous',
    role: 'diagnostic',
    failureMeans: 'the autoencoder cannot represent the image faithfully (lost fine detail)',
  },
  {
    name: 'vae_mse',
    description: 'mean squared error of the VAE round trip, channel values on the [0, 1] scale',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'continuous',
    role: 'detail',
  },
  {
    name: 'vae_max_abs_error',
    description: 'largest absolute channel-value error of the VAE round trip, on the [0, 1] scale',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'continuous',
    role: 'detail',
  },
];

/** Where `model: tiny` generates its folders when `tiny_cache_dir` is not given (relative to the working folder). */
export const DEFAULT_TINY_CACHE = join('.cache', 'refinery', 'models');

export const vaeRoundTripOptionsSchema = z
  .object({
    /** an SDXL base or refiner folder (its vae_encoder and vae_decoder), or "tiny"; default: the experiment's base model */
    model: z.string().min(1).optional(),
    /** where "tiny" models are generated (default .cache/refinery/models under the working folder) */
    tiny_cache_dir: z.string().min(1).optional(),
  })
  .strict();

export interface VaeSessions {
  encoder: OnnxSession;
  decoder: OnnxSession;
}

export interface VaeRoundTripResult {
  /** the part of the input that was encoded (the input itself unless cropped to multiples of 8) */
  input: RgbImage;
  /** null when the decoder output had non-finite values */
  reconstruction: RgbImage | null;
  nonFinite: number;
  /** true for generation-A encoders: the latent was sampled inside the graph, unseeded */
  sampled: boolean;
  /** set when the image was centre-cropped */
  crop?: { x: number; y: number; width: number; height: number };
}

/** Centre crop to sides that are multiples of 8 (at least 8). */
export function cropToMultipleOf8(image: RgbImage): { image: RgbImage; crop?: VaeRoundTripResult['crop'] } {
  const width = image.width - (image.width % 8);
  const height = image.height - (image.height % 8);
  if (width < 8 || height < 8) throw new Error(`VAE round trip: image ${image.width}x${image.height} is smaller than 8x8`);
  if (width === image.width && height === image.height) return { image };
  const x = Math.floor((image.width - width) / 2);
  const y = Math.floor((image.height - height) / 2);
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(start, start + width * 3), row * width * 3);
  }
  return { image: { width, height, data }, crop: { x, y, width, height } };
}

/**
 * Encode (the distribution's mean for `latent_parameters` encoders, the in-graph sample for
 * `latent_sample` ones) and decode. The decoder takes unscaled latents, so the scaling factor cancels
 * and is not applied.
 */
export async function vaeRoundTrip(sessions: VaeSessions, image: RgbImage): Promise<VaeRoundTripResult> {
  const { image: input, crop } = cropToMultipleOf8(image);
  const { encoder, decoder } = sessions;
  const sample = { data: rgbToVaeInput(input), dims: [1, 3, input.height, input.width] };
  const h = input.height / 8;
  const w = input.width / 8;
  let latent: Float32Array;
  let sampled: boolean;
  if (encoder.output('latent_parameters')) {
    const parameters = (await encoder.run({ [encoder.inputNames[0]]: sample }, ['latent_parameters'])).latent_parameters;
    const [, channels, ph, pw] = parameters.dims;
    if (channels !== 8 || ph !== h || pw !== w) throw new Error(`${encoder.label}: latent_parameters [${parameters.dims.join(', ')}], expected [1, 8, ${h}, ${w}]`);
    latent = parameters.data.slice(0, 4 * h * w);
    sampled = false;
  } else {
    const outputName = encoder.output('latent_sample') ? 'latent_sample' : encoder.outputNames[0];
    latent = (await encoder.run({ [encoder.inputNames[0]]: sample }, [outputName]))[outputName].data;
    sampled = true;
  }
  const base = { input, sampled, ...(crop ? { crop } : {}) };
  const nonFiniteLatents = countNonFinite(latent);
  if (nonFiniteLatents > 0) return { ...base, reconstruction: null, nonFinite: nonFiniteLatents };
  const outputName = decoder.outputNames[0];
  const decoded = (await decoder.run({ [decoder.inputNames[0]]: { data: latent, dims: [1, 4, h, w] } }, [outputName]))[outputName];
  const [height, width] = decoded.dims.slice(2);
  if (height !== input.height || width !== input.width) throw new Error(`${decoder.label}: decoded ${width}x${height}, expected ${input.width}x${input.height}`);
  const pixels = decodedToRgb(decoded.data, height, width);
  return { ...base, reconstruction: pixels.image, nonFinite: pixels.nonFinite };
}

/** The three records of one image. */
export function vaeRoundTripRecords(sampleKey: string, result: VaeRoundTripResult, model: string): ScoreRecord[] {
  const detail = {
    model,
    sampled: result.sampled,
    ...(result.sampled ? { note: 'generation-A encoder: the latent is sampled inside the graph without a seed; the round trip is not reproducible' } : {}),
    ...(result.crop ? { crop: result.crop } : {}),
    ...(result.reconstruction ? {} : { nonFinite: result.nonFinite }),
  };
  const error = result.reconstruction ? imageError(result.input, result.reconstruction) : null;
  const label = error ? undefined : 'non-finite';
  const record = (metric: string, value: number | null): ScoreRecord => ({ sampleKey, scorer: VAE_ROUNDTRIP_ID, metric, value, ...(label ? { label } : {}), detail });
  return [record('vae_psnr', error?.psnr ?? null), record('vae_mse', error?.mse ?? null), record('vae_max_abs_error', error?.maxAbsError ?? null)];
}

async function resolveVaeFolder(options: z.output<typeof vaeRoundTripOptionsSchema>, context: Partial<ScorerFactoryContext>): Promise<SdxlFolderInfo> {
  const baseDir = context.baseDir ?? '.';
  let dir: string;
  if (options.model === 'tiny') {
    const cache = options.tiny_cache_dir ? resolve(baseDir, options.tiny_cache_dir) : resolve(DEFAULT_TINY_CACHE);
    dir = (await ensureTinyModels(cache)).base;
  } else if (options.model) {
    dir = resolve(baseDir, options.model);
  } else if (context.models?.base) {
    dir = context.models.base;
  } else {
    throw new UserError(`scorer '${VAE_ROUNDTRIP_ID}': no VAE to use`, 'set its option model to an SDXL base or refiner folder (or "tiny")');
  }
  const report = inspectModelFolder(dir);
  if (!report.sdxl) {
    const problem = report.kind === 'clip' ? `${report.dir} is a CLIP folder, not an SDXL base or refiner folder` : (report.problems[0] ?? `${report.dir}: not an SDXL folder`);
    throw new UserError(`scorer '${VAE_ROUNDTRIP_ID}' option model: ${problem}`);
  }
  return report.sdxl;
}

export async function createVaeRoundTripScorer(options: Record<string, unknown> = {}, context: Partial<ScorerFactoryContext> = {}): Promise<Scorer> {
  const parsed = vaeRoundTripOptionsSchema.safeParse(options);
  if (!parsed.success) throw new UserError(`scorer '${VAE_ROUNDTRIP_ID}' options: ${describeIssues(parsed.error)}`);
  const folder = await resolveVaeFolder(parsed.data, context);
  if (folder.vaeEncoder.output === 'latent_sample') {
    context.log?.(`warning: ${VAE_ROUNDTRIP_ID}: ${folder.dir} has a generation-A VAE encoder (latent_sample): the round trip samples the latent without a seed and is not reproducible`);
  }
  let sessions: Promise<VaeSessions> | null = null;
  const open = () =>
    (sessions ??= (async () => {
      const sessionOptions = { provider: context.device, log: context.log };
      const encoder = await OnnxSession.create(folder.vaeEncoder.modelPath, { ...sessionOptions, label: `${VAE_ROUNDTRIP_ID}/vae_encoder` });
      try {
        return { encoder, decoder: await OnnxSession.create(folder.vaeDecoder.modelPath, { ...sessionOptions, label: `${VAE_ROUNDTRIP_ID}/vae_decoder` }) };
      } catch (error) {
        await encoder.dispose();
        throw error;
      }
    })());
  return {
    id: VAE_ROUNDTRIP_ID,
    version: VAE_ROUNDTRIP_VERSION,
    description: vaeRoundTripScorer.description,
    metrics: VAE_ROUNDTRIP_METRICS,
    appliesTo: () => true,
    async score(samples, scoringContext) {
      const records: ScoreRecord[] = [];
      for (const sample of samples) {
        const image = await scoringContext.loadImage(sample);
        records.push(...vaeRoundTripRecords(sample.key, await vaeRoundTrip(await open(), image), folder.dir));
      }
      return records;
    },
    async dispose() {
      const opened = sessions;
      sessions = null;
      if (opened) {
        const { encoder, decoder } = await opened;
        await Promise.all([encoder.dispose(), decoder.dispose()]);
      }
    },
  };
}

export const vaeRoundTripScorer: ScorerDefinition = {
  id: VAE_ROUNDTRIP_ID,
  description: 'autoencoder lossiness: PSNR / MSE / max error of an SDXL VAE encode + decode round trip of each image',
  metrics: VAE_ROUNDTRIP_METRICS,
  probe: { tests: 'what the VAE loses (fine detail, small text) regardless of the denoiser', suites: [] },
  create: (options, context) => createVaeRoundTripScorer(options, context),
};
