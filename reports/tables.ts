/**
 * @module
 * scores.csv (one row per sample × metric) and stats.csv (every number the report shows), written
 * with csv-writer's stringifier so the files can be written atomically. Text cells are defused
 * against spreadsheet formula injection (`defuseFormula`).
 */
import { createRequire } from 'node:module';

// csv-writer is CommonJS whose "types" point at TypeScript sources, which confuses ESM loaders
// (tsx resolves it without its named exports); require() gets the compiled module everywhere
const csvWriter = createRequire(import.meta.url)('csv-writer') as typeof import('csv-writer');
import type { RunIndex } from './observations.js';
import type { ReportModel } from './model.js';

/** A text cell starting with one of these is read as a formula by spreadsheet programs. */
const FORMULA_TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r']);

/**
 * Defuses spreadsheet formula injection (CWE-1236) in text: a value starting with `=`, `+`, `-`, `@`,
 * a tab or a carriage return gets a leading `'`, which spreadsheets show as text and do not evaluate.
 * Numbers are written as numbers and never changed; drop the leading `'` to recover such a text.
 */
export function defuseFormula(text: string): string {
  return text.length > 0 && FORMULA_TRIGGERS.has(text[0]) ? `'${text}` : text;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return defuseFormula(String(value));
}

function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const stringifier = csvWriter.createObjectCsvStringifier({ header: columns.map((id) => ({ id, title: id })), recordDelimiter: '\n' });
  const records = rows.map((row) => Object.fromEntries(columns.map((column) => [column, cell(row[column])])));
  return stringifier.getHeaderString()! + stringifier.stringifyRecords(records);
}

export const SCORE_COLUMNS = [
  'sample_key',
  'condition_id',
  'condition_label',
  'mode',
  'handoff',
  'strength',
  'prompt_id',
  'prompt_text',
  'suite',
  'category',
  'subcategory',
  'seed',
  'scorer',
  'scorer_version',
  'metric',
  'value',
  'label',
  'detail_json',
];

export function scoresCsv(index: RunIndex): string {
  const rows: Record<string, unknown>[] = [];
  for (const metric of index.metrics) {
    for (const { unit, score } of index.observations.get(metric.name) ?? []) {
      rows.push({
        sample_key: unit.key,
        condition_id: unit.condition.id,
        condition_label: unit.condition.label,
        mode: unit.condition.mode,
        handoff: unit.condition.handoff,
        strength: unit.condition.strength,
        prompt_id: unit.prompt.id,
        prompt_text: unit.prompt.text,
        suite: unit.prompt.suite,
        category: unit.prompt.category,
        subcategory: unit.prompt.subcategory,
        seed: unit.seed,
        scorer: score.scorer,
        scorer_version: score.scorerVersion,
        metric: score.metric,
        value: score.value,
        label: score.label,
        detail_json: score.detail === undefined ? '' : JSON.stringify(score.detail),
      });
    }
  }
  return toCsv(SCORE_COLUMNS, rows);
}

export const STATS_COLUMNS = ['section', 'metric', 'condition', 'reference', 'group', 'n', 'estimate', 'lower', 'upper', 'p_value', 'p_holm', 'test', 'note'];

export function statsCsv(model: ReportModel): string {
  const rows: Record<string, unknown>[] = [];
  const b = model.baseVsRefiner;
  for (const s of b.summaries) {
    rows.push({ section: 'mean', metric: s.metric, condition: s.conditionLabel, n: s.n, estimate: s.mean?.estimate, lower: s.mean?.lower, upper: s.mean?.upper, note: `undetermined=${s.undetermined}` });
  }
  for (const c of b.comparisons) {
    rows.push({
      section: 'paired-difference',
      metric: c.metric,
      condition: c.conditionLabel,
      reference: c.referenceLabel,
      n: c.nPairs,
      estimate: c.difference?.estimate,
      lower: c.difference?.lower,
      upper: c.difference?.upper,
      p_value: c.pValue,
      p_holm: c.pHolm,
      test: c.test && `${c.test}${c.testMethod ? ` (${c.testMethod})` : ''}`,
      note: c.statistic === null ? '' : `statistic=${c.statistic}`,
    });
    if (c.winRate) {
      rows.push({
        section: 'win-rate',
        metric: c.metric,
        condition: c.conditionLabel,
        reference: c.referenceLabel,
        n: c.nPairs,
        estimate: c.winRate.rate,
        lower: c.winRate.lower,
        upper: c.winRate.upper,
        note: `wins=${c.winRate.wins} ties=${c.winRate.ties} losses=${c.winRate.losses}`,
      });
    }
  }
  for (const c of b.categories) {
    rows.push({ section: `by-${c.level}`, metric: c.metric, condition: c.conditionLabel, group: c.group, n: c.n, estimate: c.mean?.estimate, lower: c.mean?.lower, upper: c.mean?.upper });
  }
  for (const bias of model.bias) {
    for (const c of bias.conditions) {
      rows.push({ section: 'bias-mad', metric: bias.metric, condition: c.conditionLabel, n: c.prompts, estimate: c.mad?.estimate, lower: c.mad?.lower, upper: c.mad?.upper, note: `images=${c.images} unknown=${c.unknown}` });
      rows.push({ section: 'bias-intensity', metric: bias.metric, condition: c.conditionLabel, n: c.prompts, estimate: c.intensity?.estimate, lower: c.intensity?.lower, upper: c.intensity?.upper });
    }
    for (const c of bias.changes) {
      rows.push({ section: 'bias-mad-change', metric: bias.metric, condition: c.conditionLabel, reference: c.referenceLabel, n: c.prompts, estimate: c.madChange?.estimate, lower: c.madChange?.lower, upper: c.madChange?.upper, note: `pairs=${c.pairs}` });
      rows.push({
        section: 'bias-intensity-change',
        metric: bias.metric,
        condition: c.conditionLabel,
        reference: c.referenceLabel,
        n: c.prompts,
        estimate: c.intensityChange?.estimate,
        lower: c.intensityChange?.lower,
        upper: c.intensityChange?.upper,
        note: `pairs=${c.pairs}`,
      });
    }
  }
  for (const theme of [...model.limitations.themes.map((t) => ({ id: t.id, metrics: t.metrics })), { id: 'other', metrics: model.limitations.other }]) {
    for (const metric of theme.metrics) {
      for (const row of metric.rows) {
        rows.push({
          section: metric.kind === 'binary' ? 'failure-rate' : 'limitation-mean',
          metric: metric.metric,
          condition: row.conditionLabel,
          group: theme.id,
          n: row.n,
          estimate: row.estimate,
          lower: row.lower,
          upper: row.upper,
          note: `undetermined=${row.undetermined}${row.failures === null ? '' : ` failures=${row.failures}`}`,
        });
      }
    }
  }
  if (model.compare) {
    for (const row of model.compare.rows) {
      rows.push({
        section: 'compare-difference',
        metric: row.metric,
        condition: row.conditionLabel,
        reference: model.compare.otherRun,
        n: row.nPairs,
        estimate: row.difference?.estimate,
        lower: row.difference?.lower,
        upper: row.difference?.upper,
        p_value: row.pValue,
        p_holm: row.pHolm,
        test: row.test,
      });
    }
  }
  return toCsv(STATS_COLUMNS, rows);
}
