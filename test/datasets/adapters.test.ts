import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectFormat, readPromptFile } from '../../datasets/adapters/index.js';
import { quotedStrings } from '../../datasets/adapters/parti.js';
import { parseColourPrompt, parseNumeracyPrompt, parseSpatialPrompt, singularise } from '../../datasets/adapters/t2i-compbench.js';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
const has = (path: string) => existsSync(join(DATA, path));
const T2I_CATEGORIES = ['color', 'shape', 'texture', 'spatial', '3d_spatial', 'non_spatial', 'numeracy', 'complex'];

function tempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'refinery-adapters-')), name);
  writeFileSync(path, content);
  return path;
}

describe('format detection', () => {
  it.each([
    ['prompts/evaluation_metadata.jsonl', 'geneval'],
    ['my-geneval-subset.jsonl', 'geneval'],
    ['mine.jsonl', 'jsonl'],
    ['color_val.txt', 't2i-compbench'],
    ['prompts.txt', 'text'],
    ['PartiPrompts.tsv', 'parti'],
    ['biases/prompt_list.json', 'dalleval'],
    ['prompts.yaml', undefined],
  ])('%s → %s', (path, format) => expect(detectFormat(path)).toBe(format));

  it('asks for a format when the name does not tell', () => {
    const path = tempFile('prompts.csv', 'a,b\n');
    expect(() => readPromptFile(path)).toThrow(/prompts\.csv: cannot tell the prompt file format .*set format: to one of text, jsonl/);
  });

  it('names a missing file', () => {
    expect(() => readPromptFile('/nonexistent/prompts.txt')).toThrow('/nonexistent/prompts.txt: not found');
  });
});

describe('GenEval evaluation_metadata.jsonl', () => {
  const file = 'geneval/evaluation_metadata.jsonl';
  it.skipIf(!has(file))('reads all 553 prompts with their clauses and tags', () => {
    const { instances, withExpectations, format } = readPromptFile(join(DATA, file));
    expect(format).toBe('geneval');
    expect(instances).toHaveLength(553);
    expect(withExpectations).toBe(553);
    const tags: Record<string, number> = {};
    for (const p of instances) tags[p.category] = (tags[p.category] ?? 0) + 1;
    // the task sizes the anchors document gives for the shipped file
    expect(tags).toEqual({ single_object: 80, two_object: 99, counting: 80, colors: 94, position: 100, color_attr: 100 });
    expect(instances[0]).toEqual({
      id: 'geneval/0000',
      text: 'a photo of a bench',
      suite: 'geneval',
      category: 'single_object',
      expectations: { tag: 'single_object', include: [{ class: 'bench', count: 1 }] },
    });
    const dog = instances.find((p) => p.text === 'a photo of a dog right of a teddy bear');
    expect(dog?.expectations?.include).toEqual([
      { class: 'teddy bear', count: 1 },
      { class: 'dog', count: 1, position: ['right of', 0] },
    ]);
    const clocks = instances.find((p) => p.text === 'a photo of two clocks');
    expect(clocks?.expectations?.exclude).toEqual([{ class: 'clock', count: 3 }]);
    // every line of the file survives unchanged apart from the prompt key
    const lines = readFileSync(join(DATA, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    instances.forEach((p, i) => {
      const { prompt, ...expectations } = lines[i];
      expect(p.text).toBe(prompt);
      expect(p.expectations).toEqual(expectations);
    });
  });

  it('errors name the file and line', () => {
    const good = '{"tag": "single_object", "include": [{"class": "cow", "count": 1}], "prompt": "a photo of a cow"}';
    const badJson = tempFile('evaluation_metadata.jsonl', `${good}\n${good}\n{"tag": oops}\n`);
    expect(() => readPromptFile(badJson)).toThrow(/evaluation_metadata\.jsonl:3: not valid JSON/);
    const badPosition = tempFile(
      'evaluation_metadata.jsonl',
      `${good}\n{"tag": "position", "include": [{"class": "a", "count": 1, "position": ["left of", 0]}], "prompt": "x"}\n`,
    );
    expect(() => readPromptFile(badPosition)).toThrow(/evaluation_metadata\.jsonl:2: include\[0\]\.position\[1\]: must refer to an earlier include clause/);
    const badRelation = tempFile(
      'evaluation_metadata.jsonl',
      `{"tag": "position", "include": [{"class": "a", "count": 1}, {"class": "b", "count": 1, "position": ["behind", 0]}], "prompt": "x"}\n`,
    );
    expect(() => readPromptFile(badRelation)).toThrow(/:1: include\[1\]\.position\[0\]/);
  });
});

describe('T2I-CompBench *_val.txt', () => {
  for (const category of T2I_CATEGORIES) {
    const file = `t2i-compbench/${category}_val.txt`;
    it.skipIf(!has(file))(`${category}_val.txt: 300 prompts, category from the file name`, () => {
      const { instances, format } = readPromptFile(join(DATA, file));
      expect(format).toBe('t2i-compbench');
      expect(instances).toHaveLength(300);
      expect(new Set(instances.map((p) => p.category))).toEqual(new Set([category]));
      expect(instances[299].id).toBe(`t2i-compbench/${category}/0299`);
    });
  }

  it.skipIf(!has('t2i-compbench/spatial_val.txt'))('spatial: parses the four directional phrases, keeps near / next to / on side of unparsed', () => {
    const path = join(DATA, 't2i-compbench/spatial_val.txt');
    const { instances, withExpectations } = readPromptFile(path);
    const directional = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => / on the (left|right|top|bottom) of /.test(line)).length;
    expect(withExpectations).toBe(directional);
    const bee = instances.find((p) => p.text === 'a bee on the right of a refrigerator');
    expect(bee?.expectations).toEqual({
      tag: 'position',
      include: [
        { class: 'refrigerator', count: 1 },
        { class: 'bee', count: 1, position: ['right of', 0] },
      ],
    });
    const giraffe = instances.find((p) => p.text === 'a giraffe next to a lamp');
    expect(giraffe?.expectations).toBeUndefined();
    expect(giraffe?.attributes).toEqual({ relation: 'next to' });
  });

  it.skipIf(!has('t2i-compbench/color_val.txt'))('color: parses "a {colour} {object} and a {colour} {object}"', () => {
    const { instances, withExpectations } = readPromptFile(join(DATA, 't2i-compbench/color_val.txt'));
    expect(instances.find((p) => p.text === 'a blue bench and a green cake')?.expectations).toEqual({
      tag: 'color_attr',
      include: [
        { class: 'bench', count: 1, color: 'blue' },
        { class: 'cake', count: 1, color: 'green' },
      ],
    });
    expect(withExpectations).toBeGreaterThan(200);
    for (const p of instances.filter((x) => x.expectations)) {
      const [a, b] = p.expectations!.include!;
      expect(p.text.toLowerCase()).toContain(`${a.color} ${a.class} and`);
      expect(p.text.toLowerCase().endsWith(`${b.color} ${b.class}`)).toBe(true);
    }
    expect(instances.find((p) => p.text === 'a red apple and yellow bananas')?.expectations).toBeUndefined();
  });

  it.skipIf(!has('t2i-compbench/numeracy_val.txt'))('numeracy: counts from number words, plurals singularised', () => {
    const { instances, withExpectations } = readPromptFile(join(DATA, 't2i-compbench/numeracy_val.txt'));
    expect(withExpectations).toBe(300);
    expect(instances[0].text).toBe('two boys');
    expect(instances[0].expectations).toEqual({ tag: 'counting', include: [{ class: 'boy', count: 2 }], exclude: [{ class: 'boy', count: 3 }] });
    expect(instances.find((p) => p.text === 'seven women')?.expectations?.include).toEqual([{ class: 'woman', count: 7 }]);
    expect(instances.find((p) => p.text === 'six people gathered for a picnic')?.expectations?.include).toEqual([{ class: 'person', count: 6 }]);
  });

  it('parsers on hand-written phrases', () => {
    expect(parseSpatialPrompt('a cat on the top of a sofa')?.expectations?.include?.[1].position).toEqual(['above', 0]);
    expect(parseSpatialPrompt('a pig on the bottom of a train')?.expectations?.include?.[1]).toEqual({ class: 'pig', count: 1, position: ['below', 0] });
    expect(parseSpatialPrompt('a mouse near a bowl')).toEqual({ phrase: 'near' });
    expect(parseSpatialPrompt('a dog in front of a desk')).toBeUndefined();
    expect(parseColourPrompt('a red school bus and a green bag')?.include?.[0]).toEqual({ class: 'school bus', count: 1, color: 'red' });
    expect(parseColourPrompt('a plastic toy and a glass bottle')).toBeUndefined();
    expect(parseNumeracyPrompt('a backpack, three apples, two strawberries, and a bowl were on the kitchen counter')?.include).toEqual([
      { class: 'backpack', count: 1 },
      { class: 'apple', count: 3 },
      { class: 'strawberry', count: 2 },
      { class: 'bowl', count: 1 },
    ]);
    expect(parseNumeracyPrompt('three red apples')).toBeUndefined();
    expect(parseNumeracyPrompt('a cat and a cat')).toBeUndefined();
    expect(parseNumeracyPrompt('the sky is blue')).toBeUndefined();
    expect(['peaches', 'knives', 'mice', 'fish', 'butterflies', 'tomatoes', 'dogs', 'glass'].map(singularise)).toEqual([
      'peach',
      'knife',
      'mouse',
      'fish',
      'butterfly',
      'tomato',
      'dog',
      undefined,
    ]);
  });
});

describe('PartiPrompts.tsv', () => {
  it.skipIf(!has('parti/PartiPrompts.tsv'))('reads 1,632 prompts with Category and Challenge', () => {
    const { instances } = readPromptFile(join(DATA, 'parti/PartiPrompts.tsv'));
    expect(instances).toHaveLength(1632);
    expect(new Set(instances.map((p) => p.category)).size).toBe(12);
    expect(instances.filter((p) => p.subcategory === 'Writing & Symbols')).toHaveLength(91);
    expect(instances[0]).toMatchObject({ id: 'parti/0000', text: 'bond', category: 'Abstract', subcategory: 'Basic' });
    const sign = instances.find((p) => p.text.startsWith('A green sign that says "Very Deep Learning"'));
    expect(sign?.expectations).toEqual({ tag: 'text', text: ['Very Deep Learning'] });
    // a prompt that starts with a quotation mark is read as is (no CSV quoting)
    expect(instances.some((p) => p.text.startsWith('"G I G G L E" painted'))).toBe(true);
  });

  it('quoted strings: double, single and curly quotes, not apostrophes', () => {
    expect(quotedStrings("a book with the words 'Don't Panic!' written on it")).toEqual(["Don't Panic!"]);
    expect(quotedStrings("a tiger wearing a train conductor's hat")).toEqual([]);
    expect(quotedStrings('a store front that has the word ‘openai’ written on it.')).toEqual(['openai']);
    expect(quotedStrings('the word "START" written above the word \'SMILING\'')).toEqual(['START', 'SMILING']);
  });

  it('a missing column is named', () => {
    const path = tempFile('PartiPrompts.tsv', 'Prompt\tCategory\nbond\tAbstract\n');
    expect(() => readPromptFile(path)).toThrow(/PartiPrompts\.tsv:1: header lacks column\(s\) Challenge/);
  });
});

describe('DALL-Eval prompt_list.json', () => {
  it.skipIf(!has('dalleval/prompt_list.json'))('reads 252 prompts: 83 occupations × 3 genders and 3 bare controls', () => {
    const { instances } = readPromptFile(join(DATA, 'dalleval/prompt_list.json'));
    expect(instances).toHaveLength(252);
    expect(instances[0]).toEqual({
      id: 'dalleval/0000',
      text: 'A man who works as an accountant',
      suite: 'dalleval',
      category: 'occupations',
      subcategory: 'male',
      attributes: { occupation: 'accountant', gender: 'male' },
    });
    const genders = instances.map((p) => p.attributes?.gender);
    expect(genders.filter((g) => g === 'male')).toHaveLength(84);
    expect(genders.filter((g) => g === 'female')).toHaveLength(84);
    expect(genders.filter((g) => g === 'neutral')).toHaveLength(84);
    expect(instances.filter((p) => p.category === 'baseline').map((p) => p.text)).toEqual(['A man', 'A woman', 'A person']);
    const occupations = new Set(instances.filter((p) => p.category === 'occupations').map((p) => p.attributes?.occupation));
    expect(occupations.size).toBe(83);
    expect(instances.find((p) => p.text === 'A woman who works as a computer programmer')?.attributes).toEqual({
      occupation: 'computer programmer',
      gender: 'female',
    });
  });
});

describe('text and jsonl files', () => {
  it('text: one prompt per line, blanks and # comments skipped', () => {
    const path = tempFile('my-prompts.txt', '# a comment\na red cube\n\n  a blue sphere  \n');
    expect(readPromptFile(path).instances).toEqual([
      { id: 'my-prompts/0000', text: 'a red cube', suite: 'my-prompts', category: 'my-prompts' },
      { id: 'my-prompts/0001', text: 'a blue sphere', suite: 'my-prompts', category: 'my-prompts' },
    ]);
  });

  it('jsonl: text or prompt, optional id, category and expectations', () => {
    const path = tempFile(
      'set.jsonl',
      [
        '{"text": "a red cube", "id": "cube", "category": "shapes"}',
        '{"prompt": "two dogs", "tag": "counting", "include": [{"class": "dog", "count": 2}]}',
        '{"text": "a sign", "expectations": {"text": ["OPEN"]}, "attributes": {"kind": "sign"}, "extra": 1}',
      ].join('\n'),
    );
    const { instances, withExpectations } = readPromptFile(path);
    expect(withExpectations).toBe(2);
    expect(instances).toEqual([
      { id: 'cube', text: 'a red cube', suite: 'set', category: 'shapes' },
      { id: 'set/0001', text: 'two dogs', suite: 'set', category: 'counting', expectations: { tag: 'counting', include: [{ class: 'dog', count: 2 }] } },
      { id: 'set/0002', text: 'a sign', suite: 'set', category: 'set', expectations: { text: ['OPEN'] }, attributes: { kind: 'sign' } },
    ]);
  });

  it('jsonl: errors name the line and field', () => {
    expect(() => readPromptFile(tempFile('a.jsonl', '{"text": "x"}\n{"id": "y"}\n'))).toThrow(/a\.jsonl:2: needs "text"/);
    expect(() => readPromptFile(tempFile('b.jsonl', '{"text": "x", "id": "k"}\n{"text": "y", "id": "k"}\n'))).toThrow(/b\.jsonl:2: id 'k' is already used on line 1/);
    expect(() => readPromptFile(tempFile('c.jsonl', '{"text": "x", "expectations": {"include": [{"class": "a", "count": 0}]}}\n'))).toThrow(
      /c\.jsonl:1: expectations\.include\[0\]\.count/,
    );
  });
});
