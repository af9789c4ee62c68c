// A tiny open-vocabulary "detector" with the OWL-ViT / OWLv2 ONNX contract of transformers.js exports
// (input_ids, pixel_values, attention_mask → logits [batch, patches, queries], pred_boxes [batch,
// patches, 4]), whose outputs are simple and known, so detection code can be tested end to end:
//
//   - the image is cut into a grid of patches; patch p's box is a fixed initializer (default: the
//     patch's own cell, (cx, cy, w, h) normalised), the same for every image;
//   - each query's text vector t_q = Σ over unmasked tokens of E[token] (E: [vocab, 3], zero except
//     for the words given in `wordColours`, plus `padWeight` on the pad token "!" so that ignoring
//     attention_mask would show);
//   - logit[b, p, q] = gain · ⟨mean normalised RGB of patch p, t_q⟩ − bias.
//
// So a query "a photo of a cat" with wordColours { cat: [1, 0, 0] } fires on patches whose mean
// normalised red channel exceeds bias / gain, and its boxes are the chosen initializers.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { float32Tensor, int64Tensor } from '../onnx/tensor.js';
import { GraphBuilder, attr, writeFileAtomic, writeModel } from '../onnx/writer.js';
import { buildTinyVocabulary, tokenizerFiles } from './vocabulary.js';

export const TINY_OWL_VERSION = 1;

export interface TinyOwlOptions {
  modelType?: 'owlvit' | 'owlv2';
  /** model input side (square); default 64 */
  imageSize?: number;
  /** patch side; default 16 (a 4 × 4 grid at 64) */
  patchSize?: number;
  /** per word (a single token of the tiny vocabulary): its RGB weight in the query vector */
  wordColours?: Record<string, [number, number, number]>;
  /** per patch index (row-major): a box [cx, cy, w, h] in place of the patch's cell */
  boxes?: Record<number, [number, number, number, number]>;
  gain?: number;
  bias?: number;
  /** weight of the pad token "!" on every channel (masked out by attention_mask) */
  padWeight?: number;
  /** tokens per query; default 16 as OWL-ViT */
  textLength?: number;
}

export const TINY_OWL_DEFAULTS = {
  modelType: 'owlvit',
  imageSize: 64,
  patchSize: 16,
  wordColours: { cat: [1, 0, 0], dog: [0, 0, 1], bird: [0, 1, 0] },
  boxes: {},
  gain: 4,
  bias: 6,
  padWeight: 5,
  textLength: 16,
} as const satisfies Required<TinyOwlOptions>;

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** Patch `index`'s cell as [cx, cy, w, h] (normalised) in a `grid` × `grid` layout, row-major. */
export function tinyOwlCell(index: number, grid: number): [number, number, number, number] {
  const row = Math.floor(index / grid);
  const column = index % grid;
  return [(column + 0.5) / grid, (row + 0.5) / grid, 1 / grid, 1 / grid];
}

function buildGraph(o: Required<TinyOwlOptions>, vocab: ReadonlyMap<string, number>): GraphBuilder {
  const grid = o.imageSize / o.patchSize;
  const patches = grid * grid;
  const graph = new GraphBuilder('tiny_owl');
  const inputIds = graph.input('input_ids', 'int64', ['text_batch_size', o.textLength]);
  const pixels = graph.input('pixel_values', 'float32', ['batch_size', 3, o.imageSize, o.imageSize]);
  const attentionMask = graph.input('attention_mask', 'int64', ['text_batch_size', o.textLength]);

  // text: Σ_l E[ids[l]] · mask[l]  → [text_batch, 3]
  const table = new Float32Array(vocab.size * 3);
  for (const [word, rgb] of Object.entries(o.wordColours)) {
    const id = vocab.get(`${word}</w>`);
    if (id === undefined) throw new Error(`tiny OWL: '${word}' is not a single token of the tiny vocabulary`);
    table.set(rgb, id * 3);
  }
  const padId = vocab.get('!');
  if (padId === undefined) throw new Error('tiny OWL: the vocabulary lacks "!"');
  table.fill(o.padWeight, padId * 3, padId * 3 + 3);
  const embedded = graph.node('Gather', [graph.initializer('token_colours', float32Tensor([vocab.size, 3], table)), inputIds], { axis: attr.int(0) });
  const mask = graph.node('Unsqueeze', [graph.node('Cast', [attentionMask], { to: attr.int(1) }), graph.initializer('axis_2', int64Tensor([1], [2]))]);
  const textVectors = graph.node('ReduceSum', [graph.node('Mul', [embedded, mask]), graph.initializer('axis_1', int64Tensor([1], [1]))], { keepdims: attr.int(0) });
  // [text_batch, 3] → [batch, 3, queries]
  const batch = graph.node('Shape', [pixels], { start: attr.int(0), end: attr.int(1) });
  const queryShape = graph.node('Concat', [batch, graph.initializer('minus1_3', int64Tensor([2], [-1, 3]))], { axis: attr.int(0) });
  const perImage = graph.node('Transpose', [graph.node('Reshape', [textVectors, queryShape])], { perm: attr.ints([0, 2, 1]) });

  // image: mean normalised RGB per patch → [batch, patches, 3]
  const pooled = graph.node('AveragePool', [pixels], { kernel_shape: attr.ints([o.patchSize, o.patchSize]), strides: attr.ints([o.patchSize, o.patchSize]) });
  const flat = graph.node('Reshape', [pooled, graph.initializer('b_c_patches', int64Tensor([3], [0, 3, patches]))]);
  const patchMeans = graph.node('Transpose', [flat], { perm: attr.ints([0, 2, 1]) });

  const similarity = graph.node('MatMul', [patchMeans, perImage]);
  const logits = graph.node('Sub', [
    graph.node('Mul', [similarity, graph.initializer('gain', float32Tensor([], [o.gain]))]),
    graph.initializer('bias', float32Tensor([], [o.bias])),
  ]);
  graph.output('logits', 'float32', ['batch_size', patches, 'num_queries'], logits);

  const boxes = new Float32Array(patches * 4);
  for (let p = 0; p < patches; p++) boxes.set(o.boxes[p] ?? tinyOwlCell(p, grid), p * 4);
  const boxShape = graph.node('Concat', [batch, graph.initializer('patches_4', int64Tensor([2], [patches, 4]))], { axis: attr.int(0) });
  const predBoxes = graph.node('Expand', [graph.initializer('patch_boxes', float32Tensor([1, patches, 4], boxes)), boxShape]);
  graph.output('pred_boxes', 'float32', ['batch_size', patches, 4], predBoxes);
  return graph;
}

function preprocessorConfig(o: Required<TinyOwlOptions>): Record<string, unknown> {
  const common = {
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: CLIP_MEAN,
    image_std: CLIP_STD,
    rescale_factor: 1 / 255,
    size: { height: o.imageSize, width: o.imageSize },
  };
  return o.modelType === 'owlv2'
    ? { ...common, do_pad: true, image_processor_type: 'Owlv2ImageProcessor', processor_class: 'Owlv2Processor', resample: 2 }
    : {
        ...common,
        crop_size: { height: o.imageSize, width: o.imageSize },
        do_center_crop: false,
        do_convert_rgb: true,
        image_processor_type: 'OwlViTImageProcessor',
        processor_class: 'OwlViTProcessor',
        resample: 3,
      };
}

export function resolveTinyOwlOptions(options: TinyOwlOptions = {}): Required<TinyOwlOptions> {
  const o = { ...TINY_OWL_DEFAULTS, ...options } as Required<TinyOwlOptions>;
  if (!Number.isInteger(o.imageSize / o.patchSize)) throw new Error('tiny OWL: imageSize must be a multiple of patchSize');
  return o;
}

/**
 * Writes a complete detector folder (config.json, preprocessor_config.json, tokenizer files with pad "!"
 * and model_max_length = textLength, onnx/model.onnx) to `dir`. Files are written atomically.
 */
export function writeTinyOwlFolder(dir: string, options: TinyOwlOptions = {}): void {
  const o = resolveTinyOwlOptions(options);
  const vocabulary = buildTinyVocabulary();
  const isV2 = o.modelType === 'owlv2';
  const config = {
    _refinery_tiny: { version: TINY_OWL_VERSION, kind: 'owl' },
    architectures: [isV2 ? 'Owlv2ForObjectDetection' : 'OwlViTForObjectDetection'],
    model_type: o.modelType,
    projection_dim: 3,
    text_config: { max_position_embeddings: o.textLength, model_type: `${o.modelType}_text_model`, vocab_size: vocabulary.vocab.size },
    vision_config: { image_size: o.imageSize, model_type: `${o.modelType}_vision_model`, patch_size: o.patchSize },
  };
  const files = tokenizerFiles(vocabulary, '!');
  const tokenizerConfig = JSON.parse(files['tokenizer_config.json']) as Record<string, unknown>;
  tokenizerConfig.model_max_length = o.textLength;
  tokenizerConfig.processor_class = isV2 ? 'Owlv2Processor' : 'OwlViTProcessor';
  files['tokenizer_config.json'] = `${JSON.stringify(tokenizerConfig, null, 2)}\n`;
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  for (const [name, text] of Object.entries({ ...files, 'config.json': json(config), 'preprocessor_config.json': json(preprocessorConfig(o)) })) {
    writeFileAtomic(join(dir, name), text);
  }
  writeModel(join(dir, 'onnx', 'model.onnx'), buildGraph(o, vocabulary.vocab), { opsetVersion: 17 });
}

/**
 * The default tiny detector folder under `cacheDir` (written once, then reused): for `models.detector:
 * tiny`. A marker file written last makes a half-written folder count as absent.
 */
export function ensureTinyOwlFolder(cacheDir: string): string {
  const dir = join(cacheDir, `tiny-owlvit-v${TINY_OWL_VERSION}`);
  const marker = join(dir, '.complete');
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === String(TINY_OWL_VERSION)) return dir;
  const temp = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeTinyOwlFolder(temp);
    writeFileSync(join(temp, '.complete'), String(TINY_OWL_VERSION));
    mkdirSync(cacheDir, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(temp, dir);
    } catch (error) {
      // another process finished the same folder first
      if (!existsSync(marker)) throw error;
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return dir;
}
