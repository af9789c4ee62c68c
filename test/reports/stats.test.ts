import { describe, expect, it } from 'vitest';
import {
  Pcg32,
  bootstrapMean,
  comparePaired,
  hierarchicalBootstrap,
  holmAcross,
  holmAdjust,
  mcnemarExact,
  mean,
  normalCdf,
  normalQuantile,
  pairUp,
  pairedBootstrapMeanDifference,
  sortedQuantile,
  wilcoxonSignedRank,
  wilsonInterval,
  winRate,
} from '../../reports/stats/index.js';

describe('Pcg32', () => {
  it('matches the pcg32-demo reference output (pcg-c-basic, initstate 42, initseq 54)', () => {
    const rng = new Pcg32(42, 54);
    const expected = [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e];
    expect(expected.map(() => rng.nextUint32())).toEqual(expected);
  });

  it('gives independent streams per label and repeats itself per seed', () => {
    const draw = (seed: number, label: string) => {
      const rng = Pcg32.fromLabel(seed, label);
      return [rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
    };
    expect(draw(7, 'a')).toEqual(draw(7, 'a'));
    expect(draw(7, 'a')).not.toEqual(draw(7, 'b'));
    expect(draw(7, 'a')).not.toEqual(draw(8, 'a'));
  });

  it('draws indices uniformly (chi-square on 10 cells)', () => {
    const rng = new Pcg32(1, 2);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[rng.nextIndex(10)]++;
    const chi2 = counts.reduce((sum, c) => sum + (c - 10_000) ** 2 / 10_000, 0);
    // 99.9th percentile of chi-square with 9 degrees of freedom is 27.88
    expect(chi2).toBeLessThan(27.88);
  });
});

describe('normal distribution', () => {
  it('reproduces tabulated values of Φ and Φ⁻¹', () => {
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 14);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301035, 15);
    expect(normalCdf(-8) / 6.22096057427178e-16).toBeCloseTo(1, 10);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 12);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 14);
  });
});

describe('Wilcoxon signed-rank test', () => {
  it('depression data of Hollander & Wolfe (1973, p. 29), as in R ?wilcox.test: V = 40, p = 0.01953 (greater)', () => {
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const d = x.map((xi, i) => xi - y[i]);
    const greater = wilcoxonSignedRank(d, { alternative: 'greater' });
    expect(greater.statistic).toBe(40);
    expect(greater.method).toBe('exact');
    expect(greater.pValue).toBeCloseTo(0.01953, 5);
    // two-sided: 0.0390625 (stdlib-js documentation of the same data)
    expect(wilcoxonSignedRank(d).pValue).toBeCloseTo(0.0390625, 10);
  });

  it("Darwin's Zea mays differences (Cureton 1967): V = 96, exact two-sided p = 0.04126", () => {
    const d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
    const result = wilcoxonSignedRank(d);
    expect(result.statistic).toBe(96);
    expect(result.method).toBe('exact');
    expect(result.pValue).toBeCloseTo(0.041259765625, 10);
  });

  it('NAG g08agc example: W = 32, exact two-tail p = 0.0547 (n = 8)', () => {
    const x = [82, 69, 73, 43, 58, 56, 76, 65];
    const y = [63, 42, 74, 37, 51, 43, 80, 62];
    const result = wilcoxonSignedRank(x.map((xi, i) => xi - y[i]));
    expect(result.statistic).toBe(32);
    expect(result.pValue).toBeCloseTo(0.0547, 4);
    // NAG's normalised statistic 1.8904 is the continuity-corrected z we use in the approximation
    const approx = wilcoxonSignedRank(x.map((xi, i) => xi - y[i]), { exactBelow: 0 });
    expect(approx.method).toBe('normal');
    expect(approx.z).toBeCloseTo(1.8904, 4);
  });

  it('ties use the normal approximation with tie and continuity correction (stdlib-js example: [4,4,6,6,5])', () => {
    const d = [4, 4, 6, 6, 5];
    const greater = wilcoxonSignedRank(d, { alternative: 'greater' });
    expect(greater.ties).toBe(true);
    expect(greater.method).toBe('normal');
    expect(greater.statistic).toBe(15);
    expect(greater.pValue).toBeCloseTo(0.0284, 4);
    expect(wilcoxonSignedRank(d, { alternative: 'less' }).pValue).toBeCloseTo(0.9853, 4);
  });

  it('drops zero differences and then approximates (as R does); no differences at all gives p = 1', () => {
    const result = wilcoxonSignedRank([0, 1, 2, 3, 0]);
    expect(result.zeros).toBe(2);
    expect(result.n).toBe(3);
    expect(result.method).toBe('normal');
    expect(wilcoxonSignedRank([0, 0]).pValue).toBe(1);
  });
});

describe("McNemar's exact test", () => {
  it('Bentur et al. airway hyper-responsiveness data (Fagerland, Lydersen & Laake 2013, Table 1): p = 0.070, mid-p = 0.039', () => {
    // before × after: AHR/AHR 1, AHR/no 1, no/AHR 7, no/no 12
    const pairs = [
      ...Array.from({ length: 1 }, () => ({ reference: 1, condition: 1 })),
      ...Array.from({ length: 1 }, () => ({ reference: 1, condition: 0 })),
      ...Array.from({ length: 7 }, () => ({ reference: 0, condition: 1 })),
      ...Array.from({ length: 12 }, () => ({ reference: 0, condition: 0 })),
    ];
    const result = mcnemarExact(pairs);
    expect(result.referenceOnly).toBe(1);
    expect(result.conditionOnly).toBe(7);
    expect(result.concordant).toBe(13);
    expect(result.pValue).toBeCloseTo(0.07, 3);
    expect(result.midP).toBeCloseTo(0.039, 3);
  });

  it('gives p = 1 without discordant pairs and rejects non-binary values', () => {
    expect(mcnemarExact([{ reference: 1, condition: 1 }]).pValue).toBe(1);
    expect(() => mcnemarExact([{ reference: 0.5, condition: 1 }])).toThrow(/0\/1/);
  });
});

describe('Wilson interval', () => {
  it('matches Newcombe (1998), Table I, method 3 (score interval without continuity correction)', () => {
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [x, n, lower, upper] of cases) {
      const interval = wilsonInterval(x, n)!;
      expect(interval.lower).toBeCloseTo(lower, 4);
      expect(interval.upper).toBeCloseTo(upper, 4);
    }
    expect(wilsonInterval(0, 0)).toBeNull();
  });
});

describe('Holm correction', () => {
  it('adjusts step-down in input order (R p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02)', () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]) as number[];
    [0.03, 0.06, 0.06, 0.02].forEach((expected, i) => expect(adjusted[i]).toBeCloseTo(expected, 12));
    expect(holmAdjust([0.2, null, 0.9])).toEqual([0.4, null, 0.9]);
  });
});

describe('bootstrap', () => {
  it('percentile interval of the mean covers the true mean 93–97 % of the time (seeded simulation)', () => {
    // 1200 normal samples of n = 50, 1000 resamples each. The percentile interval is known to
    // undercover slightly at small n (≈ 94.3 % expected here); with 1200 simulations the Monte Carlo
    // standard error of the coverage is ≈ 0.7 %, so the 93–97 % band is about ±2 SE around it and a
    // broken interval (too narrow or too wide by a few percent) fails.
    const rng = new Pcg32(20240601, 7);
    const simulations = 1200;
    let covered = 0;
    for (let s = 0; s < simulations; s++) {
      const sample = Array.from({ length: 50 }, () => 3 + 2 * rng.nextGaussian());
      const interval = bootstrapMean(sample, { resamples: 1000, seed: 99, label: `simulation ${s}` })!;
      if (interval.lower <= 3 && 3 <= interval.upper) covered++;
    }
    const coverage = covered / simulations;
    expect(coverage).toBeGreaterThanOrEqual(0.93);
    expect(coverage).toBeLessThanOrEqual(0.97);
  });

  it('records its resample count and seed, and the same seed and label give the same interval', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const options = { resamples: 500, seed: 3, label: 'x' };
    const a = bootstrapMean(values, options)!;
    expect(a).toEqual(bootstrapMean(values, options));
    expect(a).toMatchObject({ resamples: 500, seed: 3, label: 'x', n: 10, estimate: 5.5, method: 'percentile' });
    expect(bootstrapMean(values, { ...options, label: 'y' })!.lower).not.toBe(a.lower);
    expect(bootstrapMean([], options)).toBeNull();
    expect(bootstrapMean([4], options)).toMatchObject({ lower: 4, upper: 4, n: 1 });
  });

  it('BCa agrees with the percentile interval on symmetric data and moves right on right-skewed data', () => {
    const symmetric = Array.from({ length: 41 }, (_, i) => i - 20);
    const options = { resamples: 4000, seed: 5, label: 'bca' };
    const percentile = bootstrapMean(symmetric, options)!;
    const bca = bootstrapMean(symmetric, { ...options, method: 'bca' })!;
    expect(Math.abs(bca.lower - percentile.lower)).toBeLessThan(0.3);
    expect(Math.abs(bca.upper - percentile.upper)).toBeLessThan(0.3);
    const rng = new Pcg32(8, 8);
    const skewed = Array.from({ length: 40 }, () => Math.exp(1.2 * rng.nextGaussian()));
    const skewPercentile = bootstrapMean(skewed, options)!;
    const skewBca = bootstrapMean(skewed, { ...options, method: 'bca' })!;
    expect(skewBca.upper).toBeGreaterThan(skewPercentile.upper);
    expect(skewBca.lower).toBeGreaterThan(skewPercentile.lower);
  });

  it('type-7 quantiles interpolate between order statistics', () => {
    expect(sortedQuantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(sortedQuantile([1, 2, 3, 4], 0.25)).toBe(1.75);
  });

  it('a paired bootstrap is narrower than the unpaired spread when the pairs are correlated', () => {
    const rng = new Pcg32(4, 4);
    const pairs = Array.from({ length: 40 }, () => {
      const shared = 5 * rng.nextGaussian();
      return { reference: shared, condition: shared + 0.5 + 0.3 * rng.nextGaussian() };
    });
    const paired = pairedBootstrapMeanDifference(pairs, { resamples: 1000, seed: 1, label: 'p' })!;
    expect(paired.lower).toBeGreaterThan(0.3);
    expect(paired.upper).toBeLessThan(0.7);
    expect(paired.upper - paired.lower).toBeLessThan(0.3);
  });

  it('hierarchical bootstrap: covers the true mean of a two-level model about 95 % of the time', () => {
    // 300 simulations, 20 prompts × 4 images, 400 resamples; Monte Carlo SE ≈ 1.3 %, and the two-stage
    // bootstrap is known to be slightly off nominal (it counts within-group variance twice and
    // shrinks between-group variance by (G−1)/G), hence the wider 90–99 % band.
    const rng = new Pcg32(31, 1);
    const statistic = (groups: readonly (readonly number[])[]) => mean(groups.map((group) => mean(group)));
    let covered = 0;
    const simulations = 300;
    for (let s = 0; s < simulations; s++) {
      const groups = Array.from({ length: 20 }, () => {
        const promptMean = rng.nextGaussian();
        return Array.from({ length: 4 }, () => promptMean + 0.5 * rng.nextGaussian());
      });
      const interval = hierarchicalBootstrap(groups, statistic, { resamples: 400, seed: 2, label: `h${s}` })!;
      if (interval.lower <= 0 && 0 <= interval.upper) covered++;
    }
    expect(covered / simulations).toBeGreaterThanOrEqual(0.9);
    expect(covered / simulations).toBeLessThanOrEqual(0.99);
  });

  it('hierarchical bootstrap: is wider than an image-level bootstrap when prompts differ, and skips undefined resamples', () => {
    const groups = [
      [1, 1, 1, 1],
      [0, 0, 0, 0],
      [1, 1, 1, 0],
      [0, 0, 0, 1],
      [1, 1, 1, 1],
      [0, 0, 0, 0],
    ];
    const options = { resamples: 2000, seed: 9, label: 'g' };
    const hierarchical = hierarchicalBootstrap(groups, (gs) => mean(gs.flat()), options)!;
    const flat = bootstrapMean(groups.flat(), options)!;
    expect(hierarchical.estimate).toBeCloseTo(flat.estimate, 12);
    expect(hierarchical.upper - hierarchical.lower).toBeGreaterThan(flat.upper - flat.lower);
    expect(hierarchical.n).toBe(6);
    const allSame = hierarchicalBootstrap([[2, 2], [2]], (gs) => mean(gs.flat()), options)!;
    expect([allSame.lower, allSame.upper]).toEqual([2, 2]);
    const undefinedSometimes = hierarchicalBootstrap([[1], [0]], (gs) => (gs.flat().every((v) => v === 0) ? Number.NaN : 1), options)!;
    expect(undefinedSometimes.lower).toBe(1);
  });
});

describe('paired comparisons', () => {
  it('pairs on shared keys only, sorted, and counts the unmatched ones', () => {
    const reference = new Map([['b|1', 1], ['a|1', 2], ['c|1', 3]]);
    const condition = new Map([['a|1', 5], ['b|1', 4], ['d|1', 0]]);
    const { pairs, referenceOnly, conditionOnly } = pairUp(reference, condition);
    expect(pairs.map((p) => p.pairKey)).toEqual(['a|1', 'b|1']);
    expect([referenceOnly, conditionOnly]).toEqual([1, 1]);
  });

  it('win rate counts ties as half, respects the direction, and carries a Wilson interval', () => {
    const pairs = [
      { pairKey: '1', reference: 1, condition: 2 },
      { pairKey: '2', reference: 1, condition: 1 },
      { pairKey: '3', reference: 2, condition: 1 },
      { pairKey: '4', reference: 0, condition: 3 },
    ];
    const higher = winRate(pairs, true)!;
    expect(higher).toMatchObject({ wins: 2, ties: 1, losses: 1, n: 4, rate: 0.625 });
    expect(higher.lower).toBeLessThan(0.625);
    expect(higher.upper).toBeGreaterThan(0.625);
    expect(winRate(pairs, false)).toMatchObject({ wins: 1, losses: 2, rate: 0.375 });
  });

  it('uses Wilcoxon for continuous metrics, McNemar for binary ones, and Holm across conditions', () => {
    const bootstrap = { resamples: 200, seed: 1, label: 'c' };
    const continuous = comparePaired(
      [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75].map((d, i) => ({ pairKey: String(i), reference: 100, condition: 100 + d })),
      { kind: 'continuous', higherIsBetter: true, bootstrap },
    );
    expect(continuous.test?.name).toBe('wilcoxon-signed-rank');
    expect(continuous.pValue).toBeCloseTo(0.041259765625, 10);
    expect(continuous.nPairs).toBe(15);
    const binary = comparePaired(
      [
        { pairKey: 'a', reference: 1, condition: 0 },
        ...Array.from({ length: 7 }, (_, i) => ({ pairKey: `b${i}`, reference: 0, condition: 1 })),
      ],
      { kind: 'binary', higherIsBetter: true, bootstrap },
    );
    expect(binary.test?.name).toBe('mcnemar-exact');
    expect(binary.pValue).toBeCloseTo(0.0703125, 10);
    const [first, second] = holmAcross([continuous, binary]);
    expect(first.pHolm).toBeCloseTo(2 * 0.041259765625, 10);
    expect(second.pHolm).toBeCloseTo(2 * 0.041259765625, 10);
    expect(comparePaired([], { kind: 'binary', higherIsBetter: true, bootstrap })).toMatchObject({ nPairs: 0, pValue: null });
    expect(comparePaired([{ pairKey: 'x', reference: 0, condition: 1 }], { kind: 'binary', higherIsBetter: null, bootstrap }).winRate).toBeNull();
  });
});
