// scores.csv and stats.csv defuse spreadsheet formulas in run text (OWASP "CSV injection"): a text
// cell starting with =, +, -, @, tab or CR gets a leading ', while numbers stay numbers.
import { describe, expect, it } from 'vitest';
import { defuseFormula, scoresCsv, statsCsv } from '../../reports/tables.js';
import { indexRun } from '../../reports/observations.js';
import { buildReportModel } from '../../reports/model.js';
import type { RunRecords } from '../../reports/load.js';

/** RFC 4180 fields of a CSV text (quoted fields may hold commas, quotes, CR and LF) */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n') {
      rows.push([...row, field]);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

const HOSTILE = {
  label: '=HYPERLINK("http://example.invalid","x")',
  prompt: "+cmd|' /C calc'!A0",
  category: '@SUM(1+1)',
  subcategory: '-2+3',
  promptId: '\tid',
  scoreLabel: '\rcorrect',
};

function hostileRecords(): RunRecords {
  const conditions = [
    { id: 'mode=base-only', label: 'base-only', mode: 'base-only' as const },
    { id: 'mode=ensemble,handoff=0.8', label: HOSTILE.label, mode: 'ensemble' as const, handoff: 0.8 },
  ];
  const units = conditions.flatMap((condition) =>
    [0, 1, 2].map((seed) => ({
      key: `${condition.mode}-${seed}`,
      condition,
      prompt: { id: HOSTILE.promptId, text: HOSTILE.prompt, suite: 'hostile', category: HOSTILE.category, subcategory: HOSTILE.subcategory },
      seed,
    })),
  );
  return {
    runDir: '/nonexistent',
    runName: 'hostile',
    spec: null,
    manifest: null,
    units,
    samples: units.map((unit) => ({ key: unit.key, imagePath: null, imageSha256: null, status: 'ok' as const, error: null })),
    scores: units.map((unit, i) => ({ sampleKey: unit.key, scorer: 'fake', scorerVersion: '1', metric: 'margin', value: -1.5 + i, label: HOSTILE.scoreLabel, detail: -0.25 })),
    metrics: [{ name: 'margin', description: 'a signed margin', higherIsBetter: true, range: null, kind: 'continuous', scorer: 'fake', scorerVersion: '1' }],
    storeMeta: {},
  };
}

describe('CSV formula defusing', () => {
  it('defuseFormula prefixes exactly the six trigger characters', () => {
    for (const text of ['=1+1', '+1', '-1', '@A1', '\tx', '\rx']) expect(defuseFormula(text)).toBe(`'${text}`);
    for (const text of ['', 'a=1', ' =1', '1-2', "'=1", 'base-only']) expect(defuseFormula(text)).toBe(text);
  });

  it('scores.csv and stats.csv: hostile run text is defused, numbers (negative ones too) stay numeric', () => {
    const records = hostileRecords();
    const scores = parseCsv(scoresCsv(indexRun(records)));
    const header = scores[0];
    const column = (name: string) => scores.slice(1).map((row) => row[header.indexOf(name)]);
    expect(scores.length).toBe(7);
    expect(new Set(column('condition_label'))).toEqual(new Set(['base-only', `'${HOSTILE.label}`]));
    expect(new Set(column('prompt_text'))).toEqual(new Set([`'${HOSTILE.prompt}`]));
    expect(new Set(column('prompt_id'))).toEqual(new Set([`'${HOSTILE.promptId}`]));
    expect(new Set(column('category'))).toEqual(new Set([`'${HOSTILE.category}`]));
    expect(new Set(column('subcategory'))).toEqual(new Set([`'${HOSTILE.subcategory}`]));
    expect(new Set(column('label'))).toEqual(new Set([`'${HOSTILE.scoreLabel}`]));
    expect(column('value')).toEqual(['-1.5', '-0.5', '0.5', '1.5', '2.5', '3.5']);
    // no cell anywhere starts with a trigger unless it is a number
    for (const row of scores) for (const cell of row) if (/^[=+\-@\t\r]/.test(cell)) expect(Number.isFinite(Number(cell))).toBe(true);

    const { model } = buildReportModel(records, { resamples: 50 });
    const stats = parseCsv(statsCsv(model));
    const conditionColumn = stats[0].indexOf('condition');
    expect(stats.slice(1).some((row) => row[conditionColumn] === `'${HOSTILE.label}`)).toBe(true);
    expect(stats.slice(1).some((row) => row[stats[0].indexOf('group')] === `'${HOSTILE.category}`)).toBe(true);
    for (const row of stats) for (const cell of row) if (/^[=+\-@\t\r]/.test(cell)) expect(Number.isFinite(Number(cell))).toBe(true);
    // the paired difference (condition − reference = +3) and its negative reference are numbers
    const difference = stats.find((row) => row[0] === 'paired-difference')!;
    expect(Number(difference[stats[0].indexOf('estimate')])).toBeCloseTo(3, 10);
  });
});
