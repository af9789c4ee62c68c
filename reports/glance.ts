/**
 * @module
 * The at-a-glance summary at the top of the report: each primary metric × condition with its mean,
 * the paired difference against the reference and its Holm-adjusted p, and a plain verdict. Pure:
 * derived from the `ReportModel`, so the HTML and Markdown writers say the same thing.
 */
import type { ReportModel } from './model.js';
import { constantValue, type ComparisonRow, type Interval } from './summarize.js';
import { formatNumber } from './format.js';

/** Holm-adjusted p below this is reported as a difference. */
export const SIGNIFICANCE_LEVEL = 0.05;

/**
 * Below this many pairs a difference that is not significant is reported as "too few pairs to
 * conclude" rather than "not significant". (With 5 pairs or fewer, neither the exact
 * Wilcoxon test, whose smallest two-sided p is 2 / 2^n, nor McNemar's can reach p < 0.05 at all.)
 */
export const MIN_PAIRS_TO_CONCLUDE = 10;

export type Verdict =
  /** the reference condition itself */
  | 'reference'
  /** significant and in the better direction */
  | 'better'
  | 'worse'
  /** significant, for a metric without a direction */
  | 'higher'
  | 'lower'
  | 'not significant'
  | 'too few pairs to conclude'
  /** no reference shares this condition's other axes, or no pairs */
  | 'not compared';

export interface GlanceRow {
  conditionId: string;
  conditionLabel: string;
  n: number;
  undetermined: number;
  mean: Interval | null;
  comparison: ComparisonRow | null;
  verdict: Verdict;
}

export interface GlanceMetric {
  metric: string;
  kind: string;
  higherIsBetter: boolean | null;
  /** the value every sample has, when the metric is constant */
  constant: number | null;
  /** true when no sample has a value (every score undetermined) */
  allUndetermined: boolean;
  rows: GlanceRow[];
}

export interface GlanceFinding {
  metric: string;
  conditionLabel: string;
  referenceLabel: string;
  verdict: 'better' | 'worse' | 'higher' | 'lower';
  difference: Interval;
  pHolm: number;
  nPairs: number;
}

/** One plain sentence; `escape` is applied to the run's strings (labels, metric names). */
export function describeFinding(finding: GlanceFinding, escape: (text: string) => string = (text) => text): string {
  const sign = finding.difference.estimate > 0 ? '+' : '';
  const p = finding.pHolm < 1e-4 ? '< 0.0001' : `= ${Number(finding.pHolm.toPrecision(2))}`;
  return `${escape(finding.conditionLabel)} vs ${escape(finding.referenceLabel)}: ${escape(finding.metric)} ${finding.verdict} (${sign}${formatNumber(finding.difference.estimate)} [${formatNumber(finding.difference.lower)}, ${formatNumber(finding.difference.upper)}], Holm p ${p}, ${finding.nPairs} pairs)`;
}

export interface GlanceDiagnostic {
  metric: string;
  kind: string;
  higherIsBetter: boolean | null;
  means: { conditionLabel: string; n: number; mean: number | null }[];
  /** binary checks only: conditions where most determined images fail (the failing value is the majority) */
  mostlyFailing: string[];
}

export interface Glance {
  /** 'primary': the metrics the scorers declare primary; 'all': none does (an older store), so every reported metric */
  basis: 'primary' | 'all';
  metrics: GlanceMetric[];
  /** the significant differences, in metric and condition order */
  findings: GlanceFinding[];
  /** the smallest number of pairs behind any comparison shown (null when nothing is compared) */
  minPairs: number | null;
  /** the image diagnostics (role 'diagnostic', e.g. health_ok): their mean per condition, as a sanity line */
  diagnostics: GlanceDiagnostic[];
}

export function verdictFor(row: ComparisonRow, higherIsBetter: boolean | null): Verdict {
  if (row.nPairs === 0 || row.difference === null) return 'not compared';
  if (row.pHolm !== null && row.pHolm < SIGNIFICANCE_LEVEL) {
    const higher = row.difference.estimate > 0;
    if (higherIsBetter === null) return higher ? 'higher' : 'lower';
    return higher === higherIsBetter ? 'better' : 'worse';
  }
  return row.nPairs < MIN_PAIRS_TO_CONCLUDE ? 'too few pairs to conclude' : 'not significant';
}


export function atAGlance(model: ReportModel): Glance {
  const scored = model.metrics.filter(
    (m) => m.kind !== 'categorical' && model.baseVsRefiner.summaries.some((s) => s.metric === m.name && s.n + s.undetermined > 0),
  );
  const primary = scored.filter((m) => m.role === 'primary');
  const basis = primary.length > 0 ? 'primary' : 'all';
  const chosen = basis === 'primary' ? primary : scored.filter((m) => m.role !== 'detail');
  const referenceIds = new Set(model.baseVsRefiner.comparisons.map((c) => c.referenceId));
  const findings: GlanceFinding[] = [];
  let minPairs: number | null = null;
  const metrics = chosen.map((metric): GlanceMetric => {
    const summaries = model.baseVsRefiner.summaries.filter((s) => s.metric === metric.name);
    const constant = constantValue(summaries);
    const allUndetermined = summaries.every((s) => s.n === 0);
    const rows = summaries.map((summary): GlanceRow => {
      const comparison = model.baseVsRefiner.comparisons.find((c) => c.metric === metric.name && c.conditionId === summary.conditionId) ?? null;
      let verdict: Verdict = referenceIds.has(summary.conditionId) ? 'reference' : 'not compared';
      if (comparison && constant === null && !allUndetermined) {
        verdict = verdictFor(comparison, metric.higherIsBetter);
        if (comparison.nPairs > 0) minPairs = minPairs === null ? comparison.nPairs : Math.min(minPairs, comparison.nPairs);
        if ((verdict === 'better' || verdict === 'worse' || verdict === 'higher' || verdict === 'lower') && comparison.difference && comparison.pHolm !== null) {
          findings.push({
            metric: metric.name,
            conditionLabel: summary.conditionLabel,
            referenceLabel: comparison.referenceLabel,
            verdict,
            difference: comparison.difference,
            pHolm: comparison.pHolm,
            nPairs: comparison.nPairs,
          });
        }
      }
      return { conditionId: summary.conditionId, conditionLabel: summary.conditionLabel, n: summary.n, undetermined: summary.undetermined, mean: summary.mean, comparison, verdict };
    });
    return { metric: metric.name, kind: metric.kind, higherIsBetter: metric.higherIsBetter, constant, allUndetermined, rows };
  });
  const diagnostics = scored
    .filter((m) => m.role === 'diagnostic' && basis === 'primary')
    .map((metric) => {
      const means = model.baseVsRefiner.summaries
        .filter((s) => s.metric === metric.name)
        .map((s) => ({ conditionLabel: s.conditionLabel, n: s.n, mean: s.mean?.estimate ?? null }));
      const failing = (mean: number) => (metric.higherIsBetter === false ? mean > 0.5 : mean < 0.5);
      const mostlyFailing =
        metric.kind === 'binary' && metric.higherIsBetter !== null ? means.filter((m) => m.mean !== null && failing(m.mean)).map((m) => m.conditionLabel) : [];
      return { metric: metric.name, kind: metric.kind, higherIsBetter: metric.higherIsBetter, means, mostlyFailing };
    });
  return { basis, metrics, findings, minPairs, diagnostics };
}
