/**
 * An OWL-ViT / OWLv2 detector folder in the transformers.js / Hugging Face ONNX layout
 * (e.g. `Xenova/owlvit-base-patch32`, `Xenova/owlv2-base-patch16-ensemble`):
 *
 *     config.json                 model_type "owlvit" or "owlv2"
 *     preprocessor_config.json    OwlViTImageProcessor / Owlv2ImageProcessor settings
 *     vocab.json, merges.txt, tokenizer_config.json (+ special_tokens_map.json)
 *                                 CLIP BPE; OWL-ViT pads with "!" (id 0) to model_max_length 16
 *     onnx/model.onnx             input_ids [queries, 16], pixel_values [batch, 3, H, W],
 *                                 attention_mask [queries, 16] → logits [batch, patches, queries],
 *                                 pred_boxes [batch, patches, 4] (cx, cy, w, h, normalised)
 *
 * `loadOwlFolder` checks all of it before any model is loaded and reports every problem in one line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import { readOnnxModelInfo, type DeclaredValue } from '../../pipelines/onnx/reader.js';
import { ClipTokenizer } from '../../pipelines/tokenizer/clip-tokenizer.js';
import type { OwlModelType, OwlPreprocessing } from './owl-preprocess.js';

const OPENAI_CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
/** OwlViTTextConfig's default max_position_embeddings */
const OWL_TEXT_POSITIONS = 16;

export interface OwlFolder {
  dir: string;
  /** the folder's name, used to label results ("GenEval rules with owlvit-base-patch32") */
  name: string;
  modelType: OwlModelType;
  modelPath: string;
  preprocessing: OwlPreprocessing;
  tokenizer: ClipTokenizer;
  /** tokens per query (16 for OWL-ViT / OWLv2) */
  textLength: number;
  /** whether the graph takes `attention_mask` */
  takesAttentionMask: boolean;
}

export interface OwlFolderOptions {
  /** the graph file inside `onnx/` (default `model.onnx`; e.g. `model_quantized.onnx`, `model_fp16.onnx`) */
  modelFile?: string;
}

type Json = Record<string, unknown>;

function readJsonObject(path: string, problems: string[]): Json | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
    problems.push(`${basename(path)} is not a JSON object`);
  } catch (error) {
    problems.push(`${basename(path)} is not valid JSON (${(error as Error).message.split('\n')[0]})`);
  }
  return undefined;
}

/** `size` / `crop_size` as transformers accepts them: {height, width}, a number, or an old [height, width] list. */
function heightWidth(value: unknown): { height: number; width: number } | undefined {
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (positive(value)) return { height: value, width: value };
  if (Array.isArray(value) && value.length === 2 && value.every(positive)) return { height: value[0], width: value[1] };
  if (typeof value === 'object' && value !== null) {
    const { height, width } = value as Json;
    if (positive(height) && positive(width)) return { height, width };
  }
  return undefined;
}

function triple(value: unknown, fallback: [number, number, number]): [number, number, number] | undefined {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return [value, value, value];
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number') ? (value as [number, number, number]) : undefined;
}

function bool(config: Json, key: string, fallback: boolean): boolean {
  return typeof config[key] === 'boolean' ? (config[key] as boolean) : fallback;
}

function num(config: Json, key: string, fallback: number): number {
  return typeof config[key] === 'number' && Number.isFinite(config[key]) ? (config[key] as number) : fallback;
}

function parsePreprocessing(config: Json, modelType: OwlModelType, problems: string[]): OwlPreprocessing | undefined {
  const v2 = modelType === 'owlv2';
  const size = config.size === undefined ? (v2 ? { height: 960, width: 960 } : { height: 768, width: 768 }) : heightWidth(config.size);
  if (!size) {
    problems.push(`preprocessor_config.json size must be {"height": H, "width": W} (OWL-ViT stretches to a fixed size), got ${JSON.stringify(config.size)}`);
  }
  const doCenterCrop = !v2 && bool(config, 'do_center_crop', false);
  const crop = doCenterCrop ? heightWidth(config.crop_size) : size;
  if (doCenterCrop && size && (!crop || crop.height !== size.height || crop.width !== size.width)) {
    problems.push(`preprocessor_config.json: do_center_crop with crop_size ${JSON.stringify(config.crop_size)} ≠ size is not supported (boxes would not map back); set do_center_crop to false`);
  }
  const imageMean = triple(config.image_mean, OPENAI_CLIP_MEAN);
  const imageStd = triple(config.image_std, OPENAI_CLIP_STD);
  if (!imageMean) problems.push('preprocessor_config.json image_mean must be three numbers');
  if (!imageStd || imageStd.some((s) => s === 0)) problems.push('preprocessor_config.json image_std must be three non-zero numbers');
  if (!size || !crop || !imageMean || !imageStd) return undefined;
  return {
    modelType,
    doResize: bool(config, 'do_resize', true),
    height: size.height,
    width: size.width,
    resample: num(config, 'resample', v2 ? 2 : 3),
    doCenterCrop,
    cropHeight: crop.height,
    cropWidth: crop.width,
    doPad: v2 && bool(config, 'do_pad', true),
    padValue: 0,
    doRescale: bool(config, 'do_rescale', true),
    rescaleFactor: num(config, 'rescale_factor', 1 / 255),
    doNormalize: bool(config, 'do_normalize', true),
    imageMean,
    imageStd,
  };
}

function describe(value: DeclaredValue | undefined): string {
  if (!value) return 'absent';
  return `${value.dtype} [${(value.dims ?? ['?']).map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

function checkGraph(
  modelPath: string,
  problems: string[],
): { takesAttentionMask: boolean; textLength?: number; imageHeight?: number; imageWidth?: number } | undefined {
  let info;
  try {
    info = readOnnxModelInfo(modelPath);
  } catch (error) {
    problems.push(`${modelPath} could not be read as ONNX (${(error as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const input = (name: string) => info.inputs.find((v) => v.name === name);
  const output = (name: string) => info.outputs.find((v) => v.name === name);
  const rank = (v: DeclaredValue | undefined, r: number) => v !== undefined && (v.dims === null || v.dims.length === r);
  const isInt = (v: DeclaredValue | undefined) => v !== undefined && (v.dtype === 'int64' || v.dtype === 'int32');
  const isFloat = (v: DeclaredValue | undefined) => v !== undefined && (v.dtype === 'float32' || v.dtype === 'float16');
  const expectations: Array<[string, DeclaredValue | undefined, boolean, string]> = [
    ['input input_ids', input('input_ids'), isInt(input('input_ids')) && rank(input('input_ids'), 2), 'int64 [queries, 16]'],
    ['input pixel_values', input('pixel_values'), isFloat(input('pixel_values')) && rank(input('pixel_values'), 4), 'float [batch, 3, H, W]'],
    ['output logits', output('logits'), isFloat(output('logits')) && rank(output('logits'), 3), 'float [batch, patches, queries]'],
    ['output pred_boxes', output('pred_boxes'), isFloat(output('pred_boxes')) && rank(output('pred_boxes'), 3), 'float [batch, patches, 4]'],
  ];
  const mask = input('attention_mask');
  if (mask && !(isInt(mask) && rank(mask, 2))) expectations.push(['input attention_mask', mask, false, 'int64 [queries, 16]']);
  const wrong = expectations.filter(([, , ok]) => !ok);
  if (wrong.length) {
    const found = `inputs ${info.inputs.map((v) => v.name).join(', ') || '(none)'}; outputs ${info.outputs.map((v) => v.name).join(', ') || '(none)'}`;
    problems.push(
      `${basename(modelPath)} does not have the OWL-ViT detection I/O: ${wrong.map(([what, value, , want]) => `${what} is ${describe(value)}, expected ${want}`).join('; ')} (graph has ${found})`,
    );
    return undefined;
  }
  const fixed = (v: DeclaredValue | undefined, axis: number) => (typeof v?.dims?.[axis] === 'number' ? (v.dims[axis] as number) : undefined);
  const pixels = input('pixel_values');
  return {
    takesAttentionMask: mask !== undefined,
    textLength: fixed(input('input_ids'), 1),
    imageHeight: fixed(pixels, 2),
    imageWidth: fixed(pixels, 3),
  };
}

/** What other kind of folder this looks like, for the error message. */
function lookalike(dir: string): string | undefined {
  if (existsSync(join(dir, 'unet')) || existsSync(join(dir, 'model_index.json'))) return 'an SDXL pipeline folder';
  if (['text_model.onnx', 'vision_model.onnx'].some((f) => existsSync(join(dir, 'onnx', f)) || existsSync(join(dir, f)))) return 'a CLIP folder';
  return undefined;
}

/**
 * Reads and checks a detector folder. Throws one UserError listing every problem (missing files, wrong
 * `model_type`, graph I/O, preprocessing, tokenizer length), naming the folder and what it should hold.
 */
export function loadOwlFolder(dirInput: string, options: OwlFolderOptions = {}): OwlFolder {
  const dir = resolve(dirInput);
  const modelFile = options.modelFile ?? 'model.onnx';
  const expected = `an OWL-ViT / OWLv2 folder in the transformers.js layout (config.json, preprocessor_config.json, vocab.json, merges.txt, tokenizer_config.json, onnx/${modelFile}), e.g. Xenova/owlvit-base-patch32`;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`detector folder not found: ${dir}`, `pass ${expected}`);
  const problems: string[] = [];
  const missing = ['config.json', 'preprocessor_config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', join('onnx', modelFile)].filter(
    (file) => !existsSync(join(dir, file)),
  );
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);

  const config = readJsonObject(join(dir, 'config.json'), problems);
  let modelType: OwlModelType | undefined;
  if (config) {
    if (config.model_type === 'owlvit' || config.model_type === 'owlv2') modelType = config.model_type;
    else problems.push(`config.json model_type is ${JSON.stringify(config.model_type)}, expected "owlvit" or "owlv2"`);
  }
  const preprocessorConfig = readJsonObject(join(dir, 'preprocessor_config.json'), problems);
  const preprocessing = modelType && preprocessorConfig ? parsePreprocessing(preprocessorConfig, modelType, problems) : undefined;
  const modelPath = join(dir, 'onnx', modelFile);
  const graph = existsSync(modelPath) ? checkGraph(modelPath, problems) : undefined;

  let tokenizer: ClipTokenizer | undefined;
  if (!missing.some((f) => ['vocab.json', 'merges.txt'].includes(f))) {
    try {
      tokenizer = ClipTokenizer.fromFolder(dir);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const textConfig = config?.text_config as Json | undefined;
  const positions = typeof textConfig?.max_position_embeddings === 'number' ? textConfig.max_position_embeddings : OWL_TEXT_POSITIONS;
  const textLength = graph?.textLength ?? positions;
  if (tokenizer && tokenizer.maxLength !== textLength) {
    problems.push(`tokenizer_config.json model_max_length is ${tokenizer.maxLength}, but the text model takes ${textLength} tokens; set it to ${textLength}`);
  }
  if (preprocessing && graph) {
    const declared = [graph.imageHeight, graph.imageWidth];
    if (declared.some((d, i) => d !== undefined && d !== [preprocessing.height, preprocessing.width][i])) {
      problems.push(`preprocessor_config.json size ${preprocessing.height}x${preprocessing.width} does not match pixel_values ${declared.map((d) => d ?? '?').join('x')} of ${modelFile}`);
    }
  }

  if (problems.length || !modelType || !preprocessing || !tokenizer || !graph) {
    const like = lookalike(dir);
    throw new UserError(
      `${dir} is not a usable detector folder${like ? ` (it looks like ${like})` : ''}: ${problems.join('; ') || 'unreadable'}`,
      `pass ${expected}`,
    );
  }
  return { dir, name: basename(dir), modelType, modelPath, preprocessing, tokenizer, textLength, takesAttentionMask: graph.takesAttentionMask };
}
