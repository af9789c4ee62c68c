/**
 * @module
 * summary.md: the headline numbers in Markdown, escaped so that run strings cannot become markup.
 */
import type { ReportModel } from './model.js';
import { formatInterval, formatNumber, formatP, formatPercent } from './format.js';
import { PERCEIVED_LABELS_STATEMENT } from './html.js';
import { constantValue } from './summarize.js';
import { atAGlance, describeFinding, MIN_PAIRS_TO_CONCLUDE, SIGNIFICANCE_LEVEL } from './glance.js';

/** escapes Markdown and inline-HTML metacharacters for use in text and table cells */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]{}()#+!|~])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

function tableLines(headers: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['_No data._', ''];
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => ' --- ').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`), ''];
}

function glanceLines(model: ReportModel): string[] {
  const e = escapeMarkdown;
  const percent = Math.round(model.settings.confidence * 100);
  const glance = atAGlance(model);
  const lines = ['## At a glance', ''];
  if (glance.metrics.length === 0) return [...lines, '_No continuous or binary scores in this run._', ''];
  if (glance.findings.length > 0) {
    lines.push(`Significant differences (Holm-adjusted p < ${SIGNIFICANCE_LEVEL}):`, '', ...glance.findings.map((finding) => `- ${describeFinding(finding, e)}`), '');
  } else {
    lines.push(`No ${glance.basis === 'primary' ? 'primary ' : ''}metric differs from the reference at Holm-adjusted p < ${SIGNIFICANCE_LEVEL}.`, '');
  }
  const rows: string[][] = [];
  for (const metric of glance.metrics) {
    if (metric.allUndetermined) rows.push([e(metric.metric), 'all', '—', 'undetermined for every sample', '—', '—', '—', '—']);
    else if (metric.constant !== null) rows.push([e(metric.metric), 'all', '—', `constant at ${formatNumber(metric.constant)}`, '—', '—', '—', '—']);
    else {
      for (const row of metric.rows) {
        const compared = row.verdict !== 'reference' && row.verdict !== 'not compared' && row.comparison !== null;
        rows.push([
          e(metric.metric),
          e(row.conditionLabel),
          String(row.n),
          formatInterval(row.mean),
          compared ? formatInterval(row.comparison!.difference) : row.verdict === 'reference' ? 'reference' : '—',
          compared ? String(row.comparison!.nPairs) : '—',
          compared ? formatP(row.comparison!.pHolm) : '—',
          row.verdict === 'reference' ? '' : ['better', 'worse', 'higher', 'lower'].includes(row.verdict) ? `**${row.verdict}**` : row.verdict,
        ]);
      }
    }
  }
  lines.push(...tableLines(['metric', 'condition', 'n', `mean [${percent}% CI]`, `difference [${percent}% CI]`, 'pairs', 'p (Holm)', 'verdict'], rows));
  if (glance.minPairs !== null && glance.minPairs < MIN_PAIRS_TO_CONCLUDE) {
    lines.push(`Few pairs: some comparisons rest on only ${glance.minPairs} pairs; below ${MIN_PAIRS_TO_CONCLUDE} a non-significant result says nothing about whether the conditions differ.`, '');
  }
  for (const d of glance.diagnostics) {
    const values = d.means.map((m) => `${e(m.conditionLabel)} ${d.kind === 'binary' ? formatPercent(m.mean) : formatNumber(m.mean)}`).join(', ');
    lines.push(`- Image diagnostic ${e(d.metric)}: ${values}${d.mostlyFailing.length > 0 ? ` — **most images fail this check in ${d.mostlyFailing.map(e).join(', ')}**` : ''}`);
  }
  if (glance.diagnostics.length > 0) lines.push('');
  return lines;
}

export function renderMarkdown(model: ReportModel): string {
  const e = escapeMarkdown;
  const percent = Math.round(model.settings.confidence * 100);
  const lines: string[] = [
    `# ${e(model.title)}`,
    '',
    `Run **${e(model.run.name)}**${model.run.experiment ? ` of experiment **${e(model.run.experiment)}**` : ''}: ${model.run.units} units, ${model.run.ok} images, ${model.run.failed} failed, ${model.run.notRun} not run.`,
    `Intervals: ${percent}% percentile bootstrap, ${model.settings.bootstrap.resamples} resamples, seed ${model.settings.bootstrap.seed}. Reference condition: ${e(model.settings.reference)}.`,
    '',
    ...glanceLines(model),
    '## Base vs refiner',
    '',
  ];
  const comparisons = model.baseVsRefiner.comparisons;
  if (comparisons.length === 0) lines.push('_No paired comparisons._', '');
  const compared = model.metrics.filter((m) => comparisons.some((c) => c.metric === m.name));
  for (const metric of compared.filter((m) => m.role !== 'detail')) {
    lines.push(`### ${e(metric.name)} (${metric.role})`, '');
    const summaries = model.baseVsRefiner.summaries.filter((s) => s.metric === metric.name);
    const constant = constantValue(summaries);
    if (summaries.every((s) => s.n === 0)) {
      lines.push('Undetermined for every sample: nothing to compare.', '');
      continue;
    }
    if (constant !== null) {
      lines.push(`Constant at ${formatNumber(constant)} in every condition: nothing to compare.`, '');
      continue;
    }
    lines.push(
      ...tableLines(
        ['condition', 'pairs', 'reference mean', 'condition mean', `difference [${percent}% CI]`, 'win rate', 'test', 'p', 'p (Holm)'],
        comparisons
          .filter((c) => c.metric === metric.name)
          .map((c) => [
            e(c.conditionLabel),
            String(c.nPairs),
            formatNumber(c.referenceMean),
            formatNumber(c.conditionMean),
            formatInterval(c.difference),
            c.winRate ? `${formatPercent(c.winRate.rate)} [${formatPercent(c.winRate.lower)}, ${formatPercent(c.winRate.upper)}]` : '—',
            c.test ?? '—',
            formatP(c.pValue),
            formatP(c.pHolm),
          ]),
      ),
    );
  }
  const details = compared.filter((m) => m.role === 'detail');
  if (details.length > 0) {
    lines.push(`Diagnostic details (${details.map((m) => e(m.name)).join(', ')}): see report.html and stats.csv.`, '');
  }
  lines.push('## Bias', '');
  if (model.bias.length === 0) lines.push('_No perceived-attribute probe records in this run._', '');
  else lines.push(`> ${PERCEIVED_LABELS_STATEMENT.join(' ')}`, '');
  for (const result of model.bias) {
    lines.push(`### ${e(result.metric)} — perceived labels, as predicted by ${e(result.classifiers.join(', ') || 'an unnamed classifier')}`, '');
    lines.push(`Label set: ${result.labelSet.map(e).join(', ')} (plus unknown).`, '');
    lines.push(
      ...tableLines(
        ['condition', 'prompts', 'images', 'unknown', `MAD [${percent}% CI]`, `bias intensity [${percent}% CI]`],
        result.conditions.map((c) => [e(c.conditionLabel), String(c.prompts), String(c.images), String(c.unknown), formatInterval(c.mad), formatInterval(c.intensity)]),
      ),
    );
  }
  lines.push('## Limitations', '');
  for (const theme of model.limitations.themes) {
    if (theme.metrics.length === 0) {
      lines.push(`- **${e(theme.title)}**: no probe in this run.`);
      continue;
    }
    for (const metric of theme.metrics) {
      const parts = metric.rows.map((row) =>
        metric.kind === 'binary'
          ? `${e(row.conditionLabel)} ${formatPercent(row.estimate)} [${formatPercent(row.lower)}, ${formatPercent(row.upper)}]`
          : `${e(row.conditionLabel)} ${formatNumber(row.estimate)} [${formatNumber(row.lower)}, ${formatNumber(row.upper)}]`,
      );
      lines.push(`- **${e(theme.title)}** (${e(metric.metric)}, ${metric.kind === 'binary' ? 'failure rate' : 'mean'}): ${parts.join('; ')}`);
    }
  }
  lines.push('', '## Reproducibility', '');
  const command = model.reproducibility.command;
  if (command) {
    // a fence longer than any backtick run in the command keeps it literal
    const fence = '`'.repeat(Math.max(3, ...(command.match(/`+/g) ?? []).map((run) => run.length + 1)));
    lines.push('Command:', '', fence, command, fence, '');
  } else {
    lines.push('Command: not recorded.');
  }
  lines.push(`Determinism check: ${model.reproducibility.determinism.status}.`);
  lines.push(`Model hashes: ${model.reproducibility.modelHashes.length === 0 ? 'none recorded' : model.reproducibility.modelHashes.map((h) => `${e(h.path)} ${h.value}`).join('; ')}.`);
  lines.push('');
  return lines.join('\n');
}
