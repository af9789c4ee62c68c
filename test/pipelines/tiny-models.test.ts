import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelFolder } from '../../pipelines/model-folder.js';
import { float16ToFloat32, float32ToFloat16Bits } from '../../pipelines/onnx/tensor.js';
import { ensureTinyModels, writeTinyModels, type TinyModelFolders, type TinyModelOptions } from '../../pipelines/tiny/tiny-models.js';
import { TINY_VOCABULARY_WORDS, byteUnicodeOrder } from '../../pipelines/tiny/vocabulary.js';
import { ClipTokenizer } from '../../pipelines/tokenizer/clip-tokenizer.js';

const scratch = mkdtempSync(join(tmpdir(), 'refinery-tiny-models-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sets: Record<'b32' | 'a32' | 'b16' | 'a16', TinyModelFolders> = {} as never;
beforeAll(async () => {
  sets.b32 = await writeTinyModels(join(scratch, 'b32'), { seed: 0 });
  sets.a32 = await writeTinyModels(join(scratch, 'a32'), { seed: 0, exporter: 'A' });
  sets.b16 = await writeTinyModels(join(scratch, 'b16'), { seed: 0, fp16: true });
  sets.a16 = await writeTinyModels(join(scratch, 'a16'), { seed: 0, exporter: 'A', fp16: true });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort();
}

// ---------------------------------------------------------------------------------------------
// Tensors

type Values = Float32Array;
type FloatType = 'float32' | 'float16';

function floatTensor(type: FloatType, dims: number[], values: ArrayLike<number>): ort.Tensor {
  return type === 'float16'
    ? new ort.Tensor('float16', float32ToFloat16Bits(values), dims)
    : new ort.Tensor('float32', Float32Array.from(values), dims);
}

function valuesOf(tensor: ort.Tensor): Values {
  if (tensor.type === 'float16') return Float32Array.from(tensor.data as Uint16Array, float16ToFloat32);
  return Float32Array.from(tensor.data as Float32Array);
}

function maxAbsDiff(a: Values, b: Values): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Deterministic pseudo-random values in [-1, 1) (a small LCG; test inputs only). */
function testValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();
function session(path: string): Promise<ort.InferenceSession> {
  if (!sessions.has(path)) sessions.set(path, ort.InferenceSession.create(path));
  return sessions.get(path)!;
}

async function run(path: string, feeds: Record<string, ort.Tensor>, fetches?: string[]): Promise<Record<string, Values>> {
  const model = await session(path);
  const result = fetches ? await model.run(feeds, fetches) : await model.run(feeds);
  return Object.fromEntries(Object.entries(result).map(([name, tensor]) => [name, valuesOf(tensor)]));
}

/** Runs the model on `feeds` and on `perturbed(feeds)`; returns both outputs after checking repeatability. */
async function compare(path: string, feeds: Record<string, ort.Tensor>, perturbed: Record<string, ort.Tensor>, output: string) {
  const before = await run(path, feeds, [output]);
  const again = await run(path, feeds, [output]);
  expect(maxAbsDiff(before[output], again[output])).toBe(0);
  const after = await run(path, perturbed, [output]);
  return { before: before[output], after: after[output] };
}

// ---------------------------------------------------------------------------------------------
// Token ids

interface Tokens {
  bos: number;
  eos: number;
}
function tokensOf(folder: string): Tokens {
  const vocab = JSON.parse(readFileSync(join(folder, 'vocab.json'), 'utf8')) as Record<string, number>;
  return { bos: vocab['<|startoftext|>'], eos: vocab['<|endoftext|>'] };
}

/** Two rows: bos, content, eos, then padding; `content` ids are small byte tokens. */
function idRows(tokens: Tokens, content: number[][], pad: number, length = 77): number[][] {
  return content.map((row) => {
    const ids = [tokens.bos, ...row, tokens.eos];
    while (ids.length < length) ids.push(pad);
    return ids;
  });
}

function idsTensor(dtype: 'int32' | 'int64', rows: number[][]): ort.Tensor {
  const flat = rows.flat();
  const dims = [rows.length, rows[0].length];
  return dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(flat.map(BigInt)), dims) : new ort.Tensor('int32', Int32Array.from(flat), dims);
}

function rowSlice(values: Values, rows: number, row: number): Values {
  const size = values.length / rows;
  return values.subarray(row * size, (row + 1) * size);
}

// ---------------------------------------------------------------------------------------------

describe('tiny model generation', () => {
  it('is byte-identical for the same options and differs for another seed', async () => {
    const again = await writeTinyModels(join(scratch, 'b32-again'), { seed: 0 });
    const other = await writeTinyModels(join(scratch, 'b32-seed1'), { seed: 1 });
    const files = listFiles(sets.b32.root);
    expect(listFiles(again.root)).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(again.root, file)).equals(readFileSync(join(sets.b32.root, file))), file).toBe(true);
    }
    const models = files.filter((file) => file.endsWith('.onnx'));
    expect(models.length).toBe(11);
    for (const file of models) {
      expect(readFileSync(join(other.root, file)).equals(readFileSync(join(sets.b32.root, file))), file).toBe(false);
    }
  });

  it('writes the optimum layout: base, refiner without text_encoder/tokenizer, and the transformers.js CLIP layout', () => {
    const base = listFiles(sets.b32.base);
    expect(base).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/config.json',
      'text_encoder/model.onnx',
      'text_encoder_2/config.json',
      'text_encoder_2/model.onnx',
      'tokenizer/merges.txt',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/vocab.json',
      'tokenizer_2/merges.txt',
      'tokenizer_2/special_tokens_map.json',
      'tokenizer_2/tokenizer_config.json',
      'tokenizer_2/vocab.json',
      'unet/config.json',
      'unet/model.onnx',
      'vae_decoder/config.json',
      'vae_decoder/model.onnx',
      'vae_encoder/config.json',
      'vae_encoder/model.onnx',
    ]);
    expect(listFiles(sets.b32.refiner)).toEqual(base.filter((file) => !/^(text_encoder|tokenizer)\//.test(file)));
    expect(listFiles(sets.b32.clip)).toEqual([
      'config.json',
      'merges.txt',
      'onnx/text_model.onnx',
      'onnx/vision_model.onnx',
      'preprocessor_config.json',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.json',
    ]);
  });

  it('shares text_encoder_2 and VAE weights between base and refiner (as SDXL does) but not the UNet', () => {
    const same = (file: string) => readFileSync(join(sets.b32.base, file)).equals(readFileSync(join(sets.b32.refiner, file)));
    expect(same('text_encoder_2/model.onnx')).toBe(true);
    expect(same('vae_decoder/model.onnx')).toBe(true);
    expect(same('vae_encoder/model.onnx')).toBe(true);
    expect(same('unet/model.onnx')).toBe(false);
  });

  it('writes the contract configs (§1, §4, §5.1, §9)', () => {
    const json = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(json(join(sets.b32.base, 'model_index.json'))).toMatchObject({ _class_name: 'StableDiffusionXLPipeline', force_zeros_for_empty_prompt: true });
    expect(json(join(sets.b32.refiner, 'model_index.json'))).toMatchObject({
      _class_name: 'StableDiffusionXLImg2ImgPipeline',
      requires_aesthetics_score: true,
      force_zeros_for_empty_prompt: false,
    });
    expect(json(join(sets.b32.base, 'scheduler', 'scheduler_config.json'))).toMatchObject({
      _class_name: 'EulerDiscreteScheduler',
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      prediction_type: 'epsilon',
      timestep_spacing: 'leading',
      steps_offset: 1,
      interpolation_type: 'linear',
      use_karras_sigmas: false,
    });
    for (const part of ['vae_decoder', 'vae_encoder']) {
      expect(json(join(sets.b32.base, part, 'config.json'))).toMatchObject({ scaling_factor: 0.13025, force_upcast: true });
    }
    // addition_time_embed_dim · n + pooled width = projection_class_embeddings_input_dim (§2.2, §4).
    for (const [folder, count] of [[sets.b32.base, 6], [sets.b32.refiner, 5]] as const) {
      const unet = json(join(folder, 'unet', 'config.json'));
      expect((unet.addition_time_embed_dim as number) * count + 48).toBe(unet.projection_class_embeddings_input_dim);
    }
    expect(json(join(sets.b32.base, 'text_encoder', 'config.json'))).toMatchObject({ num_hidden_layers: 12, hidden_size: 32 });
    expect(json(join(sets.b32.base, 'text_encoder_2', 'config.json'))).toMatchObject({ num_hidden_layers: 32, hidden_size: 48, projection_dim: 48 });
    expect(json(join(sets.b32.clip, 'preprocessor_config.json'))).toMatchObject({
      size: { shortest_edge: 224 },
      crop_size: { height: 224, width: 224 },
      resample: 3,
      rescale_factor: 1 / 255,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
    });
  });
});

describe('tiny tokenizer files', () => {
  it('have the CLIP vocabulary structure: bytes, bytes</w>, merges, then BOS and EOS as the last ids', () => {
    const vocab = JSON.parse(readFileSync(join(sets.b32.base, 'tokenizer', 'vocab.json'), 'utf8')) as Record<string, number>;
    const ids = Object.values(vocab).sort((a, b) => a - b);
    expect(ids).toEqual(ids.map((_, i) => i)); // contiguous
    expect(vocab['!']).toBe(0);
    expect(vocab['"']).toBe(1);
    const order = byteUnicodeOrder();
    expect(order.length).toBe(256);
    order.forEach(({ symbol }, i) => {
      expect(vocab[symbol]).toBe(i);
      expect(vocab[`${symbol}</w>`]).toBe(256 + i);
    });
    expect(vocab['Ā']).toBe(188); // byte 0x00 maps to U+0100 after the 188 printable bytes
    const max = ids.length - 1;
    expect(vocab['<|endoftext|>']).toBe(max);
    expect(vocab['<|startoftext|>']).toBe(max - 1);
    const merges = readFileSync(join(sets.b32.base, 'tokenizer', 'merges.txt'), 'utf8').split('\n');
    expect(merges[0]).toBe('#version: 0.2');
    expect(merges.length - 2).toBe(max - 1 - 512); // one token per merge line
  });

  it('carry the real pad roles: tokenizer pads with <|endoftext|>, tokenizer_2 with "!"', () => {
    const config = (folder: string) => JSON.parse(readFileSync(join(sets.b32.base, folder, 'tokenizer_config.json'), 'utf8'));
    expect(config('tokenizer')).toMatchObject({ pad_token: '<|endoftext|>', model_max_length: 77 });
    expect(config('tokenizer_2')).toMatchObject({ pad_token: '!', model_max_length: 77 });
    const t1 = ClipTokenizer.fromFolder(join(sets.b32.base, 'tokenizer'));
    const t2 = ClipTokenizer.fromFolder(join(sets.b32.base, 'tokenizer_2'));
    expect(t1.padId).toBe(t1.eosId);
    expect(t2.padId).toBe(0);
    expect(t1.encode('a cat').ids.slice(-1)[0]).toBe(t1.eosId);
    expect(t2.encode('a cat').ids.slice(-1)[0]).toBe(0);
  });

  it('make every listed prompt word one token (checked with the project CLIP tokenizer)', () => {
    const tokenizer = ClipTokenizer.fromFolder(join(sets.b32.base, 'tokenizer'));
    for (const word of TINY_VOCABULARY_WORDS) {
      const encoding = tokenizer.encode(word);
      expect(encoding.tokens, word).toEqual([`${word}</w>`]);
    }
    const photo = tokenizer.encode('A photo of a red cube on the left of a blue sphere');
    expect(photo.tokens).toEqual(['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'red</w>', 'cube</w>', 'on</w>', 'the</w>', 'left</w>', 'of</w>', 'a</w>', 'blue</w>', 'sphere</w>']);
    expect(tokenizer.encode('zebras!').tokens.join('')).toBe('zebras</w>!</w>'); // unknown words still encode via sub-words
  });
});

describe('tiny models run on onnxruntime (CPU, batch 2)', () => {
  const variants = ['b32', 'a32', 'b16', 'a16'] as const;
  it.each(variants)('every %s model loads and runs with finite outputs', async (variant) => {
    const folders = sets[variant];
    const genA = variant.startsWith('a');
    const float: FloatType = variant.endsWith('16') ? 'float16' : 'float32';
    const tokens = tokensOf(join(folders.base, 'tokenizer'));
    const rows = idRows(tokens, [[320, 1109], [5, 6, 7]], tokens.eos);
    const check = (outputs: Record<string, Values>) => {
      for (const [name, values] of Object.entries(outputs)) expect(values.every(Number.isFinite), name).toBe(true);
    };
    check(await run(join(folders.base, 'text_encoder', 'model.onnx'), { input_ids: idsTensor(genA ? 'int32' : 'int64', rows) }));
    for (const stage of ['base', 'refiner'] as const) {
      const dir = folders[stage];
      check(await run(join(dir, 'text_encoder_2', 'model.onnx'), { input_ids: idsTensor('int64', rows) }));
      const width = stage === 'base' ? 80 : 48;
      const ids = stage === 'base' ? 6 : 5;
      const out = await run(join(dir, 'unet', 'model.onnx'), unetFeeds({ float, genA, width, timeIds: ids, side: 8 }));
      expect(out.out_sample.length).toBe(2 * 4 * 8 * 8);
      check(out);
      const image = await run(join(dir, 'vae_decoder', 'model.onnx'), { latent_sample: floatTensor('float32', [2, 4, 8, 8], testValues(512, 3)) });
      expect(image.sample.length).toBe(2 * 3 * 64 * 64);
      check(image);
      const latents = await run(join(dir, 'vae_encoder', 'model.onnx'), { sample: floatTensor('float32', [2, 3, 64, 64], testValues(2 * 3 * 64 * 64, 4)) });
      expect(Object.keys(latents)).toEqual([genA ? 'latent_sample' : 'latent_parameters']);
      expect(Object.values(latents)[0].length).toBe(2 * (genA ? 4 : 8) * 8 * 8);
      check(latents);
    }
    check(await run(join(folders.clip, 'onnx', 'text_model.onnx'), { input_ids: idsTensor('int64', rows) }));
    check(await run(join(folders.clip, 'onnx', 'vision_model.onnx'), { pixel_values: floatTensor('float32', [2, 3, 224, 224], testValues(2 * 3 * 224 * 224, 5)) }));
  });

  it('declares the exporter generations\' dtypes and ranks (contract §2)', async () => {
    const meta = async (path: string) => (await session(path)).inputMetadata as unknown as Array<{ name: string; type?: string; shape?: Array<number | string> }>;
    const input = async (path: string, name: string) => (await meta(path)).find((m) => m.name === name)!;
    expect((await input(join(sets.a32.base, 'text_encoder', 'model.onnx'), 'input_ids')).type).toBe('int32');
    expect((await input(join(sets.b32.base, 'text_encoder', 'model.onnx'), 'input_ids')).type).toBe('int64');
    expect((await input(join(sets.a32.base, 'text_encoder_2', 'model.onnx'), 'input_ids')).type).toBe('int64');
    expect(await input(join(sets.a32.base, 'unet', 'model.onnx'), 'timestep')).toMatchObject({ type: 'int64', shape: ['steps'] });
    expect(await input(join(sets.b32.base, 'unet', 'model.onnx'), 'timestep')).toMatchObject({ type: 'float32', shape: [] });
    expect(await input(join(sets.b16.base, 'unet', 'model.onnx'), 'timestep')).toMatchObject({ type: 'float16', shape: [] });
    for (const name of ['sample', 'encoder_hidden_states', 'text_embeds', 'time_ids']) {
      expect((await input(join(sets.b16.refiner, 'unet', 'model.onnx'), name)).type, name).toBe('float16');
    }
    expect((await input(join(sets.b16.base, 'vae_decoder', 'model.onnx'), 'latent_sample')).type).toBe('float32');
    expect(await input(join(sets.b32.base, 'unet', 'model.onnx'), 'time_ids')).toMatchObject({ shape: ['batch_size', 6] });
    expect(await input(join(sets.b32.refiner, 'unet', 'model.onnx'), 'time_ids')).toMatchObject({ shape: ['batch_size', 5] });
    expect(await input(join(sets.b32.base, 'unet', 'model.onnx'), 'encoder_hidden_states')).toMatchObject({ shape: ['batch_size', 'sequence_length', 80] });
    expect(await input(join(sets.b32.refiner, 'unet', 'model.onnx'), 'encoder_hidden_states')).toMatchObject({ shape: ['batch_size', 'sequence_length', 48] });
    const te1 = await session(join(sets.b32.base, 'text_encoder', 'model.onnx'));
    expect(te1.outputNames).toEqual(['last_hidden_state', 'pooler_output', ...Array.from({ length: 13 }, (_, i) => `hidden_states.${i}`)]);
    const te2 = await session(join(sets.b32.base, 'text_encoder_2', 'model.onnx'));
    expect(te2.outputNames).toEqual(['text_embeds', 'last_hidden_state', ...Array.from({ length: 33 }, (_, i) => `hidden_states.${i}`)]);
  });
});

interface UnetFeedOptions {
  float: FloatType;
  genA: boolean;
  width: number;
  timeIds: number;
  side: number;
}

function unetFeeds(options: UnetFeedOptions, overrides: { sample?: Float32Array; timestep?: number; context?: Float32Array; pooled?: Float32Array; timeIds?: number[] } = {}): Record<string, ort.Tensor> {
  const { float, side, width } = options;
  const baseIds = options.timeIds === 6 ? [1024, 1024, 0, 0, 1024, 1024] : [1024, 1024, 0, 0, 6];
  const timeIds = overrides.timeIds ?? [...baseIds, ...baseIds];
  const timestep = overrides.timestep ?? 500;
  return {
    sample: floatTensor(float, [2, 4, side, side], overrides.sample ?? testValues(2 * 4 * side * side, 11)),
    timestep: options.genA ? new ort.Tensor('int64', BigInt64Array.from([BigInt(timestep)]), [1]) : floatTensor(float, [], [timestep]),
    encoder_hidden_states: floatTensor(float, [2, 77, width], overrides.context ?? testValues(2 * 77 * width, 12)),
    text_embeds: floatTensor(float, [2, 48], overrides.pooled ?? testValues(96, 13)),
    time_ids: floatTensor(float, [2, options.timeIds], timeIds),
  };
}

describe('tiny UNet sensitivity: every input changes out_sample', () => {
  const cases = [
    { variant: 'b32', stage: 'base' },
    { variant: 'b32', stage: 'refiner' },
    { variant: 'a32', stage: 'base' },
    { variant: 'b16', stage: 'base' },
    { variant: 'a16', stage: 'refiner' },
  ] as const;
  it.each(cases)('$variant $stage', async ({ variant, stage }) => {
    const folder = sets[variant][stage];
    const path = join(folder, 'unet', 'model.onnx');
    const options: UnetFeedOptions = {
      float: variant.endsWith('16') ? 'float16' : 'float32',
      genA: variant.startsWith('a'),
      width: stage === 'base' ? 80 : 48,
      timeIds: stage === 'base' ? 6 : 5,
      side: 8,
    };
    const feeds = unetFeeds(options);
    const perRow = (values: Values) => [rowSlice(values, 2, 0), rowSlice(values, 2, 1)];
    const changes = async (perturbed: Record<string, ort.Tensor>) => {
      const { before, after } = await compare(path, feeds, perturbed, 'out_sample');
      const [b0, b1] = perRow(before);
      const [a0, a1] = perRow(after);
      return [maxAbsDiff(b0, a0), maxAbsDiff(b1, a1)];
    };
    const sample = testValues(2 * 4 * 64, 11);
    sample[4 * 64 + 3 * 64 + 63] += 0.5; // row 1, last channel, last pixel
    expect((await changes(unetFeeds(options, { sample })))[1]).toBeGreaterThan(1e-3);

    const [t0, t1] = await changes(unetFeeds(options, { timestep: 499 }));
    expect(Math.min(t0, t1)).toBeGreaterThan(1e-3);

    for (const position of [1, 40, 76]) {
      const context = testValues(2 * 77 * options.width, 12);
      for (let c = 0; c < options.width; c++) context[(77 + position) * options.width + c] += 1; // row 1 only
      const [row0, row1] = await changes(unetFeeds(options, { context }));
      expect(row1, `token ${position}`).toBeGreaterThan(1e-4);
      expect(row0, `token ${position} must not leak into the other batch row`).toBe(0);
    }

    const pooled = testValues(96, 13);
    pooled[48 + 7] += 1;
    expect((await changes(unetFeeds(options, { pooled })))[1]).toBeGreaterThan(1e-3);

    const baseRow = options.timeIds === 6 ? [1024, 1024, 0, 0, 1024, 1024] : [1024, 1024, 0, 0, 6];
    const changedRow = options.timeIds === 6 ? [1023, 896, 16, 32, 1000, 768] : [1023, 896, 16, 32, 2.5];
    for (let k = 0; k < options.timeIds; k++) {
      const row = [...baseRow];
      row[k] = changedRow[k];
      const [row0, row1] = await changes(unetFeeds(options, { timeIds: [...baseRow, ...row] }));
      expect(row1, `time id ${k}`).toBeGreaterThan(1e-3);
      expect(row0).toBe(0);
    }
  });

  it('has a dynamic batch and spatial size (batch 1 and 3, 5×7 latents)', async () => {
    const unet = await session(join(sets.b32.base, 'unet', 'model.onnx'));
    for (const [batch, h, w] of [[1, 8, 8], [3, 5, 7]]) {
      const result = await unet.run({
        sample: floatTensor('float32', [batch, 4, h, w], testValues(batch * 4 * h * w, 1)),
        timestep: floatTensor('float32', [], [10]),
        encoder_hidden_states: floatTensor('float32', [batch, 77, 80], testValues(batch * 77 * 80, 2)),
        text_embeds: floatTensor('float32', [batch, 48], testValues(batch * 48, 3)),
        time_ids: floatTensor('float32', [batch, 6], Array(batch * 6).fill(512)),
      });
      expect(result.out_sample.dims).toEqual([batch, 4, h, w]);
    }
  });
});

describe('tiny models over a full sampling run', () => {
  it('40 Euler steps from σ 14.6 keep latents finite and in range, and decode mostly inside [-1, 1]', async () => {
    const side = 8;
    const count = 2 * 4 * side * side;
    const options: UnetFeedOptions = { float: 'float32', genA: false, width: 80, timeIds: 6, side };
    const sigmas = Array.from({ length: 40 }, (_, i) => 14.6146 * (0.0292 / 14.6146) ** (i / 39));
    sigmas.push(0);
    const noise = testValues(count, 99).map((v) => v * Math.sqrt(3)); // unit variance
    let latents = noise.map((v) => v * Math.sqrt(sigmas[0] ** 2 + 1));
    for (let i = 0; i < 40; i++) {
      const scale = Math.sqrt(sigmas[i] ** 2 + 1);
      const timestep = Math.round(999 - (i * 998) / 39);
      const out = await run(join(sets.b32.base, 'unet', 'model.onnx'), unetFeeds(options, { sample: latents.map((v) => v / scale), timestep }));
      latents = latents.map((v, j) => v + out.out_sample[j] * (sigmas[i + 1] - sigmas[i]));
    }
    expect(latents.every(Number.isFinite)).toBe(true);
    const rms = Math.sqrt(latents.reduce((sum, v) => sum + v * v, 0) / count);
    expect(rms).toBeGreaterThan(0.05);
    expect(rms).toBeLessThan(3);
    const image = await run(join(sets.b32.base, 'vae_decoder', 'model.onnx'), {
      latent_sample: floatTensor('float32', [2, 4, side, side], latents.map((v) => v / 0.13025)),
    });
    const inside = image.sample.filter((v) => v >= -1 && v <= 1).length / image.sample.length;
    expect(inside).toBeGreaterThan(0.6);
    expect(inside).toBeLessThan(1); // some pixels leave [-1, 1], as real decodes do (the pipeline clamps)
  });
});

describe('tiny text encoder sensitivity', () => {
  const cases = [
    { variant: 'b32', model: 'text_encoder', pooled: 'pooler_output', penultimate: 'hidden_states.11', width: 32, ids: 'int64', pad: 'eos' },
    { variant: 'a32', model: 'text_encoder', pooled: 'pooler_output', penultimate: 'hidden_states.11', width: 32, ids: 'int32', pad: 'eos' },
    { variant: 'b32', model: 'text_encoder_2', pooled: 'text_embeds', penultimate: 'hidden_states.31', width: 48, ids: 'int64', pad: 'zero' },
    { variant: 'b16', model: 'text_encoder_2', pooled: 'text_embeds', penultimate: 'hidden_states.31', width: 48, ids: 'int64', pad: 'zero' },
  ] as const;
  it.each(cases)('$variant $model: a token before EOS changes $penultimate and $pooled', async (c) => {
    const path = join(sets[c.variant].base, c.model, 'model.onnx');
    const tokens = tokensOf(join(sets[c.variant].base, 'tokenizer'));
    const pad = c.pad === 'eos' ? tokens.eos : 0;
    const content = [[320, 1109, 539, 320, 834], [320, 1109, 539, 320, 834, 77, 88]];
    const rows = idRows(tokens, content, pad);
    const feeds = { input_ids: idsTensor(c.ids, rows) };
    for (const position of [1, 5]) {
      const changed = rows.map((row) => [...row]);
      changed[1][position] = 999;
      const perturbed = { input_ids: idsTensor(c.ids, changed) };
      const hidden = await compare(path, feeds, perturbed, c.penultimate);
      const pooled = await compare(path, feeds, perturbed, c.pooled);
      expect(maxAbsDiff(rowSlice(hidden.before, 2, 1), rowSlice(hidden.after, 2, 1))).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(rowSlice(pooled.before, 2, 1), rowSlice(pooled.after, 2, 1))).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(rowSlice(pooled.before, 2, 0), rowSlice(pooled.after, 2, 0))).toBe(0);
      // Causal: positions before the changed token keep their hidden states.
      const rowBefore = rowSlice(hidden.before, 2, 1);
      const rowAfter = rowSlice(hidden.after, 2, 1);
      expect(maxAbsDiff(rowBefore.subarray(0, position * c.width), rowAfter.subarray(0, position * c.width))).toBe(0);
    }
    // A padding token after EOS changes that position's hidden state but not the pooled output (first EOS).
    const afterEos = rows.map((row) => [...row]);
    afterEos[0][60] = 500;
    const hidden = await compare(path, feeds, { input_ids: idsTensor(c.ids, afterEos) }, c.penultimate);
    const pooled = await compare(path, feeds, { input_ids: idsTensor(c.ids, afterEos) }, c.pooled);
    expect(maxAbsDiff(rowSlice(hidden.before, 2, 0), rowSlice(hidden.after, 2, 0))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(pooled.before, pooled.after)).toBe(0);
  });

  it('pools the final-normed state at the first EOS (argmax of input_ids)', async () => {
    const path = join(sets.b32.base, 'text_encoder', 'model.onnx');
    const tokens = tokensOf(join(sets.b32.base, 'tokenizer'));
    const rows = idRows(tokens, [[320, 1109], [320, 1109, 539, 320]], tokens.eos);
    const out = await run(path, { input_ids: idsTensor('int64', rows) });
    for (const [row, eosPosition] of [[0, 3], [1, 5]]) {
      const state = rowSlice(out.last_hidden_state, 2, row).subarray(eosPosition * 32, (eosPosition + 1) * 32);
      expect(maxAbsDiff(rowSlice(out.pooler_output, 2, row), state)).toBe(0);
    }
  });

  it('accepts shorter sequences (dynamic sequence axis)', async () => {
    const path = join(sets.b32.base, 'text_encoder_2', 'model.onnx');
    const tokens = tokensOf(join(sets.b32.base, 'tokenizer'));
    const out = await (await session(path)).run({ input_ids: idsTensor('int64', idRows(tokens, [[320], [321]], 0, 10)) });
    expect(out['hidden_states.31'].dims).toEqual([2, 10, 48]);
    expect(out.text_embeds.dims).toEqual([2, 48]);
  });
});

describe('tiny VAE sensitivity', () => {
  it('decoder: one latent value changes its 8×8 pixel block; output is 8× the latent size', async () => {
    const path = join(sets.b32.base, 'vae_decoder', 'model.onnx');
    const latents = testValues(2 * 4 * 8 * 8, 21).map((v) => v * 15);
    const changed = Float32Array.from(latents);
    changed[4 * 64 + 2 * 64 + 5 * 8 + 6] += 3; // row 1, channel 2, latent (5, 6)
    const { before, after } = await compare(path, { latent_sample: floatTensor('float32', [2, 4, 8, 8], latents) }, { latent_sample: floatTensor('float32', [2, 4, 8, 8], changed) }, 'sample');
    expect(before.length).toBe(2 * 3 * 64 * 64);
    const pixel = (values: Values, y: number, x: number) => values[3 * 64 * 64 + y * 64 + x]; // row 1, channel 0
    expect(Math.abs(pixel(after, 5 * 8 + 3, 6 * 8 + 3) - pixel(before, 5 * 8 + 3, 6 * 8 + 3))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(rowSlice(before, 2, 0), rowSlice(after, 2, 0))).toBe(0);
    const absMax = before.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(absMax).toBeGreaterThan(1); // can leave [-1, 1] like a real decoder
    expect(absMax).toBeLessThan(20);
  });

  it('encoder (gen B): a pixel region changes latent_parameters; logvar sits low', async () => {
    const path = join(sets.b32.base, 'vae_encoder', 'model.onnx');
    const image = testValues(2 * 3 * 64 * 64, 22);
    const changed = Float32Array.from(image);
    for (let y = 48; y < 56; y++) for (let x = 8; x < 16; x++) changed[3 * 4096 + 4096 + y * 64 + x] = 1; // row 1, green
    const { before, after } = await compare(path, { sample: floatTensor('float32', [2, 3, 64, 64], image) }, { sample: floatTensor('float32', [2, 3, 64, 64], changed) }, 'latent_parameters');
    expect(maxAbsDiff(rowSlice(before, 2, 1), rowSlice(after, 2, 1))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(rowSlice(before, 2, 0), rowSlice(after, 2, 0))).toBe(0);
    const logvar = rowSlice(before, 2, 0).subarray(4 * 64);
    const meanLogvar = logvar.reduce((s, v) => s + v, 0) / logvar.length;
    expect(meanLogvar).toBeLessThan(-2);
  });

  it('encoder (gen A): samples inside the graph (unseeded), yet a pixel region moves latents far beyond the noise', async () => {
    const path = join(sets.a32.base, 'vae_encoder', 'model.onnx');
    const image = testValues(2 * 3 * 64 * 64, 23);
    const changed = Float32Array.from(image);
    for (let y = 0; y < 8; y++) for (let x = 56; x < 64; x++) changed[y * 64 + x] = -1; // row 0, red, top right block
    const feeds = { sample: floatTensor('float32', [2, 3, 64, 64], image) };
    const first = await run(path, feeds);
    const second = await run(path, feeds);
    const noise = maxAbsDiff(first.latent_sample, second.latent_sample);
    expect(noise).toBeGreaterThan(0);
    const moved = await run(path, { sample: floatTensor('float32', [2, 3, 64, 64], changed) });
    expect(maxAbsDiff(first.latent_sample, moved.latent_sample)).toBeGreaterThan(10 * noise);
  });
});

describe('tiny CLIP scorer sensitivity', () => {
  it('vision: each pixel region (corners and centre) changes image_embeds', async () => {
    const path = join(sets.b32.clip, 'onnx', 'vision_model.onnx');
    const pixels = testValues(2 * 3 * 224 * 224, 31);
    const feeds = { pixel_values: floatTensor('float32', [2, 3, 224, 224], pixels) };
    for (const [y0, x0] of [[0, 0], [0, 210], [210, 0], [210, 210], [105, 105]]) {
      const changed = Float32Array.from(pixels);
      for (let y = y0; y < y0 + 14; y++) for (let x = x0; x < x0 + 14; x++) changed[3 * 50176 + 2 * 50176 + y * 224 + x] += 1; // row 1, blue
      const { before, after } = await compare(path, feeds, { pixel_values: floatTensor('float32', [2, 3, 224, 224], changed) }, 'image_embeds');
      expect(maxAbsDiff(rowSlice(before, 2, 1), rowSlice(after, 2, 1)), `region ${y0},${x0}`).toBeGreaterThan(1e-4);
      expect(maxAbsDiff(rowSlice(before, 2, 0), rowSlice(after, 2, 0))).toBe(0);
    }
  });

  it('text: takes only int64 input_ids (like optimum) and a token before EOS changes text_embeds', async () => {
    const path = join(sets.b32.clip, 'onnx', 'text_model.onnx');
    const text = await session(path);
    expect(text.inputNames).toEqual(['input_ids']);
    expect(text.outputNames).toEqual(['text_embeds', 'last_hidden_state']);
    const tokens = tokensOf(sets.b32.clip);
    const rows = idRows(tokens, [[320, 834], [320, 834, 1109]], tokens.eos);
    const changed = rows.map((row) => [...row]);
    changed[0][2] = 1000;
    const { before, after } = await compare(path, { input_ids: idsTensor('int64', rows) }, { input_ids: idsTensor('int64', changed) }, 'text_embeds');
    expect(maxAbsDiff(rowSlice(before, 2, 0), rowSlice(after, 2, 0))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(rowSlice(before, 2, 1), rowSlice(after, 2, 1))).toBe(0);
  });
});

describe('external data and the tiny model cache', () => {
  it('--external-data stores text_encoder_2 and UNet weights in model.onnx_data; ORT loads them by path with identical outputs', async () => {
    const folders = await writeTinyModels(join(scratch, 'external'), { seed: 0, externalData: true });
    for (const part of ['text_encoder_2', 'unet']) {
      expect(existsSync(join(folders.base, part, 'model.onnx_data')), part).toBe(true);
      expect(statSync(join(folders.base, part, 'model.onnx')).size).toBeLessThan(statSync(join(sets.b32.base, part, 'model.onnx')).size / 4);
    }
    expect(existsSync(join(folders.base, 'vae_decoder', 'model.onnx_data'))).toBe(false);
    const options: UnetFeedOptions = { float: 'float32', genA: false, width: 80, timeIds: 6, side: 8 };
    const external = await run(join(folders.base, 'unet', 'model.onnx'), unetFeeds(options));
    const inline = await run(join(sets.b32.base, 'unet', 'model.onnx'), unetFeeds(options));
    expect(maxAbsDiff(external.out_sample, inline.out_sample)).toBe(0);
    const tokens = tokensOf(join(folders.base, 'tokenizer'));
    const ids = { input_ids: idsTensor('int64', idRows(tokens, [[320], [321]], 0)) };
    const te2External = await run(join(folders.base, 'text_encoder_2', 'model.onnx'), ids);
    const te2Inline = await run(join(sets.b32.base, 'text_encoder_2', 'model.onnx'), ids);
    expect(maxAbsDiff(te2External.text_embeds, te2Inline.text_embeds)).toBe(0);
    expect(inspectModelFolder(folders.base, 'base').problems).toEqual([]);
  });

  it('ensureTinyModels generates once per options and reuses the folder', async () => {
    const cache = join(scratch, 'cache');
    const options: TinyModelOptions = { seed: 5 };
    const first = await ensureTinyModels(cache, options);
    const stamp = statSync(join(first.base, 'unet', 'model.onnx')).mtimeMs;
    const second = await ensureTinyModels(cache, { seed: 5, exporter: 'B', fp16: false });
    expect(second).toEqual(first);
    expect(statSync(join(second.base, 'unet', 'model.onnx')).mtimeMs).toBe(stamp);
    const other = await ensureTinyModels(cache, { seed: 6 });
    expect(other.root).not.toBe(first.root);
    expect(readdirSync(cache).filter((name) => name.startsWith('.')).length).toBe(0); // no temp folders left
    for (const folder of [first.base, first.refiner, first.clip]) expect(inspectModelFolder(folder).problems).toEqual([]);
  });

  it('concurrent processes calling ensureTinyModels all get one complete folder', async () => {
    const cache = join(scratch, 'cache-concurrent');
    const script = join(scratch, 'ensure-tiny.mts');
    writeFileSync(
      script,
      `import { ensureTinyModels } from ${JSON.stringify(join(process.cwd(), 'pipelines/tiny/tiny-models.ts'))};
const folders = await ensureTinyModels(process.argv[2], { seed: 9 });
console.log(folders.root);
`,
    );
    const tsx = join(process.cwd(), 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const exec = promisify(execFile);
    const results = await Promise.all([0, 1].map(() => exec(process.execPath, [tsx, script, cache])));
    const roots = results.map((r) => r.stdout.trim());
    expect(new Set(roots).size).toBe(1);
    expect(readdirSync(cache).filter((name) => name.startsWith('.')).length).toBe(0);
    const files = listFiles(roots[0]);
    const reference = await writeTinyModels(join(scratch, 'seed9'), { seed: 9 });
    for (const file of listFiles(reference.root)) {
      expect(readFileSync(join(roots[0], file)).equals(readFileSync(join(reference.root, file))), file).toBe(true);
    }
    expect(files).toContain('tiny-models.json');
  });
});
