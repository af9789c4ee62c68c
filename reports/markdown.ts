/**
 * @module
 * summary.md: the headline numbers in Markdown, escaped so that run strings cannot become markup.
 */
import type { ReportModel } from './model.js';
import { formatInterval, formatNumber, formatP, formatPercent } from './format.js';
import { PERCEIVED_LABELS_STATEMENT } from './html.js';

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

export function renderMarkdown(model: ReportModel): string {
  const e = escapeMarkdown;
  const percent = Math.round(model.settings.confidence * 100);
  const lines: string[] = [
    `# ${e(model.title)}`,
    '',
    `Run **${e(model.run.name)}**${model.run.experiment ? ` of experiment **${e(model.run.experiment)}**` : ''}: ${model.run.units} units, ${model.run.ok} images, ${model.run.failed} failed, ${model.run.notRun} not run.`,
    `Intervals: ${percent}% percentile bootstrap, ${model.settings.bootstrap.resamples} resamples, seed ${model.settings.bootstrap.seed}. Reference condition: ${e(model.settings.reference)}.`,
    '',
    '## Base vs refiner',
    '',
  ];
  const comparisons = model.baseVsRefiner.comparisons;
  if (comparisons.length === 0) lines.push('_No paired comparisons._', '');
  for (const metric of [...new Set(comparisons.map((c) => c.metric))]) {
    lines.push(`### ${e(metric)}`, '');
    lines.push(
      ...tableLines(
        ['condition', 'pairs', 'reference mean', 'condition mean', `difference [${percent}% CI]`, 'win rate', 'test', 'p', 'p (Holm)'],
        comparisons
          .filter((c) => c.metric === metric)
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
