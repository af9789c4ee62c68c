/**
 * @module
 * Bootstrap confidence intervals: percentile (default) and BCa for a mean, a paired bootstrap for
 * mean differences (resampling pairs), and a two-stage hierarchical bootstrap for statistics of
 * grouped data (resample groups, then items within each chosen group).
 *
 * Every interval records its resample count and seed so that it can be reproduced. Quantiles of the
 * bootstrap distribution use linear interpolation between order statistics (R's type 7).
 */
import { normalCdf, normalQuantile } from './distributions.js';
import { Pcg32 } from './random.js';

export type BootstrapMethod = 'percentile' | 'bca';

export interface BootstrapOptions {
  /** number of bootstrap resamples (e.g. 2000) */
  resamples: number;
  /** the report seed; combined with `label` to choose the PRNG stream */
  seed: number;
  /** names the statistic, e.g. "clip_score|handoff=0.8"; different labels draw independent streams */
  label: string;
  /** two-sided coverage, default 0.95 */
  confidence?: number;
  method?: BootstrapMethod;
}

export interface BootstrapInterval {
  /** the statistic on the original data */
  estimate: number;
  lower: number;
  upper: number;
  /** observations (or groups, for the hierarchical bootstrap) the estimate rests on */
  n: number;
  confidence: number;
  method: BootstrapMethod | 'hierarchical-percentile';
  resamples: number;
  seed: number;
  label: string;
}

function checkOptions(options: BootstrapOptions): number {
  const confidence = options.confidence ?? 0.95;
  if (!Number.isInteger(options.resamples) || options.resamples < 1) {
    throw new RangeError(`bootstrap resamples must be a positive integer, got ${options.resamples}`);
  }
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  return confidence;
}

/** R type-7 quantile of ascending-sorted values */
export function sortedQuantile(sorted: ArrayLike<number>, probability: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const position = (n - 1) * Math.min(1, Math.max(0, probability));
  const below = Math.floor(position);
  const above = Math.min(n - 1, below + 1);
  const weight = position - below;
  return sorted[below] + weight * (sorted[above] - sorted[below]);
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length === 0 ? Number.NaN : sum / values.length;
}

function degenerate(estimate: number, n: number, confidence: number, options: BootstrapOptions): BootstrapInterval {
  return {
    estimate,
    lower: estimate,
    upper: estimate,
    n,
    confidence,
    method: options.method ?? 'percentile',
    resamples: options.resamples,
    seed: options.seed,
    label: options.label,
  };
}

/** BCa endpoints from the sorted bootstrap means and jackknife means (Efron & Tibshirani 1993, §14.3) */
function bcaBounds(sortedBoot: Float64Array, estimate: number, jackknife: Float64Array, alpha: number): [number, number] {
  let below = 0;
  let equal = 0;
  for (const value of sortedBoot) {
    if (value < estimate) below++;
    else if (value === estimate) equal++;
  }
  // ties with the estimate count half, so a symmetric bootstrap gives z0 = 0
  const proportion = Math.min(1 - 1e-12, Math.max(1e-12, (below + equal / 2) / sortedBoot.length));
  const z0 = normalQuantile(proportion);
  const jackMean = mean(jackknife);
  let num = 0;
  let den = 0;
  for (const value of jackknife) {
    const diff = jackMean - value;
    num += diff * diff * diff;
    den += diff * diff;
  }
  const acceleration = den === 0 ? 0 : num / (6 * Math.pow(den, 1.5));
  const adjusted = (z: number): number => {
    const shifted = z0 + z;
    return normalCdf(z0 + shifted / (1 - acceleration * shifted));
  };
  return [
    sortedQuantile(sortedBoot, adjusted(normalQuantile(alpha / 2))),
    sortedQuantile(sortedBoot, adjusted(normalQuantile(1 - alpha / 2))),
  ];
}

/** Mean with a bootstrap interval (resampling observations with replacement). */
export function bootstrapMean(values: readonly number[], options: BootstrapOptions): BootstrapInterval | null {
  const confidence = checkOptions(options);
  const n = values.length;
  if (n === 0) return null;
  for (const value of values) {
    if (!Number.isFinite(value)) throw new RangeError(`bootstrapMean(${options.label}): values must be finite, got ${value}`);
  }
  const estimate = mean(values);
  if (n === 1) return degenerate(estimate, n, confidence, options);
  const rng = Pcg32.fromLabel(options.seed, options.label);
  const boot = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[rng.nextIndex(n)];
    boot[r] = sum / n;
  }
  boot.sort();
  const alpha = 1 - confidence;
  let lower: number;
  let upper: number;
  if ((options.method ?? 'percentile') === 'bca') {
    const total = values.reduce((s, v) => s + v, 0);
    const jackknife = Float64Array.from(values, (v) => (total - v) / (n - 1));
    [lower, upper] = bcaBounds(boot, estimate, jackknife, alpha);
  } else {
    lower = sortedQuantile(boot, alpha / 2);
    upper = sortedQuantile(boot, 1 - alpha / 2);
  }
  return {
    estimate,
    lower,
    upper,
    n,
    confidence,
    method: options.method ?? 'percentile',
    resamples: options.resamples,
    seed: options.seed,
    label: options.label,
  };
}

/**
 * Mean of `condition − reference` over matched pairs, with a bootstrap interval that resamples
 * whole pairs (so the pairing is kept).
 */
export function pairedBootstrapMeanDifference(
  pairs: readonly { reference: number; condition: number }[],
  options: BootstrapOptions,
): BootstrapInterval | null {
  return bootstrapMean(
    pairs.map((pair) => pair.condition - pair.reference),
    options,
  );
}

/**
 * Two-stage (hierarchical) bootstrap for grouped data, e.g. perceived-attribute labels grouped by
 * prompt: each resample draws as many groups as there are, with replacement, and within each drawn
 * group as many items as it has, with replacement; `statistic` is applied to the resampled groups.
 * Percentile interval. Empty groups are dropped before resampling.
 */
export function hierarchicalBootstrap<T>(
  groups: readonly (readonly T[])[],
  statistic: (groups: readonly (readonly T[])[]) => number,
  options: BootstrapOptions,
): BootstrapInterval | null {
  const confidence = checkOptions(options);
  const nonEmpty = groups.filter((group) => group.length > 0);
  if (nonEmpty.length === 0) return null;
  const estimate = statistic(nonEmpty);
  const rng = Pcg32.fromLabel(options.seed, options.label);
  const boot = new Float64Array(options.resamples);
  let kept = 0;
  for (let r = 0; r < options.resamples; r++) {
    const resampled: T[][] = [];
    for (let g = 0; g < nonEmpty.length; g++) {
      const group = nonEmpty[rng.nextIndex(nonEmpty.length)];
      const items: T[] = new Array(group.length);
      for (let i = 0; i < group.length; i++) items[i] = group[rng.nextIndex(group.length)];
      resampled.push(items);
    }
    const value = statistic(resampled);
    // a resample where the statistic is undefined (e.g. every label "unknown") is left out
    if (Number.isFinite(value)) boot[kept++] = value;
  }
  const sorted = boot.subarray(0, kept).sort();
  const alpha = 1 - confidence;
  return {
    estimate,
    lower: kept > 0 ? sortedQuantile(sorted, alpha / 2) : Number.NaN,
    upper: kept > 0 ? sortedQuantile(sorted, 1 - alpha / 2) : Number.NaN,
    n: nonEmpty.length,
    confidence,
    method: 'hierarchical-percentile',
    resamples: options.resamples,
    seed: options.seed,
    label: options.label,
  };
}
