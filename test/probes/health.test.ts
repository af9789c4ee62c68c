import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../datasets/random.js';
import { decodePng, type RgbImage } from '../../pipelines/image/png.js';
import { createHealthScorer, HEALTH_METRICS, resolveHealthThresholds } from '../../probes/health/health-scorer.js';
import { assessImageHealth, imageStatistics } from '../../probes/health/image-health.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

function filled(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(pixel(x, y), (y * width + x) * 3);
  }
  return { width, height, data };
}

const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v)));

const SCENE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="192" height="192" viewBox="0 0 192 192">' +
  '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5b8fd6"/><stop offset="1" stop-color="#cfe3f5"/></linearGradient></defs>' +
  '<rect width="192" height="120" fill="url(#sky)"/><rect y="120" width="192" height="72" fill="#5f8a3a"/>' +
  '<circle cx="150" cy="40" r="18" fill="#f4d35e"/><rect x="40" y="80" width="12" height="50" fill="#6b4423"/>' +
  '<circle cx="46" cy="72" r="26" fill="#2f6b2a"/><rect x="90" y="92" width="50" height="36" fill="#c8553d"/>' +
  '<polygon points="86,92 115,66 144,92" fill="#7a2e1f"/></svg>';

function renderScene(): RgbImage {
  return decodePng(new Resvg(SCENE_SVG).render().asPng(), 'scene').image;
}

describe('imageStatistics (hand-computed)', () => {
  it('one black and one white pixel: mean 127.5, std 127.5 per channel, all values clipped', () => {
    const stats = imageStatistics(filled(2, 1, (x) => (x === 0 ? [0, 0, 0] : [255, 255, 255])));
    expect(stats.mean).toBe(127.5);
    expect(stats.channelStds).toEqual([127.5, 127.5, 127.5]);
    expect(stats.pixelStd).toBe(127.5);
    expect(stats.clippedFraction).toBe(1);
    expect(stats.saturatedFraction).toBe(0);
  });

  it('per-channel std and the RMS pooling; saturation needs S ≈ 1 and a high value', () => {
    // R: 10, 30 → std 10; G: 100, 100 → 0; B: 0, 40 → 20. pixelStd = √((100 + 0 + 400) / 3)
    const stats = imageStatistics(filled(2, 1, (x) => (x === 0 ? [10, 100, 0] : [30, 100, 40])));
    expect(stats.channelMeans).toEqual([20, 100, 20]);
    expect(stats.channelStds).toEqual([10, 0, 20]);
    expect(stats.pixelStd).toBeCloseTo(Math.sqrt(500 / 3), 12);
    expect(stats.clippedFraction).toBeCloseTo(1 / 6, 12);
    // (250, 5, 5): S = 245/250 = 0.98, V = 0.98 → saturated; (120, 0, 0): S = 1 but V = 0.47 → not;
    // (250, 100, 100): S = 0.6 → not; (255, 255, 0): S = 1, V = 1 → saturated
    const colours: Array<[number, number, number]> = [
      [250, 5, 5],
      [120, 0, 0],
      [250, 100, 100],
      [255, 255, 0],
    ];
    expect(imageStatistics(filled(4, 1, (x) => colours[x])).saturatedFraction).toBe(0.5);
  });

  it('a constant image of any colour has std 0', () => {
    expect(imageStatistics(filled(8, 8, () => [200, 30, 90])).pixelStd).toBe(0);
  });

  it('refuses an image whose buffer does not match its size', () => {
    expect(() => imageStatistics({ width: 4, height: 4, data: new Uint8Array(10) })).toThrow(/expected 48/);
  });
});

describe('assessImageHealth on synthetic images', () => {
  const random = seededRandom(7);
  const cases: Array<{ name: string; image: RgbImage; problems: string[] }> = [
    { name: 'black', image: filled(64, 64, () => [0, 0, 0]), problems: ['black', 'blank', 'low_variance', 'clipped'] },
    { name: 'almost black with sensor-like noise', image: filled(64, 64, () => [clamp(2 + random() * 14), clamp(2 + random() * 14), clamp(2 + random() * 14)]), problems: ['black', 'low_variance'] },
    { name: 'white', image: filled(64, 64, () => [255, 255, 255]), problems: ['blank', 'low_variance', 'clipped'] },
    { name: 'constant grey', image: filled(64, 64, () => [128, 128, 128]), problems: ['blank', 'low_variance'] },
    { name: 'flat grey with faint noise', image: filled(64, 64, () => { const v = clamp(128 + (random() - 0.5) * 20); return [v, v, v]; }), problems: ['low_variance'] },
    { name: 'uniform noise', image: filled(64, 64, () => [clamp(random() * 255), clamp(random() * 255), clamp(random() * 255)]), problems: [] },
    // a gradient pushed far beyond the 8-bit range: 3/4 of the values clip at 0 or 255
    { name: 'clipped gradient', image: filled(64, 64, (x) => { const v = clamp(((x / 63) * 4 - 1.5) * 255); return [v, v, v]; }), problems: ['clipped'] },
    { name: 'burned-out saturated colour', image: filled(64, 64, (x, y) => ((x >> 3) + (y >> 3)) % 2 ? [250, 10, 20 + x] : [10, 240, 250]), problems: ['saturated'] },
    { name: 'rendered scene', image: renderScene(), problems: [] },
    { name: 'dark scene with structure', image: filled(64, 64, (x, y) => (Math.hypot(x - 32, y - 32) < 12 ? [180, 170, 120] : [6, 8, 14])), problems: [] },
  ];
  for (const { name, image, problems } of cases) {
    it(`${name} → ${problems.length ? problems.join(', ') : 'ok'}`, () => {
      const assessment = assessImageHealth(image);
      expect(assessment.problems).toEqual(problems);
      expect(assessment.ok).toBe(problems.length === 0);
    });
  }
});

describe('health scorer', () => {
  const sample = (key: string): ScorableSample => ({ key, imagePath: `${key}.png`, prompt: { id: key, text: 'x', suite: 's', category: 'c' } });
  const images: Record<string, RgbImage> = { black: filled(16, 16, () => [0, 0, 0]), scene: renderScene() };
  const context: ScoringContext = {
    loadImage: async (s) => {
      const image = images[s.key];
      if (!image) throw new Error(`ENOENT: ${s.imagePath}`);
      return image;
    },
    log: () => {},
  };

  it('emits every declared metric per image, with labels and evidence', async () => {
    const scorer = createHealthScorer();
    const records = await scorer.score([sample('black'), sample('scene')], context);
    const declared = HEALTH_METRICS.map((m) => m.name);
    for (const key of ['black', 'scene']) expect(records.filter((r) => r.sampleKey === key).map((r) => r.metric)).toEqual(declared);
    const ok = (key: string) => records.find((r) => r.sampleKey === key && r.metric === 'health_ok')!;
    expect(ok('black')).toMatchObject({ value: 0, label: 'black+blank+low_variance+clipped', scorer: 'health' });
    expect(ok('scene')).toMatchObject({ value: 1, label: 'ok' });
    expect(records.find((r) => r.sampleKey === 'black' && r.metric === 'clipped_fraction')!.value).toBe(1);
    expect(scorer.appliesTo!(sample('anything'))).toBe(true);
  });

  it('records an unreadable image as unhealthy instead of failing the batch', async () => {
    const records = await createHealthScorer().score([sample('missing'), sample('scene')], context);
    expect(records[0]).toMatchObject({ sampleKey: 'missing', metric: 'health_ok', value: 0, label: 'unreadable' });
    expect(records.filter((r) => r.sampleKey === 'scene')).toHaveLength(HEALTH_METRICS.length);
  });

  it('thresholds are options: a stricter low-variance threshold flags the faint-noise case only then', () => {
    const random = seededRandom(3);
    const flat = filled(32, 32, () => { const v = clamp(128 + (random() - 0.5) * 60); return [v, v, v]; });
    expect(assessImageHealth(flat, resolveHealthThresholds()).lowVariance).toBe(false);
    expect(assessImageHealth(flat, resolveHealthThresholds({ low_variance_max_std: 30 })).lowVariance).toBe(true);
  });

  it('refuses unknown or out-of-range options, naming them', () => {
    expect(() => createHealthScorer({ black_max_mean: 300 })).toThrow(/black_max_mean/);
    expect(() => createHealthScorer({ blak_max_mean: 3 })).toThrow(/blak_max_mean/);
  });
});
