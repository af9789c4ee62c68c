import { describe, expect, it } from 'vitest';
import { closest, experimentJsonSchema, formatProblem, parseExperiment } from '../../harness/experiment/schema.js';

const minimal = {
  name: 'mini',
  models: { base: 'tiny', refiner: 'tiny' },
  prompts: [{ inline: ['a red cube on top of a blue sphere'] }],
  seeds: [0, 1],
};

function problems(input: unknown): string[] {
  return parseExperiment(input).problems.map(formatProblem);
}

describe('parseExperiment', () => {
  it('fills every default of a minimal experiment', () => {
    const { spec, problems: found } = parseExperiment(minimal);
    expect(found).toEqual([]);
    expect(spec).toEqual({
      name: 'mini',
      models: { base: 'tiny', refiner: 'tiny', device: 'cpu' },
      prompts: [{ inline: ['a red cube on top of a blue sphere'] }],
      seeds: [0, 1],
      generation: {
        mode: { handoff: 0.8 },
        steps: 40,
        guidance: 5,
        guidance_rescale: 0,
        scheduler: 'euler',
        scheduler_config: {},
        width: 1024,
        height: 1024,
        negative_prompt: null,
        aesthetic_score: 6,
        negative_aesthetic_score: 2.5,
      },
      sweep: {},
      scorers: [],
      report: { title: 'mini', reference_condition: 'base-only', bootstrap_resamples: 2000, seed: 0 },
      run: { batch: 1, low_memory: false, fail_fast: false, out_dir: 'runs/mini' },
    });
  });

  it('defaults the mode to base-only without a refiner', () => {
    const { spec } = parseExperiment({ ...minimal, models: { base: 'tiny' } });
    expect(spec?.generation.mode).toBe('base-only');
  });

  it('reports every problem at once, each with its path', () => {
    const found = problems({
      ...minimal,
      name: 'has space',
      seeds: [1, -1, 1],
      generation: { width: 1020, steps: 0, guidance: 'high' },
      sweep: { handoff: [0.8, 0.6, 1.5], size: ['512x500'] },
      prompts: [{ file: 3 }, { inline: ['ok', { text: '' }] }],
      report: { bootstrap_resamples: 10 },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'name: must be letters, digits and . _ - (it names the run folder) (got "has space")',
        'seeds[1]: must be in [0, 4294967295] (got -1)',
        'seeds[2]: repeats item [0] (got 1)',
        'generation.width: must be a multiple of 8 (got 1020)',
        'generation.steps: must be ≥ 1 (got 0)',
        'generation.guidance: expected a number (got "high")',
        'sweep.handoff[2]: must be in (0, 1] (got 1.5)',
        'sweep.size[0]: both sides must be multiples of 8 in [8, 8192] (got "512x500")',
        'prompts[0].file: expected a string (got 3)',
        'prompts[1].inline[1].text: must not be empty',
        'report.bootstrap_resamples: must be ≥ 100 (got 10)',
      ]),
    );
    expect(found).toHaveLength(11);
  });

  it('names unknown keys with a did-you-mean, also across sections', () => {
    const found = problems({ ...minimal, stpes: 20, steps: 20, generation: { guidence: 4 }, models: { ...minimal.models, devise: 'cpu' } });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^stpes: unknown key \(did you mean 'generation\.steps'\?/),
        'steps: unknown key here; it belongs under generation:',
        expect.stringMatching(/^generation\.guidence: unknown key \(did you mean 'guidance'\?/),
        expect.stringMatching(/^models\.devise: unknown key \(did you mean 'device'\?/),
      ]),
    );
    expect(found).toHaveLength(4);
  });

  it('narrows a failed union to the branch the value was meant for', () => {
    expect(problems({ ...minimal, prompts: [{ suite: 'relations', limt: 3 }] })).toEqual([
      expect.stringMatching(/^prompts\[0\]\.limt: unknown key \(did you mean 'limit'\?/),
    ]);
    expect(problems({ ...minimal, prompts: [{ suite: 'relations', file: 'x.txt' }] })).toEqual([
      'prompts[0]: must be one of { inline: [...] }, { suite: NAME }, { file: PATH } (got {"suite":"relations","file":"x.txt"})',
    ]);
    expect(problems({ ...minimal, sweep: { mode: ['base-only', { strenght: 0.3 }] } })).toEqual([
      `sweep.mode[1]: must be base-only, { handoff: F } or { strength: S } (got {"strenght":0.3}); unknown key 'strenght': did you mean 'strength'?`,
    ]);
    expect(problems({ ...minimal, sweep: { mode: ['base-only', { handoff: 0 }] } })).toEqual(['sweep.mode[1].handoff: must be in (0, 1] (got 0)']);
    expect(problems({ ...minimal, seeds: { range: [5, 5] } })).toEqual(['seeds.range: end must be greater than start (got [5,5])']);
    expect(problems({ ...minimal, generation: { scheduler_config: { sigma_min: Number.NaN } } })).toEqual([
      'generation.scheduler_config: must hold plain JSON values: sigma_min is NaN, which JSON cannot represent',
    ]);
  });

  it('checks scheduler names and overrides the scheduler variant would ignore', () => {
    expect(problems({ ...minimal, sweep: { scheduler: ['euler', 'dpmpp2m'] } })).toEqual([
      expect.stringMatching(/^sweep\.scheduler\[1\]: must be one of "euler", .* \(got "dpmpp2m"\) \(did you mean 'dpmpp-2m'\?\)$/),
    ]);
    expect(problems({ ...minimal, generation: { scheduler: 'euler', scheduler_config: { use_karras_sigmas: true, timestep_spacing: 'trailing' } } })).toEqual([
      expect.stringMatching(/^generation\.scheduler_config\.use_karras_sigmas: scheduler euler fixes use_karras_sigmas to false, so true would be ignored; choose the scheduler variant instead/),
    ]);
    expect(problems({ ...minimal, generation: { scheduler: 'euler-karras', scheduler_config: { use_karras_sigmas: true } } })).toEqual([]);
  });

  it('folds the mode shorthands into one axis and refuses repeats across them', () => {
    const { spec } = parseExperiment({ ...minimal, sweep: { base_only: true, handoff: [0.8, 0.6], strength: [0.3] } });
    expect(spec?.sweep.mode).toEqual(['base-only', { handoff: 0.8 }, { handoff: 0.6 }, { strength: 0.3 }]);
    expect(problems({ ...minimal, sweep: { mode: [{ handoff: 0.8 }], handoff: [0.8] } })).toEqual([
      'sweep.handoff[0]: repeats the mode at sweep.mode[0] (got {"handoff":0.8})',
    ]);
  });

  it('requires a refiner for the modes that use it', () => {
    const noRefiner = { ...minimal, models: { base: 'tiny' } };
    expect(problems({ ...noRefiner, sweep: { base_only: true, handoff: [0.8], strength: [0.3] } })).toEqual([
      'sweep.handoff[0]: {"handoff":0.8} uses the refiner, but models.refiner is not set',
      'sweep.strength[0]: {"strength":0.3} uses the refiner, but models.refiner is not set',
    ]);
    expect(problems({ ...noRefiner, generation: { mode: { strength: 0.5 } } })).toEqual([
      'generation.mode: {"strength":0.5} uses the refiner, but models.refiner is not set',
    ]);
  });

  it('normalizes scorers and refuses exact repeats', () => {
    const { spec } = parseExperiment({ ...minimal, scorers: ['clip', { id: 'health', options: { threshold: 0.1 } }] });
    expect(spec?.scorers).toEqual([
      { id: 'clip', options: {} },
      { id: 'health', options: { threshold: 0.1 } },
    ]);
    expect(problems({ ...minimal, scorers: ['clip', { id: 'clip' }] })).toEqual(['scorers[1]: repeats scorers[0]']);
  });

  it('accepts seed ranges and counts', () => {
    expect(parseExperiment({ ...minimal, seeds: { range: [10, 20] } }).spec?.seeds).toEqual({ range: [10, 20] });
    expect(parseExperiment({ ...minimal, seeds: { count: 3 } }).spec?.seeds).toEqual({ count: 3, start: 0 });
  });
});

describe('closest', () => {
  it('suggests near matches only', () => {
    expect(closest('stpes', ['steps', 'guidance'])).toBe('steps');
    expect(closest('low-memory', ['low_memory', 'batch'])).toBe('low_memory');
    expect(closest('zzz', ['steps', 'guidance'])).toBeUndefined();
  });
});

describe('experimentJsonSchema', () => {
  it('documents every property and forbids unknown keys', () => {
    const schema = experimentJsonSchema();
    const undocumented: string[] = [];
    const open: string[] = [];
    function walk(node: unknown, path: string): void {
      if (Array.isArray(node)) return node.forEach((child, index) => walk(child, `${path}[${index}]`));
      if (!node || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (record.type === 'object' && record.properties) {
        if (record.additionalProperties !== false) open.push(path);
        for (const [key, child] of Object.entries(record.properties as Record<string, unknown>)) {
          if (!(child as Record<string, unknown>).description) undocumented.push(`${path}.${key}`);
        }
      }
      for (const [key, child] of Object.entries(record)) walk(child, `${path}/${key}`);
    }
    walk(schema, '$');
    expect(undocumented).toEqual([]);
    expect(open).toEqual([]);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect((schema.required as string[]).sort()).toEqual(['models', 'name', 'prompts', 'seeds']);
  });
});

describe('refinery schema --out', () => {
  it('writes the same JSON Schema to a file', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { schemaCommand } = await import('../../harness/commands/schema.js');
    const dir = mkdtempSync(join(tmpdir(), 'refinery-schema-'));
    try {
      const out = join(dir, 'experiment.schema.json');
      await (schemaCommand.handler as (args: unknown) => unknown)({ out, _: [], $0: 'refinery' });
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(experimentJsonSchema());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/experiment-reference.md', () => {
  it('documents every field of the JSON Schema, with its default', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const doc = readFileSync(join(import.meta.dirname, '../../docs/experiment-reference.md'), 'utf8');
    const schema = experimentJsonSchema() as Record<string, any>;
    const fields = new Map<string, unknown>();
    function walk(node: any, path: string): void {
      if (!node || typeof node !== 'object') return;
      if (node.$ref) node = schema.$defs?.[String(node.$ref).split('/').pop()!];
      for (const key of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(node[key])) node[key].forEach((child: unknown) => walk(child, path));
      if (node.type === 'array' && node.items) walk(node.items, `${path}[]`);
      for (const [key, child] of Object.entries<any>(node.properties ?? {})) {
        const fieldPath = path ? `${path}.${key}` : key;
        if (!fields.has(fieldPath) || child.default !== undefined) fields.set(fieldPath, child.default);
        walk(child, fieldPath);
      }
    }
    walk(schema, '');
    // the clause fields are documented once, as expectations.include[].*
    const documentedAs = (path: string) =>
      path.replace(/^prompts\[\]\.inline\[\]\.expectations\./, 'expectations.').replace(/^expectations\.exclude\[\]\./, 'expectations.include[].');
    const missing: string[] = [];
    const wrongDefault: string[] = [];
    for (const [path, defaultValue] of fields) {
      const name = documentedAs(path);
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      if (!row) {
        missing.push(name);
        continue;
      }
      if (defaultValue !== undefined) {
        const shown = typeof defaultValue === 'string' ? defaultValue : JSON.stringify(defaultValue);
        if (!row.includes(`\`${shown}\``)) wrongDefault.push(`${name} (default ${shown})`);
      }
    }
    expect(missing).toEqual([]);
    expect(wrongDefault).toEqual([]);
    expect(fields.size).toBeGreaterThan(70);
  });
});
