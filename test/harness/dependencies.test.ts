import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createScorers, loadExperimentOrThrow, openSdxlGenerator } from '../../harness/run/dependencies.js';
import * as modelFolder from '../../pipelines/model-folder.js';
import { SdxlEnsemble } from '../../pipelines/ensemble.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import type { ScoringContext } from '../../probes/types.js';
import { testPlaces } from './run-fixtures.js';

vi.mock('../../pipelines/model-folder.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../pipelines/model-folder.js')>();
  return { ...original, validateSdxlFolder: vi.fn(original.validateSdxlFolder) };
});

function writeYaml(dir: string, models: string[], scorers: string): string {
  const file = join(dir, 'experiment.yaml');
  writeFileSync(
    file,
    ['name: deps', 'models:', ...models.map((line) => `  ${line}`), 'prompts:', '  - suite: relations', '    limit: 1', 'seeds: [0]', 'generation:', '  steps: 4', '  width: 64', '  height: 64', `scorers: ${scorers}`, ''].join('\n'),
  );
  return file;
}

describe('run dependencies', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-deps-'));
    vi.mocked(modelFolder.validateSdxlFolder).mockClear();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives scorers the base model (the VAE round trip defaults to it) and resolves models.detector: tiny', async () => {
    const file = writeYaml(dir, ['base: tiny', 'refiner: tiny', 'clip: tiny', 'detector: tiny'], '[vae-roundtrip, detector-geneval, clip]');
    const spec = await loadExperimentOrThrow(file, []);
    const scorers = await createScorers(spec, file, () => {}, testPlaces);
    try {
      expect(scorers.map((scorer) => scorer.id)).toEqual(['vae-roundtrip', 'detector-geneval', 'clip']);
      expect(scorers[1].description).toMatch(/GenEval rules with tiny-owlvit/i);
      const picture: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256) };
      const context: ScoringContext = { loadImage: async () => picture, log: () => {} };
      const sample = { key: 'k', imagePath: 'k.png', prompt: { id: 'p', text: 'a red cube', suite: 'inline', category: 'test' } };
      const records = await scorers[0].score([sample], context);
      expect(records.map((record) => record.metric)).toEqual(['vae_psnr', 'vae_mse', 'vae_max_abs_error']);
      expect(Number.isFinite(records[0].value)).toBe(true);
      const tiny = await ensureTinyModels(join(testPlaces.cacheDir, 'models'));
      expect((records[0].detail as { model: string }).model).toBe(tiny.base);
    } finally {
      for (const scorer of scorers) await scorer.dispose?.();
    }
  });

  it('disposes the scorers it made when a later one cannot be made', async () => {
    const file = writeYaml(dir, ['base: tiny', 'clip: tiny'], '[clip, detector-geneval]');
    const spec = await loadExperimentOrThrow(file, []);
    const dispose = vi.spyOn(await import('../../probes/clip/clip-model.js').then((m) => m.ClipModel.prototype), 'dispose');
    await expect(createScorers(spec, file, () => {}, testPlaces)).rejects.toThrow(/detector-geneval' needs an OWL-ViT/);
    expect(dispose).toHaveBeenCalledTimes(1);
    dispose.mockRestore();
  });

  it('opens the pipeline validating each model folder once, with the hashes its images record', async () => {
    const file = writeYaml(dir, ['base: tiny', 'refiner: tiny'], '[]');
    const spec = await loadExperimentOrThrow(file, []);
    const opened = await openSdxlGenerator(spec, () => {}, testPlaces);
    try {
      expect(vi.mocked(modelFolder.validateSdxlFolder).mock.calls.map(([, role]) => role)).toEqual(['base', 'refiner']);
      const ensemble = opened.generator as SdxlEnsemble;
      const digests = await ensemble.modelHashes();
      expect(opened.modelHashes).toMatchObject({ base: digests.base, refiner: digests.refiner });
      expect(opened.modelHashes.schedulerConfig).toEqual(ensemble.folders().base.schedulerConfig);
      expect(opened.modelBytes).toBeGreaterThan(0);
    } finally {
      await opened.generator.dispose();
    }
  });
});
