import { describe, expect, it } from 'vitest';
import { listing } from '../../harness/commands/ls.js';
import { isUserError } from '../../pipelines/errors.js';
import { createScorer, loadScorerRegistry, Registry, suggest } from '../../probes/registry.js';

describe('Registry', () => {
  const make = () => new Registry<number>('scorer').register('clip', 1).register('contrastive', 2).register('colour-geometry', 3);

  it('registers, lists in order and looks up', () => {
    const registry = make();
    expect(registry.ids()).toEqual(['clip', 'contrastive', 'colour-geometry']);
    expect(registry.get('contrastive')).toBe(2);
    expect(registry.has('ocr')).toBe(false);
    expect(registry.list()).toEqual([
      { id: 'clip', entry: 1 },
      { id: 'contrastive', entry: 2 },
      { id: 'colour-geometry', entry: 3 },
    ]);
  });

  it('refuses duplicates, empty ids and registration after freeze', () => {
    expect(() => make().register('clip', 9)).toThrow("scorer 'clip' is already registered");
    expect(() => make().register(' ', 9)).toThrow(/must not be empty/);
    const frozen = make().freeze();
    expect(frozen.isFrozen).toBe(true);
    expect(() => frozen.register('ocr', 4)).toThrow(/frozen/);
    expect(frozen.get('clip')).toBe(1);
  });

  it('an unknown id is a UserError with suggestions and the full list', () => {
    const registry = make();
    let error: unknown;
    try {
      registry.get('clip-scor');
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect((error as Error).message).toBe("Unknown scorer 'clip-scor'. Did you mean: clip? Available: clip, contrastive, colour-geometry");
    expect(() => registry.get('color-geometry')).toThrow("Did you mean: colour-geometry?");
    expect(() => registry.get('zzz')).toThrow("Unknown scorer 'zzz'. Available: clip, contrastive, colour-geometry");
  });

  it('suggest: typos and prefixes, closest first', () => {
    expect(suggest('contrastiv', ['clip', 'contrastive', 'health'])).toEqual(['contrastive']);
    expect(suggest('ocr-scorer', ['ocr', 'clip'])).toEqual(['ocr']);
    expect(suggest('helth', ['health', 'bias-attributes'])).toEqual(['health']);
    expect(suggest('xyz', ['clip', 'ocr'])).toEqual([]);
  });
});

describe('scorer registry', () => {
  it('holds colour-geometry, with globally unique metric names, and is frozen', async () => {
    const registry = await loadScorerRegistry();
    expect(registry.isFrozen).toBe(true);
    expect(registry.ids()).toContain('colour-geometry');
    const names = registry.list().flatMap(({ entry }) => entry.metrics.map((m) => m.name));
    expect(new Set(names).size).toBe(names.length);
    for (const { id, entry } of registry.list()) expect(entry.id).toBe(id);
  });

  it('createScorer builds a registered scorer and names unknown ids and bad options', async () => {
    const context = { baseDir: '/' };
    const scorer = await createScorer('colour-geometry', {}, context);
    expect(scorer.id).toBe('colour-geometry');
    expect(scorer.metrics.map((m) => m.name)).toEqual(['relation_correct', 'colours_present']);
    await expect(createScorer('colour-geometri', {}, context)).rejects.toThrow(/Unknown scorer 'colour-geometri'\. Did you mean: colour-geometry\?/);
    await expect(createScorer('colour-geometry', { analysis_size: 8 }, context)).rejects.toThrow(/analysis_size/);
  });
});

describe('refinery ls', () => {
  it('scorers with their metrics', async () => {
    const { lines } = await listing('scorers');
    expect(lines).toContain(
      '    relation_correct (binary, higher is better, [0, 1]): the prompt\'s spatial relation holds between the objects found by colour (GenEval position rule on colour-segment boxes); null when a colour is missing or ambiguous',
    );
    expect(lines.some((l) => l.startsWith('colour-geometry  '))).toBe(true);
  });

  it('probes with what they test and their suites', async () => {
    const { lines } = await listing('probes');
    expect(lines).toContain('colour-geometry  tests spatial relations and colour presence; suites: relations, attribute-binding');
  });

  it('suites with version, size and categories', async () => {
    const { lines, json } = await listing('suites');
    expect(lines).toContain('relations  (relations@1, 252 prompts; categories: spatial)');
    expect((json as Array<{ id: string }>).map((s) => s.id)).toEqual(['relations', 'attribute-binding', 'counting', 'text-rendering', 'occupations', 'descriptors']);
    await expect(listing('scorer' as 'scorers')).rejects.toThrow(/cannot list 'scorer'/);
  });
});
