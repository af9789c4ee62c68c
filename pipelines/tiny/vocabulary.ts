// A small but valid CLIP byte-level BPE vocabulary in Hugging Face format, built the way CLIP's was
// (the 256 byte symbols, the same with `</w>`, one token per merge, then the two special tokens), with
// merges learned from a fixed word list so that the common words of our prompt suites are single tokens.

/** Words that must become single tokens: the frequent words of GenEval / T2I-CompBench / DALL-Eval prompts. */
export const TINY_VOCABULARY_WORDS: readonly string[] = [
  // framing and function words
  'a', 'an', 'the', 'of', 'photo', 'picture', 'image', 'painting', 'drawing', 'sketch', 'and', 'on', 'in',
  'is', 'as', 'who', 'works', 'with', 'by', 'to', 'for', 'at', 'it', 'its', 'their', 'his', 'her', 'are',
  'was', 'were', 'from', 'into', 'over', 'up', 'down', 'while', 'only', 'other', 'hello', 'world',
  // relations
  'left', 'right', 'top', 'bottom', 'above', 'below', 'under', 'behind', 'front', 'next', 'near', 'side',
  'beside', 'between', 'across', 'through', 'hidden', 'holding', 'playing', 'sitting', 'standing',
  'looking', 'wearing', 'walking', 'running',
  // counts
  'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'group', 'couple',
  // colours and materials
  'red', 'green', 'blue', 'yellow', 'orange', 'purple', 'pink', 'brown', 'black', 'white', 'gray', 'grey',
  'silver', 'gold', 'metallic', 'wooden', 'glass', 'plastic', 'leather', 'fabric', 'rubber', 'fluffy',
  'soft', 'hard', 'smooth', 'rough', 'shiny', 'bright', 'dark', 'striped', 'colorful',
  // shapes and sizes
  'cube', 'sphere', 'cone', 'cylinder', 'pyramid', 'square', 'circle', 'triangle', 'star', 'diamond',
  'oval', 'round', 'cubic', 'spherical', 'conical', 'cylindrical', 'rectangular', 'triangular',
  'circular', 'pyramidal', 'pentagonal', 'oblong', 'teardrop', 'small', 'big', 'large', 'tall', 'short',
  'long',
  // people
  'person', 'people', 'man', 'woman', 'child', 'girl', 'boy', 'doctor', 'nurse', 'teacher', 'engineer',
  'chef', 'baker', 'artist', 'scientist', 'lawyer', 'pilot', 'farmer', 'writer', 'singer',
  // COCO objects (GenEval) and other frequent nouns
  'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic', 'light', 'fire',
  'hydrant', 'stop', 'sign', 'parking', 'meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports', 'ball', 'kite', 'baseball', 'bat', 'glove', 'skateboard', 'surfboard',
  'tennis', 'racket', 'bottle', 'wine', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
  'sandwich', 'broccoli', 'carrot', 'hot', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted', 'plant',
  'bed', 'dining', 'table', 'toilet', 'tv', 'laptop', 'computer', 'mouse', 'remote', 'keyboard', 'cell',
  'phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
  'teddy', 'hair', 'drier', 'toothbrush', 'desk', 'frog', 'fish', 'bag', 'hat', 'pig', 'wallet',
  'candle', 'plate', 'balloon', 'sofa', 'lamp', 'blanket', 'chicken', 'bee', 'butterfly', 'rabbit',
  'floor', 'tree', 'toy', 'turtle', 'rug', 'mirror', 'box', 'key', 'sky', 'door', 'pillow', 'pencil',
  'jacket', 'water', 'kitchen', 'room', 'house', 'street', 'city', 'beach', 'mountain', 'river', 'sun',
  'moon', 'night', 'flower', 'grass', 'window', 'wall', 'road', 'snow', 'cloud', 'field', 'forest',
];

/** The GPT-2 / CLIP byte → unicode table, in CLIP's vocabulary order (so '!' is id 0). */
export function byteUnicodeOrder(): Array<{ byte: number; symbol: string }> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const order = printable.map((byte) => ({ byte, symbol: String.fromCharCode(byte) }));
  const printableSet = new Set(printable);
  let next = 0;
  for (let byte = 0; byte < 256; byte++) {
    if (!printableSet.has(byte)) order.push({ byte, symbol: String.fromCharCode(256 + next++) });
  }
  return order;
}

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

export interface TinyVocabulary {
  /** token → id; ids are contiguous from 0; `<|startoftext|>` and `<|endoftext|>` are the last two. */
  vocab: Map<string, number>;
  /** Merge pairs in rank order. */
  merges: Array<[string, string]>;
  bosId: number;
  eosId: number;
}

function wordSymbols(word: string, byteToSymbol: Map<number, string>): string[] {
  const symbols = [...new TextEncoder().encode(word)].map((byte) => byteToSymbol.get(byte)!);
  symbols[symbols.length - 1] += '</w>';
  return symbols;
}

/**
 * Learns merges the way BPE training does: repeatedly merge the most frequent adjacent pair over the
 * word list (ties: lexicographically smallest pair), until every word is one symbol.
 */
function learnMerges(words: readonly string[], byteToSymbol: Map<number, string>): Array<[string, string]> {
  const segmented = [...new Set(words)].map((word) => wordSymbols(word, byteToSymbol));
  const merges: Array<[string, string]> = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const symbols of segmented) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    if (counts.size === 0) return merges;
    let best = '';
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const symbols of segmented) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) symbols.splice(i, 2, left + right);
      }
    }
  }
}

export function buildTinyVocabulary(words: readonly string[] = TINY_VOCABULARY_WORDS): TinyVocabulary {
  const order = byteUnicodeOrder();
  const byteToSymbol = new Map(order.map(({ byte, symbol }) => [byte, symbol]));
  const merges = learnMerges(words, byteToSymbol);
  const tokens = [...order.map((o) => o.symbol), ...order.map((o) => `${o.symbol}</w>`), ...merges.map(([a, b]) => a + b)];
  const vocab = new Map<string, number>();
  for (const token of tokens) if (!vocab.has(token)) vocab.set(token, vocab.size);
  const bosId = vocab.size;
  vocab.set(START_OF_TEXT, bosId);
  vocab.set(END_OF_TEXT, bosId + 1);
  return { vocab, merges, bosId, eosId: bosId + 1 };
}

function addedToken(content: string) {
  return { __type: 'AddedToken', content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

function specialToken(content: string) {
  return { content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

/**
 * The files of a slow `CLIPTokenizer` folder (`vocab.json`, `merges.txt`, `tokenizer_config.json`,
 * `special_tokens_map.json`) with the given pad token: `<|endoftext|>` for CLIP-L's tokenizer, `!` for
 * OpenCLIP bigG's tokenizer_2.
 */
export function tokenizerFiles(vocabulary: TinyVocabulary, padToken: string): Record<string, string> {
  const vocabJson = JSON.stringify(Object.fromEntries(vocabulary.vocab));
  const merges = `#version: 0.2\n${vocabulary.merges.map(([a, b]) => `${a} ${b}`).join('\n')}\n`;
  const config = {
    add_prefix_space: false,
    bos_token: addedToken(START_OF_TEXT),
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: addedToken(END_OF_TEXT),
    errors: 'replace',
    model_max_length: 77,
    pad_token: padToken,
    tokenizer_class: 'CLIPTokenizer',
    unk_token: addedToken(END_OF_TEXT),
  };
  const specialTokensMap = {
    bos_token: specialToken(START_OF_TEXT),
    eos_token: specialToken(END_OF_TEXT),
    pad_token: padToken,
    unk_token: specialToken(END_OF_TEXT),
  };
  return {
    'vocab.json': vocabJson,
    'merges.txt': merges,
    'tokenizer_config.json': `${JSON.stringify(config, null, 2)}\n`,
    'special_tokens_map.json': `${JSON.stringify(specialTokensMap, null, 2)}\n`,
  };
}

/**
 * A `tokenizer.json` (Hugging Face `tokenizers` format) for the same vocabulary, as transformers.js
 * folders carry: NFC + whitespace collapse + lowercase, CLIP's split pattern, byte-level mapping, BPE
 * with the `</w>` suffix, and `<|startoftext|> … <|endoftext|>` framing.
 */
export function fastTokenizerJson(vocabulary: TinyVocabulary): string {
  const added = [START_OF_TEXT, END_OF_TEXT].map((content) => ({
    id: vocabulary.vocab.get(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [END_OF_TEXT, vocabulary.eosId],
      cls: [START_OF_TEXT, vocabulary.bosId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: END_OF_TEXT,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(vocabulary.vocab),
      merges: vocabulary.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return JSON.stringify(tokenizer);
}
