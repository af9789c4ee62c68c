/**
 * @module
 * Two runs side by side (e.g. two refiners, or two schedulers). Unit keys include model hashes, so two
 * runs with different models never share keys; images are paired instead on (condition label,
 * prompt text, seed), and the paired statistics are those of the base-vs-refiner section with the
 * other run in the role of the reference. Holm's correction runs per metric across condition labels.
 */
import type { Observation, RunIndex } from './observations.js';
import { bootstrapMean } from './stats/bootstrap.js';
import { comparePaired, holmAcross, pairUp } from './stats/paired.js';
import type { Interval, StatSettings } from './summarize.js';

export const COMPARE_PAIRING = 'images are paired on (condition label, prompt text, seed); unit keys differ between runs because they include model hashes';

export interface CompareRow {
  metric: string;
  conditionLabel: string;
  thisN: number;
  otherN: number;
  thisMean: Interval | null;
  otherMean: Interval | null;
  nPairs: number;
  /** this run − other run, over the pairs */
  difference: Interval | null;
  winRate: { wins: number; ties: number; losses: number; rate: number; lower: number; upper: number } | null;
  test: string | null;
  pValue: number | null;
  pHolm: number | null;
}

export interface CompareResult {
  thisRun: string;
  otherRun: string;
  pairing: string;
  rows: CompareRow[];
  /** metrics scored in only one of the runs */
  metricsOnlyHere: string[];
  metricsOnlyThere: string[];
  labelsOnlyHere: string[];
  labelsOnlyThere: string[];
}

function crossRunKey(observation: Observation): string {
  return JSON.stringify([observation.unit.prompt.text, observation.unit.seed]);
}

function toInterval(values: number[], settings: StatSettings, label: string): Interval | null {
  const result = bootstrapMean(values, { resamples: settings.resamples, seed: settings.seed, confidence: settings.confidence, label });
  return result && { estimate: result.estimate, lower: result.lower, upper: result.upper };
}

export function compareRuns(here: RunIndex, there: RunIndex, names: { thisRun: string; otherRun: string }, settings: StatSettings): CompareResult {
  const labelsHere = here.conditions.map((condition) => condition.label);
  const labelsThere = new Set(there.conditions.map((condition) => condition.label));
  const sharedLabels = labelsHere.filter((label) => labelsThere.has(label));
  const metricsHere = here.metrics.filter((metric) => metric.kind !== 'categorical').map((metric) => metric.name);
  const metricsThere = new Set(there.metrics.filter((metric) => metric.kind !== 'categorical').map((metric) => metric.name));
  const rows: CompareRow[] = [];
  for (const metricName of metricsHere.filter((name) => metricsThere.has(name))) {
    const metric = here.metricByName.get(metricName)!;
    const metricRows: CompareRow[] = [];
    for (const label of sharedLabels) {
      const values = (index: RunIndex) =>
        (index.observations.get(metricName) ?? []).filter((o) => o.unit.condition.label === label && o.score.value !== null);
      const mine = values(here);
      const theirs = values(there);
      const { pairs } = pairUp(
        new Map(theirs.map((o) => [crossRunKey(o), o.score.value as number])),
        new Map(mine.map((o) => [crossRunKey(o), o.score.value as number])),
      );
      const result = comparePaired(pairs, {
        kind: metric.kind === 'binary' ? 'binary' : 'continuous',
        higherIsBetter: metric.higherIsBetter,
        bootstrap: { resamples: settings.resamples, seed: settings.seed, confidence: settings.confidence, label: `compare|${metricName}|${label}` },
      });
      metricRows.push({
        metric: metricName,
        conditionLabel: label,
        thisN: mine.length,
        otherN: theirs.length,
        thisMean: toInterval(mine.map((o) => o.score.value as number), settings, `compare-this|${metricName}|${label}`),
        otherMean: toInterval(theirs.map((o) => o.score.value as number), settings, `compare-other|${metricName}|${label}`),
        nPairs: result.nPairs,
        difference: result.difference && { estimate: result.difference.estimate, lower: result.difference.lower, upper: result.difference.upper },
        winRate: result.winRate && {
          wins: result.winRate.wins,
          ties: result.winRate.ties,
          losses: result.winRate.losses,
          rate: result.winRate.rate,
          lower: result.winRate.lower,
          upper: result.winRate.upper,
        },
        test: result.test?.name ?? null,
        pValue: result.pValue,
        pHolm: null,
      });
    }
    rows.push(...holmAcross(metricRows));
  }
  return {
    thisRun: names.thisRun,
    otherRun: names.otherRun,
    pairing: COMPARE_PAIRING,
    rows,
    metricsOnlyHere: metricsHere.filter((name) => !metricsThere.has(name)),
    metricsOnlyThere: [...metricsThere].filter((name) => !metricsHere.includes(name)).sort(),
    labelsOnlyHere: labelsHere.filter((label) => !labelsThere.has(label)),
    labelsOnlyThere: [...labelsThere].filter((label) => !labelsHere.includes(label)).sort(),
  };
}
