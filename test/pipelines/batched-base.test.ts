import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdxlEnsemble, type Branch, type BranchResult, type TrajectorySpec } from '../../pipelines/ensemble.js';
import { validateSdxlFolder } from '../../pipelines/model-folder.js';
import { TorchGenerator } from '../../pipelines/noise/torch-generator.js';
import { createScheduler } from '../../pipelines/schedulers/registry.js';
import type { HostTensor } from '../../pipelines/session.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';

// Batched base trajectories (UNet batch [uncond × B; cond × B], one torch generator per trajectory)
// must give every trajectory exactly what it gets alone: ONNX Runtime CPU returns the same UNet rows
// for batch 2 and batch 2B, and everything outside the UNet is per trajectory.

const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-batched-base-'));
let folders: TinyModelFolders;
let ensemble: SdxlEnsemble;
let recordFeeds: ((feeds: Record<string, HostTensor>) => void) | null = null;

const common = { steps: 10, guidance: 5, scheduler: 'euler', width: 64, height: 48 };
const allModes: Branch[] = [
  { mode: 'base-only' },
  { mode: 'ensemble', handoff: 0.8 },
  { mode: 'ensemble', handoff: 0.5 },
  { mode: 'ensemble', handoff: 1 },
  { mode: 'sdedit', strength: 0.3 },
  { mode: 'sdedit', strength: 0.5 },
];

/** Three trajectories: a negative prompt, none (zeroed uncond rows), an empty one; a repeated seed; different branch sets. */
function trio(settings: Partial<TrajectorySpec> = {}): Array<{ spec: TrajectorySpec; branches: Branch[] }> {
  return [
    { spec: { ...common, ...settings, prompt: 'a red cube on a blue sphere', negativePrompt: 'blurry', seed: 7 }, branches: allModes },
    { spec: { ...common, ...settings, prompt: 'a cat above a dog', negativePrompt: null, seed: 8 }, branches: [{ mode: 'ensemble', handoff: 0.8 }, { mode: 'sdedit', strength: 0.3 }] },
    // stops after 5 base steps, so the batch shrinks from 3 to 2 trajectories mid-loop
    { spec: { ...common, ...settings, prompt: 'two birds on a wire', negativePrompt: '', seed: 7 }, branches: [{ mode: 'ensemble', handoff: 0.5 }] },
  ];
}

function expectSame(actual: BranchResult, expected: BranchResult): void {
  expect(actual.branch).toEqual(expected.branch);
  expect(actual.error).toBe(expected.error);
  expect(actual.image, 'image').not.toBeNull();
  expect(Buffer.from(actual.image!.data).equals(Buffer.from(expected.image!.data)), `${JSON.stringify(actual.branch)} pixels`).toBe(true);
  expect(actual.unetCalls).toEqual(expected.unetCalls);
  expect(actual.pngTexts).toEqual(expected.pngTexts);
}

async function expectBatchEqualsAlone(trajectories: Array<{ spec: TrajectorySpec; branches: Branch[] }>, on = ensemble): Promise<void> {
  const batched = await on.generateBatch(trajectories);
  expect(batched.length).toBe(trajectories.length);
  for (const [i, { spec, branches }] of trajectories.entries()) {
    const alone = await on.generate(spec, branches);
    expect(batched[i].length).toBe(branches.length);
    alone.forEach((result, j) => expectSame(batched[i][j], result));
  }
}

beforeAll(async () => {
  folders = await ensureTinyModels(cacheDir);
  ensemble = await SdxlEnsemble.load({
    base: folders.base,
    refiner: folders.refiner,
    inspectUnetFeeds: (stage, feeds) => {
      if (stage === 'base') recordFeeds?.(feeds);
    },
  });
});

afterAll(async () => {
  await ensemble?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('batched base trajectories', () => {
  it('batch of 3 ≡ each trajectory alone, bit for bit, in every mode (euler, CFG 5)', async () => {
    await expectBatchEqualsAlone(trio());
  });

  it('feeds the UNet [uncond × B; cond × B] with each trajectory drawing from its own torch generator', async () => {
    const trajectories = trio();
    // the rows each trajectory feeds alone at step 0: [uncond; cond]
    const alone: Record<string, HostTensor>[] = [];
    for (const { spec, branches } of trajectories) {
      let first: Record<string, HostTensor> | null = null;
      recordFeeds = (feeds) => (first ??= feeds);
      await ensemble.runBase(spec, branches);
      alone.push(first!);
    }
    const batchedCalls: Record<string, HostTensor>[] = [];
    recordFeeds = (feeds) => batchedCalls.push(feeds);
    await ensemble.runBaseBatch(trajectories);
    recordFeeds = null;

    // 10 steps, the third trajectory stops after 5: five calls of 6 rows, then five of 4
    expect(batchedCalls.map((feeds) => feeds.sample.dims[0])).toEqual([6, 6, 6, 6, 6, 4, 4, 4, 4, 4]);
    const first = batchedCalls[0];
    expect(first.sample.dims).toEqual([6, 4, 6, 8]);
    const rowsOf = (tensor: HostTensor, row: number) => {
      const size = tensor.data.length / tensor.dims[0];
      return Array.from(tensor.data.subarray(row * size, (row + 1) * size));
    };
    for (const name of ['sample', 'encoder_hidden_states', 'text_embeds', 'time_ids']) {
      for (let k = 0; k < 3; k++) {
        expect(rowsOf(first[name], k), `${name} uncond row of trajectory ${k}`).toEqual(rowsOf(alone[k][name], 0));
        expect(rowsOf(first[name], 3 + k), `${name} cond row of trajectory ${k}`).toEqual(rowsOf(alone[k][name], 1));
      }
    }
    // no negative prompt: the base conditions the uncond row on zeros (force_zeros_for_empty_prompt)
    expect(rowsOf(first.text_embeds, 1).every((v) => v === 0)).toBe(true);
    // diffusers with a list of generators: trajectory k's latents are the first [1, 4, h, w] draw of Generator().manual_seed(seed_k)
    const info = await validateSdxlFolder(folders.base, 'base');
    for (let k = 0; k < 3; k++) {
      const scheduler = createScheduler('euler', info.schedulerConfig);
      scheduler.setTimesteps(10);
      const noise = new TorchGenerator(trajectories[k].spec.seed).randn([1, 4, 6, 8]);
      const sigma = Math.fround(scheduler.initNoiseSigma);
      const expected = scheduler.scaleModelInput(noise.map((v) => Math.fround(v * sigma)), scheduler.timesteps[0]);
      expect(rowsOf(first.sample, k)).toEqual(Array.from(expected));
    }
    // equal seeds (trajectories 0 and 2) give equal initial latents; different seeds do not
    expect(rowsOf(first.sample, 0)).toEqual(rowsOf(first.sample, 2));
    expect(rowsOf(first.sample, 0)).not.toEqual(rowsOf(first.sample, 1));
  });

  it.each([
    ['euler-ancestral (draws from each trajectory’s generator every step), guidance rescale', { scheduler: 'euler-ancestral', guidanceRescale: 0.7 }],
    ['dpmpp-2m-karras (multistep state per trajectory)', { scheduler: 'dpmpp-2m-karras' }],
    ['ddim', { scheduler: 'ddim' }],
    ['no guidance (UNet batch B, one row each)', { guidance: 1 }],
  ])('%s: batch of 3 ≡ alone', async (_, settings) => {
    await expectBatchEqualsAlone(trio(settings));
  });

  it('model-major: batched stages survive serialisation and the refiner finishes them as before', async () => {
    const trajectories = trio();
    const stages = deserialize(serialize(await ensemble.runBaseBatch(trajectories))) as Awaited<ReturnType<SdxlEnsemble['runBaseBatch']>>;
    await ensemble.releaseBase();
    for (const [i, { spec, branches }] of trajectories.entries()) {
      const alone = await ensemble.generate(spec, branches);
      for (const [j, branch] of branches.entries()) expectSame(await ensemble.runRefiner(spec, stages[i], branch), alone[j]);
    }
    expect(stages[2].final).toBeUndefined();
    expect(stages[2].snapshots.map((s) => s.afterStep)).toEqual([5]);
  });

  it('generation A (int64 timestep) and fp16 exports: batch ≡ alone', async () => {
    for (const options of [{ exporter: 'A' as const }, { exporter: 'B' as const, fp16: true }]) {
      const tiny = await ensureTinyModels(cacheDir, options);
      const other = await SdxlEnsemble.load({ base: tiny.base, refiner: tiny.refiner });
      try {
        await expectBatchEqualsAlone(
          trio({ steps: 4 }).map(({ spec }) => ({ spec, branches: [{ mode: 'base-only' }, { mode: 'ensemble', handoff: 0.5 }] as Branch[] })),
          other,
        );
      } finally {
        await other.dispose();
      }
    }
  });

  it('batch keys: same settings share a key whatever the prompt and seed; steps, guidance, scheduler or size split', () => {
    const [a, b] = trio().map(({ spec }) => spec);
    expect(ensemble.baseBatchKeyOf(a)).toBe(ensemble.baseBatchKeyOf(b));
    for (const change of [{ steps: 11 }, { guidance: 6 }, { guidanceRescale: 0.5 }, { scheduler: 'ddim' }, { schedulerConfig: { timestep_spacing: 'trailing' } }, { width: 72 }]) {
      expect(ensemble.baseBatchKeyOf({ ...b, ...change }), JSON.stringify(change)).not.toBe(ensemble.baseBatchKeyOf(a));
    }
    // refiner-side settings do not matter to the base batch
    expect(ensemble.baseBatchKeyOf({ ...b, refinerGuidance: 2, aestheticScore: 5 })).toBe(ensemble.baseBatchKeyOf(a));
  });

  it('refuses requests that cannot share a UNet batch', async () => {
    const [a, b] = trio().map(({ spec }) => spec);
    await expect(ensemble.runBaseBatch([{ spec: a, branches: [{ mode: 'base-only' }] }, { spec: { ...b, steps: 12 }, branches: [{ mode: 'base-only' }] }])).rejects.toThrow(
      /cannot share a UNet batch/,
    );
    expect(await ensemble.runBaseBatch([])).toEqual([]);
  });
});
