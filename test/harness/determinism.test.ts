import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultDependencies } from '../../harness/run/dependencies.js';
import { mergeRuns } from '../../harness/run/merge.js';
import { runExperiment, type RunDependencies, type RunOptions } from '../../harness/run/run-experiment.js';
import type { Branch, BranchResult, TrajectorySpec } from '../../harness/run/generator.js';
import { RunStore } from '../../harness/store/store.js';
import { loadRunRecords } from '../../reports/load.js';
import { summarizeReproducibility } from '../../reports/reproducibility.js';
import { pickDeterminismUnit } from '../../harness/run/determinism.js';
import { collectingSink, fakeDependencies, FakeGenerator, type FakeStage, makeUnits, testPlaces, writeExperiment } from './run-fixtures.js';

/** Flips one pixel by a per-call counter: the same request gives different bytes on every call. */
class DriftingGenerator extends FakeGenerator {
  private drift = 0;
  private perturb(result: BranchResult): BranchResult {
    if (!result.image) return result;
    this.drift += 1;
    const data = result.image.data.slice();
    data[0] = (data[0] + this.drift) % 256;
    return { ...result, image: { ...result.image, data } };
  }
  override async generate(spec: TrajectorySpec, branches: Branch[]): Promise<BranchResult[]> {
    return (await super.generate(spec, branches)).map((result) => this.perturb(result));
  }
  override async runRefiner(spec: TrajectorySpec, stage: FakeStage, branch: Branch): Promise<BranchResult> {
    return this.perturb(await super.runRefiner(spec, stage, branch));
  }
}

function readManifest(runDir: string): Record<string, any> {
  return JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8'));
}

/** The unit the check should pick: the ok refiner unit (ensemble or SDEdit) with the smallest key, else the smallest key. */
function expectedCheckSample(runDir: string): { key: string; sha256: string; fileSha256: string } {
  const store = RunStore.open(join(runDir, 'refinery.sqlite'), { readonly: true });
  try {
    const samples = [...store.samples('ok')].sort((a, b) => (a.key < b.key ? -1 : 1));
    const refiner = samples.filter((sample) => (store.unit(sample.key)!.condition as { mode: string }).mode !== 'base-only');
    const first = refiner[0] ?? samples[0];
    const fileSha256 = createHash('sha256').update(readFileSync(join(runDir, first.imagePath!))).digest('hex');
    return { key: first.key, sha256: first.imageSha256!, fileSha256 };
  } finally {
    store.close();
  }
}

describe('which unit the check regenerates', () => {
  it('prefers a refiner branch of a shared trajectory, then any refiner branch, then the smallest key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'refinery-pick-'));
    const store = RunStore.open(join(dir, 'refinery.sqlite'));
    try {
      const alone = makeUnits(['alone'], [1], [{ handoff: 0.8 }]);
      const shared = makeUnits(['shared'], [1], ['base-only', { strength: 0.3 }]);
      const baseOnly = makeUnits(['base'], [2], ['base-only']);
      const units = [...alone, ...shared, ...baseOnly];
      store.addUnits(units.map((unit) => ({ key: unit.key, conditionId: unit.condition.id, condition: unit.condition, prompt: unit.prompt, seed: unit.seed, trajectoryKey: unit.trajectoryKey, shard: null })));
      const record = (key: string) =>
        store.recordSample({ key, imagePath: `images/${key}.png`, imageSha256: key, status: 'ok', error: null, timings: {}, unetCalls: { base: 0, refiner: 0 }, createdAt: '2024-01-01T00:00:00.000Z' });
      expect(pickDeterminismUnit(store, units)).toBeNull();
      record(baseOnly[0].key);
      expect(pickDeterminismUnit(store, units)?.unit.key).toBe(baseOnly[0].key);
      record(alone[0].key);
      expect(pickDeterminismUnit(store, units)?.unit.key).toBe(alone[0].key);
      for (const unit of shared) record(unit.key);
      expect(pickDeterminismUnit(store, units)?.unit.key).toBe(shared[1].key);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('determinism check (fake pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-determinism-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(options: Partial<RunOptions> & { file: string }, deps: RunDependencies = fakeDependencies()) {
    const stdout = collectingSink();
    const outcome = await runExperiment({ noReport: true, ...options }, deps, { stdout, stderr: collectingSink() });
    return { ...outcome, stdout: stdout.text() };
  }

  it('regenerates a refiner unit of a shared trajectory alone (smallest key) and records identical bytes where the report reads them', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube', 'a cat'], seeds: [1] });
    let generator: FakeGenerator | undefined;
    const outcome = await run({ file, out: join(dir, 'run') }, fakeDependencies({ generator: () => (generator = new FakeGenerator()) }));
    expect(outcome.exitCode).toBe(0);
    // shared order: two generate calls for the run, then one runBase([branch]) + runRefiner for the check
    expect(generator!.calls).toMatchObject({ generate: 2, runBase: 1, runRefiner: 1 });
    const stored = expectedCheckSample(outcome.runDir);
    const check = readManifest(outcome.runDir).determinism;
    expect(check).toMatchObject({ unitKey: stored.key, expectedSha256: stored.sha256, actualSha256: stored.fileSha256, identical: true, provider: 'cpu' });
    expect(Date.parse(check.checkedAt)).not.toBeNaN();
    expect(outcome.stdout).toMatch(new RegExp(`Determinism check: unit ${stored.key.slice(0, 12)} .* gives the stored bytes`));
    expect(outcome.stdout).not.toMatch(/WARNING/);
    const reproducibility = summarizeReproducibility(loadRunRecords(outcome.runDir));
    expect(reproducibility.determinism.status).toBe('passed');
  });

  it('records a mismatch from a non-deterministic generator as a loud warning (also with --quiet), not a failure', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube'], seeds: [1] });
    const outcome = await run({ file, out: join(dir, 'run'), quiet: true }, fakeDependencies({ generator: () => new DriftingGenerator() }));
    expect(outcome.exitCode).toBe(0);
    const stored = expectedCheckSample(outcome.runDir);
    const check = readManifest(outcome.runDir).determinism;
    expect(check.unitKey).toBe(stored.key);
    expect(check.expectedSha256).toBe(stored.sha256);
    expect(check.actualSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(check.actualSha256).not.toBe(stored.sha256);
    expect(check.identical).toBe(false);
    expect(outcome.stdout).toMatch(/^WARNING: determinism check FAILED: unit [0-9a-f]{12} /m);
    expect(outcome.stdout.trim().split('\n').at(-1)).toMatch(/^Results: /);
    expect(summarizeReproducibility(loadRunRecords(outcome.runDir)).determinism.status).toBe('failed');
  });

  it('skips with --no-determinism-check, checks a complete run that has none, and does not repeat when nothing new was made', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube'], seeds: [1] });
    const out = join(dir, 'run');
    const first = new FakeGenerator();
    await run({ file, out, determinismCheck: false }, fakeDependencies({ generator: () => first }));
    expect(first.calls.runBase).toBe(0);
    expect(readManifest(out).determinism).toBeUndefined();

    const second = new FakeGenerator();
    const rerun = await run({ file, out }, fakeDependencies({ generator: () => second }));
    expect(second.calls).toMatchObject({ generate: 0, runBase: 1, runRefiner: 1 });
    expect(rerun.stdout).toMatch(/Determinism check: unit/);
    const check = readManifest(out).determinism;
    expect(check.identical).toBe(true);

    const third = new FakeGenerator();
    await run({ file, out }, fakeDependencies({ generator: () => third }));
    expect(third.calls).toMatchObject({ generate: 0, runBase: 0, runRefiner: 0 });
    // the earlier check is kept in the rewritten manifest
    expect(readManifest(out).determinism).toEqual(check);
  });

  it('keeps one UNet resident in model-major order (releases the base before the refiner)', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube'], seeds: [1], sweep: '  mode: [{handoff: 0.8}]', extra: 'report:\n  reference_condition: handoff=0.8' });
    const generator = new FakeGenerator();
    await run({ file, out: join(dir, 'run'), lowMemory: true }, fakeDependencies({ generator: () => generator }));
    expect(readManifest(join(dir, 'run')).determinism.identical).toBe(true);
    expect(generator.calls.runBase).toBe(2);
    expect(generator.maxResident).toBe(1);
  });

  it('merge keeps every shard\'s check; the merged run is identical only when all are', async () => {
    const file = writeExperiment(dir);
    const deps = (make: () => FakeGenerator) => fakeDependencies({ generator: make });
    await run({ file, out: join(dir, 'good'), shard: '0/2' }, deps(() => new FakeGenerator()));
    await run({ file, out: join(dir, 'good'), shard: '1/2' }, deps(() => new FakeGenerator()));
    const good = readManifest(mergeRuns([join(dir, 'good')], join(dir, 'good-merged')).outDir).determinism;
    expect(good.identical).toBe(true);
    expect(good.checks.map((check: { shard: string }) => check.shard)).toEqual(['0/2', '1/2']);
    expect(good.unchecked).toEqual([]);

    await run({ file, out: join(dir, 'mixed'), shard: '0/2' }, deps(() => new FakeGenerator()));
    await run({ file, out: join(dir, 'mixed'), shard: '1/2' }, deps(() => new DriftingGenerator()));
    const mergedDir = mergeRuns([join(dir, 'mixed')], join(dir, 'mixed-merged')).outDir;
    const mixed = readManifest(mergedDir).determinism;
    expect(mixed.identical).toBe(false);
    expect(mixed.checks.map((check: { identical: boolean }) => check.identical)).toEqual([true, false]);
    expect(summarizeReproducibility(loadRunRecords(mergedDir)).determinism.status).toBe('failed');
  });
});

describe('determinism check (tiny SDXL pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-determinism-tiny-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('regenerating a stored ensemble unit alone gives the same bytes as the shared trajectory did', async () => {
    // one trajectory with three branches: the check's independent base run cross-checks the shared one
    const file = writeExperiment(dir, { prompts: ['a red cube left of a blue ball'], seeds: [5], sweep: '  mode: [{handoff: 0.8}, {handoff: 0.6}, {strength: 0.3}]',
      extra: 'report:\n  reference_condition: handoff=0.8',
    });
    const stdout = collectingSink();
    const outcome = await runExperiment({ file, out: join(dir, 'run'), noReport: true }, await defaultDependencies(testPlaces), { stdout, stderr: collectingSink() });
    const stored = expectedCheckSample(outcome.runDir);
    const check = readManifest(outcome.runDir).determinism;
    expect(check).toMatchObject({ unitKey: stored.key, expectedSha256: stored.fileSha256, actualSha256: stored.fileSha256, identical: true, provider: 'cpu' });
    expect(stdout.text()).toMatch(/Determinism check: unit [0-9a-f]{12} .* gives the stored bytes/);
  });
});
