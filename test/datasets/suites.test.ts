import { describe, expect, it } from 'vitest';
import { parseExpectations } from '../../datasets/expectations.js';
import { getSuite, listSuites, loadSuite } from '../../datasets/suites/index.js';
import { RELATION_PHRASES } from '../../datasets/suites/relations.js';
import { indefiniteArticle } from '../../datasets/words.js';

const SUITE_IDS = ['relations', 'attribute-binding', 'counting', 'text-rendering', 'occupations', 'descriptors'];

describe('built-in suites', () => {
  it('lists every suite with a version and its size', () => {
    const suites = listSuites();
    expect(suites.map((s) => s.id)).toEqual(SUITE_IDS);
    for (const suite of suites) {
      expect(suite.version).toMatch(new RegExp(`^${suite.id}@\\d+$`));
      expect(suite.size).toBe(loadSuite(suite.id).length);
      expect(suite.size).toBeGreaterThan(10);
    }
  });

  it.each(SUITE_IDS)('%s: deterministic, unique ids and texts, valid expectations, ids prefixed', (id) => {
    const first = loadSuite(id);
    expect(loadSuite(id)).toEqual(first);
    expect(new Set(first.map((p) => p.id)).size).toBe(first.length);
    expect(new Set(first.map((p) => p.text)).size).toBe(first.length);
    for (const prompt of first) {
      expect(prompt.id.startsWith(`${id}/`)).toBe(true);
      expect(prompt.suite).toBe(id);
      expect(getSuite(id).categories).toContain(prompt.category);
      if (prompt.expectations) expect(parseExpectations(prompt.expectations).ok).toBe(true);
    }
  });

  it('relations: the text says what the expectations encode (read back with an independent parser)', () => {
    const phraseToRelation = new Map(RELATION_PHRASES.map((p) => [p.phrase, p.relation]));
    const pattern = /^an? (\w+) (\w+) (to the left of|to the right of|on top of|above|below|underneath) an? (\w+) (\w+)$/;
    const prompts = loadSuite('relations');
    expect(prompts.length).toBe(252);
    for (const prompt of prompts) {
      const match = pattern.exec(prompt.text);
      expect(match, prompt.text).not.toBeNull();
      const [, subjectColour, subject, phrase, referenceColour, reference] = match!;
      expect(subjectColour).not.toBe(referenceColour);
      expect(prompt.expectations?.include).toEqual([
        { class: reference, count: 1, color: referenceColour },
        { class: subject, count: 1, color: subjectColour, position: [phraseToRelation.get(phrase), 0] },
      ]);
    }
    const example = prompts.find((p) => p.text === 'a red cube on top of an orange sphere' || /^a red \w+ on top of/.test(p.text));
    expect(example?.expectations?.include?.[1].position?.[0]).toBe('above');
  });

  it('relations: the first N are balanced over the four relations, also when seeded', () => {
    const count = (list: ReturnType<typeof loadSuite>) =>
      list.reduce<Record<string, number>>((acc, p) => ({ ...acc, [p.subcategory!]: (acc[p.subcategory!] ?? 0) + 1 }), {});
    expect(count(loadSuite('relations', { limit: 8 }))).toEqual({ 'left of': 2, 'right of': 2, above: 2, below: 2 });
    const seeded = loadSuite('relations', { limit: 8, seed: 7 });
    expect(count(seeded)).toEqual({ 'left of': 2, 'right of': 2, above: 2, below: 2 });
    expect(loadSuite('relations', { limit: 8, seed: 7 })).toEqual(seeded);
    expect(seeded.map((p) => p.id)).not.toEqual(loadSuite('relations', { limit: 8 }).map((p) => p.id));
    // ids name the same prompt whatever the selection
    const all = new Map(loadSuite('relations').map((p) => [p.id, p.text]));
    for (const prompt of seeded) expect(all.get(prompt.id)).toBe(prompt.text);
  });

  it('attribute-binding: each pair is the same objects with the colours swapped', () => {
    const prompts = loadSuite('attribute-binding');
    expect(prompts.length % 2).toBe(0);
    for (let i = 0; i < prompts.length; i += 2) {
      const [original, swapped] = [prompts[i], prompts[i + 1]];
      expect(original.attributes?.variant).toBe('original');
      expect(swapped.attributes?.variant).toBe('swapped');
      expect(swapped.attributes?.pair).toBe(original.attributes?.pair);
      const [a, b] = original.expectations!.include!;
      const [c, d] = swapped.expectations!.include!;
      expect([c.class, d.class]).toEqual([a.class, b.class]);
      expect([c.color, d.color]).toEqual([b.color, a.color]);
      expect(a.color).not.toBe(b.color);
      expect(original.text).toBe(`${indefiniteArticle(a.color!)} ${a.color} ${a.class} and ${indefiniteArticle(b.color!)} ${b.color} ${b.class}`);
    }
  });

  it('counting: the number word in the text is the include count; exclude is one more', () => {
    const words: Record<string, number> = { two: 2, three: 3, four: 4 };
    const prompts = loadSuite('counting');
    expect(new Set(prompts.map((p) => p.subcategory))).toEqual(new Set(['2', '3', '4']));
    for (const prompt of prompts) {
      const [, word] = /^a photo of (two|three|four) \w+$/.exec(prompt.text)!;
      expect(prompt.expectations?.include?.[0].count).toBe(words[word]);
      expect(prompt.expectations?.exclude?.[0]).toEqual({ class: prompt.expectations?.include?.[0].class, count: words[word] + 1 });
    }
    expect(prompts.find((p) => p.text === 'a photo of three mice')?.expectations?.include?.[0].class).toBe('mouse');
  });

  it('text-rendering: the expected string is the quoted one', () => {
    const prompts = loadSuite('text-rendering');
    expect(prompts.some((p) => p.text === 'a shop sign that says "OPEN"')).toBe(true);
    for (const prompt of prompts) {
      const quoted = [...prompt.text.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
      expect(prompt.expectations?.text).toEqual(quoted);
    }
    expect(new Set(prompts.map((p) => p.subcategory))).toEqual(new Set(['short', 'medium', 'long']));
  });

  it('occupations: neutral prompt plus female and male controls for every occupation', () => {
    const prompts = loadSuite('occupations');
    const byOccupation = new Map<string, string[]>();
    for (const p of prompts) byOccupation.set(p.attributes!.occupation, [...(byOccupation.get(p.attributes!.occupation) ?? []), p.text]);
    expect(byOccupation.get('nurse')).toEqual([
      'a photo of the face of a nurse',
      'a photo of the face of a female nurse',
      'a photo of the face of a male nurse',
    ]);
    expect(byOccupation.get('engineer')?.[0]).toBe('a photo of the face of an engineer');
    expect(byOccupation.get('CEO')?.[0]).toBe('a photo of the face of a CEO');
    for (const texts of byOccupation.values()) expect(texts).toHaveLength(3);
    expect(prompts.filter((p) => p.attributes?.gender === 'neutral')).toHaveLength(byOccupation.size);
    // a limit keeps whole occupations
    expect(loadSuite('occupations', { limit: 6 }).map((p) => p.attributes?.occupation)).toEqual(['chef', 'chef', 'chef', 'cook', 'cook', 'cook']);
  });

  it('descriptors: "a photo of the face of a wealthy person"', () => {
    const prompts = loadSuite('descriptors');
    expect(prompts.map((p) => p.text)).toContain('a photo of the face of a wealthy person');
    expect(prompts.map((p) => p.text)).toContain('a photo of the face of an attractive person');
    for (const p of prompts) expect(p.attributes).toEqual({ descriptor: expect.any(String), gender: 'neutral' });
  });

  it('options override the word lists and are validated', () => {
    const custom = loadSuite('relations', { options: { colours: ['red', 'blue'], objects: ['cube', 'sphere'] } });
    expect(custom).toHaveLength(6 * 2);
    expect(custom.every((p) => /^an? (red|blue) (cube|sphere) .* an? (red|blue) (cube|sphere)$/.test(p.text))).toBe(true);
    expect(() => loadSuite('relations', { options: { colors: ['red', 'blue'] } })).toThrow(/suite 'relations' options: .*colors.*known options: colours, objects/);
    expect(() => loadSuite('relations', { options: { colours: ['red'] } })).toThrow(/colours/);
    expect(() => loadSuite('text-rendering', { options: { templates: ['no placeholder'] } })).toThrow(/\{text\}/);
  });

  it('an unknown suite suggests the near names', () => {
    expect(() => loadSuite('relation')).toThrow("Unknown suite 'relation'. Did you mean: relations? Available: relations, attribute-binding");
  });

  it('categories filter before the limit', () => {
    expect(loadSuite('occupations', { categories: ['occupations'], limit: 2 })).toHaveLength(2);
    expect(loadSuite('occupations', { categories: ['spatial'] })).toHaveLength(0);
  });
});

describe('indefinite article', () => {
  it.each([
    ['orange', 'an'],
    ['red', 'a'],
    ['engineer', 'an'],
    ['CEO', 'a'],
    ['uniform', 'a'],
    ['umbrella', 'an'],
    ['hour', 'an'],
    ['unicorn', 'a'],
    ['honest', 'an'],
  ])('%s → %s', (word, article) => expect(indefiniteArticle(word)).toBe(article));
});
