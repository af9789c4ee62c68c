import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePng } from '../../pipelines/image/png.js';
import { execute } from '../../harness/run/executor.js';
import { Progress } from '../../harness/run/progress.js';
import { ensureRunFolders } from '../../harness/run/run-folder.js';
import { RunStore } from '../../harness/store/store.js';
import { chooseOrder, runExperiment } from '../../harness/run/run-experiment.js';
import { defaultDependencies } from '../../harness/run/dependencies.js';
import { collectingSink, executorFixture, fakeDependencies, FakeGenerator, FakeScorer, makeUnits, testPlaces, writeExperiment } from './run-fixtures.js';

describe('executor', () => {
  const run = executorFixture('refinery-exec-', { batch: 4 });


  const modes = ['base-only', { handoff: 0.8 }, { handoff: 0.6 }, { strength: 0.3 }] as const;

  it('runs one generate per trajectory and stores every image before its row', async () => {
    const units = makeUnits(['a red cube', 'a blue ball'], [1, 2], [...modes]);
    const generator = new FakeGenerator();
    const result = await execute(run.options(units, generator));
    expect(result).toMatchObject({ total: 16, skipped: 0, ok: 16, failed: 0, stoppedEarly: false, order: 'shared' });
    expect(generator.calls.generate).toBe(4);
    // 4 trajectories, each: 8 shared base steps; refiner 0 + (8 − round(6.4)) + (8 − round(4.8)) + floor(2.4)
    expect(result.unetCalls).toEqual({ base: 4 * 8, refiner: 4 * (0 + 2 + 3 + 2) });
    for (const unit of units) {
      const sample = run.store.sample(unit.key)!;
      expect(sample.status).toBe('ok');
      const bytes = readFileSync(join(run.dir, sample.imagePath!));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(sample.imageSha256);
      expect(decodePng(bytes).image.width).toBe(8);
    }
    expect(readdirSync(run.paths.images).sort()).toEqual(units.map((u) => `${u.key}.png`).sort());
    expect(run.lines.filter((l) => l.startsWith('['))).toHaveLength(16);
    expect(readFileSync(run.paths.log, 'utf8')).toMatch(/\[16\/16\] ok/);
  });

  it('skips what the run.store has on a rerun and adds no rows', async () => {
    const units = makeUnits(['a red cube'], [1, 2, 3], [...modes]);
    await execute(run.options(units.slice(0, 5), new FakeGenerator()));
    const shaBefore = run.store.sample(units[0].key)!.imageSha256;
    const generator = new FakeGenerator();
    const result = await execute(run.options(units, generator));
    expect(result).toMatchObject({ total: 12, skipped: 5, ok: 7 });
    // units 0-3 are trajectory 1 (done); unit 4 is done, its 3 siblings are not: 2 trajectories re-run
    expect(generator.calls.generate).toBe(2);
    expect(run.store.counts()).toEqual({ units: 12, ok: 12, failed: 0, missing: 0 });
    expect(run.store.sample(units[0].key)!.imageSha256).toBe(shaBefore);
    const again = new FakeGenerator();
    expect(await execute(run.options(units, again))).toMatchObject({ skipped: 12, ok: 0 });
    expect(again.calls.generate).toBe(0);
  });

  it('records a failed unit with its error and keeps going', async () => {
    const units = makeUnits(['ok prompt', 'gives NaN', 'THROW in session', 'another ok'], [1], ['base-only', { handoff: 0.8 }]);
    const result = await execute(run.options(units, new FakeGenerator()));
    expect(result).toMatchObject({ ok: 4, failed: 4, stoppedEarly: false });
    const nan = units.find((u) => u.prompt.text === 'gives NaN')!;
    expect(run.store.sample(nan.key)).toMatchObject({ status: 'failed', error: 'NaN in the decoded image', imagePath: null });
    const thrown = units.find((u) => u.prompt.text.startsWith('THROW'))!;
    expect(run.store.sample(thrown.key)).toMatchObject({ status: 'failed', error: 'session.run failed: out of memory' });
    expect(run.lines.join('')).toMatch(/FAILED .* seed=1: NaN in the decoded image/);
    // failed units count as done unless asked to retry them
    const rerun = new FakeGenerator();
    expect(await execute(run.options(units, rerun))).toMatchObject({ skipped: 8, ok: 0 });
    expect(await execute(run.options(units, rerun, { retryFailed: true }))).toMatchObject({ skipped: 4, failed: 4 });
  });

  it('stops at the first failure with --fail-fast', async () => {
    const units = makeUnits(['a', 'b NaN', 'c', 'd'], [1], ['base-only']);
    const result = await execute(run.options(units, new FakeGenerator(), { failFast: true, batch: 1 }));
    expect(result.stoppedEarly).toBe(true);
    expect(result.failed).toBe(1);
    expect(run.store.counts().missing).toBeGreaterThan(0);
  });

  it('model-major order gives the same images with at most one UNet resident and no stages left', async () => {
    const units = makeUnits(['a red cube', 'a blue ball'], [1, 2], [...modes]);
    const shared = new FakeGenerator();
    await execute(run.options(units, shared));
    const sharedShas = new Map(units.map((u) => [u.key, run.store.sample(u.key)!.imageSha256]));
    expect(shared.maxResident).toBe(2);

    run.store.close();
    rmSync(run.dir, { recursive: true, force: true });
    ensureRunFolders(run.paths);
    run.store = RunStore.open(run.paths.db);
    const modelMajor = new FakeGenerator();
    const result = await execute(run.options(units, modelMajor, { order: 'model-major' }));
    expect(result).toMatchObject({ ok: 16, order: 'model-major' });
    expect(modelMajor.maxResident).toBe(1);
    expect(modelMajor.calls).toMatchObject({ generate: 0, runBase: 4, runRefiner: 16, releaseBase: 1, releaseRefiner: 1 });
    for (const unit of units) expect(run.store.sample(unit.key)!.imageSha256).toBe(sharedShas.get(unit.key));
    expect(readdirSync(run.paths.stages)).toEqual([]);
  });

  it('model-major resume reuses base stages persisted before a crash', async () => {
    const units = makeUnits(['a red cube', 'a blue ball'], [1], [{ handoff: 0.8 }, { strength: 0.3 }]);
    const crashing = new FakeGenerator({
      onReleaseBase: () => {
        throw new Error('killed');
      },
    });
    await expect(execute(run.options(units, crashing, { order: 'model-major' }))).rejects.toThrow('killed');
    expect(crashing.calls.runBase).toBe(2);
    expect(readdirSync(run.paths.stages)).toHaveLength(2);
    const resumed = new FakeGenerator();
    expect(await execute(run.options(units, resumed, { order: 'model-major' }))).toMatchObject({ ok: 4, skipped: 0 });
    expect(resumed.calls.runBase).toBe(0);
    expect(resumed.calls.runRefiner).toBe(4);
    expect(readdirSync(run.paths.stages)).toEqual([]);
  });

  it('scores stored images through the Scorer interface, once each, and retries a failed scorer call next run', async () => {
    const units = makeUnits(['a red cube', 'skip-score cube'], [1, 2], ['base-only', { handoff: 0.8 }]);
    const scorer = new FakeScorer();
    scorer.failNext = true;
    const first = await execute(run.options(units, new FakeGenerator(), { scorers: [scorer], batch: 4 }));
    expect(first.scoreFailures).toBe(1);
    expect(run.store.metrics().map((m) => m.name)).toEqual(['mean_pixel']);
    const scoredFirst = run.store.scores().length;
    expect(scoredFirst).toBeLessThan(4);

    const second = await execute(run.options(units, new FakeGenerator(), { scorers: [scorer] }));
    expect(second).toMatchObject({ skipped: 8, scoreFailures: 0 });
    const scores = run.store.scores();
    expect(scores.map((s) => s.sampleKey).sort()).toEqual(units.filter((u) => !u.prompt.text.includes('skip')).map((u) => u.key).sort());
    expect(new Set(scorer.scored).size).toBe(scorer.scored.length);
    const unit = units[0];
    const pixels = decodePng(readFileSync(join(run.dir, run.store.sample(unit.key)!.imagePath!))).image.data;
    expect(run.store.scores(unit.key)[0].value).toBeCloseTo(pixels.reduce((a, b) => a + b, 0) / pixels.length, 10);
    expect(run.store.unscoredSamples(scorer)).toEqual([]);
  });
});

describe('refinery run --dry-run (fake pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-dry-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints units and UNet evaluations with and without sharing, and runs nothing', async () => {
    const file = writeExperiment(dir);
    const stdout = collectingSink();
    const generator = new FakeGenerator();
    const out = join(dir, 'run');
    await runExperiment({ file, out, dryRun: true, measure: false }, fakeDependencies({ generator: () => generator }), { stdout, stderr: collectingSink() });
    // 3 prompts × 2 seeds = 6 trajectories at 8 leading-spaced steps (876, 751, …, 1):
    // h=0.8 → t ≥ 200: 6 base + 2 refiner; h=0.6 → t ≥ 400: 4 + 4; SDEdit 0.3 → 8 + int(2.4) = 2; base-only 8.
    // shared: 6 × (8 + 2 + 4 + 2) = 96; independent: 6 × (8 + 8 + 8 + 10) = 204
    expect(stdout.lines()).toEqual([
      `Experiment fake-run: 24 unit(s) → ${out}`,
      'Units: 24 in 6 base trajectories to run',
      'UNet evaluations: 96 with trajectory sharing (48 base + 48 refiner), 204 without (2.13× more)',
      'Estimated time: unknown (--no-measure, and this run folder has no timings yet)',
      'Nothing was run (--dry-run).',
    ]);
    expect(generator.calls.generate).toBe(0);
    expect(existsSync(out)).toBe(false);
  });

  it('says how --batch groups the base trajectories when the generator batches, and nothing when it cannot', async () => {
    const file = writeExperiment(dir);
    class BatchingGenerator extends FakeGenerator {
      generateBatch = async () => {
        throw new Error('a dry run must not generate');
      };
    }
    const batching = collectingSink();
    await runExperiment({ file, out: join(dir, 'run'), dryRun: true, measure: false, batch: 4 }, fakeDependencies({ generator: () => new BatchingGenerator() }), {
      stdout: batching,
      stderr: collectingSink(),
    });
    expect(batching.lines()).toContain(
      'UNet batching (--batch 4): the 6 base trajectories run in 2 UNet batch(es), 2 of them with more than one trajectory (sizes 1×4, 1×2); evaluations are the same, calls fewer — the estimate below assumes one trajectory per call',
    );
    const plain = collectingSink();
    await runExperiment({ file, out: join(dir, 'run'), dryRun: true, measure: false, batch: 4 }, fakeDependencies({ generator: () => new FakeGenerator() }), {
      stdout: plain,
      stderr: collectingSink(),
    });
    expect(plain.text()).not.toMatch(/UNet batching/);
  });

  it('estimates time from a quick measurement, or from the timings of a run folder', async () => {
    const file = writeExperiment(dir);
    const out = join(dir, 'run');
    const measured = collectingSink();
    const generator = new FakeGenerator();
    await runExperiment({ file, out, dryRun: true }, fakeDependencies({ generator: () => generator }), { stdout: measured, stderr: collectingSink() });
    expect(generator.calls.generate).toBe(3);
    expect(measured.text()).toMatch(/Estimated time: \S+ \([\d.]+ m?s per UNet evaluation \+ [\d.]+ m?s per image; measured now: base UNet at 64x64/);

    await runExperiment({ file, out, shard: '0/2' }, fakeDependencies(), { stdout: collectingSink(), stderr: collectingSink() });
    const fromRun = collectingSink();
    await runExperiment({ file, out, shard: '0/2', dryRun: true }, fakeDependencies(), { stdout: fromRun, stderr: collectingSink() });
    expect(fromRun.text()).toMatch(/shard 0\/2 has 12/);
    expect(fromRun.text()).toMatch(/Units: 24 \(12 already done, 12 to run\)|Units: 12 \(12 already done, 0 to run\)/);
    expect(fromRun.text()).toMatch(/measured in this run folder: [\d.]+ s of generation over \d+ UNet evaluations/);
  });
});

describe('with the tiny SDXL pipeline', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-tiny-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function runTiny(file: string, out: string, extra: { share?: boolean; lowMemory?: boolean } = {}) {
    const deps = await defaultDependencies(testPlaces);
    const open = deps.openGenerator;
    let generatorCalls = 0;
    const stdout = collectingSink();
    // sharing off: every unit through its own generate(spec, [branch]) call, the base run only as far as it needs
    const wrapped = {
      ...deps,
      openGenerator: async (...args: Parameters<typeof open>) => {
        const opened = await open(...args);
        const generate = opened.generator.generate.bind(opened.generator);
        opened.generator.generate = async (spec, branches) => {
          generatorCalls += 1;
          if (extra.share === false && branches.length > 1) throw new Error('expected one branch per call');
          return generate(spec, branches);
        };
        return opened;
      },
    };
    const outcome = await runExperiment(
      { file, out, lowMemory: extra.lowMemory, noReport: true, independentBranches: extra.share === false },
      wrapped,
      { stdout, stderr: collectingSink() },
    );
    const store = RunStore.open(join(outcome.runDir, 'refinery.sqlite'), { readonly: true });
    try {
      return { shas: new Map([...store.samples()].map((s) => [s.key, s.imageSha256])), counts: store.counts(), generatorCalls, stdout: stdout.text() };
    } finally {
      store.close();
    }
  }

  it('shared trajectories, independent runs and model-major order give bit-identical images', async () => {
    const file = writeExperiment(dir, {
      prompts: ['a red cube left of a blue ball'],
      seeds: [3, 4],
      extra: '  scheduler: [euler, euler-ancestral]',
    });
    const shared = await runTiny(file, join(dir, 'shared'));
    const independent = await runTiny(file, join(dir, 'independent'), { share: false });
    const modelMajor = await runTiny(file, join(dir, 'model-major'), { lowMemory: true });
    expect(shared.counts).toEqual({ units: 16, ok: 16, failed: 0, missing: 0 });
    expect(shared.generatorCalls).toBe(4);
    expect(independent.generatorCalls).toBe(16);
    expect(modelMajor.generatorCalls).toBe(0);
    expect(modelMajor.stdout).toMatch(/Order: model-major, one UNet resident \(--low-memory\)/);
    // 4 trajectories (2 seeds × 2 schedulers): shared 8 base + (2 + 4 + 2) refiner; independent 8 + 6 + 4 + 8 base
    expect(shared.stdout).toMatch(/UNet evaluations 32 base \+ 32 refiner/);
    expect(independent.stdout).toMatch(/UNet evaluations 104 base \+ 32 refiner/);
    expect(new Set(shared.shas.values()).size).toBe(16);
    expect(independent.shas).toEqual(shared.shas);
    expect(modelMajor.shas).toEqual(shared.shas);
  });
});

describe('progress and order choice', () => {
  it('draws a bar with ETA and per-stage means on a TTY, plain lines otherwise, nothing when quiet', () => {
    let now = 0;
    const tty: string[] = [];
    const bar = new Progress({ sink: { isTTY: true, columns: 200, write: (t) => tty.push(t) }, now: () => now });
    bar.start(4, 0);
    now = 10_000;
    bar.unit({ key: 'a', status: 'ok', label: 'base-only p/1 seed=0', timings: { baseDenoise: 2, vaeDecode: 0.5, total: 2.5 } });
    now = 20_000;
    bar.unit({ key: 'b', status: 'failed', label: 'handoff=0.8 p/1 seed=0', error: 'NaN', timings: { baseDenoise: 4, total: 4 } });
    bar.finish();
    const drawn = tty.join('');
    // 2 of 4 done in 20 s: 20 s left; 6 images per minute
    expect(drawn).toContain('\r\x1b[2K[############............] 2/4 · 1 failed · 6.0 img/min · ETA 20s · baseDenoise 3.00s vaeDecode 0.50s');
    expect(drawn).toContain('[2/4] FAILED handoff=0.8 p/1 seed=0: NaN (4.00 s)\n');

    const plain: string[] = [];
    const lines = new Progress({ sink: { write: (t) => plain.push(t) }, now: () => now });
    lines.start(1, 3);
    lines.unit({ key: 'a', status: 'ok', label: 'x', timings: {} });
    expect(plain).toEqual(['1 unit(s) to run, 3 already done\n', '[1/1] ok x\n']);

    const quiet: string[] = [];
    const silent = new Progress({ sink: { isTTY: true, write: (t) => quiet.push(t) }, quiet: true });
    silent.start(1, 0);
    silent.unit({ key: 'a', status: 'ok', label: 'x', timings: {} });
    silent.finish();
    expect(quiet).toEqual([]);
  });

  it('chooses model-major order on request or when the models take most of free memory', () => {
    const gib = 1024 ** 3;
    expect(chooseOrder(false, 2 * gib, 16 * gib)).toEqual({ order: 'shared', reason: null });
    expect(chooseOrder(true, 2 * gib, 16 * gib)).toEqual({ order: 'model-major', reason: '--low-memory' });
    expect(chooseOrder(false, 13 * gib, 16 * gib)).toEqual({
      order: 'model-major',
      reason: 'automatic: the models (13.0 GiB) exceed 60% of free memory (16.0 GiB)',
    });
  });
});
