/**
 * Finds out what a CLIP scorer folder holds (transformers.js / Hugging Face ONNX layout):
 *  - separate towers `onnx/text_model.onnx` + `onnx/vision_model.onnx` — checked by the shared
 *    `validateClipFolder` (pipelines/model-folder.ts);
 *  - or one combined `onnx/model.onnx` (inputs input_ids, pixel_values, attention_mask? → text_embeds,
 *    image_embeds, logits_per_image?) — checked here, since the shared validator knows only the
 *    separate layout;
 * plus the tokenizer files, `preprocessor_config.json` and `config.json` at the folder root.
 * A folder of another kind (an SDXL pipeline, an OWL-ViT detector, …) is refused with a UserError that
 * says what it is and what a CLIP folder needs.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import { parseClipPreprocessing, validateClipFolder, type ClipPreprocessing } from '../../pipelines/model-folder.js';
import { readOnnxModelInfo, type DeclaredValue, type OnnxModelInfo } from '../../pipelines/onnx/reader.js';

export type ClipLayout =
  | { kind: 'separate'; textModelPath: string; visionModelPath: string }
  | { kind: 'combined'; modelPath: string; returnsLogits: boolean };

export interface ClipModelFolder {
  /** absolute folder path */
  dir: string;
  /** the folder's name, used to name the classifier in records */
  name: string;
  layout: ClipLayout;
  tokenizerDir: string;
  preprocessing: ClipPreprocessing;
  config: Record<string, unknown>;
  /** width of text_embeds / image_embeds */
  projectionDim: number;
  /** the text graph takes attention_mask */
  takesAttentionMask: boolean;
  /** files the scores depend on (graphs, external data, configs, tokenizer), for hashing */
  files: string[];
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json'];
const WHAT_CLIP_NEEDS =
  'a CLIP folder in the transformers.js layout has config.json (model_type "clip"), preprocessor_config.json, vocab.json, merges.txt, tokenizer_config.json and onnx/text_model.onnx + onnx/vision_model.onnx (or a combined onnx/model.onnx)';

/** What other kinds of folder are called, by config.json model_type. */
const OTHER_KINDS: Readonly<Record<string, string>> = {
  owlvit: 'an OWL-ViT detector folder',
  owlv2: 'an OWLv2 detector folder',
  clip_text_model: 'a CLIP text encoder alone (no image tower)',
  clip_vision_model: 'a CLIP image encoder alone (no text tower)',
  siglip: 'a SigLIP folder (sigmoid loss, a different text/image head)',
};

function readJsonObject(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`${path}: not valid JSON (${(error as Error).message})`, 're-download the file');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UserError(`${path}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** `preprocessor_config.json` read by the shared parser, for the combined layout. */
function parsePreprocessing(path: string): ClipPreprocessing {
  const parsed = parseClipPreprocessing(readJsonObject(path), path);
  if ('problem' in parsed) throw new UserError(parsed.problem);
  return parsed.preprocessing;
}

function requireValue(info: OnnxModelInfo, side: 'input' | 'output', name: string, need: string): DeclaredValue {
  const values = side === 'input' ? info.inputs : info.outputs;
  const value = values.find((v) => v.name === name);
  if (!value) {
    throw new UserError(`${info.path}: ${side} '${name}' is missing (${side}s: ${values.map((v) => v.name).join(', ') || 'none'}); ${need}`);
  }
  return value;
}

function checkCombined(dir: string, config: Record<string, unknown>): ClipModelFolder {
  const modelPath = join(dir, 'onnx', 'model.onnx');
  const files = new Set<string>([modelPath]);
  for (const file of TOKENIZER_FILES) {
    const path = join(dir, file);
    if (!isFile(path)) throw new UserError(`${path} is missing; ${WHAT_CLIP_NEEDS}`);
    files.add(path);
  }
  for (const optional of ['special_tokens_map.json', 'tokenizer.json', 'config.json']) {
    if (isFile(join(dir, optional))) files.add(join(dir, optional));
  }
  const preprocessorPath = join(dir, 'preprocessor_config.json');
  if (!isFile(preprocessorPath)) throw new UserError(`${preprocessorPath} is missing; ${WHAT_CLIP_NEEDS}`);
  files.add(preprocessorPath);
  const preprocessing = parsePreprocessing(preprocessorPath);
  let info: OnnxModelInfo;
  try {
    info = readOnnxModelInfo(modelPath);
  } catch (error) {
    throw new UserError(`${modelPath}: not a readable ONNX model (${(error as Error).message})`);
  }
  for (const file of info.externalDataFiles) {
    const path = join(dir, 'onnx', file);
    if (!isFile(path)) throw new UserError(`${modelPath}: its weights file '${file}' is missing next to it (keep the external-data file's original name)`);
    files.add(path);
  }
  const need = 'a combined CLIP graph takes input_ids and pixel_values and returns text_embeds and image_embeds (CLIPModel export)';
  requireValue(info, 'input', 'input_ids', need);
  requireValue(info, 'input', 'pixel_values', need);
  const textEmbeds = requireValue(info, 'output', 'text_embeds', need);
  requireValue(info, 'output', 'image_embeds', need);
  const extra = info.inputs.filter((i) => !['input_ids', 'pixel_values', 'attention_mask'].includes(i.name));
  if (extra.length > 0) throw new UserError(`${modelPath}: unexpected inputs ${extra.map((i) => `'${i.name}'`).join(', ')}; ${need}`);
  const declaredWidth = textEmbeds.dims?.[textEmbeds.dims.length - 1];
  const projectionDim = typeof config.projection_dim === 'number' ? config.projection_dim : typeof declaredWidth === 'number' ? declaredWidth : undefined;
  if (projectionDim === undefined) throw new UserError(`${join(dir, 'config.json')}: projection_dim is missing and ${modelPath} does not declare the text_embeds width`);
  return {
    dir,
    name: basename(dir),
    layout: { kind: 'combined', modelPath, returnsLogits: info.outputs.some((o) => o.name === 'logits_per_image') },
    tokenizerDir: dir,
    preprocessing,
    config,
    projectionDim,
    takesAttentionMask: info.inputs.some((i) => i.name === 'attention_mask'),
    files: [...files].sort(),
  };
}

/**
 * Checks a CLIP scorer folder and returns what the scorers need. Throws a one-line UserError naming the
 * first problem (a missing file, a graph without the expected inputs/outputs, a folder of another kind).
 */
export async function loadClipFolder(folder: string): Promise<ClipModelFolder> {
  const dir = resolve(folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(`CLIP model folder not found: ${dir}`, 'pass a folder in the transformers.js layout (e.g. a copy of Xenova/clip-vit-large-patch14)');
  }
  const configPath = join(dir, 'config.json');
  const config = isFile(configPath) ? readJsonObject(configPath) : undefined;
  const modelType = config?.model_type;
  if (typeof modelType === 'string' && modelType !== 'clip') {
    const what = OTHER_KINDS[modelType] ?? `a '${modelType}' model folder`;
    throw new UserError(`${dir}: config.json model_type is '${modelType}' (${what}), but the CLIP scorers need a CLIP folder; ${WHAT_CLIP_NEEDS}`);
  }
  const separate = isFile(join(dir, 'onnx', 'text_model.onnx')) || isFile(join(dir, 'onnx', 'vision_model.onnx'));
  if (!separate && isFile(join(dir, 'onnx', 'model.onnx'))) {
    if (!config) throw new UserError(`${configPath} is missing; ${WHAT_CLIP_NEEDS}`);
    return checkCombined(dir, config);
  }
  // the shared validator names SDXL folders, missing towers and I/O mismatches
  const info = await validateClipFolder(dir);
  return {
    dir: info.dir,
    name: basename(info.dir),
    layout: { kind: 'separate', textModelPath: info.textModel.modelPath, visionModelPath: info.visionModel.modelPath },
    tokenizerDir: info.tokenizerDir,
    preprocessing: info.preprocessing,
    config: info.config,
    projectionDim: info.projectionDim,
    takesAttentionMask: info.textModel.takesAttentionMask,
    files: info.files,
  };
}
