import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UserError } from '../../pipelines/errors.js';
import { ClipTokenizer } from '../../pipelines/tokenizer/clip-tokenizer.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bpePath = join(repoRoot, '../shared/data/clip/bpe_simple_vocab_16e6.txt.gz');
const haveRealVocab = existsSync(bpePath);

const BOS = 49406;
const EOS = 49407;

/** Content ids of an encoding (between BOS and EOS). */
function contentIds(tokenizer: ClipTokenizer, text: string): number[] {
  const { ids, tokens } = tokenizer.encode(text);
  return ids.slice(1, tokens.length + 1);
}

describe.skipIf(!haveRealVocab)('ClipTokenizer with the real CLIP vocabulary (../shared/data/clip)', () => {
  let clipL: ClipTokenizer;
  let bigG: ClipTokenizer;
  beforeAll(() => {
    clipL = ClipTokenizer.fromBpeGz(bpePath);
    bigG = ClipTokenizer.fromBpeGz(bpePath, { padToken: '!' });
  });

  it('builds the 49,408-token vocabulary with BOS 49406, EOS 49407, "!" = 0', () => {
    expect(clipL.vocabSize).toBe(49408);
    expect([clipL.bosId, clipL.eosId, clipL.padId, clipL.maxLength]).toEqual([BOS, EOS, EOS, 77]);
    expect(bigG.padId).toBe(0);
    expect(clipL.tokenToId('!')).toBe(0);
    expect(clipL.tokenToId('!</w>')).toBe(256);
  });

  it('matches the spec §3.1 vectors', () => {
    expect(clipL.encode('a photo of a cat').ids.slice(0, 7)).toEqual([BOS, 320, 1125, 539, 320, 2368, EOS]);
    expect(clipL.encode('A PHOTO of  a Cat!').ids.slice(0, 8)).toEqual([BOS, 320, 1125, 539, 320, 2368, 256, EOS]);
    expect(clipL.encode('Hello, world!').ids.slice(0, 6)).toEqual([BOS, 3306, 267, 1002, 256, EOS]);
    expect(clipL.encode('').ids.slice(0, 2)).toEqual([BOS, EOS]);
    expect(contentIds(clipL, 'dog')).toEqual([1929]);
  });

  it('pads to 77 with 49407 (tokenizer) and 0 (tokenizer_2)', () => {
    const l = clipL.encode('a photo of a cat');
    const g = bigG.encode('a photo of a cat');
    expect(l.ids).toHaveLength(77);
    expect(g.ids).toHaveLength(77);
    expect(l.ids.slice(0, 7)).toEqual(g.ids.slice(0, 7));
    expect(l.ids.slice(7)).toEqual(new Array(70).fill(EOS));
    expect(g.ids.slice(7)).toEqual(new Array(70).fill(0));
    expect(l).toMatchObject({ contentTokenCount: 5, truncated: false });
    expect(l.droppedText).toBeUndefined();
  });

  it('turns every "!" into the pad token 0 when "!" is the pad token (diffusers #4153)', () => {
    // diffusers issue 4153: SDXL tokenizer_2 gives [49406, 0×6, 49407, 0…] for "! !! !!!"; OpenCLIP gives 256 748 995.
    expect(bigG.encode('! !! !!!').ids.slice(0, 9)).toEqual([BOS, 0, 0, 0, 0, 0, 0, EOS, 0]);
    expect(clipL.encode('! !! !!!').ids.slice(0, 5)).toEqual([BOS, 256, 748, 995, EOS]);
    expect(bigG.encode('A PHOTO of  a Cat!').ids.slice(0, 8)).toEqual([BOS, 320, 1125, 539, 320, 2368, 0, EOS]);
  });

  it('matches published third-party CLIP tokenizer fixtures', () => {
    // elixir-nx/bumblebee clip_tokenizer_test.exs
    expect(contentIds(clipL, 'a photo of a dog')).toEqual([320, 1125, 539, 320, 1929]);
    // an SD 2.1 ONNX JS port's test
    expect(contentIds(clipL, 'An astronaut riding a horse')).toEqual([550, 18376, 6765, 320, 4558]);
    // a vitest CLIP BPE suite (JS)
    expect(contentIds(clipL, 'Special characters: !@#$%^&*()')).toEqual([1689, 6564, 281, 0, 31, 2, 3, 4, 61, 5, 9, 8475]);
    expect(contentIds(clipL, '😀 😃 😄')).toEqual([7334, 8520, 7624]);
    expect(contentIds(clipL, '    \t\n')).toEqual([]);
    expect(
      contentIds(
        clipL,
        'A very long sentence that goes on and on and should definitely exceed the normal context length to see how the tokenizer handles truncation when we have way too many tokens',
      ),
    ).toEqual([
      320, 1070, 1538, 12737, 682, 2635, 525, 537, 525, 537, 1535, 4824, 32521, 518, 5967, 13089, 10130, 531, 862, 829, 518, 32634, 23895,
      22124, 16163, 21367, 827, 649, 720, 923, 1256, 1346, 23562,
    ]);
  });

  // transformers tests/models/clip/test_tokenization_clip.py integration vector (openai/clip-vit-base-patch32).
  const integrationText =
    'This is a test 😊\nI was born in 92000, and this is falsé.\n生活的真谛是\nHi  Hello\nHi   Hello\n\n \n  \n Hello\n<s>\nhi<s>there\n' +
    'The following string should be properly encoded: Hello.\nBut ird and ปี   ird   ด\nHey how are you doing';
  const integrationIds = [
    589, 533, 320, 1628, 3020, 328, 739, 2683, 530, 280, 273, 271, 271, 271, 267, 537, 589, 533, 2778, 82, 4166, 269, 33375, 162, 112, 119,
    163, 248, 226, 41570, 164, 108, 249, 42891, 363, 1883, 3306, 1883, 3306, 3306, 283, 338, 285, 1883, 283, 338, 285, 997, 518, 3473, 9696,
    1535, 655, 12560, 524, 33703, 281, 3306, 269, 767, 2770, 537, 1777, 505, 20278, 2770, 38825, 2189, 829, 631, 592, 1960,
  ];
  const cjkRun = { start: 22, length: 13 }; // the ids of 生活的真谛是

  it('matches the transformers integration vector (tokenizers-style cleanup keeps the CJK run as one word)', () => {
    const fast = ClipTokenizer.fromBpeGz(bpePath, { cleanup: 'hf-fast' });
    expect(contentIds(fast, integrationText)).toEqual(integrationIds);
    expect(fast.decode(fast.encode(integrationText).ids)).toBe(
      'this is a test 😊 i was born in 9 2 0 0 0 , and this is falsé . 生活的真谛是 hi hello hi hello hello < s > hi < s > there ' +
        'the following string should be properly encoded : hello . but ird and ป ี ird ด hey how are you doing',
    );
    // a vitest CLIP BPE suite (JS), tokenizers semantics
    expect(contentIds(fast, '你好世界')).toEqual([47466, 254, 29290, 121, 19759, 244, 163, 243, 490]);
  });

  it('slow-tokenizer cleanup agrees off CJK and splits CJK ideographs into words', () => {
    const withoutCjk = integrationText.replace('生活的真谛是\n', '');
    const expected = [...integrationIds];
    expected.splice(cjkRun.start, cjkRun.length);
    expect(contentIds(clipL, withoutCjk)).toEqual(expected);
    // each ideograph becomes its own word (one `</w>` each) in the slow tokenizer, one word in tokenizers
    const wordEnds = (tokenizer: ClipTokenizer) => tokenizer.encode('生活的').tokens.filter((token) => token.endsWith('</w>')).length;
    expect(wordEnds(clipL)).toBe(3);
    expect(wordEnds(ClipTokenizer.fromBpeGz(bpePath, { cleanup: 'hf-fast' }))).toBe(1);
  });

  it('splits contractions, single digits and unicode the way the pattern says', () => {
    const id = (token: string) => clipL.tokenToId(token)!;
    expect(clipL.encode("I'll say they're here").tokens).toEqual(['i</w>', "'ll</w>", 'say</w>', 'they</w>', "'re</w>", 'here</w>']);
    expect(contentIds(clipL, "it's")).toEqual([id('it</w>'), id("'s</w>")]);
    expect(contentIds(clipL, '92000')).toEqual([280, 273, 271, 271, 271]);
    expect(contentIds(clipL, 'falsé')).toEqual([2778, 82, 4166]);
    expect(contentIds(clipL, '😊')).toEqual([3020]);
    // NFC: a + combining tilde equals precomposed ã (transformers slow/fast consistency case)
    expect(contentIds(clipL, 'xa\u0303y')).toEqual(contentIds(clipL, 'x\u00e3y'));
    for (const space of ['\u0009', '\u000B', '\u000C', '\u0020', '\u200E', '\u200F', '\r\n', '\u2028', '\u2029']) {
      expect(contentIds(clipL, space)).toEqual([]);
    }
  });

  it('recognises the special-token literals inside a prompt', () => {
    expect(contentIds(clipL, 'a<|endoftext|>a')).toEqual([320, EOS, 320]);
    expect(contentIds(clipL, 'a <|startoftext|> a')).toEqual([320, BOS, 320]);
  });

  it('truncates to 75 content tokens, keeps EOS last and reports what was cut', () => {
    const prompt = Array(16).fill('a photo of a cat').join(', ') + ' in the rain';
    const encoding = clipL.encode(prompt);
    expect(encoding.ids).toHaveLength(77);
    expect(encoding.ids[76]).toBe(EOS);
    expect(encoding.truncated).toBe(true);
    // 16 × (5 words + comma) − 1 comma + 3 = 98 content tokens; 75 kept = 12 × 6 + "a photo of"
    expect(encoding.contentTokenCount).toBe(98);
    expect(encoding.tokens).toHaveLength(75);
    expect(encoding.ids.slice(1, 7)).toEqual([320, 1125, 539, 320, 2368, 267]);
    expect(encoding.tokens.slice(-3)).toEqual(['a</w>', 'photo</w>', 'of</w>']);
    expect(encoding.droppedText).toBe('a cat , a photo of a cat , a photo of a cat , a photo of a cat in the rain');
    expect(encoding.droppedTokens).toHaveLength(23);
  });

  it('decodes ids back to text', () => {
    const ids = clipL.encode('A photo of a Cat!').ids;
    expect(clipL.decode(ids)).toBe('a photo of a cat !');
    expect(clipL.decode([BOS, 320, 1125, 539, 320, 2368, EOS], { skipSpecialTokens: false })).toBe(
      '<|startoftext|>a photo of a cat <|endoftext|>',
    );
  });
});

describe('ClipTokenizer.fromFolder (HF tokenizer folder written by the test)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-tokenizer-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writeFolder(name: string, files: Record<string, unknown>): string {
    const folder = join(dir, name);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      writeFileSync(join(folder, file), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return folder;
  }

  // transformers test_tokenization_clip.py toy vocabulary
  const toyVocab = ['l', 'o', 'w', 'e', 'r', 's', 't', 'i', 'd', 'n', 'lo', 'l</w>', 'w</w>', 'r</w>', 't</w>', 'low</w>', 'er</w>', 'lowest</w>', 'newer</w>', 'wider', '<unk>', '<|startoftext|>', '<|endoftext|>'];
  const toyFiles = () => ({
    'vocab.json': Object.fromEntries(toyVocab.map((token, id) => [token, id])),
    'merges.txt': ['#version: 0.2', 'l o', 'lo w</w>', 'e r</w>'].join('\n'),
    'special_tokens_map.json': { unk_token: '<unk>' },
  });

  it('reproduces the transformers toy-vocabulary test ("lower newer")', () => {
    const tokenizer = ClipTokenizer.fromFolder(writeFolder('toy', toyFiles()));
    const encoding = tokenizer.encode('lower newer');
    expect(encoding.tokens).toEqual(['lo', 'w', 'er</w>', 'n', 'e', 'w', 'er</w>']);
    expect(encoding.ids.slice(0, 9)).toEqual([21, 10, 2, 16, 9, 3, 2, 16, 22]);
    expect(contentIds(tokenizer, 'x')).toEqual([20]); // unknown symbol → unk
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.unkId]).toEqual([21, 22, 22, 20]);
  });

  it('reads special tokens as strings or AddedToken objects, with transformers’ file precedence; pad splits text', () => {
    // a vocabulary shaped like the tiny test models: "!" is 0, BOS/EOS are the last two ids
    const vocab = ['!', 'h', 'i', 'i</w>', 'hi</w>', '!</w>', '<|startoftext|>', '<|endoftext|>'];
    const folder = writeFolder('tiny', {
      'vocab.json': Object.fromEntries(vocab.map((token, id) => [token, id])),
      'merges.txt': '#version: 0.2\nh i</w>\n',
      'tokenizer_config.json': {
        bos_token: { __type: 'AddedToken', content: '<|startoftext|>', lstrip: false },
        eos_token: { content: '<|endoftext|>' },
        pad_token: '<|endoftext|>',
        model_max_length: 8,
      },
      'special_tokens_map.json': { pad_token: { content: '!', normalized: false } },
    });
    const tokenizer = ClipTokenizer.fromFolder(folder);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId, tokenizer.maxLength]).toEqual([6, 7, 0, 8]);
    expect(tokenizer.encode('Hi!').ids).toEqual([6, 4, 0, 7, 0, 0, 0, 0]);
    const eosPadded = ClipTokenizer.fromFolder(folder, { padToken: '<|endoftext|>' });
    expect(eosPadded.encode('Hi!').ids).toEqual([6, 4, 5, 7, 7, 7, 7, 7]);
    // with added_tokens_decoder in tokenizer_config.json, transformers ignores special_tokens_map.json
    const modern = writeFolder('tiny-modern', {
      'vocab.json': Object.fromEntries(vocab.map((token, id) => [token, id])),
      'merges.txt': '#version: 0.2\nh i</w>\n',
      'tokenizer_config.json': { pad_token: '<|endoftext|>', added_tokens_decoder: { '7': { content: '<|endoftext|>', special: true } } },
      'special_tokens_map.json': { pad_token: '!' },
    });
    expect(ClipTokenizer.fromFolder(modern).padId).toBe(7);
    const long = eosPadded.encode('hi hi hi hi hi hi hi hi');
    expect(long.ids).toEqual([6, 4, 4, 4, 4, 4, 4, 7]);
    expect(long).toMatchObject({ truncated: true, contentTokenCount: 8, droppedText: 'hi hi' });
  });

  it('rejects missing folders, missing files and unknown special tokens with a UserError naming them', () => {
    expect(() => ClipTokenizer.fromFolder(join(dir, 'absent'))).toThrow(UserError);
    expect(() => ClipTokenizer.fromFolder(join(dir, 'absent'))).toThrow(/absent/);
    const noMerges = writeFolder('no-merges', { 'vocab.json': toyFiles()['vocab.json'] });
    expect(() => ClipTokenizer.fromFolder(noMerges)).toThrow(/merges\.txt/);
    const badPad = writeFolder('bad-pad', { ...toyFiles(), 'special_tokens_map.json': { unk_token: '<unk>', pad_token: '!' } });
    expect(() => ClipTokenizer.fromFolder(badPad)).toThrow(/pad_token "!" is not in the vocabulary/);
    expect(() => ClipTokenizer.fromPath(join(dir, 'nothing.txt.gz'))).toThrow(UserError);
  });
});

describe.skipIf(!haveRealVocab)('refinery tokenize', () => {
  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...parts) => void out.push(parts.join(' ')));
    const error = vi.spyOn(console, 'error').mockImplementation((...parts) => void err.push(parts.join(' ')));
    try {
      // imported here so a broken sibling command cannot take the tokenizer unit tests down with it
      const { main } = await import('../../harness/cli.js');
      const code = await main(args);
      return { code, out: out.join('\n'), err: err.join('\n') };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  it('prints ids and a position/id/token table', async () => {
    const { code, out, err } = await run(['tokenize', '--tokenizer', bpePath, 'a photo of a cat']);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toContain('ids: 49406 320 1125 539 320 2368 49407 49407');
    expect(out).toMatch(/5\s+2368\s+cat<\/w>/);
  });

  it('prints JSON, pads with zero on request and warns on stderr about dropped words', async () => {
    const prompt = Array(16).fill('a photo of a cat').join(' ') + ' on the moon';
    const { code, out, err } = await run(['tokenize', '--tokenizer', bpePath, '--pad-with-zero', '--json', prompt]);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ padId: 0, truncated: true, contentTokenCount: 83 });
    expect(report.ids).toHaveLength(77);
    expect(err).toContain('WARNING');
    expect(err).toContain('SDXL silently drops words past 75 tokens');
    expect(err).toContain('a photo of a cat on the moon');
  });

  it('fails with one line naming a missing tokenizer path', async () => {
    const { code, err } = await run(['tokenize', '--tokenizer', '/nonexistent/tokenizer', 'x']);
    expect(code).toBe(1);
    expect(err).toMatch(/^error: tokenizer path not found: \/nonexistent\/tokenizer/);
  });
});
