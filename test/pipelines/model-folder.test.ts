import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../harness/cli.js';
import { UserError } from '../../pipelines/errors.js';
import {
  hashModelFolder,
  inspectModelFolder,
  validateClipFolder,
  validateSdxlFolder,
  type SdxlFolderInfo,
} from '../../pipelines/model-folder.js';
import { writeModel } from '../../pipelines/onnx/writer.js';
import { buildTextTower } from '../../pipelines/tiny/text-encoder.js';
import { writeTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';

const { onnx } = onnxProto;
const scratch = mkdtempSync(join(tmpdir(), 'refinery-model-folder-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sets: Record<'b32' | 'a32' | 'b16' | 'a16' | 'external', TinyModelFolders> = {} as never;
beforeAll(async () => {
  sets.b32 = await writeTinyModels(join(scratch, 'b32'));
  sets.a32 = await writeTinyModels(join(scratch, 'a32'), { exporter: 'A' });
  sets.b16 = await writeTinyModels(join(scratch, 'b16'), { fp16: true });
  sets.a16 = await writeTinyModels(join(scratch, 'a16'), { exporter: 'A', fp16: true });
  sets.external = await writeTinyModels(join(scratch, 'external'), { externalData: true });
});

/** A private copy of a folder to break. */
function copyOf(folder: string, name: string): string {
  const target = join(scratch, 'broken', name);
  cpSync(folder, target, { recursive: true });
  return target;
}

async function rejection(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

/** Renames a graph input everywhere it is used. */
function renameInput(modelPath: string, from: string, to: string): void {
  const model = onnx.ModelProto.decode(readFileSync(modelPath));
  for (const input of model.graph!.input!) if (input.name === from) input.name = to;
  for (const node of model.graph!.node!) node.input = node.input!.map((name) => (name === from ? to : name));
  writeFileSync(modelPath, onnx.ModelProto.encode(model).finish());
}

describe('validateSdxlFolder on the tiny family', () => {
  const expectations = [
    { set: 'b32', generation: 'B', float: 'float32', te1: 'int64', timestep: { kind: 'float-scalar', dtype: 'float32', rank: 0 }, vae: 'latent_parameters' },
    { set: 'a32', generation: 'A', float: 'float32', te1: 'int32', timestep: { kind: 'int64-rank1', dtype: 'int64', rank: 1 }, vae: 'latent_sample' },
    { set: 'b16', generation: 'B', float: 'float16', te1: 'int64', timestep: { kind: 'float-scalar', dtype: 'float16', rank: 0 }, vae: 'latent_parameters' },
    { set: 'a16', generation: 'A', float: 'float16', te1: 'int32', timestep: { kind: 'int64-rank1', dtype: 'int64', rank: 1 }, vae: 'latent_sample' },
  ] as const;

  it.each(expectations)('$set base: generation $generation, $float', async (e) => {
    const info: SdxlFolderInfo = await validateSdxlFolder(sets[e.set].base, 'base');
    expect(info).toMatchObject({
      kind: 'base',
      dir: sets[e.set].base,
      generation: e.generation,
      floatDType: e.float,
      inputIdsDTypes: { textEncoder: e.te1, textEncoder2: 'int64' },
      timestep: e.timestep,
      vaeEncoderOutput: e.vae,
      contextWidth: 32 + 48,
      pooledWidth: 48,
      timeIdCount: 6,
      penultimateOutputs: { textEncoder: 'hidden_states.11', textEncoder2: 'hidden_states.31' },
      scalingFactor: 0.13025,
      forceUpcast: true,
      forceZerosForEmptyPrompt: true,
      requiresAestheticsScore: false,
      tokenizerDir: join(sets[e.set].base, 'tokenizer'),
      tokenizer2Dir: join(sets[e.set].base, 'tokenizer_2'),
    });
    expect(info.schedulerConfig._class_name).toBe('EulerDiscreteScheduler');
    expect(info.textEncoder!.layerCount).toBe(12);
    expect(info.textEncoder2.layerCount).toBe(32);
    expect(info.textEncoder2.pooledOutput).toBe('text_embeds');
    expect(info.unet.modelPath).toBe(join(sets[e.set].base, 'unet', 'model.onnx'));
    expect(info.vaeDecoder.floatDType).toBe('float32'); // the VAE stays fp32 in fp16 exports
    expect(info.warnings).toEqual([]);
  });

  it.each(expectations)('$set refiner: no text_encoder, 5 time ids, te2-only context', async (e) => {
    const info = await validateSdxlFolder(sets[e.set].refiner, 'refiner');
    expect(info).toMatchObject({
      kind: 'refiner',
      generation: e.generation,
      floatDType: e.float,
      contextWidth: 48,
      timeIdCount: 5,
      penultimateOutputs: { textEncoder2: 'hidden_states.31' },
      forceZerosForEmptyPrompt: false,
      requiresAestheticsScore: true,
    });
    expect(info.textEncoder).toBeUndefined();
    expect(info.tokenizerDir).toBeUndefined();
  });

  it('lists every file the outputs depend on, external data included', async () => {
    const info = await validateSdxlFolder(sets.external.base, 'base');
    const relativeFiles = info.files.map((file) => file.slice(sets.external.base.length + 1));
    expect(relativeFiles).toContain('unet/model.onnx_data');
    expect(relativeFiles).toContain('text_encoder_2/model.onnx_data');
    expect(relativeFiles).toContain('tokenizer_2/vocab.json');
    expect(relativeFiles).toContain('scheduler/scheduler_config.json');
    expect(relativeFiles).toContain('vae_decoder/config.json');
    expect(info.unet.externalDataPaths).toEqual([join(sets.external.base, 'unet', 'model.onnx_data')]);
  });
});

describe('model folder errors name the file or input and what was expected', () => {
  it('a deleted base/unet/model.onnx', async () => {
    const dir = copyOf(sets.b32.base, 'no-unet');
    rmSync(join(dir, 'unet', 'model.onnx'));
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(`${join(dir, 'unet', 'model.onnx')} is missing`);
    expect(error.message).not.toContain('\n');
  });

  it("a UNet whose 'time_ids' input is renamed", async () => {
    const dir = copyOf(sets.b32.base, 'renamed-time-ids');
    renameInput(join(dir, 'unet', 'model.onnx'), 'time_ids', 'time_idz');
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(
      `${join(dir, 'unet', 'model.onnx')}: input 'time_ids' is missing (inputs: sample, timestep, encoder_hidden_states, text_embeds, time_idz); an SDXL UNet needs time_ids [batch, 6]`,
    );
  });

  it('a refiner given where a base is expected, and the reverse', async () => {
    const asBase = await rejection(validateSdxlFolder(sets.b32.refiner, 'base'));
    expect(asBase.message).toMatch(/refiner: this is an SDXL refiner folder \(no text_encoder\/, time_ids has 5 values.*\) but a base folder was expected/);
    const asRefiner = await rejection(validateSdxlFolder(sets.b32.base, 'refiner'));
    expect(asRefiner.message).toMatch(/base: this is an SDXL base folder \(has text_encoder\/, time_ids has 6 values\) but a refiner folder was expected/);
    const clipAsBase = await rejection(validateSdxlFolder(sets.b32.clip, 'base'));
    expect(clipAsBase.message).toContain('this is a CLIP folder');
  });

  it('a missing external-data sidecar', async () => {
    const dir = copyOf(sets.external.base, 'no-sidecar');
    rmSync(join(dir, 'unet', 'model.onnx_data'));
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(`${join(dir, 'unet', 'model.onnx')}: its weights file 'model.onnx_data' is missing next to it`);
  });

  it('a missing VAE config (scaling_factor)', async () => {
    const dir = copyOf(sets.b32.refiner, 'no-vae-config');
    rmSync(join(dir, 'vae_decoder', 'config.json'));
    const error = await rejection(validateSdxlFolder(dir, 'refiner'));
    expect(error.message).toContain(`${join(dir, 'vae_decoder', 'config.json')} is missing; SDXL's VAE scaling_factor (0.13025) is read from it`);
  });

  it('a missing tokenizer file', async () => {
    const dir = copyOf(sets.b32.base, 'no-merges');
    rmSync(join(dir, 'tokenizer_2', 'merges.txt'));
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(`${join(dir, 'tokenizer_2', 'merges.txt')} is missing`);
  });

  it('a text encoder whose width does not add up to the UNet context', async () => {
    const dir = copyOf(sets.b32.base, 'narrow-te1');
    const narrow = buildTextTower({ scope: 'text_encoder', seed: 0, vocabSize: 1239, width: 16, layers: 12, inputIdsDType: 'int64', outputs: 'pooled', precision: 'float32' });
    writeModel(join(dir, 'text_encoder', 'model.onnx'), narrow.graph);
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(`${join(dir, 'unet', 'model.onnx')}: input 'encoder_hidden_states' is 80 wide but text_encoder (16) + text_encoder_2 (48) give 64`);
  });

  it('a UNet config whose time-embedding sizes disagree with the time id count', async () => {
    const dir = copyOf(sets.b32.base, 'bad-unet-config');
    const path = join(dir, 'unet', 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    config.projection_class_embeddings_input_dim = 2816;
    writeFileSync(path, JSON.stringify(config));
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain(`${path}: addition_time_embed_dim 16 × 6 time ids + text_embeds width 48 = 144, but projection_class_embeddings_input_dim is 2816`);
  });

  it('a model_index.json that contradicts the refiner UNet', async () => {
    const dir = copyOf(sets.b32.refiner, 'no-aesthetics');
    const path = join(dir, 'model_index.json');
    const index = JSON.parse(readFileSync(path, 'utf8'));
    index.requires_aesthetics_score = false;
    writeFileSync(path, JSON.stringify(index));
    const error = await rejection(validateSdxlFolder(dir, 'refiner'));
    expect(error.message).toContain(`${path}: requires_aesthetics_score is false but an SDXL refiner takes 5 time ids`);
  });

  it('a folder that does not exist or holds no model', async () => {
    expect((await rejection(validateSdxlFolder(join(scratch, 'nowhere'), 'base'))).message).toContain('model folder not found');
    expect((await rejection(validateSdxlFolder(scratch, 'base'))).message).toContain('not a model folder');
  });

  it('reports every problem in inspect, and the count in the one-line error', async () => {
    const dir = copyOf(sets.b32.base, 'two-problems');
    rmSync(join(dir, 'vae_encoder', 'model.onnx'));
    rmSync(join(dir, 'tokenizer', 'vocab.json'));
    const report = inspectModelFolder(dir, 'base');
    expect(report.problems).toHaveLength(2);
    const error = await rejection(validateSdxlFolder(dir, 'base'));
    expect(error.message).toContain('(and 1 more;');
  });
});

describe('validateClipFolder', () => {
  it('reads the tiny CLIP folder: projection, I/O, CLIP preprocessing', async () => {
    const info = await validateClipFolder(sets.b32.clip);
    expect(info.projectionDim).toBe(32);
    expect(info.textModel).toMatchObject({ inputIdsDType: 'int64', takesAttentionMask: false, floatDType: 'float32' });
    expect(info.visionModel.imageSize).toBe(224);
    expect(info.preprocessing).toEqual({
      doResize: true,
      shortestEdge: 224,
      resample: 3,
      doCenterCrop: true,
      cropHeight: 224,
      cropWidth: 224,
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: true,
      imageMean: [0.48145466, 0.4578275, 0.40821073],
      imageStd: [0.26862954, 0.26130258, 0.27577711],
      doConvertRgb: true,
    });
  });

  it('accepts the legacy preprocessor_config.json form (size: 224, crop_size: 224)', async () => {
    const dir = copyOf(sets.b32.clip, 'legacy-preprocessor');
    const legacy = {
      crop_size: 224,
      do_center_crop: true,
      do_normalize: true,
      do_resize: true,
      feature_extractor_type: 'CLIPFeatureExtractor',
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
      resample: 3,
      size: 224,
    };
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(legacy));
    const info = await validateClipFolder(dir);
    expect(info.preprocessing).toMatchObject({ shortestEdge: 224, cropHeight: 224, cropWidth: 224, rescaleFactor: 1 / 255 });
  });

  it('names a missing vision model', async () => {
    const dir = copyOf(sets.b32.clip, 'no-vision');
    rmSync(join(dir, 'onnx', 'vision_model.onnx'));
    const error = await rejection(validateClipFolder(dir));
    expect(error.message).toContain(`${join(dir, 'onnx', 'vision_model.onnx')} is missing; the CLIP scorer needs the image tower`);
  });

  it('rejects an SDXL folder given as CLIP', async () => {
    expect((await rejection(validateClipFolder(sets.b32.base))).message).toContain('this is an SDXL base folder');
  });
});

describe('hashModelFolder', () => {
  it('is location-independent, seed-dependent, and covers every file', async () => {
    const a = await hashModelFolder(await validateSdxlFolder(sets.b32.base, 'base'));
    const copy = copyOf(sets.b32.base, 'hash-copy');
    const b = await hashModelFolder(await validateSdxlFolder(copy, 'base'));
    expect(b.digest).toBe(a.digest);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    const unetFile = a.files.find((f) => f.path === 'unet/model.onnx')!;
    const { createHash } = await import('node:crypto');
    expect(unetFile.sha256).toBe(createHash('sha256').update(readFileSync(join(sets.b32.base, 'unet', 'model.onnx'))).digest('hex'));
    const other = await writeTinyModels(join(scratch, 'hash-seed1'), { seed: 1 });
    const c = await hashModelFolder(await validateSdxlFolder(other.base, 'base'));
    expect(c.digest).not.toBe(a.digest);
  });

  it('reuses cached digests while (path, size, mtime) are unchanged', async () => {
    const dir = copyOf(sets.b32.refiner, 'hash-cache');
    const info = await validateSdxlFolder(dir, 'refiner');
    const cacheFile = join(scratch, 'hash-cache.json');
    const first = await hashModelFolder(info, cacheFile);
    const unetPath = join(dir, 'unet', 'model.onnx');
    // Plant a fake digest: it is returned as long as the file looks unchanged (proof the file was not re-read)…
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    cache[unetPath].sha256 = 'f'.repeat(64);
    writeFileSync(cacheFile, JSON.stringify(cache));
    const cached = await hashModelFolder(info, cacheFile);
    expect(cached.files.find((f) => f.path === 'unet/model.onnx')!.sha256).toBe('f'.repeat(64));
    // …and recomputed once the mtime changes.
    const later = new Date(Date.now() + 5000);
    utimesSync(unetPath, later, later);
    const fresh = await hashModelFolder(info, cacheFile);
    expect(fresh.digest).toBe(first.digest);
  });
});

describe('refinery models CLI', () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
    return { out, err };
  }

  it('models tiny twice gives identical bytes; inspect reports base, refiner and clip as valid', async () => {
    const io = capture();
    const x = join(scratch, 'cli-x');
    const y = join(scratch, 'cli-y');
    expect(await main(['models', 'tiny', '--out', x, '--seed', '7', '--exporter', 'a'])).toBe(0);
    expect(await main(['models', 'tiny', '--out', y, '--seed', '7', '--exporter', 'a'])).toBe(0);
    for (const file of ['base/unet/model.onnx', 'refiner/text_encoder_2/model.onnx', 'clip/onnx/vision_model.onnx', 'base/tokenizer/vocab.json']) {
      expect(readFileSync(join(x, file)).equals(readFileSync(join(y, file))), file).toBe(true);
    }
    for (const [folder, label] of [['base', 'SDXL base'], ['refiner', 'SDXL refiner'], ['clip', 'CLIP']]) {
      io.out.length = 0;
      expect(await main(['models', 'inspect', join(x, folder)])).toBe(0);
      expect(io.out.at(-1)).toBe(`valid ${label} folder`);
    }
    expect(io.out.join('\n')).toContain('in  input_ids int64 [batch_size, sequence_length]');
    expect(io.err).toEqual([]);
  });

  it('inspect prints I/O and fails with the problem after base/unet/model.onnx is deleted', async () => {
    const io = capture();
    const dir = copyOf(sets.b32.base, 'cli-no-unet');
    expect(await main(['models', 'inspect', dir, '--kind', 'base'])).toBe(0);
    expect(io.out.join('\n')).toMatch(/in {2}time_ids float32 \[batch_size, 6\]/);
    expect(io.out.join('\n')).toMatch(/out hidden_states\.0 … hidden_states\.32 \(33 outputs\) float32 \[batch_size, sequence_length, 48\]/);
    process.exitCode = undefined;
    rmSync(join(dir, 'unet', 'model.onnx'));
    expect(await main(['models', 'inspect', dir])).toBe(1);
    expect(io.err).toEqual([`error: ${join(dir, 'unet', 'model.onnx')} is missing; SDXL needs the UNet graph`]);
  });

  it('inspect --json returns the report', async () => {
    const io = capture();
    expect(await main(['models', 'inspect', sets.b32.refiner, '--json'])).toBe(0);
    const report = JSON.parse(io.out.join('\n'));
    expect(report).toMatchObject({ valid: true, kind: 'refiner', problems: [] });
    expect(report.sdxl.timeIdCount).toBe(5);
  });
});
