import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSuite } from '../../datasets/suites/index.js';
import type { PromptExpectations, PromptInstance } from '../../datasets/types.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { ClipModel, cosine } from '../../probes/clip/clip-model.js';
import { buildContrastiveCaptions, pluralize } from '../../probes/clip/contrastive-captions.js';
import { contrastiveScorer } from '../../probes/clip/contrastive-scorer.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

describe('counterfactual captions (no model)', () => {
  it('reverses the relation and swaps the colours of a GenEval position prompt', () => {
    const expectations: PromptExpectations = {
      tag: 'position',
      include: [
        { class: 'sphere', count: 1, color: 'blue' },
        { class: 'cube', count: 1, color: 'red', position: ['left of', 0] },
      ],
    };
    expect(buildContrastiveCaptions(expectations)).toEqual({
      trueCaption: 'a photo of a red cube to the left of a blue sphere',
      counterfactuals: [
        { kind: 'relation', caption: 'a photo of a red cube to the right of a blue sphere', change: 'left of → right of' },
        { kind: 'colour-swap', caption: 'a photo of a blue cube to the left of a red sphere', change: 'blue ↔ red' },
      ],
    });
  });

  it('reverses above ↔ below and writes "an" before vowels', () => {
    const captions = buildContrastiveCaptions({
      include: [{ class: 'apple' }, { class: 'umbrella', color: 'orange', position: ['above', 0] }],
    });
    expect(captions?.trueCaption).toBe('a photo of an orange umbrella above an apple');
    expect(captions?.counterfactuals.map((c) => c.caption)).toEqual(['a photo of an orange umbrella below an apple']);
  });

  it('swaps colours for attribute binding', () => {
    const captions = buildContrastiveCaptions({
      tag: 'color_attr',
      include: [
        { class: 'car', count: 1, color: 'yellow' },
        { class: 'bench', count: 1, color: 'purple' },
      ],
    });
    expect(captions).toEqual({
      trueCaption: 'a photo of a yellow car and a purple bench',
      counterfactuals: [{ kind: 'colour-swap', caption: 'a photo of a purple car and a yellow bench', change: 'yellow ↔ purple' }],
    });
  });

  it('changes counts by one for counting prompts, never to zero', () => {
    expect(buildContrastiveCaptions({ tag: 'counting', include: [{ class: 'apple', count: 3 }], exclude: [{ class: 'apple', count: 4 }] })).toEqual({
      trueCaption: 'a photo of three apples',
      counterfactuals: [
        { kind: 'count-minus', caption: 'a photo of two apples', change: 'three apples → two apples' },
        { kind: 'count-plus', caption: 'a photo of four apples', change: 'three apples → four apples' },
      ],
    });
    expect(buildContrastiveCaptions({ tag: 'counting', include: [{ class: 'knife', count: 1 }] })?.counterfactuals.map((c) => c.caption)).toEqual([
      'a photo of two knives',
    ]);
    expect(buildContrastiveCaptions({ tag: 'counting', include: [{ class: 'knife', count: 1 }] })?.trueCaption).toBe('a photo of one knife');
  });

  it('gives null when there is nothing to contrast', () => {
    expect(buildContrastiveCaptions(undefined)).toBeNull();
    expect(buildContrastiveCaptions({ tag: 'single_object', include: [{ class: 'dog', count: 1 }] })).toBeNull();
    // two objects of the same colour: no swap, no relation, no counting
    expect(buildContrastiveCaptions({ include: [{ class: 'dog', color: 'red' }, { class: 'cat', color: 'red' }] })).toBeNull();
    expect(buildContrastiveCaptions({ text: ['OPEN'] })).toBeNull();
  });

  it('uses the prefix option and plural overrides', () => {
    const captions = buildContrastiveCaptions({ tag: 'counting', include: [{ class: 'cactus', count: 2 }] }, { prefix: '', plurals: { cactus: 'cactuses' } });
    expect(captions?.trueCaption).toBe('two cactuses');
  });

  it('pluralizes nouns (irregular forms, -es, -ies, multi-word)', () => {
    expect(pluralize('bus')).toBe('buses');
    expect(pluralize('strawberry')).toBe('strawberries');
    expect(pluralize('toy')).toBe('toys');
    expect(pluralize('person')).toBe('people');
    expect(pluralize('teddy bear')).toBe('teddy bears');
    expect(pluralize('wine glass')).toBe('wine glasses');
    expect(pluralize('sheep')).toBe('sheep');
  });

  it('finds counterfactuals for every instance of the relations, attribute-binding and counting suites', () => {
    for (const suite of ['relations', 'attribute-binding', 'counting']) {
      const instances = loadSuite(suite);
      expect(instances.length).toBeGreaterThan(10);
      for (const instance of instances) {
        const captions = buildContrastiveCaptions(instance.expectations);
        expect(captions, `${instance.id}: ${instance.text}`).not.toBeNull();
        const kinds = new Set(captions!.counterfactuals.map((c) => c.kind));
        if (suite === 'relations') expect([...kinds].sort()).toEqual(['colour-swap', 'relation']);
        if (suite === 'attribute-binding') expect([...kinds]).toEqual(['colour-swap']);
        if (suite === 'counting') expect(kinds.has('count-plus')).toBe(true);
        if (suite === 'counting') {
          // the suite writes the same template, irregular plurals included ("four mice")
          expect(captions!.trueCaption).toBe(instance.text);
        } else {
          expect(captions!.trueCaption).toBe(`a photo of ${instance.text.replace(/ (on top of|underneath) /, (_, phrase: string) => (phrase === 'on top of' ? ' above ' : ' below '))}`);
        }
      }
    }
  });
});

describe('contrastive scorer on the tiny CLIP', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-contrastive-'));
  let tiny: TinyModelFolders;
  beforeAll(async () => {
    tiny = await ensureTinyModels(join(cacheDir, 'models'));
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  function image(seed: number): RgbImage {
    const data = new Uint8Array(256 * 256 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i + seed, 2246822519) >>> 23) & 0xff;
    return { width: 256, height: 256, data };
  }

  it('scores correct/margin consistent with the per-caption cosines it lists', async () => {
    const scorer = await contrastiveScorer.create({}, { baseDir: cacheDir, models: { clip: tiny.clip } });
    const instances: PromptInstance[] = [
      ...loadSuite('relations', { limit: 2 }),
      ...loadSuite('attribute-binding', { limit: 2 }),
      ...loadSuite('counting', { limit: 2 }),
      { id: 'plain', text: 'a dog', suite: 'test', category: 'test' },
    ];
    const samples: ScorableSample[] = instances.map((prompt, i) => ({ key: `k${i}`, imagePath: `${i}.png`, prompt }));
    const images = new Map(samples.map((s, i) => [s.key, image(i)]));
    const context: ScoringContext = { loadImage: async (s) => images.get(s.key)!, log: () => {} };
    expect(samples.filter((s) => scorer.appliesTo!(s)).map((s) => s.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);

    const records = await scorer.score(samples, context);
    expect(records).toHaveLength(12); // the plain prompt yields none
    const model = await ClipModel.load(tiny.clip);
    for (const sample of samples.slice(0, 6)) {
      const correct = records.find((r) => r.sampleKey === sample.key && r.metric === 'contrastive_correct')!;
      const margin = records.find((r) => r.sampleKey === sample.key && r.metric === 'contrastive_margin')!;
      const detail = correct.detail as { trueCaption: string; trueSimilarity: number; counterfactuals: Array<{ caption: string; similarity: number }> };
      const best = Math.max(...detail.counterfactuals.map((c) => c.similarity));
      expect(correct.value).toBe(detail.trueSimilarity > best ? 1 : 0);
      expect(correct.label).toBe(correct.value === 1 ? 'correct' : 'wrong');
      expect(margin.value).toBeCloseTo(detail.trueSimilarity - best, 12);
      // the listed cosine is the model's cosine for that caption and image
      const [text] = await model.embedTexts([detail.counterfactuals[0].caption]);
      const [picture] = await model.embedImages([{ key: sample.key, load: async () => images.get(sample.key)! }]);
      expect(detail.counterfactuals[0].similarity).toBeCloseTo(cosine(picture, text), 5);
    }
    // the random-weight model's answers are not all the same
    const margins = records.filter((r) => r.metric === 'contrastive_margin').map((r) => r.value);
    expect(new Set(margins).size).toBe(6);
    await model.dispose();
    await scorer.dispose?.();
  });
});
