/**
 * @module
 * Hypothesis tests and intervals for paired comparisons: Wilcoxon signed-rank, McNemar's exact test,
 * the Wilson score interval and Holm's step-down correction.
 */
import { binomialHalfCdf, binomialHalfPmf, normalCdf, normalQuantile, normalSurvival } from './distributions.js';

export type Alternative = 'two-sided' | 'greater' | 'less';

export interface WilcoxonResult {
  /** V: the sum of the ranks of the positive differences (R's `V`) */
  statistic: number;
  /** differences left after dropping zeros */
  n: number;
  zeros: number;
  /** true when some |differences| were tied */
  ties: boolean;
  /** 'exact' (the null distribution enumerated), 'normal' (approximation), 'none' (no non-zero differences) */
  method: 'exact' | 'normal' | 'none';
  /** continuity- and tie-corrected z, for the normal approximation */
  z: number | null;
  pValue: number;
  alternative: Alternative;
}

export interface WilcoxonOptions {
  alternative?: Alternative;
  /** exact p-values below this many non-zero differences when there are no ties or zeros (default 50, as R) */
  exactBelow?: number;
}

/**
 * Wilcoxon signed-rank test on paired differences (condition − reference), following R's
 * `wilcox.test(paired = TRUE)`: zero differences are dropped (Wilcoxon's convention); |d| are ranked
 * with average ranks for ties; with fewer than 50 differences and no ties or zeros the p-value is exact
 * (the null distribution of V enumerated); otherwise the normal approximation is used with the tie
 * correction of the variance, Σ(t³ − t)/48, and a continuity correction of 0.5 towards the mean.
 * Differences are rounded to 12 significant digits first, so that floating-point noise from
 * subtraction does not break ties that are exact in the data.
 */
export function wilcoxonSignedRank(differences: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  const alternative = options.alternative ?? 'two-sided';
  const exactBelow = options.exactBelow ?? 50;
  for (const d of differences) {
    if (!Number.isFinite(d)) throw new RangeError(`wilcoxonSignedRank: differences must be finite, got ${d}`);
  }
  const rounded = differences.map((d) => (d === 0 ? 0 : Number(d.toPrecision(12))));
  const nonZero = rounded.filter((d) => d !== 0);
  const zeros = rounded.length - nonZero.length;
  const n = nonZero.length;
  if (n === 0) {
    return { statistic: 0, n: 0, zeros, ties: false, method: 'none', z: null, pValue: 1, alternative };
  }
  const order = nonZero.map((d, i) => ({ magnitude: Math.abs(d), positive: d > 0, index: i })).sort((a, b) => a.magnitude - b.magnitude);
  let statistic = 0;
  let tieCorrection = 0;
  let ties = false;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && order[end].magnitude === order[start].magnitude) end++;
    const size = end - start;
    const averageRank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) if (order[i].positive) statistic += averageRank;
    if (size > 1) {
      ties = true;
      tieCorrection += size * size * size - size;
    }
    start = end;
  }
  if (n < exactBelow && !ties && zeros === 0) {
    return { statistic, n, zeros, ties, method: 'exact', z: null, pValue: exactSignedRankP(statistic, n, alternative), alternative };
  }
  const centre = statistic - (n * (n + 1)) / 4;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieCorrection / 48);
  const correction = alternative === 'two-sided' ? Math.sign(centre) * 0.5 : alternative === 'greater' ? 0.5 : -0.5;
  const z = sigma > 0 ? (centre - correction) / sigma : 0;
  const pValue =
    alternative === 'less' ? normalCdf(z) : alternative === 'greater' ? normalSurvival(z) : Math.min(1, 2 * Math.min(normalCdf(z), normalSurvival(z)));
  return { statistic, n, zeros, ties, method: 'normal', z, pValue, alternative };
}

/** counts[s] = number of subsets of {1..n} with sum s (the null distribution of V times 2ⁿ) */
function signedRankCounts(n: number): Float64Array {
  const maxSum = (n * (n + 1)) / 2;
  const counts = new Float64Array(maxSum + 1);
  counts[0] = 1;
  for (let rank = 1; rank <= n; rank++) {
    for (let s = Math.min(maxSum, (rank * (rank + 1)) / 2); s >= rank; s--) counts[s] += counts[s - rank];
  }
  return counts;
}

function exactSignedRankP(statistic: number, n: number, alternative: Alternative): number {
  const counts = signedRankCounts(n);
  const total = Math.pow(2, n);
  const lowerTail = (v: number): number => {
    let sum = 0;
    for (let s = 0; s <= Math.min(v, counts.length - 1); s++) sum += counts[s];
    return sum / total;
  };
  const upperTail = (v: number): number => 1 - lowerTail(v - 1);
  if (alternative === 'less') return lowerTail(statistic);
  if (alternative === 'greater') return upperTail(statistic);
  const p = statistic > (n * (n + 1)) / 4 ? upperTail(statistic) : lowerTail(statistic);
  return Math.min(1, 2 * p);
}

export interface McNemarResult {
  /** pairs where the reference succeeded and the condition failed */
  referenceOnly: number;
  /** pairs where the condition succeeded and the reference failed */
  conditionOnly: number;
  /** both succeeded or both failed */
  concordant: number;
  /** exact conditional two-sided p-value: 2·P(X ≤ min(b, c)), X ~ Bin(b + c, 1/2), capped at 1 */
  pValue: number;
  /** mid-p version (Fagerland et al. 2013): exact p − P(X = min(b, c)) */
  midP: number;
}

/** McNemar's exact test on paired binary outcomes (values must be 0 or 1). */
export function mcnemarExact(pairs: readonly { reference: number; condition: number }[]): McNemarResult {
  let referenceOnly = 0;
  let conditionOnly = 0;
  let concordant = 0;
  for (const { reference, condition } of pairs) {
    if ((reference !== 0 && reference !== 1) || (condition !== 0 && condition !== 1)) {
      throw new RangeError(`mcnemarExact needs 0/1 outcomes, got (${reference}, ${condition})`);
    }
    if (reference === 1 && condition === 0) referenceOnly++;
    else if (reference === 0 && condition === 1) conditionOnly++;
    else concordant++;
  }
  const discordant = referenceOnly + conditionOnly;
  const smaller = Math.min(referenceOnly, conditionOnly);
  if (discordant === 0 || referenceOnly === conditionOnly) {
    return { referenceOnly, conditionOnly, concordant, pValue: 1, midP: 1 - 0.5 * binomialHalfPmf(smaller, discordant) };
  }
  const pValue = Math.min(1, 2 * binomialHalfCdf(smaller, discordant));
  return { referenceOnly, conditionOnly, concordant, pValue, midP: pValue - binomialHalfPmf(smaller, discordant) };
}

export interface ProportionInterval {
  successes: number;
  n: number;
  proportion: number;
  lower: number;
  upper: number;
  confidence: number;
}

/** Wilson (1927) score interval for a binomial proportion (no continuity correction). */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): ProportionInterval | null {
  if (n === 0) return null;
  if (!(successes >= 0 && successes <= n)) throw new RangeError(`wilsonInterval: successes ${successes} not in [0, ${n}]`);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const z2 = z * z;
  const p = successes / n;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { successes, n, proportion: p, lower: Math.max(0, centre - half), upper: Math.min(1, centre + half), confidence };
}

/**
 * Holm (1979) step-down adjusted p-values, in the input order: sort ascending, multiply the i-th
 * smallest (0-based) by (m − i), take the running maximum, cap at 1. Null entries (no test) are
 * passed through and do not count towards m.
 */
export function holmAdjust(pValues: readonly (number | null)[]): (number | null)[] {
  const present = pValues
    .map((p, index) => ({ p, index }))
    .filter((entry): entry is { p: number; index: number } => entry.p !== null)
    .sort((a, b) => a.p - b.p || a.index - b.index);
  const m = present.length;
  const adjusted: (number | null)[] = pValues.map(() => null);
  let running = 0;
  present.forEach((entry, i) => {
    running = Math.max(running, Math.min(1, (m - i) * entry.p));
    adjusted[entry.index] = running;
  });
  return adjusted;
}
