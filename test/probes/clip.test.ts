import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptInstance } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { ClipTokenizer } from '../../pipelines/tokenizer/clip-tokenizer.js';
import { loadClipFolder } from '../../probes/clip/clip-folder.js';
import { ClipModel } from '../../probes/clip/clip-model.js';
import { clipScorer } from '../../probes/clip/clip-scorer.js';
import { biasAttributesScorer } from '../../probes/bias/attributes.js';
import { preprocessClipImage } from '../../probes/clip/preprocess.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-clip-'));
let tiny: TinyModelFolders;

beforeAll(async () => {
  tiny = await ensureTinyModels(join(cacheDir, 'models'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function patternImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i + 1, 2654435761 + seed * 97) >>> 24) & 0xff;
  return { width, height, data };
}

function prompt(id: string, text: string): PromptInstance {
  return { id, text, suite: 'test', category: 'test' };
}

function contextFor(images: Map<string, RgbImage>, log: string[] = []): ScoringContext {
  return {
    loadImage: async (sample) => {
      const image = images.get(sample.key);
      if (!image) throw new Error(`no image for ${sample.key}`);
      return image;
    },
    log: (message) => log.push(message),
  };
}

/** cosine computed straight from onnxruntime on the tiny graphs, in double precision */
async function referenceCosine(clipDir: string, text: string, image: RgbImage): Promise<number> {
  const folder = await loadClipFolder(clipDir);
  const ids = ClipTokenizer.fromFolder(clipDir).encode(text).ids;
  const textSession = await ort.InferenceSession.create(join(clipDir, 'onnx', 'text_model.onnx'));
  const visionSession = await ort.InferenceSession.create(join(clipDir, 'onnx', 'vision_model.onnx'));
  const textOut = await textSession.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) });
  const pixels = preprocessClipImage(image, folder.preprocessing);
  const visionOut = await visionSession.run({ pixel_values: new ort.Tensor('float32', pixels.data, [1, 3, pixels.height, pixels.width]) });
  const t = textOut.text_embeds.data as Float32Array;
  const v = visionOut.image_embeds.data as Float32Array;
  let dot = 0;
  let nt = 0;
  let nv = 0;
  for (let i = 0; i < t.length; i++) {
    dot += t[i] * v[i];
    nt += t[i] * t[i];
    nv += v[i] * v[i];
  }
  await textSession.release();
  await visionSession.release();
  return dot / Math.sqrt(nt * nv);
}


/**
 * A combined CLIP graph (transformers.js `onnx/model.onnx` contract) made from the tiny towers: both
 * graphs side by side (names prefixed), L2-normalised text_embeds / image_embeds, and
 * logits_per_image = scale · image_embeds · text_embedsᵀ, as CLIPModel returns them.
 */
function renameBatchAxis(value: onnxProto.onnx.IValueInfoProto, axis: string): onnxProto.onnx.IValueInfoProto {
  const dims = value.type!.tensorType!.shape!.dim!.map((dim, i) => (i === 0 ? { dimParam: axis } : dim));
  return { ...value, type: { tensorType: { ...value.type!.tensorType!, shape: { dim: dims } } } };
}

function writeCombinedClip(fromDir: string, toDir: string, logitScale: number): void {
  const { onnx } = onnxProto;
  cpSync(fromDir, toDir, { recursive: true });
  rmSync(join(toDir, 'onnx'), { recursive: true });
  mkdirSync(join(toDir, 'onnx'));
  const load = (name: string) => onnx.ModelProto.decode(readFileSync(join(fromDir, 'onnx', name)));
  const text = load('text_model.onnx');
  const vision = load('vision_model.onnx');
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const take = (model: onnxProto.onnx.ModelProto, prefix: string, input: string) => {
    const rename = (name: string) => (name === input || name === '' ? name : `${prefix}${name}`);
    for (const node of model.graph!.node!) nodes.push({ ...node, name: `${prefix}${node.name}`, input: node.input!.map(rename), output: node.output!.map(rename) });
    for (const tensor of model.graph!.initializer!) initializers.push({ ...tensor, name: rename(tensor.name!) });
  };
  take(text, 't/', 'input_ids');
  take(vision, 'v/', 'pixel_values');
  const width = 32;
  initializers.push({ name: 'ones', dims: [width, 1], dataType: 1, floatData: new Array(width).fill(1) });
  initializers.push({ name: 'scale', dims: [], dataType: 1, floatData: [logitScale] });
  const normalise = (input: string, output: string) => {
    nodes.push({ opType: 'Mul', input: [input, input], output: [`${output}_sq`], name: `${output}_sq` });
    nodes.push({ opType: 'MatMul', input: [`${output}_sq`, 'ones'], output: [`${output}_sum`], name: `${output}_sum` });
    nodes.push({ opType: 'Sqrt', input: [`${output}_sum`], output: [`${output}_norm`], name: `${output}_norm` });
    nodes.push({ opType: 'Div', input: [input, `${output}_norm`], output: [output], name: output });
  };
  normalise('t/text_embeds', 'text_embeds');
  normalise('v/image_embeds', 'image_embeds');
  nodes.push({ opType: 'Transpose', input: ['text_embeds'], output: ['text_t'], name: 'text_t', attribute: [{ name: 'perm', type: 7, ints: [1, 0] }] });
  nodes.push({ opType: 'MatMul', input: ['image_embeds', 'text_t'], output: ['cosines'], name: 'cosines' });
  nodes.push({ opType: 'Mul', input: ['cosines', 'scale'], output: ['logits_per_image'], name: 'logits_per_image' });
  const floatOutput = (name: string, dims: Array<number | string>) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const graph = {
    name: 'clip',
    node: nodes,
    initializer: initializers,
    // the towers both call their batch axis batch_size; in one graph they must differ (texts vs images)
    input: [...text.graph!.input!, ...vision.graph!.input!.map((value) => renameBatchAxis(value, 'image_batch'))],
    output: [floatOutput('text_embeds', ['text_batch', width]), floatOutput('image_embeds', ['image_batch', width]), floatOutput('logits_per_image', ['image_batch', 'text_batch'])],
  };
  const model = onnx.ModelProto.create({ irVersion: text.irVersion, opsetImport: text.opsetImport, producerName: 'refinery-test', graph });
  writeFileSync(join(toDir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(model).finish());
}

describe('CLIP folder loading', () => {
  it('reads the tiny CLIP (separate towers) with its preprocessing', async () => {
    const folder = await loadClipFolder(tiny.clip);
    expect(folder.layout.kind).toBe('separate');
    expect(folder.projectionDim).toBe(32);
    expect(folder.preprocessing).toMatchObject({ shortestEdge: 224, cropHeight: 224, resample: 3 });
  });

  it('refuses an SDXL folder, naming what it is', async () => {
    await expect(loadClipFolder(tiny.base)).rejects.toThrow(UserError);
    await expect(loadClipFolder(tiny.base)).rejects.toThrow(/SDXL base folder.*CLIP folder was expected/);
  });

  it('refuses an OWL-ViT folder by its config.json model_type', async () => {
    const dir = join(cacheDir, 'owlvit');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'owlvit' }));
    writeFileSync(join(dir, 'onnx', 'model.onnx'), '');
    await expect(loadClipFolder(dir)).rejects.toThrow(/model_type is 'owlvit' \(an OWL-ViT detector folder\).*onnx\/text_model.onnx/);
  });

  it('names a missing image tower', async () => {
    const dir = join(cacheDir, 'no-vision');
    cpSync(tiny.clip, dir, { recursive: true });
    rmSync(join(dir, 'onnx', 'vision_model.onnx'));
    await expect(loadClipFolder(dir)).rejects.toThrow(/vision_model\.onnx is missing/);
  });

  it('names a missing folder', async () => {
    await expect(loadClipFolder(join(cacheDir, 'nowhere'))).rejects.toThrow(/CLIP model folder not found/);
  });

  it('the scorer factory fails with the wrong-kind error before scoring anything', async () => {
    await expect(clipScorer.create({}, { baseDir: cacheDir, models: { clip: tiny.base } })).rejects.toThrow(/SDXL base folder/);
    await expect(clipScorer.create({}, { baseDir: cacheDir })).rejects.toThrow(/needs a CLIP model folder: set models.clip/);
    await expect(clipScorer.create({ batchSize: 0 }, { baseDir: cacheDir, models: { clip: tiny.clip } })).rejects.toThrow(/scorer 'clip': options.batchSize/);
  });
});

describe('clip scorer on the tiny CLIP', () => {
  it('scores CLIPScore = 100·max(cos, 0) and the raw cosine, equal to a direct onnxruntime computation', async () => {
    const scorer = await clipScorer.create({ batchSize: 2 }, { baseDir: cacheDir, models: { clip: tiny.clip } });
    const images = new Map<string, RgbImage>([
      ['a', patternImage(256, 256, 1)],
      ['b', patternImage(300, 200, 2)],
      ['c', patternImage(224, 224, 3)],
    ]);
    const samples: ScorableSample[] = [
      { key: 'a', imagePath: 'a.png', prompt: prompt('p0', 'a red cube to the left of a blue sphere') },
      { key: 'b', imagePath: 'b.png', prompt: prompt('p1', 'a photo of three apples') },
      { key: 'c', imagePath: 'c.png', prompt: prompt('p0', 'a red cube to the left of a blue sphere') },
    ];
    const records = await scorer.score(samples, contextFor(images));
    expect(records).toHaveLength(6);
    for (const sample of samples) {
      const cos = records.find((r) => r.sampleKey === sample.key && r.metric === 'clip_cosine')!.value!;
      const score = records.find((r) => r.sampleKey === sample.key && r.metric === 'clip_score')!;
      expect(score.value).toBeCloseTo(100 * Math.max(cos, 0), 10);
      expect(cos).toBeCloseTo(await referenceCosine(tiny.clip, sample.prompt.text, images.get(sample.key)!), 5);
      expect(score.detail).toMatchObject({ truncated: false, model: 'clip' });
    }
    // the random-weight model still tells different images apart
    const cosines = records.filter((r) => r.metric === 'clip_cosine').map((r) => r.value);
    expect(new Set(cosines).size).toBe(3);
    await scorer.dispose?.();
  });

  it('notes a prompt cut at 77 tokens and how many tokens were dropped', async () => {
    const scorer = await clipScorer.create({}, { baseDir: cacheDir, models: { clip: tiny.clip } });
    const words = Array.from({ length: 90 }, (_, i) => ['red', 'cube', 'blue', 'sphere'][i % 4]);
    const log: string[] = [];
    const records = await scorer.score(
      [{ key: 'long', imagePath: 'x.png', prompt: prompt('long', words.join(' ')) }],
      contextFor(new Map([['long', patternImage(224, 224, 7)]]), log),
    );
    const detail = records.find((r) => r.metric === 'clip_score')!.detail as Record<string, unknown>;
    // each word is one token in the tiny vocabulary: 90 content tokens, 75 kept
    expect(detail).toMatchObject({ truncated: true, contentTokens: 90, droppedTokens: 15 });
    expect(String(detail.droppedText).split(' ')).toHaveLength(15);
    expect(log.some((line) => line.includes('15 token(s) dropped'))).toBe(true);
    await scorer.dispose?.();
  });
});

describe('ClipModel caches', () => {
  it('embeds each text and each image key once, batch results equal single results', async () => {
    const model = await ClipModel.load(tiny.clip, { imageBatchSize: 2 });
    let loads = 0;
    const source = (key: string, seed: number) => ({
      key,
      load: async () => {
        loads++;
        return patternImage(240, 230, seed);
      },
    });
    const batch = await model.embedImages([source('x', 1), source('y', 2), source('z', 3), source('x', 1)]);
    expect(loads).toBe(3);
    expect(model.computed.images).toBe(3);
    expect(batch[3]).toBe(batch[0]);
    const again = await model.embedImages([source('y', 2)]);
    expect(loads).toBe(3);
    expect(again[0]).toBe(batch[1]);

    const single = await ClipModel.load(tiny.clip, { imageBatchSize: 1 });
    const alone = await single.embedImages([source('z', 3)]);
    for (let i = 0; i < 32; i++) expect(alone[0][i]).toBeCloseTo(batch[2][i], 5);

    const texts = await model.embedTexts(['a dog', 'a cat', 'a dog']);
    expect(model.computed.texts).toBe(2);
    expect(texts[2]).toBe(texts[0]);
    const norm = Math.hypot(...texts[1]);
    expect(norm).toBeCloseTo(1, 5);
    await model.dispose();
    await single.dispose();
  });
});

describe('combined onnx/model.onnx layout', () => {
  it('loads, gives the same embeddings as the separate towers and measures the logit scale', async () => {
    const dir = join(cacheDir, 'combined');
    writeCombinedClip(tiny.clip, dir, 42.5);
    const folder = await loadClipFolder(dir);
    expect(folder.layout).toEqual({ kind: 'combined', modelPath: join(dir, 'onnx', 'model.onnx'), returnsLogits: true });
    const combined = await ClipModel.load(dir, { imageBatchSize: 2 });
    const separate = await ClipModel.load(tiny.clip);
    expect(combined.logitScale).toBeUndefined();
    const sources = [1, 2, 3].map((seed) => ({ key: `i${seed}`, load: async () => patternImage(230, 250, seed) }));
    const fromCombined = await combined.embedImages(sources);
    const fromSeparate = await separate.embedImages(sources);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 32; j++) expect(fromCombined[i][j]).toBeCloseTo(fromSeparate[i][j], 5);
    const [a] = await combined.embedTexts(['a red cube']);
    const [b] = await separate.embedTexts(['a red cube']);
    for (let j = 0; j < 32; j++) expect(a[j]).toBeCloseTo(b[j], 5);
    expect(combined.logitScale).toBeCloseTo(42.5, 3);
    await combined.dispose();
    await separate.dispose();
  });

  it('zero-shot uses the logit scale the combined graph carries', async () => {
    const dir = join(cacheDir, 'combined-scale');
    writeCombinedClip(tiny.clip, dir, 42.5);
    const scorer = await biasAttributesScorer.create({ all: true }, { baseDir: cacheDir, models: { clip: dir } });
    const images = new Map([['s', patternImage(224, 224, 4)]]);
    const records = await scorer.score([{ key: 's', imagePath: 's.png', prompt: prompt('p', 'a person') }], contextFor(images));
    expect((records[0].detail as { logitScale: number }).logitScale).toBeCloseTo(42.5, 3);
    await scorer.dispose?.();
  });

  it('refuses a combined graph without image_embeds', async () => {
    const dir = join(cacheDir, 'combined-broken');
    writeCombinedClip(tiny.clip, dir, 1);
    const { onnx } = onnxProto;
    const path = join(dir, 'onnx', 'model.onnx');
    const model = onnx.ModelProto.decode(readFileSync(path));
    model.graph!.output = model.graph!.output!.filter((o) => o.name !== 'image_embeds');
    writeFileSync(path, onnx.ModelProto.encode(model).finish());
    await expect(loadClipFolder(dir)).rejects.toThrow(/output 'image_embeds' is missing .*CLIPModel export/);
  });
});
