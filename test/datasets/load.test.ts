import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadPromptSet } from '../../datasets/load.js';
import type { PromptSource } from '../../datasets/types.js';

const DATA = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/data');

describe('loadPromptSet', () => {
  it('inline strings and objects', () => {
    const prompts = loadPromptSet(
      {
        inline: [
          'a red cube on top of a blue sphere',
          {
            text: 'two dogs',
            id: 'dogs',
            category: 'counting',
            expectations: { tag: 'counting', include: [{ class: 'dog', count: 2 }] },
          },
        ],
      },
      '/',
    );
    expect(prompts).toEqual([
      { id: 'inline/0000', text: 'a red cube on top of a blue sphere', suite: 'inline', category: 'inline' },
      {
        id: 'dogs',
        text: 'two dogs',
        suite: 'inline',
        category: 'counting',
        expectations: { tag: 'counting', include: [{ class: 'dog', count: 2 }] },
      },
    ]);
    expect(loadPromptSet({ inline: ['x'], name: 'demo' }, '/')[0].id).toBe('demo/0000');
  });

  it('inline: bad expectations and duplicate ids are named', () => {
    const badRelation = { inline: [{ text: 'x', expectations: { include: [{ class: 'a' }, { class: 'b', position: ['behind', 0] }] } }] };
    expect(() => loadPromptSet(badRelation as unknown as PromptSource, '/')).toThrow(/inline prompts: inline\[0\]\.expectations\.include\[1\]\.position\[0\]/);
    expect(() => loadPromptSet({ inline: [{ text: 'a', id: 'k' }, { text: 'b', id: 'k' }] }, '/')).toThrow(/inline prompts\[1\]\.id: 'k' is used twice/);
    expect(() => loadPromptSet({ inline: [] }, '/')).toThrow(/inline/);
  });

  it('suites with limit, seed and categories', () => {
    expect(loadPromptSet({ suite: 'relations', limit: 4 }, '/').map((p) => p.id)).toEqual([
      'relations/0000',
      'relations/0001',
      'relations/0002',
      'relations/0003',
    ]);
    const seeded = loadPromptSet({ suite: 'relations', limit: 4, seed: 1 }, '/');
    expect(seeded).toHaveLength(4);
    expect(loadPromptSet({ suite: 'relations', limit: 4, seed: 1 }, '/')).toEqual(seeded);
    expect(() => loadPromptSet({ suite: 'relatoins' }, '/')).toThrow(/Did you mean: relations\?/);
    expect(() => loadPromptSet({ suite: 'relations', categories: ['spatail'] }, '/')).toThrow(/no prompts of category 'spatail'.*categories here: spatial/);
    expect(() => loadPromptSet({ suite: 'relations', limit: 0 }, '/')).toThrow(/limit/);
  });

  it('files resolve against baseDir; categories, then limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'refinery-load-'));
    writeFileSync(
      join(dir, 'set.jsonl'),
      ['{"text": "a", "category": "x"}', '{"text": "b", "category": "y"}', '{"text": "c", "category": "y"}', '{"text": "d", "category": "y"}'].join('\n'),
    );
    expect(loadPromptSet({ file: 'set.jsonl', categories: ['y'], limit: 2 }, dir).map((p) => p.text)).toEqual(['b', 'c']);
    expect(loadPromptSet({ file: join(dir, 'set.jsonl'), name: 'mine' }, '/elsewhere')[0].id).toBe('mine/0000');
    expect(() => loadPromptSet({ file: 'missing.txt' }, dir)).toThrow(`${join(dir, 'missing.txt')}: not found`);
    expect(() => loadPromptSet({ file: 'set.jsonl', format: 'csv' } as unknown as PromptSource, dir)).toThrow(/format/);
    expect(() => loadPromptSet({ file: 'set.jsonl', categories: ['z'] }, dir)).toThrow(/no prompts of category 'z'/);
  });

  it.skipIf(!existsSync(join(DATA, 'geneval/evaluation_metadata.jsonl')))('a public file by path with a category filter', () => {
    const position = loadPromptSet({ file: 'geneval/evaluation_metadata.jsonl', categories: ['position'] }, DATA);
    expect(position).toHaveLength(100);
    expect(position.every((p) => p.expectations?.include?.[1]?.position)).toBe(true);
  });

  it('an object without inline, suite or file is refused', () => {
    expect(() => loadPromptSet({ prompts: [] } as unknown as PromptSource, '/')).toThrow(/needs one of inline, suite or file/);
  });
});
