import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultDependencies } from '../../harness/run/dependencies.js';
import { execute, type ExecuteOptions } from '../../harness/run/executor.js';
import type { Branch, BranchResult, TrajectorySpec } from '../../harness/run/generator.js';
import { planTrajectories } from '../../harness/run/planner.js';
import { runExperiment } from '../../harness/run/run-experiment.js';
import { ensureRunFolders, runPaths } from '../../harness/run/run-folder.js';
import { baseBatchItems, groupUnetBatches, unetBatchKey } from '../../harness/run/unet-batches.js';
import { RunStore } from '../../harness/store/store.js';
import type { Unit } from '../../harness/experiment/types.js';
import { collectingSink, executorFixture, FakeGenerator, makeUnits, testPlaces, writeExperiment, type FakeStage } from './run-fixtures.js';

type Request = { spec: TrajectorySpec; branches: Branch[] };

/** The fake generator with UNet batching: records every batch; a "THROW" prompt makes its whole batch throw. */
class BatchingFakeGenerator extends FakeGenerator {
  readonly batches: string[][] = [];

  async generateBatch(trajectories: readonly Request[]): Promise<BranchResult[][]> {
    this.batches.push(trajectories.map(({ spec }) => `${spec.prompt}/${spec.seed}`));
    if (trajectories.some(({ spec }) => spec.prompt.includes('THROW'))) throw new Error('session.run failed: out of memory');
    const results: BranchResult[][] = [];
    for (const { spec, branches } of trajectories) results.push(await super.generate(spec, branches));
    return results;
  }

  async runBaseBatch(trajectories: readonly Request[]): Promise<FakeStage[]> {
    this.batches.push(trajectories.map(({ spec }) => `${spec.prompt}/${spec.seed}`));
    if (trajectories.some(({ spec }) => spec.prompt.includes('THROW'))) throw new Error('session.run failed: out of memory');
    const stages: FakeStage[] = [];
    for (const { spec, branches } of trajectories) stages.push(await super.runBase(spec, branches));
    return stages;
  }
}

const modes = ['base-only', { handoff: 0.8 }, { strength: 0.3 }] as const;

describe('grouping trajectories into UNet batches', () => {
  it('groups only trajectories whose base settings agree, at most N per batch, in a deterministic order', () => {
    const euler = makeUnits(['a', 'b', 'c', 'd', 'e'], [1], ['base-only']);
    const ddim = makeUnits(['f', 'g'], [1], ['base-only']).map((unit) => ({ ...unit, key: `ddim-${unit.key}`, trajectoryKey: `ddim-${unit.trajectoryKey}`, condition: { ...unit.condition, scheduler: 'ddim' } }));
    const plans = planTrajectories([...euler, ...ddim]);
    const batches = groupUnetBatches(baseBatchItems(plans, () => true), 2);
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(2);
      expect(new Set(batch.map((item) => item.plan.spec.scheduler)).size).toBe(1);
    }
    expect(batches.map((batch) => batch.length).sort()).toEqual([1, 2, 2, 2]);
    expect(batches.flat().map((item) => item.plan.trajectoryKey).sort()).toEqual(plans.map((plan) => plan.trajectoryKey).sort());
    // the same plans in any order give the same batches
    expect(groupUnetBatches(baseBatchItems(planTrajectories([...ddim, ...euler].reverse()), () => true), 2)).toEqual(batches);
    // sharing off: one item per unit
    expect(baseBatchItems(planTrajectories(makeUnits(['a'], [1], [...modes])), () => false).map((item) => item.units.length)).toEqual([1, 1, 1]);
    expect(() => groupUnetBatches([], 0)).toThrow(/≥ 1/);
  });

  it('keys: prompt, negative prompt, seed and refiner settings do not split a batch; base settings do', () => {
    const spec: TrajectorySpec = { prompt: 'a', negativePrompt: null, seed: 1, steps: 8, guidance: 5, scheduler: 'euler', width: 64, height: 64 };
    const key = unetBatchKey(spec);
    expect(unetBatchKey({ ...spec, prompt: 'b', negativePrompt: 'blurry', seed: 2, refinerGuidance: 3, aestheticScore: 5 })).toBe(key);
    for (const change of [{ steps: 9 }, { guidance: 4 }, { guidanceRescale: 0.7 }, { scheduler: 'ddim' }, { schedulerConfig: { timestep_spacing: 'trailing' } }, { width: 72 }, { height: 72 }]) {
      expect(unetBatchKey({ ...spec, ...change }), JSON.stringify(change)).not.toBe(key);
    }
  });
});

describe('executor with --batch N', () => {
  const run = executorFixture('refinery-unet-batch-', { batch: 3 });


  const shas = (s: RunStore) => new Map([...s.samples()].map((sample) => [sample.key, sample.imageSha256]));

  /** The same units run with --batch 1 by a generator that cannot batch, in a folder of their own. */
  async function unbatchedShas(units: Unit[], extra: Partial<ExecuteOptions>): Promise<Map<string, string | null>> {
    const other = mkdtempSync(join(tmpdir(), 'refinery-unet-batch-1-'));
    const otherPaths = runPaths(other);
    ensureRunFolders(otherPaths);
    const otherStore = RunStore.open(otherPaths.db);
    try {
      await execute({ ...run.options(units, new FakeGenerator()), ...extra, paths: otherPaths, store: otherStore, batch: 1 });
      return shas(otherStore);
    } finally {
      otherStore.close();
      rmSync(other, { recursive: true, force: true });
    }
  }

  it('shared order: trajectories go through generateBatch N at a time and run.store the same images as batch 1', async () => {
    const units = makeUnits(['p1', 'p2', 'p3', 'p4'], [1, 2], [...modes]);
    const generator = new BatchingFakeGenerator();
    const result = await execute(run.options(units, generator));
    expect(result).toMatchObject({ total: 24, ok: 24, failed: 0 });
    expect(generator.batches.map((batch) => batch.length)).toEqual([3, 3, 2]);
    expect(generator.calls.generate).toBe(8); // one per trajectory, inside the batches
    // 8 trajectories: 8 shared base steps each; refiner (8 − round(6.4)) + floor(2.4) per trajectory
    expect(result.unetCalls).toEqual({ base: 8 * 8, refiner: 8 * (2 + 2) });

    expect(shas(run.store)).toEqual(await unbatchedShas(units, {}));
  });

  it('sharing off: each branch is its own base run, batched with the others', async () => {
    const units = makeUnits(['p1'], [1, 2], [...modes]);
    const generator = new BatchingFakeGenerator();
    await execute(run.options(units, generator, { canShareTrajectory: () => false, batch: 4 }));
    expect(generator.batches.map((batch) => batch.length)).toEqual([4, 2]);
    expect(run.store.counts()).toMatchObject({ ok: 6, failed: 0 });
  });

  it('a batch that throws is rerun one trajectory at a time, so only the failing one is recorded as failed', async () => {
    const units = makeUnits(['fine one', 'THROW here', 'fine two'], [1], [...modes]);
    const generator = new BatchingFakeGenerator();
    const result = await execute(run.options(units, generator));
    expect(result).toMatchObject({ ok: 6, failed: 3 });
    expect(run.lines.join('')).toMatch(/a UNet batch of 3 trajectories failed .*out of memory.*one at a time/);
    const failed = [...run.store.samples()].filter((sample) => sample.status === 'failed');
    expect(failed.map((sample) => units.find((unit) => unit.key === sample.key)!.prompt.text)).toEqual(['THROW here', 'THROW here', 'THROW here']);
  });

  it('model-major order: base halves in UNet batches, one UNet resident, no stages left, same images', async () => {
    const units = makeUnits(['p1', 'p2', 'p3', 'THROW p4', 'p5'], [1], [...modes]);
    const generator = new BatchingFakeGenerator();
    const result = await execute(run.options(units, generator, { order: 'model-major', batch: 2 }));
    expect(result).toMatchObject({ order: 'model-major', ok: 12, failed: 3 });
    // five trajectories in one model-major chunk: batches of 2 and 2 (the fifth runs alone); the batch holding THROW reruns one by one
    expect(generator.batches.map((batch) => batch.length)).toEqual([2, 2]);
    expect(generator.maxResident).toBe(1);
    expect(readdirSync(run.paths.stages)).toEqual([]);
    expect(shas(run.store)).toEqual(await unbatchedShas(units, { order: 'model-major' }));
  });

  it('a generator without batching runs trajectory by trajectory whatever --batch says', async () => {
    const units = makeUnits(['p1', 'p2'], [1], [...modes]);
    const generator = new FakeGenerator();
    await execute(run.options(units, generator, { batch: 8 }));
    expect(generator.calls.generate).toBe(2);
    expect(run.store.counts()).toMatchObject({ ok: 6 });
  });
});

describe('refinery run --batch 3 with the tiny SDXL pipeline', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-tiny-batch-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function runTiny(file: string, out: string, extra: { batch: number; share?: boolean; lowMemory?: boolean }) {
    const deps = await defaultDependencies(testPlaces);
    const open = deps.openGenerator;
    const batchSizes: number[] = [];
    const wrapped = {
      ...deps,
      openGenerator: async (...args: Parameters<typeof open>) => {
        const opened = await open(...args);
        // generateBatch (shared order) and the model-major base phase both go through runBaseBatch
        const generator = opened.generator;
        const runBaseBatch = generator.runBaseBatch!.bind(generator);
        generator.runBaseBatch = async (trajectories) => (batchSizes.push(trajectories.length), runBaseBatch(trajectories));
        return opened;
      },
    };
    const outcome = await runExperiment(
      { file, out, batch: extra.batch, lowMemory: extra.lowMemory, noReport: true, independentBranches: extra.share === false, determinismCheck: false },
      wrapped,
      { stdout: collectingSink(), stderr: collectingSink() },
    );
    const store = RunStore.open(join(outcome.runDir, 'refinery.sqlite'), { readonly: true });
    try {
      return { shas: new Map([...store.samples()].map((s) => [s.key, s.imageSha256])), counts: store.counts(), batchSizes };
    } finally {
      store.close();
    }
  }

  it('batch 3 ≡ batch 1, bit for bit, in every mode: shared, independent branches and model-major order', async () => {
    // 2 prompts × 2 negative prompts (none / one) = 4 trajectories of one batch key: a batch of 3, then one alone
    const file = writeExperiment(dir, { prompts: ['a red cube left of a blue ball', 'a cat above a dog'], seeds: [3], extra: '  negative_prompt: [null, blurry]' });
    const one = await runTiny(file, join(dir, 'one'), { batch: 1 });
    expect(one.counts).toEqual({ units: 16, ok: 16, failed: 0, missing: 0 });
    expect(one.batchSizes).toEqual([]);
    expect(new Set(one.shas.values()).size).toBe(16);

    const three = await runTiny(file, join(dir, 'three'), { batch: 3 });
    expect(three.batchSizes).toEqual([3]);
    expect(three.shas).toEqual(one.shas);

    const independent = await runTiny(file, join(dir, 'independent'), { batch: 3, share: false });
    expect(independent.batchSizes).toEqual([3, 3, 3, 3, 3]); // 16 branches, each its own base run; the last alone
    expect(independent.shas).toEqual(one.shas);

    const modelMajor = await runTiny(file, join(dir, 'model-major'), { batch: 3, lowMemory: true });
    expect(modelMajor.batchSizes).toEqual([3]);
    expect(modelMajor.shas).toEqual(one.shas);
  });
});
