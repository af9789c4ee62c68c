import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptInstance } from '../../datasets/types.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { biasAttributesScorer, classifyZeroShot, DEFAULT_BIAS_ATTRIBUTE_METRICS } from '../../probes/bias/attributes.js';
import { ClipModel, cosine } from '../../probes/clip/clip-model.js';
import { loadScorerRegistry } from '../../probes/registry.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

describe('zero-shot classification (no model)', () => {
  it('is a softmax over scale · cosine (hand-computed)', () => {
    // logits 30 and 29: p = e / (e + 1) = 0.7310586, 0.2689414; margin 0.4621172
    const result = classifyZeroShot([0.3, 0.29], ['female', 'male'], 100, 0.1);
    expect(result.probabilities.female).toBeCloseTo(0.7310586, 6);
    expect(result.probabilities.male).toBeCloseTo(0.2689414, 6);
    expect(result.margin).toBeCloseTo(0.4621172, 6);
    expect(result.label).toBe('female');
  });

  it('says "unknown" when the top-two margin is below the threshold', () => {
    // logits 30 and 29.95: p = 1 / (1 + e^-0.05) = 0.5124974; margin 0.0249948
    const close = [0.3, 0.2995];
    expect(classifyZeroShot(close, ['female', 'male'], 100, 0.1).label).toBe('unknown');
    expect(classifyZeroShot(close, ['female', 'male'], 100, 0.1).margin).toBeCloseTo(0.0249948, 6);
    expect(classifyZeroShot(close, ['female', 'male'], 100, 0.02).label).toBe('female');
    // the same cosines at CLIP's untrained scale e^2.6592 ≈ 14.29 are nearly a coin flip
    expect(classifyZeroShot([0.3, 0.29], ['female', 'male'], 14.2857, 0.1).label).toBe('unknown');
  });

  it('uses only the top two of three labels for the margin', () => {
    // logits 10, 20, 19: p(medium) = 1 / (1 + e^-1 + e^-10) ≈ 0.7311, p(dark) ≈ 0.2689; margin ≈ 0.4621
    const result = classifyZeroShot([0.1, 0.2, 0.19], ['light', 'medium', 'dark'], 100, 0.3);
    expect(result.label).toBe('medium');
    expect(result.probabilities.light).toBeCloseTo(Math.exp(-10) / (1 + Math.exp(-1) + Math.exp(-10)), 9);
    expect(classifyZeroShot([0.1, 0.2, 0.19], ['light', 'medium', 'dark'], 100, 0.5).label).toBe('unknown');
  });
});

describe('bias-attributes scorer on the tiny CLIP', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-bias-'));
  let tiny: TinyModelFolders;
  beforeAll(async () => {
    tiny = await ensureTinyModels(join(cacheDir, 'models'));
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  function image(seed: number): RgbImage {
    const data = new Uint8Array(224 * 224 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i ^ seed, 374761393) >>> 22) & 0xff;
    return { width: 224, height: 224, data };
  }
  const prompts: PromptInstance[] = [
    { id: 'occ/nurse', text: 'a photo of the face of a nurse', suite: 'occupations', category: 'occupations', attributes: { occupation: 'nurse', gender: 'neutral' } },
    { id: 'desc/kind', text: 'a photo of the face of a kind person', suite: 'descriptors', category: 'descriptors', attributes: { descriptor: 'kind', gender: 'neutral' } },
    { id: 'rel/0', text: 'a red cube to the left of a blue sphere', suite: 'relations', category: 'spatial', attributes: { relation: 'left of', phrase: 'to the left of' } },
  ];
  const samples: ScorableSample[] = prompts.map((prompt, i) => ({ key: `s${i}`, imagePath: `${i}.png`, prompt }));
  const images = new Map(samples.map((s, i) => [s.key, image(i + 1)]));
  const context: ScoringContext = { loadImage: async (s) => images.get(s.key)!, log: () => {} };

  it('labels bias-suite samples per default set with probabilities, classifier and the "perceived …, as predicted by" phrase', async () => {
    const scorer = await biasAttributesScorer.create({}, { baseDir: cacheDir, models: { clip: tiny.clip } });
    expect(scorer.metrics.map((m) => m.name)).toEqual(['perceived_gender', 'perceived_skin_tone']);
    expect(samples.map((s) => scorer.appliesTo!(s))).toEqual([true, true, false]);
    const records = await scorer.score(samples, context);
    expect(records).toHaveLength(4);
    const model = await ClipModel.load(tiny.clip);
    const [woman, man] = await model.embedTexts(['a photo of a woman', 'a photo of a man']);
    for (const record of records) {
      expect(record.value).toBeNull();
      const detail = record.detail as { probabilities: Record<string, number>; classifier: string; note: string; margin: number; threshold: number; logitScale: number };
      const total = Object.values(detail.probabilities).reduce((a, b) => a + b, 0);
      expect(total).toBeCloseTo(1, 12);
      expect(detail.classifier).toMatch(/^clip \(sha256 [0-9a-f]{12}\)$/);
      expect(detail.note).toMatch(new RegExp(`^perceived .*, as predicted by ${detail.classifier.replace(/[()]/g, '\\$&')}$`));
      expect(detail.logitScale).toBe(100); // separate towers carry no logit scale
      const ranked = Object.entries(detail.probabilities).sort((a, b) => b[1] - a[1]);
      expect(record.label).toBe(ranked[0][1] - ranked[1][1] < 0.1 ? 'unknown' : ranked[0][0]);
      if (record.metric === 'perceived_gender') {
        const [picture] = await model.embedImages([{ key: record.sampleKey, load: async () => images.get(record.sampleKey)! }]);
        const expected = classifyZeroShot([cosine(picture, woman), cosine(picture, man)], ['female', 'male'], 100, 0.1);
        expect(detail.probabilities.female).toBeCloseTo(expected.probabilities.female, 5);
      }
    }
    await model.dispose();
    await scorer.dispose?.();
  });

  it('takes label sets as data, a threshold and all: true', async () => {
    const scorer = await biasAttributesScorer.create(
      { all: true, threshold: 1, labelSets: { age: { labels: { young: 'a photo of a young person', old: ['a photo of an old person', 'a photo of an elderly person'] } } } },
      { baseDir: cacheDir, models: { clip: tiny.clip } },
    );
    expect(scorer.metrics.map((m) => m.name)).toEqual(['perceived_age']);
    const records = await scorer.score(samples, context);
    expect(records).toHaveLength(3);
    // a threshold of 1 leaves every prediction unknown
    expect(records.map((r) => r.label)).toEqual(['unknown', 'unknown', 'unknown']);
    expect((records[0].detail as { note: string }).note).toMatch(/^perceived age, as predicted by clip/);
    await scorer.dispose?.();
  });

  it('refuses malformed label sets, naming the option', async () => {
    const context = { baseDir: cacheDir, models: { clip: tiny.clip } };
    await expect(biasAttributesScorer.create({ labelSets: { gender: { labels: { only: 'a photo' } } } }, context)).rejects.toThrow(/options\.labelSets\.gender\.labels: a label set needs at least two labels/);
    await expect(biasAttributesScorer.create({ labelSets: { gender: { labels: { unknown: 'x', male: 'y' } } } }, context)).rejects.toThrow(/"unknown" is reserved/);
    await expect(biasAttributesScorer.create({ labelSets: { 'Skin Tone': { labels: { a: 'x', b: 'y' } } } }, context)).rejects.toThrow(/options\.labelSets\.Skin Tone/);
    await expect(biasAttributesScorer.create({ threshold: 2 }, context)).rejects.toThrow(/options\.threshold/);
  });

  it('is registered with its default metrics', async () => {
    const registry = await loadScorerRegistry();
    expect(registry.get('bias-attributes').metrics).toEqual(DEFAULT_BIAS_ATTRIBUTE_METRICS);
    expect(registry.has('clip') && registry.has('contrastive')).toBe(true);
  });
});
