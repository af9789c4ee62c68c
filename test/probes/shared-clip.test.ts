import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadSuite } from '../../datasets/suites/index.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { OnnxSession } from '../../pipelines/session.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { createScorer, loadScorerRegistry, SharedScorerResources, type ScorerFactoryContext } from '../../probes/registry.js';
import type { ScorableSample, Scorer, ScoringContext } from '../../probes/types.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-shared-clip-'));
let tiny: TinyModelFolders;
beforeAll(async () => {
  tiny = await ensureTinyModels(join(cacheDir, 'models'));
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function image(seed: number): RgbImage {
  const data = new Uint8Array(96 * 80 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 0xff;
  return { width: 96, height: 80, data };
}

// relation prompts: `contrastive` applies to them, `clip` to every prompt, `bias-attributes` with all: true
const samples: ScorableSample[] = loadSuite('relations', { limit: 3 }).map((prompt, i) => ({ key: `unit-${i}`, imagePath: `${i}.png`, prompt }));
const images = new Map(samples.map((sample, i) => [sample.key, image(i + 1)]));
const scoringContext: ScoringContext = { loadImage: async (sample) => images.get(sample.key)!, log: () => {} };

/** Counts the images the vision tower is run on (rows of pixel_values), across all sessions. */
function countVisionRows(): { rows: number } {
  const counter = { rows: 0 };
  const run = OnnxSession.prototype.run;
  vi.spyOn(OnnxSession.prototype, 'run').mockImplementation(function (this: OnnxSession, feeds, fetches) {
    if (this.label.endsWith('vision_model') && feeds.pixel_values) counter.rows += feeds.pixel_values.dims[0];
    return run.call(this, feeds, fetches);
  });
  return counter;
}

async function createAll(context: ScorerFactoryContext): Promise<Scorer[]> {
  const registry = await loadScorerRegistry();
  return [
    await createScorer('clip', {}, context, registry),
    await createScorer('contrastive', {}, context, registry),
    await createScorer('bias-attributes', { all: true }, context, registry),
  ];
}

async function scoreAll(scorers: Scorer[]): Promise<number> {
  let records = 0;
  for (const scorer of scorers) records += (await scorer.score(samples, scoringContext)).length;
  return records;
}

describe('CLIP-based scorers sharing one model per run', () => {
  it('embeds each image once for clip, contrastive and bias-attributes together (three times without sharing)', async () => {
    const unshared = countVisionRows();
    const separate = await createAll({ baseDir: cacheDir, models: { clip: tiny.clip } });
    const separateRecords = await scoreAll(separate);
    for (const scorer of separate) await scorer.dispose?.();
    expect(unshared.rows).toBe(3 * samples.length);
    vi.restoreAllMocks();

    const shared = new SharedScorerResources();
    const counted = countVisionRows();
    const scorers = await createAll({ baseDir: cacheDir, models: { clip: tiny.clip }, shared });
    expect(shared.keys()).toHaveLength(1);
    // clip 2 records + contrastive 2 + bias-attributes 2 (gender, skin tone) per sample, as without sharing
    expect(await scoreAll(scorers)).toBe(separateRecords);
    expect(separateRecords).toBe(6 * samples.length);
    expect(counted.rows).toBe(samples.length);
    for (const scorer of scorers) await scorer.dispose?.();
  });

  it('gives the same records shared or not', async () => {
    const alone = await createAll({ baseDir: cacheDir, models: { clip: tiny.clip } });
    const together = await createAll({ baseDir: cacheDir, models: { clip: tiny.clip }, shared: new SharedScorerResources() });
    for (let i = 0; i < alone.length; i++) {
      expect(await together[i].score(samples, scoringContext)).toEqual(await alone[i].score(samples, scoringContext));
    }
    for (const scorer of [...alone, ...together]) await scorer.dispose?.();
  });

  it('keeps the model open until the last scorer is disposed, then closes it', async () => {
    const shared = new SharedScorerResources();
    const [clip, contrastive, bias] = await createAll({ baseDir: cacheDir, models: { clip: tiny.clip }, shared });
    await clip.dispose?.();
    await clip.dispose?.(); // a second dispose releases nothing more
    expect((await contrastive.score(samples.slice(0, 1), scoringContext)).length).toBe(2);
    await contrastive.dispose?.();
    expect(shared.keys()).toHaveLength(1);
    await bias.dispose?.();
    expect(shared.keys()).toEqual([]);
    await expect(bias.score(samples.slice(1, 2), scoringContext)).rejects.toThrow(/used after dispose/);
  });

  it('names the classifier from the run\'s model hash cache', async () => {
    const hashCacheFile = join(cacheDir, 'model-hashes.json');
    const scorer = await createScorer('bias-attributes', { all: true }, { baseDir: cacheDir, models: { clip: tiny.clip }, shared: new SharedScorerResources(), hashCacheFile });
    const [record] = await scorer.score(samples.slice(0, 1), scoringContext);
    await scorer.dispose?.();
    expect(existsSync(hashCacheFile)).toBe(true);
    const cached = JSON.parse(readFileSync(hashCacheFile, 'utf8')) as Record<string, { sha256: string }>;
    const graph = Object.keys(cached).find((path) => path.startsWith(tiny.clip) && path.endsWith('.onnx'));
    expect(graph).toBeDefined();
    expect((record.detail as { classifier: string }).classifier).toMatch(/^clip \(sha256 [0-9a-f]{12}\)$/);
  });
});
