import { EmbeddingCache, type EncodedPrompt } from './embedding-cache.js';
import type { HostTensor, OnnxSession } from './session.js';

/**
 * Prompt conditioning as diffusers' SDXL `encode_prompt` builds it (spec §3.2).
 * Base: CLIP-L penultimate hidden state ⊕ bigG penultimate hidden state → [b, 77, w1 + w2];
 * pooled = bigG `text_embeds`. Refiner: bigG only. Each prompt is encoded in its own batch-1
 * call, as diffusers does, and cached by (encoder, tokenizer, prompt).
 */

/** What the pipelines need from a tokenizer (pipelines/tokenizer ClipTokenizer). */
export interface PromptTokenizer {
  encode(text: string): { ids: ArrayLike<number>; truncated: boolean };
}

export interface TextEncoder {
  /** the session, created on first use */
  session: () => Promise<OnnxSession>;
  tokenizer: PromptTokenizer;
  /** name of the penultimate hidden-state output, e.g. `hidden_states.11` / `hidden_states.31` */
  hiddenStateOutput: string;
  /** name of the pooled output (`text_embeds`), for text_encoder_2 */
  pooledOutput?: string;
  /** identifies encoder weights + tokenizer files (e.g. their hashes), for the embedding cache */
  cacheId: () => Promise<string>;
  /** short name for log lines, e.g. "base/text_encoder_2" */
  label: string;
}

export interface EncodeContext {
  cache: EmbeddingCache;
  log: (line: string) => void;
}

/** Tokenizes and encodes one prompt with one encoder (cached). */
export async function encodePrompt(encoder: TextEncoder, prompt: string, context: EncodeContext): Promise<EncodedPrompt> {
  const key = EmbeddingCache.key(await encoder.cacheId(), encoder.hiddenStateOutput + '|' + (encoder.pooledOutput ?? ''), prompt);
  return context.cache.getOrCompute(key, async () => {
    const tokens = encoder.tokenizer.encode(prompt);
    if (tokens.truncated) {
      context.log(`warning: ${encoder.label}: prompt longer than 75 tokens was truncated (as diffusers does): ${JSON.stringify(prompt.slice(0, 80))}…`);
    }
    const session = await encoder.session();
    const inputName = session.inputNames.includes('input_ids') ? 'input_ids' : session.inputNames[0];
    const ids = Int32Array.from(tokens.ids);
    const fetches = encoder.pooledOutput ? [encoder.hiddenStateOutput, encoder.pooledOutput] : [encoder.hiddenStateOutput];
    const result = await session.run({ [inputName]: { data: ids, dims: [1, ids.length] } }, fetches);
    const hidden = result[encoder.hiddenStateOutput];
    if (hidden.dims.length !== 3 || hidden.dims[0] !== 1) {
      throw new Error(`${encoder.label}: ${encoder.hiddenStateOutput} has dims [${hidden.dims.join(', ')}], expected [1, tokens, width]`);
    }
    const encoded: EncodedPrompt = { hidden: hidden.data, hiddenDims: hidden.dims };
    if (encoder.pooledOutput) {
      const pooled = result[encoder.pooledOutput];
      if (pooled.dims.length !== 2) {
        throw new Error(`${encoder.label}: ${encoder.pooledOutput} has dims [${pooled.dims.join(', ')}], expected [1, width]`);
      }
      encoded.pooled = pooled.data;
      encoded.pooledDims = pooled.dims;
    }
    return encoded;
  });
}

/** Conditioning for one UNet and one image: `[uncond; cond]` rows when guided. */
export interface TextConditioning {
  encoderHiddenStates: HostTensor;
  textEmbeds: HostTensor;
  guided: boolean;
}

export interface ConditioningOptions {
  /** classifier-free guidance on (guidance_scale > 1): build the negative branch */
  guided: boolean;
  /** model_index.json `force_zeros_for_empty_prompt` (true for the base, false for the refiner) */
  forceZerosForEmptyPrompt: boolean;
}

interface Branch {
  hidden: Float32Array;
  pooled: Float32Array;
}

/**
 * Stacks the branches along the batch axis: `[negative; positive]` (or `[positive]`).
 * The branch arrays are read, never written (they may live in the cache).
 */
function stack(branches: Branch[], tokens: number, width: number, pooledWidth: number): TextConditioning {
  const hidden = new Float32Array(branches.length * tokens * width);
  const pooled = new Float32Array(branches.length * pooledWidth);
  branches.forEach((branch, row) => {
    hidden.set(branch.hidden, row * tokens * width);
    pooled.set(branch.pooled, row * pooledWidth);
  });
  return {
    encoderHiddenStates: { data: hidden, dims: [branches.length, tokens, width] },
    textEmbeds: { data: pooled, dims: [branches.length, pooledWidth] },
    guided: branches.length === 2,
  };
}

/** Concatenates two [1, tokens, w] hidden states along the last axis, first encoder first. */
export function concatHidden(first: EncodedPrompt, second: EncodedPrompt): { data: Float32Array; tokens: number; width: number } {
  const [, tokens, w1] = first.hiddenDims;
  const [, tokens2, w2] = second.hiddenDims;
  if (tokens !== tokens2) throw new Error(`text encoders disagree on sequence length: ${tokens} vs ${tokens2}`);
  const width = w1 + w2;
  const data = new Float32Array(tokens * width);
  for (let t = 0; t < tokens; t++) {
    data.set(first.hidden.subarray(t * w1, (t + 1) * w1), t * width);
    data.set(second.hidden.subarray(t * w2, (t + 1) * w2), t * width + w1);
  }
  return { data, tokens, width };
}

/**
 * Base conditioning (two encoders). `negativePrompt === null` with
 * `forceZerosForEmptyPrompt` gives all-zero negative embeddings and pooled embeddings (no encoder
 * call); an explicit `""` is encoded like any prompt.
 */
export async function encodeBaseConditioning(
  encoder1: TextEncoder,
  encoder2: TextEncoder,
  prompt: string,
  negativePrompt: string | null,
  options: ConditioningOptions,
  context: EncodeContext,
): Promise<TextConditioning> {
  const encodeBoth = async (text: string): Promise<Branch & { tokens: number; width: number }> => {
    const first = await encodePrompt(encoder1, text, context);
    const second = await encodePrompt(encoder2, text, context);
    if (!second.pooled) throw new Error(`${encoder2.label}: no pooled output`);
    const joined = concatHidden(first, second);
    return { hidden: joined.data, pooled: second.pooled, tokens: joined.tokens, width: joined.width };
  };
  return guidedConditioning(encodeBoth, prompt, negativePrompt, options);
}

/** Refiner conditioning (text_encoder_2 only, 1280 wide). Its config normally has force_zeros false. */
export async function encodeRefinerConditioning(
  encoder2: TextEncoder,
  prompt: string,
  negativePrompt: string | null,
  options: ConditioningOptions,
  context: EncodeContext,
): Promise<TextConditioning> {
  const encodeOne = async (text: string): Promise<Branch & { tokens: number; width: number }> => {
    const encoded = await encodePrompt(encoder2, text, context);
    if (!encoded.pooled) throw new Error(`${encoder2.label}: no pooled output`);
    return { hidden: encoded.hidden, pooled: encoded.pooled, tokens: encoded.hiddenDims[1], width: encoded.hiddenDims[2] };
  };
  return guidedConditioning(encodeOne, prompt, negativePrompt, options);
}

/**
 * The positive branch alone, or (guided) `[negative; positive]`: the negative is all zeros when
 * there is no negative prompt and the model forces zeros, else the encoding of the negative prompt
 * (`""` when none is given).
 */
async function guidedConditioning(
  encode: (text: string) => Promise<Branch & { tokens: number; width: number }>,
  prompt: string,
  negativePrompt: string | null,
  options: ConditioningOptions,
): Promise<TextConditioning> {
  const positive = await encode(prompt);
  const pooledWidth = positive.pooled.length;
  if (!options.guided) return stack([positive], positive.tokens, positive.width, pooledWidth);
  const negative =
    negativePrompt === null && options.forceZerosForEmptyPrompt
      ? { hidden: new Float32Array(positive.hidden.length), pooled: new Float32Array(pooledWidth) }
      : await encode(negativePrompt ?? '');
  return stack([negative, positive], positive.tokens, positive.width, pooledWidth);
}
