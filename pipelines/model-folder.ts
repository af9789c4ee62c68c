// Model folder validation and inspection: decides whether a folder is an SDXL base, an SDXL refiner or
// a CLIP scorer folder, checks every file and every submodel's declared I/O against the contract
// (both optimum exporter generations, fp16), and returns typed facts the pipelines consume. Only
// graph headers are read (see onnx/reader.ts), so a 10 GB model is inspected in milliseconds.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from './errors.js';
import { readOnnxModelInfo, type DeclaredDim, type DeclaredValue, type OnnxModelInfo } from './onnx/reader.js';
import { writeFileAtomic } from './onnx/writer.js';

export type SdxlFolderKind = 'base' | 'refiner';
export type ModelFolderKind = SdxlFolderKind | 'clip';
/** optimum exporter generation (contract §2): A = v1.10–v1.22, B = v1.24+ (v1.23 is a hybrid). */
export type ExporterGeneration = 'A' | 'B';
export type FloatDType = 'float32' | 'float16';
export type InputIdsDType = 'int32' | 'int64';

/** One ONNX submodel of a folder. */
export interface SubmodelInfo {
  /** Folder-relative name, e.g. `unet`, `text_encoder_2`, `onnx/text_model`. */
  name: string;
  /** Absolute path of the graph file. */
  modelPath: string;
  /** Absolute paths of the external-data files the graph references (all exist). */
  externalDataPaths: string[];
  /** Absolute path of the submodel's config.json, when there is one. */
  configPath?: string;
  /** Parsed config.json; `{}` when absent. */
  config: Record<string, unknown>;
  /** Declared graph inputs and outputs (names, dtypes, dims with symbolic names). */
  inputs: DeclaredValue[];
  outputs: DeclaredValue[];
}

export interface TextEncoderInfo extends SubmodelInfo {
  /** dtype of `input_ids`: int32 for generation-A CLIP-L, int64 otherwise. */
  inputIdsDType: InputIdsDType;
  /** dtype of the hidden-state outputs. */
  floatDType: FloatDType;
  /** Encoder layer count L: the graph has outputs hidden_states.0 … hidden_states.L. */
  layerCount: number;
  /** `hidden_states.0` … `hidden_states.L`, in order. */
  hiddenStateOutputs: string[];
  /** `hidden_states.{L-1}`: the penultimate layer, what SDXL conditions on (11 for CLIP-L, 31 for bigG). */
  penultimateOutput: string;
  /** Width of the hidden states (768 for CLIP-L, 1280 for bigG). */
  hiddenSize: number;
  /** `pooler_output` (CLIPTextModel) or `text_embeds` (with projection), when the graph has it. */
  pooledOutput?: 'pooler_output' | 'text_embeds';
}

/** How the UNet takes `timestep`. */
export interface TimestepInfo {
  /** `int64-rank1`: generation A, feed int64 shape [1]; `float-scalar`: generation B, shape [];
   *  `float-rank1`: a float of shape [1] (other exporters). */
  kind: 'int64-rank1' | 'float-scalar' | 'float-rank1';
  dtype: 'int64' | 'float32' | 'float16';
  /** 0 → dims []; 1 → dims [1]. */
  rank: 0 | 1;
}

export interface UnetInfo extends SubmodelInfo {
  /** dtype of sample, encoder_hidden_states, text_embeds, time_ids and out_sample. */
  floatDType: FloatDType;
  timestep: TimestepInfo;
  /** Last dim of encoder_hidden_states (2048 base, 1280 refiner). */
  contextWidth: number;
  /** Last dim of text_embeds (1280). */
  pooledWidth: number;
  /** Values per time_ids row: 6 (base) or 5 (refiner). */
  timeIdCount: number;
}

export interface VaeDecoderInfo extends SubmodelInfo {
  floatDType: FloatDType;
}

export interface VaeEncoderInfo extends SubmodelInfo {
  floatDType: FloatDType;
  /** `latent_parameters` (gen B: mean ⊕ logvar, [B,8,h,w]; sample on the host) or `latent_sample`
   *  (gen A: drawn inside the graph, unseeded, [B,4,h,w]). */
  output: 'latent_sample' | 'latent_parameters';
}

/** Everything the SDXL pipelines need to know about a validated base or refiner folder. */
export interface SdxlFolderInfo {
  kind: SdxlFolderKind;
  /** Absolute folder path. */
  dir: string;
  /** 'A' when the UNet takes an int64 timestep, else 'B' (see `timestep`, `inputIdsDTypes`,
   *  `vaeEncoderOutput` for the individual facts; optimum v1.23 mixes them). */
  generation: ExporterGeneration;
  /** Float dtype of the UNet (and text encoders) I/O; the VAE has its own (`vaeDecoder.floatDType`). */
  floatDType: FloatDType;
  /** CLIP-L; base only. */
  textEncoder?: TextEncoderInfo;
  /** OpenCLIP bigG with projection; base and refiner. */
  textEncoder2: TextEncoderInfo;
  /** Absolute tokenizer folders (vocab.json, merges.txt, tokenizer_config.json, …); `tokenizerDir` base only. */
  tokenizerDir?: string;
  tokenizer2Dir: string;
  unet: UnetInfo;
  vaeDecoder: VaeDecoderInfo;
  vaeEncoder: VaeEncoderInfo;
  /** `input_ids` dtypes per encoder. */
  inputIdsDTypes: { textEncoder?: InputIdsDType; textEncoder2: InputIdsDType };
  timestep: TimestepInfo;
  vaeEncoderOutput: 'latent_sample' | 'latent_parameters';
  /** encoder_hidden_states width: te1 + te2 hidden sizes (base) or te2's (refiner). */
  contextWidth: number;
  /** text_embeds width (te2 projection). */
  pooledWidth: number;
  /** 6 (base) or 5 (refiner). */
  timeIdCount: number;
  /** Penultimate hidden-state output names, derived from the count of hidden_states.* outputs. */
  penultimateOutputs: { textEncoder?: string; textEncoder2: string };
  /** vae_decoder/config.json `scaling_factor` (0.13025 for SDXL). */
  scalingFactor: number;
  /** VAE config `force_upcast` (default true). */
  forceUpcast: boolean;
  /** model_index.json `force_zeros_for_empty_prompt` (diffusers default true). */
  forceZerosForEmptyPrompt: boolean;
  /** model_index.json `requires_aesthetics_score` (default false). */
  requiresAestheticsScore: boolean;
  /** Parsed scheduler/scheduler_config.json. */
  schedulerConfig: Record<string, unknown>;
  /** Parsed model_index.json. */
  modelIndex: Record<string, unknown>;
  /** Absolute paths of every file the folder's outputs depend on (for hashing). */
  files: string[];
  /** Non-fatal observations (e.g. a hybrid exporter generation). */
  warnings: string[];
}

/** CLIP image preprocessing (transformers `CLIPImageProcessor` fields, both legacy and dict forms). */
export interface ClipPreprocessing {
  doResize: boolean;
  /** Resize so the shorter side is this long. */
  shortestEdge: number;
  /** PIL resample code: 3 = bicubic. */
  resample: number;
  doCenterCrop: boolean;
  cropHeight: number;
  cropWidth: number;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
  doConvertRgb: boolean;
}

export interface ClipTextModelInfo extends SubmodelInfo {
  inputIdsDType: InputIdsDType;
  /** Whether the graph also takes `attention_mask` (optimum's CLIP text exports do not). */
  takesAttentionMask: boolean;
  floatDType: FloatDType;
}

export interface ClipVisionModelInfo extends SubmodelInfo {
  floatDType: FloatDType;
  /** Square input side (224). */
  imageSize: number;
}

export interface ClipFolderInfo {
  dir: string;
  /** The folder holds the tokenizer files (vocab.json, merges.txt, tokenizer_config.json, …). */
  tokenizerDir: string;
  config: Record<string, unknown>;
  /** Width of text_embeds / image_embeds. */
  projectionDim: number;
  textModel: ClipTextModelInfo;
  visionModel: ClipVisionModelInfo;
  preprocessing: ClipPreprocessing;
  files: string[];
  warnings: string[];
}

/** What `inspectModelFolder` found: the kind, every problem (one line each) and the parsed facts. */
export interface ModelFolderReport {
  dir: string;
  kind: ModelFolderKind | 'unknown';
  /** Why the folder was classified so (e.g. "no text_encoder/", "time_ids has 5 values"). */
  kindEvidence: string[];
  /** Submodels whose graph could be read, for display. */
  submodels: Array<{ name: string; modelPath: string; inputs: DeclaredValue[]; outputs: DeclaredValue[] }>;
  problems: string[];
  warnings: string[];
  sdxl?: SdxlFolderInfo;
  clip?: ClipFolderInfo;
}

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json'] as const;
const FLOAT_DTYPES: readonly string[] = ['float32', 'float16'];

function formatDims(dims: DeclaredDim[] | null): string {
  if (dims === null) return '[?]';
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** A one-line description of a declared value: `sample float32 [batch_size, 4, height, width]`. */
export function describeValue(value: DeclaredValue): string {
  return `${value.name} ${value.dtype} ${formatDims(value.dims)}`;
}

type Json = Record<string, unknown>;

/** Collects problems while the checks walk a folder. */
class FolderChecker {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  readonly files = new Set<string>();
  readonly submodels: ModelFolderReport['submodels'] = [];

  constructor(readonly dir: string) {}

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  problem(line: string): void {
    this.problems.push(line);
  }

  requireFile(path: string, why: string): boolean {
    if (existsSync(path) && statSync(path).isFile()) {
      this.files.add(path);
      return true;
    }
    this.problem(`${path} is missing; ${why}`);
    return false;
  }

  readJson(path: string, why: string, optional = false): Json | undefined {
    if (!existsSync(path)) {
      if (!optional) this.problem(`${path} is missing; ${why}`);
      return undefined;
    }
    try {
      const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      this.files.add(path);
      return parsed as Json;
    } catch (error) {
      this.problem(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      return undefined;
    }
  }

  /** Reads a graph's header and checks its external-data files; undefined (with a problem) on failure. */
  readModel(name: string, modelPath: string, why: string): { info: OnnxModelInfo; submodel: SubmodelInfo } | undefined {
    if (!this.requireFile(modelPath, why)) return undefined;
    let info: OnnxModelInfo;
    try {
      info = readOnnxModelInfo(modelPath);
    } catch (error) {
      this.problem(error instanceof Error ? error.message : String(error));
      return undefined;
    }
    const externalDataPaths: string[] = [];
    for (const file of info.externalDataFiles) {
      const dataPath = join(dirname(modelPath), file);
      if (existsSync(dataPath)) {
        externalDataPaths.push(dataPath);
        this.files.add(dataPath);
      } else {
        this.problem(`${modelPath}: its weights file '${file}' is missing next to it (keep the external-data file's original name)`);
      }
    }
    const configPath = join(dirname(modelPath), 'config.json');
    const hasConfig = existsSync(configPath) && basename(dirname(modelPath)) !== 'onnx';
    const config = hasConfig ? this.readJson(configPath, '', true) ?? {} : {};
    this.submodels.push({ name, modelPath, inputs: info.inputs, outputs: info.outputs });
    return {
      info,
      submodel: {
        name,
        modelPath,
        externalDataPaths,
        ...(hasConfig ? { configPath } : {}),
        config,
        inputs: info.inputs,
        outputs: info.outputs,
      },
    };
  }

  /**
   * Finds a declared input/output and checks dtype and rank; `need` is the contract phrase used in
   * messages, e.g. "an SDXL UNet needs time_ids [batch, 6]".
   */
  requireValue(
    model: OnnxModelInfo,
    side: 'input' | 'output',
    name: string,
    expectation: { dtypes: readonly string[]; ranks: readonly number[]; need: string },
  ): DeclaredValue | undefined {
    const values = side === 'input' ? model.inputs : model.outputs;
    const value = values.find((v) => v.name === name);
    if (!value) {
      const names = values.map((v) => v.name).join(', ') || 'none';
      this.problem(`${model.path}: ${side} '${name}' is missing (${side}s: ${names}); ${expectation.need}`);
      return undefined;
    }
    if (!expectation.dtypes.includes(value.dtype)) {
      this.problem(`${model.path}: ${side} '${name}' is ${value.dtype} but ${expectation.need} as ${expectation.dtypes.join(' or ')}`);
      return undefined;
    }
    if (value.dims !== null && !expectation.ranks.includes(value.dims.length)) {
      this.problem(`${model.path}: ${side} '${name}' has shape ${formatDims(value.dims)} (rank ${value.dims.length}) but ${expectation.need}`);
      return undefined;
    }
    return value;
  }
}

function lastDim(value: DeclaredValue | undefined): number | undefined {
  const dim = value?.dims?.[value.dims.length - 1];
  return typeof dim === 'number' ? dim : undefined;
}

function numberField(config: Json, key: string): number | undefined {
  const value = config[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function booleanField(config: Json | undefined, key: string): boolean | undefined {
  const value = config?.[key];
  return typeof value === 'boolean' ? value : undefined;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

// ---------------------------------------------------------------------------------------------
// Kind detection

interface KindGuess {
  kind: ModelFolderKind | 'unknown';
  evidence: string[];
}

/** Reads the UNet's time_ids width without failing (for classification only). */
function peekTimeIdCount(dir: string): number | undefined {
  const path = join(dir, 'unet', 'model.onnx');
  if (!existsSync(path)) return undefined;
  try {
    return lastDim(readOnnxModelInfo(path).inputs.find((i) => i.name === 'time_ids'));
  } catch {
    return undefined;
  }
}

function readJsonQuietly(path: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Classifies a folder from its layout, model_index.json and the UNet's time_ids width. */
export function detectModelFolderKind(dir: string): KindGuess {
  const evidence: string[] = [];
  const config = readJsonQuietly(join(dir, 'config.json'));
  if (isDirectory(join(dir, 'onnx')) || config?.model_type === 'clip') {
    if (isDirectory(join(dir, 'onnx'))) evidence.push('has onnx/');
    if (config?.model_type === 'clip') evidence.push("config.json model_type 'clip'");
    return { kind: 'clip', evidence };
  }
  const modelIndex = readJsonQuietly(join(dir, 'model_index.json'));
  const hasSdxlParts = isDirectory(join(dir, 'unet')) || isDirectory(join(dir, 'text_encoder_2')) || modelIndex !== undefined;
  if (!hasSdxlParts) return { kind: 'unknown', evidence: ['no model_index.json, unet/, text_encoder_2/ or onnx/'] };

  const hasTextEncoder = isDirectory(join(dir, 'text_encoder'));
  const timeIdCount = peekTimeIdCount(dir);
  const aesthetics = booleanField(modelIndex, 'requires_aesthetics_score');
  let kind: SdxlFolderKind;
  if (timeIdCount === 5 || timeIdCount === 6) kind = timeIdCount === 5 ? 'refiner' : 'base';
  else if (aesthetics !== undefined) kind = aesthetics ? 'refiner' : 'base';
  else kind = hasTextEncoder ? 'base' : 'refiner';
  if (kind === 'refiner') {
    if (!hasTextEncoder) evidence.push('no text_encoder/');
    if (timeIdCount === 5) evidence.push('time_ids has 5 values');
    if (aesthetics) evidence.push('model_index.json requires_aesthetics_score: true');
  } else {
    if (hasTextEncoder) evidence.push('has text_encoder/');
    if (timeIdCount === 6) evidence.push('time_ids has 6 values');
    if (aesthetics === false) evidence.push('model_index.json requires_aesthetics_score: false');
  }
  return { kind, evidence };
}

// ---------------------------------------------------------------------------------------------
// SDXL checks

function checkTokenizer(checker: FolderChecker, folder: string): string | undefined {
  const dir = checker.path(folder);
  let ok = true;
  for (const file of TOKENIZER_FILES) {
    ok = checker.requireFile(join(dir, file), `the CLIP tokenizer in ${folder}/ needs ${TOKENIZER_FILES.join(', ')}`) && ok;
  }
  const specialTokens = join(dir, 'special_tokens_map.json');
  if (existsSync(specialTokens)) checker.files.add(specialTokens);
  return ok ? dir : undefined;
}

function checkTextEncoder(
  checker: FolderChecker,
  folder: 'text_encoder' | 'text_encoder_2',
  label: string,
): TextEncoderInfo | undefined {
  const read = checker.readModel(folder, checker.path(folder, 'model.onnx'), `SDXL needs the ${label} text encoder graph`);
  if (!read) return undefined;
  const { info, submodel } = read;
  const ids = checker.requireValue(info, 'input', 'input_ids', {
    dtypes: ['int32', 'int64'],
    ranks: [2],
    need: `a ${label} text encoder needs input_ids [batch, sequence] (int32 or int64)`,
  });
  const indices = info.outputs
    .map((o) => /^hidden_states\.(\d+)$/.exec(o.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  const layerCount = indices.length - 1;
  const contiguous = indices.every((index, i) => index === i);
  if (indices.length < 3 || !contiguous) {
    const outputs = info.outputs.map((o) => o.name).join(', ');
    checker.problem(
      `${info.path}: outputs hidden_states.0 … hidden_states.L are missing or incomplete (outputs: ${outputs}); SDXL takes the penultimate hidden state (export with output_hidden_states, as optimum does)`,
    );
    return undefined;
  }
  const penultimateOutput = `hidden_states.${layerCount - 1}`;
  const penultimate = checker.requireValue(info, 'output', penultimateOutput, {
    dtypes: FLOAT_DTYPES,
    ranks: [3],
    need: `the ${label} penultimate hidden state must be [batch, sequence, width]`,
  });
  let pooledOutput: TextEncoderInfo['pooledOutput'];
  if (folder === 'text_encoder_2') {
    const embeds = checker.requireValue(info, 'output', 'text_embeds', {
      dtypes: FLOAT_DTYPES,
      ranks: [2],
      need: 'SDXL takes the pooled prompt embedding from text_encoder_2 text_embeds [batch, 1280]',
    });
    if (embeds) pooledOutput = 'text_embeds';
  } else if (info.outputs.some((o) => o.name === 'pooler_output')) {
    pooledOutput = 'pooler_output';
  }
  const hiddenSize = lastDim(penultimate) ?? numberField(submodel.config, 'hidden_size');
  if (penultimate && hiddenSize === undefined) {
    checker.problem(`${info.path}: the width of ${penultimateOutput} is not declared and ${folder}/config.json has no hidden_size`);
  }
  if (!ids || !penultimate || hiddenSize === undefined) return undefined;
  const configLayers = numberField(submodel.config, 'num_hidden_layers');
  if (configLayers !== undefined && configLayers !== layerCount) {
    checker.problem(`${submodel.configPath}: num_hidden_layers is ${configLayers} but the graph has hidden_states.0 … hidden_states.${layerCount}`);
  }
  return {
    ...submodel,
    inputIdsDType: ids.dtype as InputIdsDType,
    floatDType: penultimate.dtype as FloatDType,
    layerCount,
    hiddenStateOutputs: indices.map((i) => `hidden_states.${i}`),
    penultimateOutput,
    hiddenSize,
    ...(pooledOutput ? { pooledOutput } : {}),
  };
}

function timestepInfo(value: DeclaredValue): TimestepInfo | undefined {
  const rank = value.dims?.length;
  if (value.dtype === 'int64' && rank === 1) return { kind: 'int64-rank1', dtype: 'int64', rank: 1 };
  if ((value.dtype === 'float32' || value.dtype === 'float16') && (rank === 0 || rank === 1)) {
    return { kind: rank === 0 ? 'float-scalar' : 'float-rank1', dtype: value.dtype, rank };
  }
  return undefined;
}

function checkUnet(checker: FolderChecker, kind: SdxlFolderKind): UnetInfo | undefined {
  const read = checker.readModel('unet', checker.path('unet', 'model.onnx'), 'SDXL needs the UNet graph');
  if (!read) return undefined;
  const { info, submodel } = read;
  const timeIdCount = kind === 'base' ? 6 : 5;
  const timeIdMeaning = kind === 'base' ? '[orig_h, orig_w, crop_top, crop_left, target_h, target_w]' : '[orig_h, orig_w, crop_top, crop_left, aesthetic_score]';
  const sample = checker.requireValue(info, 'input', 'sample', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'an SDXL UNet needs sample [batch, 4, height, width]' });
  const timestepValue = checker.requireValue(info, 'input', 'timestep', {
    dtypes: ['int64', 'float32', 'float16'],
    ranks: [0, 1],
    need: 'an SDXL UNet needs timestep (int64 [1] or a float scalar)',
  });
  const context = checker.requireValue(info, 'input', 'encoder_hidden_states', {
    dtypes: FLOAT_DTYPES,
    ranks: [3],
    need: `an SDXL ${kind} UNet needs encoder_hidden_states [batch, 77, ${kind === 'base' ? 'te1 + te2 width' : 'te2 width'}]`,
  });
  const pooled = checker.requireValue(info, 'input', 'text_embeds', { dtypes: FLOAT_DTYPES, ranks: [2], need: 'an SDXL UNet needs text_embeds [batch, 1280]' });
  const timeIds = checker.requireValue(info, 'input', 'time_ids', {
    dtypes: FLOAT_DTYPES,
    ranks: [2],
    need: `an SDXL UNet needs time_ids [batch, ${timeIdCount}]`,
  });
  const output = checker.requireValue(info, 'output', 'out_sample', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'an SDXL UNet returns out_sample [batch, 4, height, width]' });
  if (!sample || !timestepValue || !context || !pooled || !timeIds || !output) return undefined;

  const channels = sample.dims?.[1];
  if (typeof channels === 'number' && channels !== 4) {
    checker.problem(`${info.path}: input 'sample' has ${channels} channels but an SDXL UNet takes 4 latent channels`);
  }
  const floatDType = sample.dtype as FloatDType;
  for (const value of [context, pooled, timeIds, output]) {
    if (value.dtype !== floatDType) {
      checker.problem(`${info.path}: ${value === output ? 'output' : 'input'} '${value.name}' is ${value.dtype} but 'sample' is ${floatDType}; an SDXL UNet export uses one float dtype for all of them`);
    }
  }
  const timestep = timestepInfo(timestepValue)!;
  if (timestep.dtype !== 'int64' && timestep.dtype !== floatDType) {
    checker.warnings.push(`${info.path}: timestep is ${timestep.dtype} while sample is ${floatDType}`);
  }
  const declaredCount = lastDim(timeIds);
  const config = submodel.config;
  const addDim = numberField(config, 'addition_time_embed_dim');
  const projectionDim = numberField(config, 'projection_class_embeddings_input_dim');
  const pooledWidth = lastDim(pooled) ?? (addDim !== undefined && projectionDim !== undefined ? projectionDim - addDim * timeIdCount : undefined);
  const countFromConfig = addDim && projectionDim !== undefined && pooledWidth !== undefined ? (projectionDim - pooledWidth) / addDim : undefined;
  const count = declaredCount ?? countFromConfig;
  if (count !== undefined && count !== timeIdCount) {
    const other = count === 5 ? 'refiner' : count === 6 ? 'base' : undefined;
    const source = declaredCount !== undefined ? `input 'time_ids' has ${count} values per row` : `unet/config.json implies ${count} time ids`;
    checker.problem(`${info.path}: ${source} but an SDXL ${kind} UNet takes ${timeIdCount} ${timeIdMeaning}${other ? ` (this looks like a ${other} UNet)` : ''}`);
    return undefined;
  }
  if (declaredCount !== undefined && addDim !== undefined && projectionDim !== undefined && pooledWidth !== undefined && addDim * declaredCount + pooledWidth !== projectionDim) {
    checker.problem(
      `${submodel.configPath}: addition_time_embed_dim ${addDim} × ${declaredCount} time ids + text_embeds width ${pooledWidth} = ${addDim * declaredCount + pooledWidth}, but projection_class_embeddings_input_dim is ${projectionDim}`,
    );
  }
  const contextWidth = lastDim(context) ?? numberField(config, 'cross_attention_dim');
  if (contextWidth === undefined || pooledWidth === undefined) {
    checker.problem(`${info.path}: the widths of encoder_hidden_states / text_embeds are not declared and unet/config.json does not give them`);
    return undefined;
  }
  const crossAttention = numberField(config, 'cross_attention_dim');
  if (crossAttention !== undefined && crossAttention !== contextWidth) {
    checker.problem(`${submodel.configPath}: cross_attention_dim is ${crossAttention} but input 'encoder_hidden_states' is ${contextWidth} wide`);
  }
  return { ...submodel, floatDType, timestep, contextWidth, pooledWidth, timeIdCount };
}

function checkVae(checker: FolderChecker): { decoder?: VaeDecoderInfo; encoder?: VaeEncoderInfo; scalingFactor?: number; forceUpcast: boolean } {
  const result: { decoder?: VaeDecoderInfo; encoder?: VaeEncoderInfo; scalingFactor?: number; forceUpcast: boolean } = { forceUpcast: true };
  const decoderRead = checker.readModel('vae_decoder', checker.path('vae_decoder', 'model.onnx'), 'SDXL needs the VAE decoder graph');
  const decoderConfigPath = checker.path('vae_decoder', 'config.json');
  const decoderConfig = checker.readJson(decoderConfigPath, "SDXL's VAE scaling_factor (0.13025) is read from it; copy it from the diffusers vae/config.json");
  if (decoderConfig) {
    result.scalingFactor = numberField(decoderConfig, 'scaling_factor');
    if (result.scalingFactor === undefined || result.scalingFactor <= 0) {
      checker.problem(`${decoderConfigPath}: scaling_factor is missing or not a positive number; SDXL uses 0.13025`);
    }
    result.forceUpcast = booleanField(decoderConfig, 'force_upcast') ?? true;
  }
  if (decoderRead) {
    const { info, submodel } = decoderRead;
    const latent = checker.requireValue(info, 'input', 'latent_sample', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'an SDXL VAE decoder needs latent_sample [batch, 4, h, w]' });
    const sample = checker.requireValue(info, 'output', 'sample', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'an SDXL VAE decoder returns sample [batch, 3, 8h, 8w]' });
    if (latent && sample) result.decoder = { ...submodel, floatDType: latent.dtype as FloatDType };
  }
  const encoderRead = checker.readModel('vae_encoder', checker.path('vae_encoder', 'model.onnx'), 'SDXL needs the VAE encoder graph (refinement of finished images)');
  if (encoderRead) {
    const { info, submodel } = encoderRead;
    const sample = checker.requireValue(info, 'input', 'sample', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'an SDXL VAE encoder needs sample [batch, 3, H, W]' });
    const outputName = info.outputs.some((o) => o.name === 'latent_parameters') ? 'latent_parameters' : 'latent_sample';
    const output = checker.requireValue(info, 'output', outputName, {
      dtypes: FLOAT_DTYPES,
      ranks: [4],
      need: 'an SDXL VAE encoder returns latent_parameters [batch, 8, h, w] (optimum ≥ 1.23) or latent_sample [batch, 4, h, w] (older)',
    });
    const encoderScale = numberField(submodel.config, 'scaling_factor');
    if (encoderScale !== undefined && result.scalingFactor !== undefined && encoderScale !== result.scalingFactor) {
      checker.problem(`${submodel.configPath}: scaling_factor ${encoderScale} differs from vae_decoder/config.json's ${result.scalingFactor}`);
    }
    if (sample && output) result.encoder = { ...submodel, floatDType: sample.dtype as FloatDType, output: outputName };
  }
  return result;
}

function describeKind(kind: ModelFolderKind): string {
  return kind === 'clip' ? 'a CLIP folder' : `an SDXL ${kind} folder`;
}

function checkSdxl(checker: FolderChecker, kind: SdxlFolderKind): SdxlFolderInfo | undefined {
  const base = kind === 'base';
  const modelIndex = checker.readJson(checker.path('model_index.json'), 'an SDXL folder (diffusers / optimum layout) has it at its root');
  const schedulerConfig = checker.readJson(checker.path('scheduler', 'scheduler_config.json'), 'SDXL reads its scheduler settings from it');
  if (schedulerConfig && typeof schedulerConfig._class_name !== 'string') {
    checker.problem(`${checker.path('scheduler', 'scheduler_config.json')}: _class_name is missing; it names the scheduler (EulerDiscreteScheduler for SDXL)`);
  }
  const tokenizerDir = base ? checkTokenizer(checker, 'tokenizer') : undefined;
  const tokenizer2Dir = checkTokenizer(checker, 'tokenizer_2');
  const textEncoder = base ? checkTextEncoder(checker, 'text_encoder', 'CLIP ViT-L') : undefined;
  const textEncoder2 = checkTextEncoder(checker, 'text_encoder_2', 'OpenCLIP bigG');
  const unet = checkUnet(checker, kind);
  const vae = checkVae(checker);

  const requiresAestheticsScore = booleanField(modelIndex, 'requires_aesthetics_score') ?? false;
  const forceZerosForEmptyPrompt = booleanField(modelIndex, 'force_zeros_for_empty_prompt') ?? true;
  if (modelIndex && requiresAestheticsScore !== !base) {
    checker.problem(
      `${checker.path('model_index.json')}: requires_aesthetics_score is ${requiresAestheticsScore} but an SDXL ${kind} ${base ? 'has 6 time ids without an aesthetic score' : 'takes 5 time ids ending in the aesthetic score'}`,
    );
  }
  if (unet && textEncoder2) {
    const expectedContext = (textEncoder?.hiddenSize ?? 0) + textEncoder2.hiddenSize;
    if (unet.contextWidth !== expectedContext) {
      const sources = base && textEncoder ? `text_encoder (${textEncoder.hiddenSize}) + text_encoder_2 (${textEncoder2.hiddenSize})` : `text_encoder_2 (${textEncoder2.hiddenSize})`;
      checker.problem(`${unet.modelPath}: input 'encoder_hidden_states' is ${unet.contextWidth} wide but ${sources} give ${expectedContext}`);
    }
    const pooledFromEncoder = textEncoder2.outputs.find((o) => o.name === 'text_embeds');
    const encoderPooledWidth = lastDim(pooledFromEncoder) ?? numberField(textEncoder2.config, 'projection_dim');
    if (encoderPooledWidth !== undefined && encoderPooledWidth !== unet.pooledWidth) {
      checker.problem(`${unet.modelPath}: input 'text_embeds' is ${unet.pooledWidth} wide but text_encoder_2 projects to ${encoderPooledWidth}`);
    }
  }
  if (textEncoder && textEncoder2 && textEncoder.floatDType !== textEncoder2.floatDType) {
    checker.warnings.push(`text_encoder is ${textEncoder.floatDType} but text_encoder_2 is ${textEncoder2.floatDType}`);
  }
  if (unet && vae.encoder) {
    const genA = unet.timestep.kind === 'int64-rank1';
    if (genA !== (vae.encoder.output === 'latent_sample')) {
      checker.warnings.push(`mixed exporter generations: timestep ${unet.timestep.dtype} rank ${unet.timestep.rank} with a VAE encoder returning ${vae.encoder.output} (optimum v1.23 exports look like this)`);
    }
  }
  if (!modelIndex || !schedulerConfig || !tokenizer2Dir || (base && (!tokenizerDir || !textEncoder)) || !textEncoder2 || !unet) return undefined;
  if (!vae.decoder || !vae.encoder || vae.scalingFactor === undefined) return undefined;
  if (checker.problems.length > 0) return undefined;
  return {
    kind,
    dir: checker.dir,
    generation: unet.timestep.kind === 'int64-rank1' ? 'A' : 'B',
    floatDType: unet.floatDType,
    ...(textEncoder ? { textEncoder } : {}),
    textEncoder2,
    ...(tokenizerDir ? { tokenizerDir } : {}),
    tokenizer2Dir,
    unet,
    vaeDecoder: vae.decoder,
    vaeEncoder: vae.encoder,
    inputIdsDTypes: { ...(textEncoder ? { textEncoder: textEncoder.inputIdsDType } : {}), textEncoder2: textEncoder2.inputIdsDType },
    timestep: unet.timestep,
    vaeEncoderOutput: vae.encoder.output,
    contextWidth: unet.contextWidth,
    pooledWidth: unet.pooledWidth,
    timeIdCount: unet.timeIdCount,
    penultimateOutputs: {
      ...(textEncoder ? { textEncoder: textEncoder.penultimateOutput } : {}),
      textEncoder2: textEncoder2.penultimateOutput,
    },
    scalingFactor: vae.scalingFactor,
    forceUpcast: vae.forceUpcast,
    forceZerosForEmptyPrompt,
    requiresAestheticsScore,
    schedulerConfig,
    modelIndex,
    files: [...checker.files].sort(),
    warnings: checker.warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// CLIP checks

function sizeField(value: unknown, keys: string[]): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null) {
    for (const key of keys) {
      const inner = (value as Json)[key];
      if (typeof inner === 'number') return inner;
    }
  }
  return undefined;
}

function triple(value: unknown): [number, number, number] | undefined {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number') ? (value as [number, number, number]) : undefined;
}

/**
 * Reads a CLIP `preprocessor_config.json` object (transformers' CLIPImageProcessor keys and defaults).
 * Returns the problem as one line naming `path` when a required field is missing or malformed.
 */
export function parseClipPreprocessing(config: Record<string, unknown>, path: string): { preprocessing: ClipPreprocessing } | { problem: string } {
  const shortestEdge = sizeField(config.size, ['shortest_edge', 'height']);
  const crop = config.crop_size;
  const cropHeight = sizeField(crop, ['height']);
  const cropWidth = sizeField(crop, ['width']) ?? (typeof crop === 'number' ? crop : undefined);
  const imageMean = triple(config.image_mean);
  const imageStd = triple(config.image_std);
  const missing = [
    shortestEdge === undefined ? 'size' : '',
    cropHeight === undefined || cropWidth === undefined ? 'crop_size' : '',
    imageMean === undefined ? 'image_mean' : '',
    imageStd === undefined ? 'image_std' : '',
  ].filter(Boolean);
  if (missing.length > 0) {
    return { problem: `${path}: ${missing.join(', ')} missing or malformed; a CLIP image processor needs size, crop_size, image_mean and image_std` };
  }
  return {
    preprocessing: {
      doResize: booleanField(config, 'do_resize') ?? true,
      shortestEdge: shortestEdge!,
      resample: numberField(config, 'resample') ?? 3,
      doCenterCrop: booleanField(config, 'do_center_crop') ?? true,
      cropHeight: cropHeight!,
      cropWidth: cropWidth!,
      doRescale: booleanField(config, 'do_rescale') ?? true,
      rescaleFactor: numberField(config, 'rescale_factor') ?? 1 / 255,
      doNormalize: booleanField(config, 'do_normalize') ?? true,
      imageMean: imageMean!,
      imageStd: imageStd!,
      doConvertRgb: booleanField(config, 'do_convert_rgb') ?? true,
    },
  };
}

function checkPreprocessing(checker: FolderChecker): ClipPreprocessing | undefined {
  const path = checker.path('preprocessor_config.json');
  const config = checker.readJson(path, 'CLIP image preprocessing (resize, crop, mean/std) is read from it');
  if (!config) return undefined;
  const parsed = parseClipPreprocessing(config, path);
  if ('problem' in parsed) {
    checker.problem(parsed.problem);
    return undefined;
  }
  return parsed.preprocessing;
}

function checkClip(checker: FolderChecker): ClipFolderInfo | undefined {
  const config = checker.readJson(checker.path('config.json'), 'a CLIP folder (transformers.js layout) has config.json with projection_dim');
  let tokenizerOk = true;
  for (const file of TOKENIZER_FILES) {
    tokenizerOk = checker.requireFile(checker.path(file), `the CLIP tokenizer needs ${TOKENIZER_FILES.join(', ')} at the folder root`) && tokenizerOk;
  }
  for (const optional of ['special_tokens_map.json', 'tokenizer.json']) {
    if (existsSync(checker.path(optional))) checker.files.add(checker.path(optional));
  }
  const preprocessing = checkPreprocessing(checker);
  const text = checker.readModel('onnx/text_model', checker.path('onnx', 'text_model.onnx'), 'the CLIP scorer needs the text tower as onnx/text_model.onnx (transformers.js layout)');
  const vision = checker.readModel('onnx/vision_model', checker.path('onnx', 'vision_model.onnx'), 'the CLIP scorer needs the image tower as onnx/vision_model.onnx (transformers.js layout)');

  let textModel: ClipTextModelInfo | undefined;
  if (text) {
    const ids = checker.requireValue(text.info, 'input', 'input_ids', { dtypes: ['int32', 'int64'], ranks: [2], need: 'a CLIP text model needs input_ids [batch, sequence]' });
    const embeds = checker.requireValue(text.info, 'output', 'text_embeds', { dtypes: FLOAT_DTYPES, ranks: [2], need: 'a CLIP text model with projection returns text_embeds [batch, projection_dim]' });
    const extra = text.info.inputs.filter((i) => i.name !== 'input_ids' && i.name !== 'attention_mask');
    if (extra.length > 0) checker.problem(`${text.info.path}: unexpected inputs ${extra.map((i) => `'${i.name}'`).join(', ')}; a CLIP text model takes input_ids (and optionally attention_mask)`);
    if (ids && embeds) {
      textModel = {
        ...text.submodel,
        inputIdsDType: ids.dtype as InputIdsDType,
        takesAttentionMask: text.info.inputs.some((i) => i.name === 'attention_mask'),
        floatDType: embeds.dtype as FloatDType,
      };
    }
  }
  let visionModel: ClipVisionModelInfo | undefined;
  const visionConfig = (config?.vision_config ?? {}) as Json;
  if (vision) {
    const pixels = checker.requireValue(vision.info, 'input', 'pixel_values', { dtypes: FLOAT_DTYPES, ranks: [4], need: 'a CLIP vision model needs pixel_values [batch, 3, 224, 224]' });
    const embeds = checker.requireValue(vision.info, 'output', 'image_embeds', { dtypes: FLOAT_DTYPES, ranks: [2], need: 'a CLIP vision model with projection returns image_embeds [batch, projection_dim]' });
    const side = pixels?.dims?.[2];
    const imageSize = typeof side === 'number' ? side : numberField(visionConfig, 'image_size');
    if (pixels && imageSize === undefined) checker.problem(`${vision.info.path}: the image size is not declared and config.json vision_config has no image_size`);
    if (pixels && embeds && imageSize !== undefined) visionModel = { ...vision.submodel, floatDType: pixels.dtype as FloatDType, imageSize };
  }
  const projectionDim = (config && numberField(config, 'projection_dim')) ?? lastDim(textModel?.outputs.find((o) => o.name === 'text_embeds'));
  if (config && projectionDim === undefined) checker.problem(`${checker.path('config.json')}: projection_dim is missing`);
  for (const [model, output] of [[textModel, 'text_embeds'], [visionModel, 'image_embeds']] as const) {
    const width = lastDim(model?.outputs.find((o) => o.name === output));
    if (model && projectionDim !== undefined && width !== undefined && width !== projectionDim) {
      checker.problem(`${model.modelPath}: output '${output}' is ${width} wide but config.json projection_dim is ${projectionDim}`);
    }
  }
  if (preprocessing && visionModel && (preprocessing.cropHeight !== visionModel.imageSize || preprocessing.cropWidth !== visionModel.imageSize)) {
    checker.problem(`${checker.path('preprocessor_config.json')}: crop_size ${preprocessing.cropHeight}x${preprocessing.cropWidth} does not match the vision model's ${visionModel.imageSize}x${visionModel.imageSize} input`);
  }
  if (!config || !tokenizerOk || !preprocessing || !textModel || !visionModel || projectionDim === undefined || checker.problems.length > 0) return undefined;
  return {
    dir: checker.dir,
    tokenizerDir: checker.dir,
    config,
    projectionDim,
    textModel,
    visionModel,
    preprocessing,
    files: [...checker.files].sort(),
    warnings: checker.warnings,
  };
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/**
 * Checks a model folder and reports everything found: its kind (detected, or `expected` when given),
 * every problem as one line naming the file/input and what was expected, and the parsed facts when
 * the folder is valid. Never throws for folder problems.
 */
export function inspectModelFolder(dir: string, expected?: ModelFolderKind): ModelFolderReport {
  const absolute = resolve(dir);
  const checker = new FolderChecker(absolute);
  const report = (kind: ModelFolderReport['kind'], kindEvidence: string[], extra: Partial<ModelFolderReport> = {}): ModelFolderReport => ({
    dir: absolute,
    kind,
    kindEvidence,
    submodels: checker.submodels,
    problems: checker.problems,
    warnings: checker.warnings,
    ...extra,
  });
  if (!isDirectory(absolute)) {
    checker.problem(`${absolute}: model folder not found`);
    return report('unknown', []);
  }
  const guess = detectModelFolderKind(absolute);
  if (guess.kind === 'unknown') {
    checker.problem(
      `${absolute}: not a model folder (${guess.evidence.join('; ')}); expected ${expected ? describeKind(expected) : 'an SDXL base or refiner folder (optimum layout) or a CLIP folder (transformers.js layout)'}`,
    );
    return report('unknown', guess.evidence);
  }
  if (expected && guess.kind !== expected) {
    const because = guess.evidence.length > 0 ? ` (${guess.evidence.join(', ')})` : '';
    const wanted = expected === 'clip' ? 'a CLIP folder' : `a ${expected} folder`;
    checker.problem(`${absolute}: this is ${describeKind(guess.kind)}${because} but ${wanted} was expected`);
    return report(guess.kind, guess.evidence);
  }
  if (guess.kind === 'clip') {
    const clip = checkClip(checker);
    return report('clip', guess.evidence, clip ? { clip } : {});
  }
  const sdxl = checkSdxl(checker, guess.kind);
  return report(guess.kind, guess.evidence, sdxl ? { sdxl } : {});
}

function failure(report: ModelFolderReport): UserError {
  const more = report.problems.length > 1 ? ` (and ${report.problems.length - 1} more; run 'refinery models inspect ${report.dir}')` : '';
  return new UserError(`${report.problems[0] ?? `${report.dir}: invalid model folder`}${more}`);
}

/** Validates an SDXL base or refiner folder; throws a one-line `UserError` naming the first problem. */
export async function validateSdxlFolder(dir: string, kind: SdxlFolderKind): Promise<SdxlFolderInfo> {
  const report = inspectModelFolder(dir, kind);
  if (!report.sdxl) throw failure(report);
  return report.sdxl;
}

/** Validates a CLIP scorer folder (transformers.js layout); throws a one-line `UserError` on failure. */
export async function validateClipFolder(dir: string): Promise<ClipFolderInfo> {
  const report = inspectModelFolder(dir, 'clip');
  if (!report.clip) throw failure(report);
  return report.clip;
}

// ---------------------------------------------------------------------------------------------
// Hashing

export interface ModelFolderHash {
  /** sha256 over the sorted (folder-relative path, file sha256) pairs: location-independent. */
  digest: string;
  files: Array<{ path: string; size: number; sha256: string }>;
}

interface HashCacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

function readHashCache(cacheFile: string | undefined): Record<string, HashCacheEntry> {
  if (!cacheFile || !existsSync(cacheFile)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(cacheFile, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, HashCacheEntry>) : {};
  } catch {
    return {}; // a damaged cache only costs re-hashing
  }
}

/**
 * sha256 of every file of a validated folder (`info.files`: graphs, external data, configs, tokenizer
 * files) and one digest over them. With `cacheFile`, a file whose (absolute path, size, mtime) is
 * unchanged is not read again, so multi-GB weights are hashed once.
 */
export async function hashModelFolder(info: { dir: string; files: readonly string[] }, cacheFile?: string): Promise<ModelFolderHash> {
  const cache = readHashCache(cacheFile);
  let changed = false;
  const files: ModelFolderHash['files'] = [];
  for (const path of [...info.files].sort()) {
    const stat = statSync(path);
    const cached = cache[path];
    let sha256: string;
    if (cached && cached.size === stat.size && cached.mtimeMs === stat.mtimeMs) {
      sha256 = cached.sha256;
    } else {
      sha256 = await sha256File(path);
      cache[path] = { size: stat.size, mtimeMs: stat.mtimeMs, sha256 };
      changed = true;
    }
    files.push({ path: relative(info.dir, path).split('\\').join('/'), size: stat.size, sha256 });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const digest = createHash('sha256');
  for (const file of files) digest.update(`${file.path}\0${file.sha256}\n`);
  if (cacheFile && changed) {
    // Merge with entries other processes may have written meanwhile; last writer wins per file.
    writeFileAtomic(cacheFile, `${JSON.stringify({ ...readHashCache(cacheFile), ...cache }, null, 1)}\n`);
  }
  return { digest: digest.digest('hex'), files };
}
