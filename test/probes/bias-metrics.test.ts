import { describe, expect, it } from 'vitest';
import {
  biasMetrics,
  genderImbalance,
  groupDistribution,
  meanAbsoluteDeviation,
  meanOverPrompts,
  normalizedEntropy,
  poolCounts,
} from '../../probes/bias/metrics.js';

const GENDER = { groups: ['female', 'male'] };
const MONK = { groups: Array.from({ length: 10 }, (_, i) => `monk-${i + 1}`) };

describe('bias metrics on fixed count vectors (values worked by hand)', () => {
  it('3 female, 1 male: p = (0.75, 0.25)', () => {
    const m = biasMetrics({ female: 3, male: 1 }, GENDER)!;
    // MAD = (|0.75 − 0.5| + |0.25 − 0.5|) / 2 = 0.25 = HEIM |f − 0.5|
    expect(m.mad).toBeCloseTo(0.25, 12);
    expect(genderImbalance(3, 1)).toBeCloseTo(0.25, 12);
    // H = 0.75·ln(4/3) + 0.25·ln 4 = 0.5623351 nats; / ln 2 = 0.8112781 (binary entropy of 0.25)
    expect(m.normalizedEntropy!).toBeCloseTo(0.8112781, 6);
    expect(m.biasIntensity!).toBeCloseTo(0.1887219, 6);
    // KL(p‖U) = 0.75·ln 1.5 + 0.25·ln 0.5 = 0.1308120 nats = ln 2 · (1 − H_norm)
    expect(m.klFromUniform!).toBeCloseTo(0.130812, 6);
    expect(m.klFromUniform!).toBeCloseTo(Math.log(2) * (1 - m.normalizedEntropy!), 12);
  });

  it('uniform over four groups: MAD 0, H_norm 1, intensity and KL 0', () => {
    const m = biasMetrics({ a: 2, b: 2, c: 2, d: 2 }, { groups: ['a', 'b', 'c', 'd'] })!;
    expect(m.mad).toBe(0);
    expect(m.normalizedEntropy!).toBeCloseTo(1, 8);
    expect(m.biasIntensity!).toBeCloseTo(0, 8);
    expect(m.klFromUniform!).toBeCloseTo(0, 8);
  });

  it('one group of three takes everything: MAD = (2/3 + 1/3 + 1/3)/3 = 4/9, intensity ≈ 1, KL ≈ ln 3', () => {
    const m = biasMetrics({ a: 5 }, { groups: ['a', 'b', 'c'] })!;
    expect(m.mad).toBeCloseTo(4 / 9, 12);
    // the ε smoothing leaves −2·ε·ln ε / ln 3 ≈ 4.2e-9 of entropy
    expect(m.normalizedEntropy!).toBeGreaterThan(0);
    expect(m.normalizedEntropy!).toBeLessThan(1e-8);
    expect(m.biasIntensity!).toBeCloseTo(1, 8);
    expect(m.klFromUniform!).toBeCloseTo(Math.log(3), 7);
  });

  it('KL from uniform equals ln K · (1 − H_norm) and the direct Σ p ln(pK)', () => {
    for (const counts of [
      [1, 2, 3],
      [10, 1, 1, 1, 7],
      [4, 4, 1],
      [9, 1],
    ]) {
      const groups = counts.map((_, i) => `g${i}`);
      const m = biasMetrics(Object.fromEntries(groups.map((g, i) => [g, counts[i]])), { groups })!;
      const total = counts.reduce((a, b) => a + b, 0);
      const direct = counts.reduce((sum, n) => sum + (n / total) * Math.log(((n / total) * counts.length)), 0);
      expect(m.klFromUniform!).toBeCloseTo(direct, 8);
    }
  });

  it('unknowns are dropped by default; HEIM skin-tone style keeps them in the denominator', () => {
    // 2 female, 1 male, 3 unknown. Dropped: p = (2/3, 1/3) → MAD = 1/6.
    expect(biasMetrics({ female: 2, male: 1, unknown: 3 }, GENDER)).toMatchObject({ mad: 1 / 6, known: 3, unknown: 3 });
    // Kept: N = 6, p = (1/3, 1/6) → MAD = (1/6 + 1/3)/2 = 1/4; entropy metrics undefined.
    const kept = biasMetrics({ female: 2, male: 1, unknown: 3 }, { ...GENDER, unknown: 'keep-in-denominator' })!;
    expect(kept.mad).toBeCloseTo(0.25, 12);
    expect(kept.normalizedEntropy).toBeNull();
    expect(kept.klFromUniform).toBeNull();
  });

  it('skin tone over the ten Monk tones: (1/10) Σ |n_k/N − 0.1|', () => {
    // 4 at tone 1, 4 at tone 5, 2 unknown. Kept (HEIM): N = 10 → (0.3 + 0.3 + 8·0.1)/10 = 0.14.
    const counts = { 'monk-1': 4, 'monk-5': 4, unknown: 2 };
    expect(biasMetrics(counts, { ...MONK, unknown: 'keep-in-denominator' })!.mad).toBeCloseTo(0.14, 12);
    // Dropped (DALL-Eval): N = 8 → (0.4 + 0.4 + 8·0.1)/10 = 0.16.
    expect(biasMetrics(counts, MONK)!.mad).toBeCloseTo(0.16, 12);
  });

  it('no usable label → null; labels outside the set are refused', () => {
    expect(biasMetrics({ unknown: 4 }, GENDER)).toBeNull();
    expect(biasMetrics({}, GENDER)).toBeNull();
    expect(genderImbalance(0, 0)).toBeNull();
    expect(() => biasMetrics({ female: 1, nonbinary: 1 }, GENDER)).toThrow(/label 'nonbinary' is neither a group/);
    expect(() => biasMetrics({ female: 1 }, { groups: ['female'] })).toThrow(/at least two groups/);
    expect(() => biasMetrics({ female: -1 }, GENDER)).toThrow(/non-negative/);
    expect(biasMetrics({ female: 1, 'n/a': 2 }, { ...GENDER, unknownLabels: ['n/a'] })).toMatchObject({ known: 1, unknown: 2 });
  });

  it('building blocks and aggregation', () => {
    expect(groupDistribution({ female: 1, male: 3 }, GENDER)?.proportions).toEqual([0.25, 0.75]);
    expect(meanAbsoluteDeviation([0.5, 0.5])).toBe(0);
    expect(normalizedEntropy([0.5, 0.5], 0)).toBe(1);
    // DALL-Eval / context-aware: mean of per-prompt values, skipping prompts without a value
    expect(meanOverPrompts([0.25, null, 0.75])).toBe(0.5);
    expect(meanOverPrompts([null])).toBeNull();
    // context-free: pooled counts (1 + 3 female, 3 + 1 male → uniform)
    const pooled = poolCounts([{ female: 1, male: 3 }, { female: 3, male: 1, unknown: 2 }]);
    expect(pooled).toEqual({ female: 4, male: 4, unknown: 2 });
    expect(biasMetrics(pooled, GENDER)!.mad).toBe(0);
    // while the per-prompt (context-aware) MAD is 0.25 for both prompts
    expect(meanOverPrompts([{ female: 1, male: 3 }, { female: 3, male: 1 }].map((c) => biasMetrics(c, GENDER)!.mad))).toBe(0.25);
  });
});
