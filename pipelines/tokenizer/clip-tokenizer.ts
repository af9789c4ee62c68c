import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';
import { BYTES_IN_VOCAB_ORDER, BYTE_TO_SYMBOL, symbolsToBytes, toByteSymbols } from './byte-level.js';
import { UNICODE_WHITESPACE, cleanupText, type ClipTextCleanup } from './text-cleanup.js';

/**
 * CLIP byte-level BPE tokenizer, reproducing Hugging Face's `CLIPTokenizer` as diffusers calls it
 * (`padding="max_length", max_length=model_max_length, truncation=True`), spec §3.1.
 *
 * Steps of `encode(text)`:
 *  1. split the text on added tokens (the special tokens bos/eos/unk/pad and any `added_tokens_decoder`
 *     entries), exactly as written (case-sensitive): they map straight to their ids. This is why the
 *     SDXL `tokenizer_2`, whose pad token is "!", turns every "!" in a prompt into id 0.
 *  2. clean up every other segment (see text-cleanup.ts; default: the slow tokenizer without ftfy);
 *  3. pre-tokenize with CLIP's pattern (special-token literals, contractions, letter runs, single
 *     digits, runs of other non-space characters);
 *  4. map UTF-8 bytes to symbols, run BPE with `</w>` on the last symbol (lowest merge rank first,
 *     cached per word), look symbols up (unknown → unk token);
 *  5. frame `[bos] + ids[0:maxLength−2] + [eos]` and pad to `maxLength` with the pad id.
 */

/** HF's slow CLIPTokenizer reads at most this many merges (CLIP's 49152-token budget minus bytes and specials). */
export const CLIP_MERGE_LIMIT = 49152 - 256 - 2;
const DEFAULT_MAX_LENGTH = 77;
/** transformers' VERY_LARGE_INTEGER: the value saved when a tokenizer has no real length limit. */
const UNBOUNDED_LENGTH_SENTINEL = 1e29;
const CACHE_LIMIT = 100_000;
const END_OF_WORD = '</w>';
const START_OF_TEXT = '<|startoftext|>';
const END_OF_TEXT = '<|endoftext|>';
const PRE_TOKENIZE_PATTERN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${UNICODE_WHITESPACE}\\p{L}\\p{N}]+`,
  'giu',
);

export interface ClipEncoding {
  /** `maxLength` ids: bos, the kept content ids, eos, then padding. */
  ids: number[];
  /** The kept content tokens in readable form (bytes decoded as UTF-8, `</w>` marks a word end). */
  tokens: string[];
  /** Content tokens of the whole prompt, before truncation. */
  contentTokenCount: number;
  /** True when content tokens were cut to fit `maxLength − 2`. */
  truncated: boolean;
  /** The cut-off tokens (readable), present when truncated. */
  droppedTokens?: string[];
  /** The cut-off text as the tokenizer would decode it, present when truncated. */
  droppedText?: string;
}

export interface ClipTokenizerOptions {
  /** Overrides the pad token named by the files (e.g. "!" for OpenCLIP-style zero padding). */
  padToken?: string;
  /** Text cleanup flavour; default `hf-slow`. */
  cleanup?: ClipTextCleanup;
}

export interface ClipTokenizerParts {
  /** token → id. */
  vocab: ReadonlyMap<string, number>;
  /** Merge lines split on whitespace, in rank order (rank = index); only two-part lines can ever apply. */
  merges: ReadonlyArray<readonly string[]>;
  bosToken: string;
  eosToken: string;
  padToken: string;
  unkToken: string;
  /** Further added tokens (content → id), e.g. from `added_tokens_decoder`. */
  addedTokens?: ReadonlyMap<string, number>;
  maxLength?: number;
  cleanup?: ClipTextCleanup;
  /** Where the vocabulary came from, for messages. */
  source?: string;
}

interface WordEncoding {
  symbols: string[];
  ids: number[];
}

interface ContentToken {
  symbol: string;
  id: number;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maxLength: number;
  readonly cleanup: ClipTextCleanup;
  readonly source: string;
  readonly bosToken: string;
  readonly eosToken: string;
  readonly padToken: string;
  readonly unkToken: string;

  private readonly encoder: ReadonlyMap<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly mergeRanks: Map<string, number>;
  private readonly addedTokens: Map<string, number>;
  private readonly addedTokenPattern: RegExp | undefined;
  private readonly specialIds: Set<number>;
  private readonly wordCache = new Map<string, WordEncoding>();

  constructor(parts: ClipTokenizerParts) {
    this.source = parts.source ?? 'vocabulary';
    this.encoder = parts.vocab;
    this.cleanup = parts.cleanup ?? 'hf-slow';
    this.maxLength = parts.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2) {
      throw new UserError(`${this.source}: model_max_length must be an integer ≥ 2, got ${this.maxLength}`);
    }

    this.mergeRanks = new Map();
    parts.merges.forEach((pair, rank) => {
      if (pair.length === 2) this.mergeRanks.set(pairKey(pair[0], pair[1]), rank);
    });

    this.addedTokens = new Map(parts.addedTokens ?? []);
    this.bosToken = parts.bosToken;
    this.eosToken = parts.eosToken;
    this.padToken = parts.padToken;
    this.unkToken = parts.unkToken;
    this.bosId = this.registerSpecialToken('bos_token', parts.bosToken);
    this.eosId = this.registerSpecialToken('eos_token', parts.eosToken);
    this.padId = this.registerSpecialToken('pad_token', parts.padToken);
    this.unkId = this.registerSpecialToken('unk_token', parts.unkToken);
    this.specialIds = new Set([this.bosId, this.eosId, this.padId, this.unkId]);

    this.decoder = new Map();
    for (const [token, id] of this.encoder) this.decoder.set(id, token);
    for (const [token, id] of this.addedTokens) this.decoder.set(id, token);

    const longestFirst = [...this.addedTokens.keys()].sort((a, b) => b.length - a.length);
    this.addedTokenPattern = longestFirst.length > 0 ? new RegExp(longestFirst.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /**
   * Loads a Hugging Face tokenizer folder: vocab.json, merges.txt (first line is the `#version`
   * header, skipped like HF does), optional tokenizer_config.json and special_tokens_map.json,
   * `added_tokens_decoder`, `model_max_length`. Missing special tokens default like CLIPTokenizer's
   * (`<|startoftext|>`, `<|endoftext|>`).
   */
  static fromFolder(dir: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new UserError(`tokenizer folder not found: ${dir}`, 'pass a folder holding vocab.json and merges.txt, e.g. <model>/tokenizer');
    }
    const vocabPath = join(dir, 'vocab.json');
    const mergesPath = join(dir, 'merges.txt');
    for (const required of [vocabPath, mergesPath]) {
      if (!existsSync(required)) {
        throw new UserError(`tokenizer file missing: ${required}`, 'a CLIP tokenizer folder needs vocab.json and merges.txt (the slow-tokenizer files)');
      }
    }
    const vocab = parseVocab(readJson(vocabPath), vocabPath);
    const merges = parseMergeLines(readFileSync(mergesPath, 'utf8').trim().split('\n').slice(1, CLIP_MERGE_LIMIT + 1));

    const configPath = join(dir, 'tokenizer_config.json');
    const mapPath = join(dir, 'special_tokens_map.json');
    const config = existsSync(configPath) ? asObject(readJson(configPath), configPath) : {};
    const specialMap = existsSync(mapPath) ? asObject(readJson(mapPath), mapPath) : {};
    // transformers ≥ 4.34 reads special_tokens_map.json only when tokenizer_config.json has no
    // added_tokens_decoder; then the map's entries override the config's.
    const mapWins = config.added_tokens_decoder === undefined;
    const specialToken = (key: string, fallback: string): string => {
      const fromMap = tokenContent(specialMap[key], `${mapPath} ${key}`);
      const fromConfig = tokenContent(config[key], `${configPath} ${key}`);
      return (mapWins ? fromMap ?? fromConfig : fromConfig ?? fromMap) ?? fallback;
    };

    return new ClipTokenizer({
      vocab,
      merges,
      bosToken: specialToken('bos_token', START_OF_TEXT),
      eosToken: specialToken('eos_token', END_OF_TEXT),
      unkToken: specialToken('unk_token', END_OF_TEXT),
      padToken: options.padToken ?? specialToken('pad_token', END_OF_TEXT),
      addedTokens: parseAddedTokens(config, specialMap, vocab, configPath),
      maxLength: parseMaxLength(config.model_max_length, configPath),
      cleanup: options.cleanup,
      source: dir,
    });
  }

  /**
   * Builds the 49,408-token CLIP vocabulary from OpenAI's `bpe_simple_vocab_16e6.txt.gz` exactly as
   * CLIP does: the 256 byte symbols (in vocabulary order), the same with `</w>`, the first 48,894
   * merges joined, then `<|startoftext|>` (49406) and `<|endoftext|>` (49407). The pad token defaults
   * to `<|endoftext|>` (SDXL `tokenizer`); pass `padToken: "!"` for `tokenizer_2` semantics.
   */
  static fromBpeGz(path: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new UserError(`CLIP BPE file not found: ${path}`, 'pass the path of bpe_simple_vocab_16e6.txt.gz');
    }
    let text: string;
    try {
      text = gunzipSync(readFileSync(path)).toString('utf8');
    } catch (error) {
      throw new UserError(`${path} is not a gzip file (${(error as Error).message})`, 'pass the original bpe_simple_vocab_16e6.txt.gz');
    }
    const merges = parseMergeLines(text.split('\n').slice(1, CLIP_MERGE_LIMIT + 1));
    if (merges.length !== CLIP_MERGE_LIMIT) {
      throw new UserError(`${path} holds ${merges.length} merges, CLIP needs ${CLIP_MERGE_LIMIT}`, 'pass the original bpe_simple_vocab_16e6.txt.gz');
    }
    const tokens: string[] = BYTES_IN_VOCAB_ORDER.map((byte) => BYTE_TO_SYMBOL[byte]);
    tokens.push(...tokens.map((symbol) => symbol + END_OF_WORD));
    for (const parts of merges) tokens.push(parts.join(''));
    tokens.push(START_OF_TEXT, END_OF_TEXT);
    const vocab = new Map<string, number>();
    tokens.forEach((token, id) => vocab.set(token, id));
    return new ClipTokenizer({
      vocab,
      merges,
      bosToken: START_OF_TEXT,
      eosToken: END_OF_TEXT,
      unkToken: END_OF_TEXT,
      padToken: options.padToken ?? END_OF_TEXT,
      maxLength: DEFAULT_MAX_LENGTH,
      cleanup: options.cleanup,
      source: path,
    });
  }

  /** Loads either a tokenizer folder or a `.gz` BPE file. */
  static fromPath(path: string, options: ClipTokenizerOptions = {}): ClipTokenizer {
    if (!existsSync(path)) {
      throw new UserError(`tokenizer path not found: ${path}`, 'pass a Hugging Face tokenizer folder or bpe_simple_vocab_16e6.txt.gz');
    }
    return statSync(path).isDirectory() ? ClipTokenizer.fromFolder(path, options) : ClipTokenizer.fromBpeGz(path, options);
  }

  get vocabSize(): number {
    return this.decoder.size;
  }

  encode(text: string): ClipEncoding {
    if (typeof text !== 'string') throw new TypeError(`ClipTokenizer.encode expects a string, got ${typeof text}`);
    const content = this.tokenizeContent(text);
    const capacity = this.maxLength - 2;
    const kept = content.slice(0, capacity);
    const dropped = content.slice(capacity);
    const ids = [this.bosId, ...kept.map((token) => token.id), this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    const encoding: ClipEncoding = {
      ids,
      tokens: kept.map((token) => readableToken(token.symbol)),
      contentTokenCount: content.length,
      truncated: dropped.length > 0,
    };
    if (dropped.length > 0) {
      encoding.droppedTokens = dropped.map((token) => readableToken(token.symbol));
      encoding.droppedText = this.symbolsToText(dropped.map((token) => token.symbol));
    }
    return encoding;
  }

  /**
   * Ids back to text like HF's `decode`: bytes as UTF-8, `</w>` → space, trimmed; special tokens
   * skipped by default. No `clean_up_tokenization_spaces` ("cat !" stays "cat !").
   */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const skipSpecial = options.skipSpecialTokens ?? true;
    const symbols: string[] = [];
    for (const id of ids) {
      if (skipSpecial && this.specialIds.has(id)) continue;
      const token = this.decoder.get(id);
      if (token === undefined) throw new RangeError(`token id ${id} is not in the vocabulary of ${this.source}`);
      symbols.push(token);
    }
    return this.symbolsToText(symbols);
  }

  /** The id of a vocabulary token string (e.g. "dog</w>"), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.addedTokens.get(token) ?? this.encoder.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.decoder.get(id);
  }

  private registerSpecialToken(field: string, content: string): number {
    if (content.length === 0) throw new UserError(`${this.source}: ${field} is empty`, 'name a token of the vocabulary');
    const id = this.addedTokens.get(content) ?? this.encoder.get(content);
    if (id === undefined) {
      throw new UserError(`${this.source}: ${field} "${content}" is not in the vocabulary`, 'fix special_tokens_map.json / tokenizer_config.json or the pad option');
    }
    this.addedTokens.set(content, id);
    return id;
  }

  private tokenizeContent(text: string): ContentToken[] {
    const tokens: ContentToken[] = [];
    let segmentStart = 0;
    if (this.addedTokenPattern) {
      this.addedTokenPattern.lastIndex = 0;
      for (const match of text.matchAll(this.addedTokenPattern)) {
        this.tokenizeSegment(text.slice(segmentStart, match.index), tokens);
        tokens.push({ symbol: match[0], id: this.addedTokens.get(match[0])! });
        segmentStart = match.index + match[0].length;
      }
    }
    this.tokenizeSegment(text.slice(segmentStart), tokens);
    return tokens;
  }

  private tokenizeSegment(segment: string, out: ContentToken[]): void {
    const cleaned = cleanupText(segment, this.cleanup);
    for (const match of cleaned.matchAll(PRE_TOKENIZE_PATTERN)) {
      const word = this.encodeWord(match[0]);
      for (let i = 0; i < word.ids.length; i++) out.push({ symbol: word.symbols[i], id: word.ids[i] });
    }
  }

  /** BPE of one pre-tokenized piece, cached by the piece's text. */
  private encodeWord(piece: string): WordEncoding {
    const cached = this.wordCache.get(piece);
    if (cached) return cached;
    // the special-token literals are preset in HF's BPE cache, so they map to themselves
    const symbols = piece === START_OF_TEXT || piece === END_OF_TEXT ? [piece] : this.bpe(toByteSymbols(piece));
    const ids = symbols.map((symbol) => this.encoder.get(symbol) ?? this.unkId);
    const encoding = { symbols, ids };
    if (this.wordCache.size >= CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(piece, encoding);
    return encoding;
  }

  /** Byte-level BPE on one pre-tokenized word: lowest-ranked adjacent pair first, all occurrences. */
  private bpe(word: string): string[] {
    let symbols = Array.from(word);
    symbols[symbols.length - 1] += END_OF_WORD;
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestFirst = '';
      let bestSecond = '';
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.mergeRanks.get(pairKey(symbols[i], symbols[i + 1]));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestFirst = symbols[i];
          bestSecond = symbols[i + 1];
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === bestFirst && symbols[i + 1] === bestSecond) {
          merged.push(bestFirst + bestSecond);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols = merged;
    }
    return symbols;
  }

  private symbolsToText(symbols: readonly string[]): string {
    const bytes: number[] = [];
    for (const symbol of symbols) {
      if (this.addedTokens.has(symbol) && !this.encoder.has(symbol)) bytes.push(...new TextEncoder().encode(symbol));
      else symbolsToBytes(symbol, bytes);
    }
    return new TextDecoder('utf-8').decode(new Uint8Array(bytes)).replaceAll(END_OF_WORD, ' ').trim();
  }
}

/** One token for display: its bytes as UTF-8 when they form whole characters, else `<0xNN>` escapes. */
function readableToken(symbol: string): string {
  const hasEnd = symbol.endsWith(END_OF_WORD) && symbol.length > END_OF_WORD.length;
  const core = hasEnd ? symbol.slice(0, -END_OF_WORD.length) : symbol;
  const bytes = Uint8Array.from(symbolsToBytes(core));
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = Array.from(bytes, (byte) => (byte < 0x80 ? String.fromCharCode(byte) : `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`)).join('');
  }
  return hasEnd ? text + END_OF_WORD : text;
}

function pairKey(first: string, second: string): string {
  return `${first} ${second}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Merge lines → whitespace-separated parts (Python's `str.split()`); malformed lines keep their rank slot. */
function parseMergeLines(lines: readonly string[]): string[][] {
  return lines.map((line) => {
    // byte-level symbols never contain whitespace, so "first second" is the common, cheap case
    const parts = line.trimEnd().split(' ');
    if (parts.length === 2 && parts[0].length > 0 && parts[1].length > 0) return parts;
    return line.split(/\s+/).filter((part) => part.length > 0);
  });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`cannot read ${path}: ${(error as Error).message}`, 'the file must be valid JSON');
  }
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

function parseVocab(value: unknown, path: string): Map<string, number> {
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(asObject(value, path))) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new UserError(`${path}: id of token ${JSON.stringify(token)} must be a non-negative integer`);
    vocab.set(token, id as number);
  }
  if (vocab.size === 0) throw new UserError(`${path} is empty`, 'a CLIP vocab.json maps token strings to ids');
  return vocab;
}

/** A special-token entry is a string or an AddedToken object `{content, ...}`; null/absent → undefined. */
function tokenContent(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  throw new UserError(`${where} must be a string or an object with a "content" string`);
}

function parseAddedTokens(
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
  vocab: ReadonlyMap<string, number>,
  configPath: string,
): Map<string, number> {
  const added = new Map<string, number>();
  const decoder = config.added_tokens_decoder;
  if (decoder !== undefined && decoder !== null) {
    for (const [idText, entry] of Object.entries(asObject(decoder, `${configPath} added_tokens_decoder`))) {
      const id = Number(idText);
      const content = tokenContent(entry, `${configPath} added_tokens_decoder.${idText}`);
      if (!Number.isInteger(id) || id < 0 || content === undefined || content.length === 0) {
        throw new UserError(`${configPath}: added_tokens_decoder entry ${idText} must map an integer id to {content}`);
      }
      added.set(content, id);
    }
  }
  for (const source of [config.additional_special_tokens, specialMap.additional_special_tokens]) {
    if (!Array.isArray(source)) continue;
    for (const entry of source) {
      const content = tokenContent(entry, `${configPath} additional_special_tokens`);
      const id = content === undefined ? undefined : added.get(content) ?? vocab.get(content);
      if (content !== undefined && id !== undefined) added.set(content, id);
    }
  }
  return added;
}

function parseMaxLength(value: unknown, configPath: string): number {
  if (value === undefined || value === null) return DEFAULT_MAX_LENGTH;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UserError(`${configPath}: model_max_length must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value >= UNBOUNDED_LENGTH_SENTINEL ? DEFAULT_MAX_LENGTH : value;
}
