/**
 * A loaded CLIP model: tokenizer, text and image towers (separate graphs or one combined graph), exact
 * image preprocessing, and L2-normalised embeddings with in-memory caches — a text is embedded once per
 * model instance, an image once per image key — so scorers that share a `ClipModel` never embed the same
 * caption or image twice.
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { hashModelFolder } from '../../pipelines/model-folder.js';
import { OnnxSession, type HostTensor } from '../../pipelines/session.js';
import { ClipTokenizer, type ClipEncoding } from '../../pipelines/tokenizer/clip-tokenizer.js';
import { loadClipFolder, type ClipModelFolder } from './clip-folder.js';
import { preprocessClipImage } from './preprocess.js';

export interface ClipModelOptions {
  /** execution provider (default cpu) */
  provider?: string;
  log?: (message: string) => void;
  /** images per vision-model call (default 8) */
  imageBatchSize?: number;
  /** captions per text-model call (default 32) */
  textBatchSize?: number;
  /** hash cache for `identity()` (see hashModelFolder) */
  hashCacheFile?: string;
}

/** An image the model may embed; `key` identifies it in the cache (a sample key). */
export interface ImageSource {
  key: string;
  load(): Promise<RgbImage>;
}

/** Dot product of two L2-normalised embeddings: their cosine similarity. */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding widths differ: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function normalized(data: Float32Array, row: number, width: number): Float32Array {
  const out = new Float32Array(width);
  let norm = 0;
  for (let i = 0; i < width; i++) {
    const v = data[row * width + i];
    out[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new Error(`CLIP returned an embedding with norm ${norm} (NaN or zero output)`);
  for (let i = 0; i < width; i++) out[i] /= norm;
  return out;
}

interface Towers {
  text: OnnxSession;
  /** the same session as `text` for a combined graph */
  vision: OnnxSession;
}

export class ClipModel {
  private readonly textCache = new Map<string, Float32Array>();
  private readonly imageCache = new Map<string, Float32Array>();
  private measuredLogitScale: number | undefined;
  private identityPromise: Promise<string> | undefined;
  /** embeddings computed (not served from the cache), for tests and logs */
  readonly computed = { texts: 0, images: 0 };

  private constructor(
    readonly folder: ClipModelFolder,
    readonly tokenizer: ClipTokenizer,
    private readonly towers: Towers,
    private readonly options: ClipModelOptions,
  ) {}

  static async load(dir: string, options: ClipModelOptions = {}): Promise<ClipModel> {
    const folder = await loadClipFolder(dir);
    const tokenizer = ClipTokenizer.fromFolder(folder.tokenizerDir);
    const sessionOptions = { provider: options.provider, log: options.log };
    let towers: Towers;
    if (folder.layout.kind === 'combined') {
      const session = await OnnxSession.create(folder.layout.modelPath, { ...sessionOptions, label: `${folder.name}/model` });
      towers = { text: session, vision: session };
    } else {
      const text = await OnnxSession.create(folder.layout.textModelPath, { ...sessionOptions, label: `${folder.name}/text_model` });
      let vision: OnnxSession;
      try {
        vision = await OnnxSession.create(folder.layout.visionModelPath, { ...sessionOptions, label: `${folder.name}/vision_model` });
      } catch (error) {
        await text.dispose();
        throw error;
      }
      towers = { text, vision };
    }
    return new ClipModel(folder, tokenizer, towers, options);
  }

  /** The tokenization a caption gets (77 ids, truncation facts). */
  encode(text: string): ClipEncoding {
    return this.tokenizer.encode(text);
  }

  /**
   * CLIP's logit scale (exp of the learned temperature, 100 for the OpenAI checkpoints) when the graph
   * exposes it: measured from `logits_per_image` of a combined graph after its first image batch.
   * Separate-tower graphs do not carry it (config.json only holds the initial value), so undefined.
   */
  get logitScale(): number | undefined {
    return this.measuredLogitScale;
  }

  /** `<folder name> (sha256 <12 hex>)`: names the classifier in records; hashes the files once. */
  identity(): Promise<string> {
    this.identityPromise ??= hashModelFolder(this.folder, this.options.hashCacheFile).then((hash) => `${this.folder.name} (sha256 ${hash.digest.slice(0, 12)})`);
    return this.identityPromise;
  }

  private idsFeed(encodings: ClipEncoding[]): Record<string, HostTensor> {
    const length = encodings[0].ids.length;
    const ids = new Int32Array(encodings.length * length);
    const mask = new Int32Array(encodings.length * length);
    encodings.forEach((encoding, row) => {
      ids.set(encoding.ids, row * length);
      // bos + kept content + eos are real tokens; the rest is padding
      const real = Math.min(length, encoding.tokens.length + 2);
      mask.fill(1, row * length, row * length + real);
    });
    const feeds: Record<string, HostTensor> = { input_ids: { data: ids, dims: [encodings.length, length] } };
    if (this.folder.takesAttentionMask) feeds.attention_mask = { data: mask, dims: [encodings.length, length] };
    return feeds;
  }

  private blankPixels(): HostTensor {
    const { cropHeight, cropWidth } = this.folder.preprocessing;
    return { data: new Float32Array(3 * cropHeight * cropWidth), dims: [1, 3, cropHeight, cropWidth] };
  }

  /** L2-normalised text embeddings, in the order given; each distinct text is computed once. */
  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((text) => !this.textCache.has(text)))];
    const batch = Math.max(1, this.options.textBatchSize ?? 32);
    for (let start = 0; start < missing.length; start += batch) {
      const slice = missing.slice(start, start + batch);
      const feeds = this.idsFeed(slice.map((text) => this.tokenizer.encode(text)));
      if (this.folder.layout.kind === 'combined') feeds.pixel_values = this.blankPixels();
      const { text_embeds: embeds } = await this.towers.text.run(feeds, ['text_embeds']);
      const width = embeds.dims[embeds.dims.length - 1];
      slice.forEach((text, row) => this.textCache.set(text, normalized(embeds.data, row, width)));
      this.computed.texts += slice.length;
    }
    return texts.map((text) => this.textCache.get(text)!);
  }

  /** L2-normalised image embeddings, in the order given; each image key is computed once. */
  async embedImages(images: readonly ImageSource[]): Promise<Float32Array[]> {
    const seen = new Set<string>();
    const missing = images.filter((image) => {
      if (this.imageCache.has(image.key) || seen.has(image.key)) return false;
      seen.add(image.key);
      return true;
    });
    const batch = Math.max(1, this.options.imageBatchSize ?? 8);
    const { cropHeight, cropWidth } = this.folder.preprocessing;
    const plane = 3 * cropHeight * cropWidth;
    for (let start = 0; start < missing.length; start += batch) {
      const slice = missing.slice(start, start + batch);
      const pixels = new Float32Array(slice.length * plane);
      for (const [row, source] of slice.entries()) {
        const prepared = preprocessClipImage(await source.load(), this.folder.preprocessing);
        if (prepared.data.length !== plane) {
          throw new Error(`${source.key}: preprocessing produced ${prepared.width}×${prepared.height}, the model takes ${cropWidth}×${cropHeight}`);
        }
        pixels.set(prepared.data, row * plane);
      }
      const feeds: Record<string, HostTensor> = { pixel_values: { data: pixels, dims: [slice.length, 3, cropHeight, cropWidth] } };
      const layout = this.folder.layout;
      // a combined graph needs a text too: the empty caption (its logits give the logit scale)
      if (layout.kind === 'combined') Object.assign(feeds, this.idsFeed([this.tokenizer.encode('')]));
      const fetches = layout.kind === 'combined' && layout.returnsLogits ? ['image_embeds', 'text_embeds', 'logits_per_image'] : ['image_embeds'];
      const outputs = await this.towers.vision.run(feeds, fetches);
      const embeds = outputs.image_embeds;
      const width = embeds.dims[embeds.dims.length - 1];
      const rows = slice.map((source, row) => {
        const embedding = normalized(embeds.data, row, width);
        this.imageCache.set(source.key, embedding);
        return embedding;
      });
      if (outputs.logits_per_image && this.measuredLogitScale === undefined) this.measureLogitScale(rows, outputs.text_embeds.data, outputs.logits_per_image.data);
      this.computed.images += slice.length;
    }
    return images.map((image) => this.imageCache.get(image.key)!);
  }

  /** logits_per_image = scale · cos(image, text): least-squares scale over the batch's pairs. */
  private measureLogitScale(images: Float32Array[], textEmbeds: Float32Array, logits: Float32Array): void {
    const text = normalized(textEmbeds, 0, textEmbeds.length);
    let cross = 0;
    let square = 0;
    images.forEach((image, i) => {
      const c = cosine(image, text);
      cross += logits[i] * c;
      square += c * c;
    });
    if (square > 1e-6) this.measuredLogitScale = cross / square;
  }

  async dispose(): Promise<void> {
    await this.towers.text.dispose();
    if (this.towers.vision !== this.towers.text) await this.towers.vision.dispose();
  }
}
