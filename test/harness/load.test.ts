import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applySet, deepMerge, loadExperiment, parseSetPath } from '../../harness/experiment/load.js';
import { formatProblem } from '../../harness/experiment/schema.js';

let dir: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'refinery-load-')));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const baseYaml = `
name: base
models:
  base: tiny
  refiner: tiny
prompts:
  - inline: [a red cube on top of a blue sphere]
  - file: prompts/extra.txt
seeds: [0, 1]
generation:
  steps: 30
  guidance: 7
  width: 512
  height: 512
sweep:
  handoff: [0.8, 0.6]
  scheduler: [euler, ddim]
scorers: [clip]
`;

describe('loadExperiment', () => {
  it('merges extends deeply, replaces lists, and resolves paths against the file that wrote them', () => {
    write('prompts/extra.txt', 'a green dog to the left of a yellow car\n');
    write('common/base.yaml', baseYaml.replace('prompts/extra.txt', '../prompts/extra.txt'));
    const child = write(
      'child.yaml',
      'extends: common/base.yaml\nname: child\ngeneration:\n  steps: 20\nsweep:\n  handoff: [0.9]\n',
    );
    const { spec, sourceFiles, issues } = loadExperiment(child, { cwd: dir });
    expect(issues).toEqual([]);
    expect(sourceFiles).toEqual([child, join(dir, 'common/base.yaml')]);
    expect(spec?.name).toBe('child');
    expect(spec?.generation).toMatchObject({ steps: 20, guidance: 7, width: 512, height: 512 });
    expect(spec?.sweep.mode).toEqual([{ handoff: 0.9 }]);
    expect(spec?.sweep.scheduler).toEqual(['euler', 'ddim']);
    expect(spec?.prompts[1]).toEqual({ file: join(dir, 'prompts/extra.txt') });
    expect(spec?.run.out_dir).toBe(join(dir, 'runs/child'));
  });

  it('applies --set overrides as YAML values, with list indices', () => {
    write('prompts/extra.txt', 'x\n');
    const file = write('exp.yaml', baseYaml);
    const { spec, issues } = loadExperiment(file, {
      cwd: dir,
      set: ['generation.steps=20', 'sweep.handoff=[0.9, 0.7]', 'sweep.scheduler[1]=dpmpp-2m', 'generation.negative_prompt=blurry, low quality', 'run.low_memory=true', 'report.compare=[handoff=0.9]'],
    });
    expect(issues).toEqual([]);
    expect(spec?.generation.steps).toBe(20);
    expect(spec?.generation.negative_prompt).toBe('blurry, low quality');
    expect(spec?.sweep.mode).toEqual([{ handoff: 0.9 }, { handoff: 0.7 }]);
    expect(spec?.sweep.scheduler).toEqual(['euler', 'dpmpp-2m']);
    expect(spec?.run.low_memory).toBe(true);
    expect(spec?.report.compare).toEqual(['handoff=0.9']);
  });

  it('reports bad overrides and schema problems together, with paths', () => {
    write('prompts/extra.txt', 'x\n');
    const file = write('exp.yaml', baseYaml);
    const { spec, issues } = loadExperiment(file, {
      cwd: dir,
      set: ['sweep.handoff=[0.9, 1.5]', 'generation.width=1020', 'generation.steps', 'seeds.x[0]=1', 'generation.stpes=3'],
    });
    expect(spec).toBeUndefined();
    expect(loadExperiment(file, { cwd: dir, set: ['extends=other.yaml'] }).issues.map(formatProblem)).toEqual([
      'extends: --set cannot change extends (it is resolved before overrides); edit the file or write a variant',
    ]);
    expect(issues.map(formatProblem)).toEqual([
      '--set generation.steps: expected PATH=VALUE, e.g. generation.steps=20',
      '--set seeds.x[0]=1: seeds is not a mapping',
      'generation.width: must be a multiple of 8 (got 1020)',
      expect.stringMatching(/^generation\.stpes: unknown key \(did you mean 'steps'\?/),
      'sweep.handoff[1]: must be in (0, 1] (got 1.5)',
    ]);
  });

  it('names missing files with their absolute path', () => {
    const file = write('exp.yaml', baseYaml.replace('base: tiny', 'base: models/sdxl-base'));
    const { issues } = loadExperiment(file, { cwd: dir });
    expect(issues.map(formatProblem)).toEqual([
      `models.base: not found: ${join(dir, 'models/sdxl-base')} (paths are relative to the experiment file; \`tiny\` names the generated tiny models)`,
      `prompts[1].file: not found: ${join(dir, 'prompts/extra.txt')} (paths are relative to the experiment file)`,
    ]);
  });

  it('checks suite names and categories when the suites are known', () => {
    const file = write('exp.yaml', baseYaml.replace('- file: prompts/extra.txt', '- { suite: relatons }\n  - { suite: relations, categories: [spatal] }'));
    const suites = [
      { id: 'relations', categories: ['spatial'] },
      { id: 'counting', categories: ['counting'] },
    ];
    const { issues } = loadExperiment(file, { cwd: dir, suites });
    expect(issues.map(formatProblem)).toEqual([
      "prompts[1].suite: unknown suite 'relatons' (did you mean 'relations'?); available: relations, counting",
      "prompts[2].categories[0]: suite relations has no category 'spatal' (did you mean 'spatial'?); it has: spatial",
    ]);
  });

  it('refuses extends cycles and missing bases', () => {
    write('a.yaml', 'extends: b.yaml\nname: a\n');
    write('b.yaml', 'extends: ./a.yaml\nname: b\n');
    const cycle = loadExperiment(join(dir, 'a.yaml'), { cwd: dir });
    expect(cycle.issues.map(formatProblem)).toEqual([`extends: cycle: ${join(dir, 'a.yaml')} → ${join(dir, 'b.yaml')} → ${join(dir, 'a.yaml')}`]);
    write('c.yaml', 'extends: c.yaml\n');
    expect(loadExperiment(join(dir, 'c.yaml'), { cwd: dir }).issues.map(formatProblem)).toEqual([
      `extends: cycle: ${join(dir, 'c.yaml')} → ${join(dir, 'c.yaml')}`,
    ]);
    write('d.yaml', 'extends: nowhere.yaml\n');
    expect(loadExperiment(join(dir, 'd.yaml'), { cwd: dir }).issues.map(formatProblem)).toEqual([
      `extends: not found: ${join(dir, 'nowhere.yaml')} (paths are relative to the experiment file)`,
    ]);
  });

  it('reads JSON and reports YAML syntax errors with line numbers', () => {
    write('prompts/extra.txt', 'x\n');
    const json = write('exp.json', JSON.stringify({ name: 'j', models: { base: 'tiny' }, prompts: [{ inline: ['p'] }], seeds: { count: 2 } }));
    expect(loadExperiment(json, { cwd: dir }).spec?.seeds).toEqual({ count: 2, start: 0 });
    const broken = write('broken.yaml', 'name: x\nseeds: [1, 2\n');
    const { issues } = loadExperiment(broken, { cwd: dir });
    expect(issues).toHaveLength(1);
    expect(formatProblem(issues[0])).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: invalid YAML`));
    const duplicate = write('dup.yaml', 'name: x\nname: y\n');
    expect(formatProblem(loadExperiment(duplicate, { cwd: dir }).issues[0])).toMatch(/invalid YAML: Map keys must be unique/);
    expect(loadExperiment(join(dir, 'none.yaml'), { cwd: dir }).issues.map(formatProblem)).toEqual([`experiment file not found: ${join(dir, 'none.yaml')}`]);
  });
});

describe('deepMerge', () => {
  it('merges mappings and replaces lists and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: null })).toEqual({ a: { b: 1, c: [3] }, d: null });
  });
});

describe('--set paths', () => {
  it('parses dotted paths with indices and rejects malformed ones', () => {
    expect(parseSetPath('sweep.handoff[2]')).toEqual(['sweep', 'handoff', 2]);
    expect(parseSetPath('prompts[0].file')).toEqual(['prompts', 0, 'file']);
    expect(parseSetPath('a[0][1]')).toEqual(['a', 0, 1]);
    for (const bad of ['', '.a', 'a.', 'a..b', '[0]', 'a[x]', 'a b', 'a.[0]']) expect(parseSetPath(bad), bad).toBeUndefined();
  });

  it('creates missing mappings, appends at the end of a list, refuses gaps', () => {
    const target: Record<string, unknown> = { list: [1] };
    expect(applySet(target, 'new.deep.value={handoff: 0.8}')).toBeUndefined();
    expect(applySet(target, 'list[1]=2')).toBeUndefined();
    expect(target).toEqual({ list: [1, 2], new: { deep: { value: { handoff: 0.8 } } } });
    expect(applySet(target, 'list[5]=1')?.message).toBe('--set list[5]=1: list has 2 items; index 5 would leave a gap');
  });
});

describe('refinery validate', () => {
  const root = join(import.meta.dirname, '../..');

  it('summarizes the demo: 6 relation prompts × 2 seeds × 4 modes', async () => {
    const { validateExperimentFile } = await import('../../harness/commands/validate.js');
    const report = validateExperimentFile('experiments/demo.yaml', [], root);
    expect(report.ok).toBe(true);
    expect(report.lines).toEqual([
      'experiments/demo.yaml: valid',
      '  prompts     6 (relations ×6)',
      '  seeds       2',
      '  conditions  4: base-only, handoff=0.8, handoff=0.6, strength=0.3',
      '  units       48 (12 base trajectories)',
      '  scorers     clip, health, colour-geometry, contrastive',
      '  models      base tiny, refiner tiny on cpu',
      '  run folder  runs/demo',
    ]);
  });

  // the example reads PartiPrompts from ../shared/data, which a user's clone does not have
  it.skipIf(!existsSync(join(root, '../shared/data/parti/PartiPrompts.tsv')))('accepts the example that sets every option', async () => {
    const { validateExperimentFile } = await import('../../harness/commands/validate.js');
    const report = validateExperimentFile('experiments/example-full.yaml', [], root);
    expect(report.lines[0]).toBe('experiments/example-full.yaml: valid (extends experiments/demo.yaml)');
    expect(report.ok).toBe(true);
    expect(report.lines).toContain('  units       192 (48 base trajectories)');
    const { spec } = loadExperiment(join(root, 'experiments/example-full.yaml'), { cwd: root });
    // every top-level section and every generation field is written out in the example
    expect(Object.keys(spec ?? {}).sort()).toEqual(['description', 'generation', 'models', 'name', 'prompts', 'report', 'run', 'scorers', 'seeds', 'sweep']);
  });

  it('lists every problem, prompt sources included, and ends with the count', async () => {
    const { validateExperimentFile } = await import('../../harness/commands/validate.js');
    const bad = validateExperimentFile('experiments/demo.yaml', ['generation.width=1020', 'sweep.mode[1].handoff=1.5', 'prompts[0].suite=relatons'], root);
    expect(bad.ok).toBe(false);
    expect(bad.lines).toEqual([
      expect.stringMatching(/^prompts\[0\]\.suite: unknown suite 'relatons' \(did you mean 'relations'\?\)/),
      'generation.width: must be a multiple of 8 (got 1020)',
      'sweep.mode[1].handoff: must be in (0, 1] (got 1.5)',
      '3 problems in experiments/demo.yaml',
    ]);
    const noPrompts = validateExperimentFile('experiments/demo.yaml', ['prompts=[{suite: relations, categories: [spatial], options: {colours: 3}}]'], root);
    expect(noPrompts.ok).toBe(false);
    expect(noPrompts.lines[0]).toMatch(/^prompts\[0\]: /);
  });
});
