import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingCache } from '../../pipelines/embedding-cache.js';
import { validateSdxlFolder, type SdxlFolderInfo } from '../../pipelines/model-folder.js';
import { OnnxSession } from '../../pipelines/session.js';
import { encodeBaseConditioning, encodeRefinerConditioning, type TextEncoder } from '../../pipelines/text-encoding.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';
import { ClipTokenizer } from '../../pipelines/tokenizer/clip-tokenizer.js';

// Spec §3.2 on the tiny models: CLIP-L width 32 (12 layers), bigG width 48 (32 layers), pooled 48.
const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-text-'));
let base: SdxlFolderInfo;
let refiner: SdxlFolderInfo;
const sessions: OnnxSession[] = [];

async function encoder(info: SdxlFolderInfo, which: 'text_encoder' | 'text_encoder_2', calls: { count: number }): Promise<TextEncoder> {
  const te = which === 'text_encoder' ? info.textEncoder! : info.textEncoder2;
  const session = await OnnxSession.create(te.modelPath);
  sessions.push(session);
  const run = session.run.bind(session);
  session.run = (feeds, fetches) => {
    calls.count++;
    return run(feeds, fetches);
  };
  return {
    session: async () => session,
    tokenizer: ClipTokenizer.fromFolder(which === 'text_encoder' ? info.tokenizerDir! : info.tokenizer2Dir),
    hiddenStateOutput: te.penultimateOutput,
    ...(which === 'text_encoder_2' ? { pooledOutput: 'text_embeds' } : {}),
    cacheId: async () => `${info.kind}/${which}`,
    label: which,
  };
}

async function raw(info: SdxlFolderInfo, which: 'text_encoder' | 'text_encoder_2', prompt: string) {
  const te = which === 'text_encoder' ? info.textEncoder! : info.textEncoder2;
  const tokenizer = ClipTokenizer.fromFolder(which === 'text_encoder' ? info.tokenizerDir! : info.tokenizer2Dir);
  const session = await OnnxSession.create(te.modelPath);
  const ids = tokenizer.encode(prompt).ids;
  const out = await session.run({ input_ids: { data: Int32Array.from(ids), dims: [1, ids.length] } });
  await session.dispose();
  return out;
}

beforeAll(async () => {
  const folders = await ensureTinyModels(cacheDir);
  base = await validateSdxlFolder(folders.base, 'base');
  refiner = await validateSdxlFolder(folders.refiner, 'refiner');
});

afterAll(async () => {
  for (const session of sessions) await session.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

const context = () => ({ cache: new EmbeddingCache(), log: () => {} });

describe('base conditioning', () => {
  it('concatenates the penultimate hidden states (hidden_states.11 ⊕ hidden_states.31) and pools from text_encoder_2', async () => {
    expect(base.textEncoder!.penultimateOutput).toBe('hidden_states.11');
    expect(base.textEncoder2.penultimateOutput).toBe('hidden_states.31');
    const calls = { count: 0 };
    const te1 = await encoder(base, 'text_encoder', calls);
    const te2 = await encoder(base, 'text_encoder_2', calls);
    const cond = await encodeBaseConditioning(te1, te2, 'a photo of a cat', 'blurry', { guided: true, forceZerosForEmptyPrompt: true }, context());
    const [, tokens, width] = cond.encoderHiddenStates.dims;
    expect(cond.encoderHiddenStates.dims).toEqual([2, 77, 32 + 48]);
    expect(cond.textEmbeds.dims).toEqual([2, 48]);
    const r1 = await raw(base, 'text_encoder', 'a photo of a cat');
    const r2 = await raw(base, 'text_encoder_2', 'a photo of a cat');
    const h1 = r1['hidden_states.11'].data;
    const h2 = r2['hidden_states.31'].data;
    const positive = cond.encoderHiddenStates.data.subarray(tokens * width);
    for (const t of [0, 5, 76]) {
      expect(Array.from(positive.subarray(t * width, t * width + 32))).toEqual(Array.from(h1.subarray(t * 32, (t + 1) * 32)));
      expect(Array.from(positive.subarray(t * width + 32, (t + 1) * width))).toEqual(Array.from(h2.subarray(t * 48, (t + 1) * 48)));
    }
    expect(Array.from(cond.textEmbeds.data.subarray(48))).toEqual(Array.from(r2.text_embeds.data));
    // the last hidden state and the final one (post-LayerNorm) are not what SDXL uses
    expect(Array.from(h2)).not.toEqual(Array.from(r2['hidden_states.32'].data));
    // the negative row is the encoding of "blurry"
    const n2 = await raw(base, 'text_encoder_2', 'blurry');
    expect(Array.from(cond.textEmbeds.data.subarray(0, 48))).toEqual(Array.from(n2.text_embeds.data));
  });

  it('a null negative prompt gives zeros (force_zeros_for_empty_prompt); "" is encoded', async () => {
    const calls = { count: 0 };
    const te1 = await encoder(base, 'text_encoder', calls);
    const te2 = await encoder(base, 'text_encoder_2', calls);
    const ctx = context();
    const zeros = await encodeBaseConditioning(te1, te2, 'a cat', null, { guided: true, forceZerosForEmptyPrompt: true }, ctx);
    expect(calls.count).toBe(2); // no encoder call for the negative branch
    const half = zeros.encoderHiddenStates.data.length / 2;
    expect(zeros.encoderHiddenStates.data.subarray(0, half).every((v) => v === 0)).toBe(true);
    expect(zeros.textEmbeds.data.subarray(0, 48).every((v) => v === 0)).toBe(true);
    const empty = await encodeBaseConditioning(te1, te2, 'a cat', '', { guided: true, forceZerosForEmptyPrompt: true }, ctx);
    expect(calls.count).toBe(4); // the positive prompt came from the cache
    expect(empty.textEmbeds.data.subarray(0, 48).some((v) => v !== 0)).toBe(true);
    const e2 = await raw(base, 'text_encoder_2', '');
    expect(Array.from(empty.textEmbeds.data.subarray(0, 48))).toEqual(Array.from(e2.text_embeds.data));
    // without force_zeros a null negative is encoded as ""
    const encoded = await encodeBaseConditioning(te1, te2, 'a cat', null, { guided: true, forceZerosForEmptyPrompt: false }, ctx);
    expect(Array.from(encoded.encoderHiddenStates.data)).toEqual(Array.from(empty.encoderHiddenStates.data));
  });

  it('without guidance only the positive row is built', async () => {
    const calls = { count: 0 };
    const cond = await encodeBaseConditioning(await encoder(base, 'text_encoder', calls), await encoder(base, 'text_encoder_2', calls), 'a cat', 'x', { guided: false, forceZerosForEmptyPrompt: true }, context());
    expect(cond.encoderHiddenStates.dims).toEqual([1, 77, 80]);
    expect(cond.guided).toBe(false);
    expect(calls.count).toBe(2);
  });
});

describe('refiner conditioning', () => {
  it('uses text_encoder_2 only and encodes an empty negative prompt for null', async () => {
    expect(refiner.forceZerosForEmptyPrompt).toBe(false);
    const calls = { count: 0 };
    const te2 = await encoder(refiner, 'text_encoder_2', calls);
    const cond = await encodeRefinerConditioning(te2, 'a photo of a cat', null, { guided: true, forceZerosForEmptyPrompt: refiner.forceZerosForEmptyPrompt }, context());
    expect(cond.encoderHiddenStates.dims).toEqual([2, 77, 48]);
    const empty = await raw(refiner, 'text_encoder_2', '');
    const positive = await raw(refiner, 'text_encoder_2', 'a photo of a cat');
    expect(Array.from(cond.encoderHiddenStates.data.subarray(0, 77 * 48))).toEqual(Array.from(empty['hidden_states.31'].data));
    expect(Array.from(cond.encoderHiddenStates.data.subarray(77 * 48))).toEqual(Array.from(positive['hidden_states.31'].data));
    expect(Array.from(cond.textEmbeds.data.subarray(48))).toEqual(Array.from(positive.text_embeds.data));
  });
});
