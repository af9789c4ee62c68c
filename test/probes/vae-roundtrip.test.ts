import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, type RgbImage } from '../../pipelines/image/png.js';
import { OnnxSession } from '../../pipelines/session.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { imageError, PSNR_CAP_DB, psnrFromMse } from '../../probes/health/image-error.js';
import { createVaeRoundTripScorer, cropToMultipleOf8, vaeRoundTrip, VAE_ROUNDTRIP_METRICS, type VaeSessions } from '../../probes/health/vae-roundtrip.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

const image = (width: number, height: number, values: number[]): RgbImage => ({ width, height, data: Uint8Array.from(values) });

describe('reconstruction error (hand-computed)', () => {
  it('one channel value fully wrong out of six: mse 1/6, PSNR 10·log10(6) dB, max error 1', () => {
    const error = imageError(image(2, 1, [0, 0, 0, 255, 255, 255]), image(2, 1, [0, 0, 0, 255, 255, 0]));
    expect(error.mse).toBeCloseTo(1 / 6, 15);
    expect(error.psnr).toBeCloseTo(7.781512503836436, 12);
    expect(error.maxAbsError).toBe(1);
  });

  it('one 8-bit level of error everywhere is 20·log10(255) = 48.13 dB', () => {
    const a = image(2, 2, Array.from({ length: 12 }, (_, i) => 100 + i));
    const b = image(2, 2, Array.from({ length: 12 }, (_, i) => 100 + i + (i % 2 ? 1 : -1)));
    const error = imageError(a, b);
    expect(error.psnr).toBeCloseTo(48.130803608679104, 10);
    expect(error.maxAbsError).toBeCloseTo(1 / 255, 15);
  });

  it('identical images are capped, not infinite; mismatched sizes are refused', () => {
    const a = image(1, 1, [5, 6, 7]);
    expect(imageError(a, a)).toEqual({ mse: 0, psnr: PSNR_CAP_DB, maxAbsError: 0 });
    expect(psnrFromMse(1)).toBe(0);
    expect(psnrFromMse(0.01)).toBeCloseTo(20, 12);
    expect(() => imageError(a, image(1, 2, [0, 0, 0, 0, 0, 0]))).toThrow(/sizes differ/);
  });

  it('sides that are not multiples of 8 are centre-cropped', () => {
    const source = { width: 20, height: 13, data: new Uint8Array(20 * 13 * 3).map((_, i) => i % 251) };
    const { image: cropped, crop } = cropToMultipleOf8(source);
    expect(crop).toEqual({ x: 2, y: 2, width: 16, height: 8 });
    expect(cropped.data[0]).toBe(source.data[(2 * 20 + 2) * 3]);
    expect(cropped.data[(7 * 16 + 15) * 3 + 2]).toBe(source.data[(9 * 20 + 17) * 3 + 2]);
    expect(cropToMultipleOf8({ width: 16, height: 8, data: new Uint8Array(384) }).crop).toBeUndefined();
  });
});

const SCENE =
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="64" height="48" fill="#9cc3e6"/>' +
  '<rect y="30" width="64" height="18" fill="#4f7d2c"/><circle cx="46" cy="14" r="8" fill="#f2c14e"/><rect x="10" y="18" width="18" height="16" fill="#b5442f"/></svg>';

describe('VAE round trip on the tiny SDXL VAE', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-vae-roundtrip-'));
  let folders: TinyModelFolders;
  let foldersA: TinyModelFolders;
  const scene = decodePng(new Resvg(SCENE).render().asPng(), 'scene').image;
  const sample = (key: string): ScorableSample => ({ key, imagePath: `${key}.png`, prompt: { id: key, text: 'x', suite: 's', category: 'c' } });
  const context: ScoringContext = { loadImage: async () => scene, log: () => {} };

  beforeAll(async () => {
    folders = await ensureTinyModels(cacheDir);
    foldersA = await ensureTinyModels(cacheDir, { exporter: 'A' });
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('generation B: finite metrics, deterministic (the latent mean), consistent with the reconstruction', async () => {
    const scorer = await createVaeRoundTripScorer({ model: folders.base });
    const encoder = await OnnxSession.create(join(folders.base, 'vae_encoder', 'model.onnx'));
    const decoder = await OnnxSession.create(join(folders.base, 'vae_decoder', 'model.onnx'));
    try {
      const records = await scorer.score([sample('a'), sample('b')], context);
      expect(records.map((r) => r.metric)).toEqual([...VAE_ROUNDTRIP_METRICS, ...VAE_ROUNDTRIP_METRICS].map((m) => m.name));
      const of = (key: string) => records.filter((r) => r.sampleKey === key).map((r) => r.value);
      const [psnr, mse, maxAbs] = of('a') as number[];
      expect(of('b')).toEqual(of('a'));
      expect(psnr).toBeGreaterThan(0);
      expect(psnr).toBeLessThan(PSNR_CAP_DB);
      expect(mse).toBeGreaterThan(0);
      expect(maxAbs).toBeGreaterThan(0);
      expect(maxAbs).toBeLessThanOrEqual(1);
      expect(records[0].detail).toMatchObject({ sampled: false, model: folders.base });

      const direct = await vaeRoundTrip({ encoder, decoder }, scene);
      expect(direct.sampled).toBe(false);
      expect(direct.reconstruction).not.toBeNull();
      const error = imageError(scene, direct.reconstruction!);
      expect([error.psnr, error.mse, error.maxAbsError]).toEqual([psnr, mse, maxAbs]);
      // PSNR and MSE agree
      expect(psnr).toBeCloseTo(10 * Math.log10(1 / mse), 9);
    } finally {
      await Promise.all([scorer.dispose!(), encoder.dispose(), decoder.dispose()]);
    }
  });

  it('a decoder output pushed away from the image lowers the PSNR', async () => {
    const encoder = await OnnxSession.create(join(folders.base, 'vae_encoder', 'model.onnx'));
    const decoder = await OnnxSession.create(join(folders.base, 'vae_decoder', 'model.onnx'));
    try {
      const plane = scene.width * scene.height;
      const perturbed: OnnxSession = Object.create(decoder);
      perturbed.run = async (feeds, fetches) => {
        const out = await decoder.run(feeds, fetches);
        const decoded = Object.values(out)[0].data;
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < plane; p++) {
            const target = (scene.data[p * 3 + c] / 255) * 2 - 1;
            decoded[c * plane + p] += decoded[c * plane + p] >= target ? 0.25 : -0.25;
          }
        }
        return out;
      };
      const clean = await vaeRoundTrip({ encoder, decoder }, scene);
      const worse = await vaeRoundTrip({ encoder, decoder: perturbed } as VaeSessions, scene);
      const cleanError = imageError(scene, clean.reconstruction!);
      const worseError = imageError(scene, worse.reconstruction!);
      expect(worseError.psnr).toBeLessThan(cleanError.psnr - 1);
      expect(worseError.mse).toBeGreaterThan(cleanError.mse);
    } finally {
      await Promise.all([encoder.dispose(), decoder.dispose()]);
    }
  });

  it('generation A: the in-graph sample is used and the records say the round trip is sampled', async () => {
    const logs: string[] = [];
    const scorer = await createVaeRoundTripScorer({ model: foldersA.base }, { log: (line) => logs.push(line) });
    try {
      const records = await scorer.score([sample('a')], context);
      expect(records.every((r) => typeof r.value === 'number' && Number.isFinite(r.value))).toBe(true);
      expect(records[0].detail).toMatchObject({ sampled: true, note: expect.stringMatching(/not reproducible/) });
      expect(logs.some((line) => /generation-A/.test(line))).toBe(true);
    } finally {
      await scorer.dispose!();
    }
  });

  it('model "tiny" generates the tiny set in the given cache; relative paths resolve against the experiment folder', async () => {
    const scorer = await createVaeRoundTripScorer({ model: 'tiny', tiny_cache_dir: '.' }, { baseDir: cacheDir });
    try {
      const records = await scorer.score([sample('a')], context);
      expect(records[0].detail).toMatchObject({ model: folders.base });
    } finally {
      await scorer.dispose!();
    }
  });

  it('clear errors: no model, a CLIP folder, a missing folder, an unknown option', async () => {
    await expect(createVaeRoundTripScorer({})).rejects.toThrow(/option model/);
    await expect(createVaeRoundTripScorer({}, { models: { clip: folders.clip } })).rejects.toThrow(/option model/);
    await expect(createVaeRoundTripScorer({ model: folders.clip })).rejects.toThrow(/CLIP folder, not an SDXL/);
    await expect(createVaeRoundTripScorer({ model: join(cacheDir, 'nope') })).rejects.toThrow(/option model: .*not found/);
    await expect(createVaeRoundTripScorer({ modle: 'x' })).rejects.toThrow(/modle/);
  });

  it('defaults to the experiment base model', async () => {
    const scorer = await createVaeRoundTripScorer({}, { models: { base: folders.refiner } });
    try {
      const records = await scorer.score([sample('a')], context);
      expect(records[0].detail).toMatchObject({ model: folders.refiner, sampled: false });
    } finally {
      await scorer.dispose!();
    }
  });
});
