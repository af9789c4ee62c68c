/**
 * Open-vocabulary detection with an OWL-ViT / OWLv2 ONNX graph: text queries in, boxes per query out.
 *
 * Post-processing follows transformers' `OwlViTImageProcessor.post_process_object_detection`: each
 * predicted box (one per image patch) takes the query with the highest logit as its label and
 * sigmoid(that logit) as its score; boxes are (cx, cy, w, h) relative to the model input and are turned
 * into corners in original-image pixels (OWL-ViT: × width / height; OWLv2: × the padded square's side),
 * then clipped to the image. Then, per label, greedy non-maximum suppression drops a box whose IoU with
 * a kept, higher-scoring box exceeds `nmsIou` (transformers applies NMS only in its image-guided mode,
 * default 0.3; OWL-ViT proposes one box per patch, so one object usually has several).
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { OnnxSession, type SessionOptions } from '../../pipelines/session.js';
import type { Box, Detection, DetectionsByClass } from '../geometry/geneval-rules.js';
import type { OwlFolder } from './owl-folder.js';
import { owlPixelValues } from './owl-preprocess.js';

/** One text query and the class its detections count for. */
export interface OwlQuery {
  className: string;
  text: string;
}

export interface OwlDecodeOptions {
  /** keep boxes whose score is strictly above this */
  threshold: number;
  /** per-class NMS IoU; ≥ 1 switches NMS off */
  nmsIou: number;
}

/** Raw graph outputs for a batch: logits [batch, patches, queries], pred_boxes [batch, patches, 4]. */
export interface OwlRawOutputs {
  logits: Float32Array;
  predBoxes: Float32Array;
  batch: number;
  patches: number;
  queries: number;
}

/** Where one image's normalised boxes land: scale factors and the clip rectangle, in original pixels. */
export interface OwlBoxFrame {
  scaleX: number;
  scaleY: number;
  width: number;
  height: number;
}

/** IoU of two corner boxes as continuous areas (transformers' `box_iou`). */
export function continuousIoU(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const intersection = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - intersection;
  return union > 0 ? intersection / union : 0;
}

/** Greedy NMS on detections of one class: most confident first; drops IoU > `iou` with a kept box. */
export function nonMaximumSuppression(detections: readonly Detection[], iou: number): Detection[] {
  const sorted = [...detections].sort((p, q) => q.score - p.score);
  if (iou >= 1) return sorted;
  const kept: Detection[] = [];
  for (const candidate of sorted) {
    if (kept.every((k) => continuousIoU(k.box, candidate.box) <= iou)) kept.push(candidate);
  }
  return kept;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (v: number, low: number, high: number) => Math.min(high, Math.max(low, v));

/** Detections of image `batchIndex` per class, most confident first (see the file comment). */
export function decodeOwlOutputs(
  raw: OwlRawOutputs,
  batchIndex: number,
  queries: readonly OwlQuery[],
  frame: OwlBoxFrame,
  options: OwlDecodeOptions,
): DetectionsByClass {
  const { patches, queries: queryCount } = raw;
  if (queryCount !== queries.length) throw new Error(`detector returned logits for ${queryCount} queries, ${queries.length} were sent`);
  const byClass: DetectionsByClass = {};
  for (let p = 0; p < patches; p++) {
    const row = (batchIndex * patches + p) * queryCount;
    let best = 0;
    for (let q = 1; q < queryCount; q++) if (raw.logits[row + q] > raw.logits[row + best]) best = q;
    const score = sigmoid(raw.logits[row + best]);
    if (!(score > options.threshold)) continue;
    const b = (batchIndex * patches + p) * 4;
    const [cx, cy, w, h] = [raw.predBoxes[b], raw.predBoxes[b + 1], raw.predBoxes[b + 2], raw.predBoxes[b + 3]];
    const box: Box = {
      x1: clamp((cx - w / 2) * frame.scaleX, 0, frame.width),
      y1: clamp((cy - h / 2) * frame.scaleY, 0, frame.height),
      x2: clamp((cx + w / 2) * frame.scaleX, 0, frame.width),
      y2: clamp((cy + h / 2) * frame.scaleY, 0, frame.height),
    };
    (byClass[queries[best].className] ??= []).push({ box, score });
  }
  for (const className of Object.keys(byClass)) byClass[className] = nonMaximumSuppression(byClass[className], options.nmsIou);
  return byClass;
}

export interface OwlDetectionResult {
  detections: DetectionsByClass;
  /** query texts cut at the text model's token limit */
  truncatedQueries: string[];
}

export class OwlDetector {
  private readonly encoded = new Map<string, { ids: number[]; mask: number[]; truncated: boolean }>();

  private constructor(
    readonly folder: OwlFolder,
    private readonly session: OnnxSession,
  ) {}

  static async load(folder: OwlFolder, sessionOptions: SessionOptions = {}): Promise<OwlDetector> {
    const session = await OnnxSession.create(folder.modelPath, { label: `detector/${folder.name}`, ...sessionOptions });
    return new OwlDetector(folder, session);
  }

  get provider(): string {
    return this.session.provider;
  }

  private encode(text: string): { ids: number[]; mask: number[]; truncated: boolean } {
    let found = this.encoded.get(text);
    if (!found) {
      const encoding = this.folder.tokenizer.encode(text);
      const length = this.folder.textLength;
      const used = Math.min(encoding.contentTokenCount, length - 2) + 2;
      found = { ids: encoding.ids, mask: encoding.ids.map((_, i) => (i < used ? 1 : 0)), truncated: encoding.truncated };
      this.encoded.set(text, found);
    }
    return found;
  }

  /** Detects `queries` in each image (one graph run; the queries are repeated per image, as transformers does). */
  async detectMany(images: readonly RgbImage[], queries: readonly OwlQuery[], options: OwlDecodeOptions): Promise<OwlDetectionResult[]> {
    if (!images.length) return [];
    if (!queries.length) return images.map(() => ({ detections: {}, truncatedQueries: [] }));
    const length = this.folder.textLength;
    const encodings = queries.map((q) => this.encode(q.text));
    const inputIds = new Int32Array(images.length * queries.length * length);
    const attentionMask = new Int32Array(inputIds.length);
    images.forEach((_, i) =>
      encodings.forEach((encoding, q) => {
        inputIds.set(encoding.ids, (i * queries.length + q) * length);
        attentionMask.set(encoding.mask, (i * queries.length + q) * length);
      }),
    );
    const pixels = images.map((image) => owlPixelValues(image, this.folder.preprocessing));
    const { height, width } = pixels[0];
    const pixelValues = new Float32Array(images.length * 3 * height * width);
    pixels.forEach((p, i) => pixelValues.set(p.data, i * p.data.length));
    const feeds = {
      input_ids: { data: inputIds, dims: [images.length * queries.length, length] },
      pixel_values: { data: pixelValues, dims: [images.length, 3, height, width] },
      ...(this.folder.takesAttentionMask ? { attention_mask: { data: attentionMask, dims: [images.length * queries.length, length] } } : {}),
    };
    const outputs = await this.session.run(feeds, ['logits', 'pred_boxes']);
    const [batch, patches, queryCount] = outputs.logits.dims;
    const boxDims = outputs.pred_boxes.dims;
    if (batch !== images.length || boxDims[0] !== batch || boxDims[1] !== patches || boxDims[2] !== 4) {
      throw new Error(
        `${this.folder.name}: logits [${outputs.logits.dims.join(', ')}] and pred_boxes [${boxDims.join(', ')}] do not fit a batch of ${images.length} images`,
      );
    }
    const raw: OwlRawOutputs = { logits: outputs.logits.data, predBoxes: outputs.pred_boxes.data, batch, patches, queries: queryCount };
    const truncatedQueries = queries.filter((_, q) => encodings[q].truncated).map((q) => q.text);
    return images.map((image, i) => ({
      detections: decodeOwlOutputs(raw, i, queries, { scaleX: pixels[i].boxScaleX, scaleY: pixels[i].boxScaleY, width: image.width, height: image.height }, options),
      truncatedQueries,
    }));
  }

  async detect(image: RgbImage, queries: readonly OwlQuery[], options: OwlDecodeOptions): Promise<OwlDetectionResult> {
    return (await this.detectMany([image], queries, options))[0];
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
