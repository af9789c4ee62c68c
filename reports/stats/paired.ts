/**
 * @module
 * Paired comparison of one condition against a reference condition on the (prompt, seed) pairs both
 * have a value for: mean difference with a paired bootstrap interval, win rate with a Wilson interval,
 * and Wilcoxon's signed-rank test (continuous metrics) or McNemar's exact test (binary metrics).
 * Holm's correction across the conditions compared is applied by `holmAcross`.
 */
import { mean, pairedBootstrapMeanDifference, type BootstrapInterval, type BootstrapOptions } from './bootstrap.js';
import { holmAdjust, mcnemarExact, wilcoxonSignedRank, wilsonInterval, type McNemarResult, type WilcoxonResult } from './tests.js';

export interface PairedValue {
  /** what makes the two observations a pair, e.g. `${promptId}|${seed}` */
  pairKey: string;
  reference: number;
  condition: number;
}

/** Observations present on both sides, sorted by pair key. Keys on one side only are counted. */
export function pairUp(
  reference: ReadonlyMap<string, number>,
  condition: ReadonlyMap<string, number>,
): { pairs: PairedValue[]; referenceOnly: number; conditionOnly: number } {
  const pairs: PairedValue[] = [];
  for (const [pairKey, value] of condition) {
    const referenceValue = reference.get(pairKey);
    if (referenceValue !== undefined) pairs.push({ pairKey, reference: referenceValue, condition: value });
  }
  pairs.sort((a, b) => (a.pairKey < b.pairKey ? -1 : a.pairKey > b.pairKey ? 1 : 0));
  return { pairs, referenceOnly: reference.size - pairs.length, conditionOnly: condition.size - pairs.length };
}

export const TIE_RULE = 'a tie (equal values) counts as half a win; the Wilson interval is computed on wins + ties/2 out of all pairs';

export interface WinRate {
  wins: number;
  ties: number;
  losses: number;
  n: number;
  /** (wins + ties/2) / n */
  rate: number;
  lower: number;
  upper: number;
  rule: typeof TIE_RULE;
}

export type PairedTest = ({ name: 'wilcoxon-signed-rank' } & WilcoxonResult) | ({ name: 'mcnemar-exact' } & McNemarResult);

export interface PairedComparison {
  nPairs: number;
  referenceMean: number | null;
  conditionMean: number | null;
  /** condition − reference */
  difference: BootstrapInterval | null;
  /** null when the metric has no direction (higherIsBetter null) */
  winRate: WinRate | null;
  test: PairedTest | null;
  /** the test's two-sided p-value (null without pairs) */
  pValue: number | null;
  /** Holm-adjusted across the conditions compared on this metric; set by holmAcross */
  pHolm: number | null;
}

export interface CompareOptions {
  kind: 'continuous' | 'binary';
  higherIsBetter: boolean | null;
  bootstrap: BootstrapOptions;
}

export function winRate(pairs: readonly PairedValue[], higherIsBetter: boolean): WinRate | null {
  if (pairs.length === 0) return null;
  let wins = 0;
  let ties = 0;
  let losses = 0;
  for (const { reference, condition } of pairs) {
    if (condition === reference) ties++;
    else if (condition > reference === higherIsBetter) wins++;
    else losses++;
  }
  const interval = wilsonInterval(wins + ties / 2, pairs.length)!;
  return { wins, ties, losses, n: pairs.length, rate: interval.proportion, lower: interval.lower, upper: interval.upper, rule: TIE_RULE };
}

export function comparePaired(pairs: readonly PairedValue[], options: CompareOptions): PairedComparison {
  if (pairs.length === 0) {
    return { nPairs: 0, referenceMean: null, conditionMean: null, difference: null, winRate: null, test: null, pValue: null, pHolm: null };
  }
  let test: PairedTest;
  if (options.kind === 'binary') {
    test = { name: 'mcnemar-exact', ...mcnemarExact(pairs) };
  } else {
    test = { name: 'wilcoxon-signed-rank', ...wilcoxonSignedRank(pairs.map((pair) => pair.condition - pair.reference)) };
  }
  return {
    nPairs: pairs.length,
    referenceMean: mean(pairs.map((pair) => pair.reference)),
    conditionMean: mean(pairs.map((pair) => pair.condition)),
    difference: pairedBootstrapMeanDifference(pairs, options.bootstrap),
    winRate: options.higherIsBetter === null ? null : winRate(pairs, options.higherIsBetter),
    test,
    pValue: test.pValue,
    pHolm: null,
  };
}

/** Sets `pHolm` on comparisons of several conditions against the same reference on one metric. */
export function holmAcross<T extends { pValue: number | null; pHolm: number | null }>(comparisons: readonly T[]): T[] {
  const adjusted = holmAdjust(comparisons.map((comparison) => comparison.pValue));
  return comparisons.map((comparison, i) => ({ ...comparison, pHolm: adjusted[i] }));
}
