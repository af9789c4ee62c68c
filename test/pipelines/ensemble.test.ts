import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../pipelines/errors.js';
import { SdxlEnsemble, generateIndependently, type Branch, type BranchResult, type TrajectorySpec } from '../../pipelines/ensemble.js';
import { readGenerationRecord } from '../../pipelines/image/metadata.js';
import { validateSdxlFolder } from '../../pipelines/model-folder.js';
import { TorchGenerator } from '../../pipelines/noise/torch-generator.js';
import { createScheduler } from '../../pipelines/schedulers/registry.js';
import { OnnxSession } from '../../pipelines/session.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';
import { rgbToVaeInput, sampleLatentDistribution } from '../../pipelines/vae.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-ensemble-'));
let folders: TinyModelFolders;
let ensemble: SdxlEnsemble;
let firstRefinerSample: Float32Array | undefined;

const spec: TrajectorySpec = {
  prompt: 'a red cube on a blue sphere',
  negativePrompt: 'blurry',
  seed: 7,
  steps: 10,
  guidance: 5,
  scheduler: 'euler',
  width: 64,
  height: 48,
};

const branches: Branch[] = [
  { mode: 'base-only' },
  { mode: 'ensemble', handoff: 0.8 },
  { mode: 'ensemble', handoff: 0.5 },
  { mode: 'ensemble', handoff: 1 },
  { mode: 'sdedit', strength: 0.3 },
  { mode: 'sdedit', strength: 0.5 },
];

beforeAll(async () => {
  folders = await ensureTinyModels(cacheDir);
  ensemble = await SdxlEnsemble.load({
    base: folders.base,
    refiner: folders.refiner,
    inspectUnetFeeds: (stage, feeds) => {
      if (stage === 'refiner') firstRefinerSample ??= Float32Array.from(feeds.sample.data.subarray(0, feeds.sample.data.length / 2));
    },
  });
});

afterAll(async () => {
  await ensemble?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function expectSame(actual: BranchResult, expected: BranchResult): void {
  expect(actual.branch).toEqual(expected.branch);
  expect(actual.error).toBe(expected.error);
  expect(Buffer.from(actual.image!.data).equals(Buffer.from(expected.image!.data))).toBe(true);
  expect(actual.unetCalls).toEqual(expected.unetCalls);
  expect(actual.pngTexts).toEqual(expected.pngTexts);
}

describe('SdxlEnsemble', () => {
  let shared: BranchResult[];

  it('shares one base trajectory and every branch equals running it alone, bit for bit', async () => {
    shared = await ensemble.generate(spec, branches);
    expect(shared.map((r) => r.branch)).toEqual(branches);
    for (const [i, branch] of branches.entries()) expectSame(await generateIndependently(ensemble, spec, branch), shared[i]);
    // N = 10, leading: timesteps 901 … 1 step 100; 0.8 → cut 200 → base 8 + refiner 2; 0.5 → 5 + 5
    expect(shared.map((r) => r.unetCalls)).toEqual([
      { base: 10, refiner: 0 },
      { base: 8, refiner: 2 },
      { base: 5, refiner: 5 },
      { base: 10, refiner: 0 },
      { base: 10, refiner: 3 },
      { base: 10, refiner: 5 },
    ]);
    const images = new Set(shared.map((r) => Buffer.from(r.image!.data).toString('base64')));
    expect(images.size).toBe(5); // handoff 1 is base-only; every other branch differs
  });

  it('model-major order (runBase, serialise the stage, release, runRefiner) gives the same results', async () => {
    const stage = deserialize(serialize(await ensemble.runBase(spec, branches)));
    await ensemble.releaseBase();
    const results = [];
    for (const branch of branches) results.push(await ensemble.runRefiner(spec, stage, branch));
    await ensemble.releaseRefiner();
    results.forEach((result, i) => expectSame(result, shared[i]));
  });

  it('runs the base only to the latest cut when no branch needs the finished base', async () => {
    const stage = await ensemble.runBase(spec, [{ mode: 'ensemble', handoff: 0.8 }, { mode: 'ensemble', handoff: 0.5 }]);
    expect(stage.final).toBeUndefined();
    expect(stage.snapshots.map((s) => s.afterStep).sort()).toEqual([5, 8]);
    await expect(ensemble.runRefiner(spec, stage, { mode: 'base-only' })).rejects.toThrow(/not run to the end/);
  });

  it('unloading the base UNet before the refiner changes nothing', async () => {
    const lowMemory = await SdxlEnsemble.load({ base: folders.base, refiner: folders.refiner, unloadBaseBeforeRefiner: true });
    try {
      const results = await lowMemory.generate(spec, branches);
      results.forEach((result, i) => expectSame(result, shared[i]));
    } finally {
      await lowMemory.dispose();
    }
  });

  it('SDEdit: VAE sample is the first draw and the add-noise tensor the second of a fresh generator(seed)', async () => {
    const base = shared[0].image!;
    firstRefinerSample = undefined;
    await ensemble.generate(spec, [{ mode: 'sdedit', strength: 0.3 }]);
    const refinerInfo = await validateSdxlFolder(folders.refiner, 'refiner');
    const encoder = await OnnxSession.create(refinerInfo.vaeEncoder.modelPath);
    const params = (await encoder.run({ sample: { data: rgbToVaeInput(base), dims: [1, 3, base.height, base.width] } })).latent_parameters;
    await encoder.dispose();
    const generator = new TorchGenerator(spec.seed);
    const drawn = sampleLatentDistribution(params.data, params.dims, generator);
    const latents = drawn.map((v) => Math.fround(Math.fround(0.13025) * v));
    const noise = generator.randn([1, 4, 6, 8]);
    const scheduler = createScheduler('euler', refinerInfo.schedulerConfig);
    scheduler.setTimesteps(10);
    scheduler.setBeginIndex(7); // N − int(10·0.3)
    const noised = scheduler.addNoise(latents, noise, { stepIndex: 7 });
    const expected = scheduler.scaleModelInput(noised, scheduler.timesteps[7]);
    expect(Array.from(firstRefinerSample!)).toEqual(Array.from(expected));
  });

  it('records the generation in the PNG texts', () => {
    const record = readGenerationRecord(shared[1].pngTexts)!;
    expect(record).toMatchObject({ prompt: spec.prompt, negativePrompt: 'blurry', seed: 7, steps: 10, mode: 'ensemble', handoff: 0.8, width: 64, height: 48, scheduler: 'euler' });
    expect(record.models.base.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.models.refiner?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.schedulerConfig).toMatchObject({ _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'leading' });
    expect(shared[1].pngTexts[0].text).toContain('Refiner switch at: 0.8');
    expect(readGenerationRecord(shared[3].pngTexts)!.mode).toBe('base-only');
  });

  it('rejects bad requests with UserErrors before computing', async () => {
    const bad: [Partial<TrajectorySpec>, Branch, RegExp][] = [
      [{ width: 60 }, { mode: 'base-only' }, /width 60/],
      [{ scheduler: 'heun' }, { mode: 'base-only' }, /unknown scheduler/],
      [{}, { mode: 'ensemble', handoff: 0 }, /handoff/],
      [{}, { mode: 'ensemble', handoff: 1.2 }, /handoff/],
      [{}, { mode: 'sdedit', strength: 0.05 }, /no refiner step/],
      [{ steps: 0 }, { mode: 'base-only' }, /steps/],
    ];
    for (const [change, branch, message] of bad) {
      const error = await ensemble.generate({ ...spec, ...change }, [branch]).catch((e: unknown) => e);
      expect(isUserError(error), String(error)).toBe(true);
      expect(String(error)).toMatch(message);
    }
    const baseOnly = await SdxlEnsemble.load({ base: folders.base });
    try {
      const error = await baseOnly.generate(spec, [{ mode: 'sdedit', strength: 0.3 }]).catch((e: unknown) => e);
      expect(isUserError(error) && /needs a refiner/.test(String(error))).toBe(true);
    } finally {
      await baseOnly.dispose();
    }
    const swapped = await SdxlEnsemble.load({ base: folders.refiner }).catch((e: unknown) => e);
    expect(isUserError(swapped)).toBe(true);
  });
});

describe('exporter generations and fp16', () => {
  it.each([
    ['generation A', { exporter: 'A' as const, fp16: false }],
    ['fp16', { exporter: 'B' as const, fp16: true }],
  ])('%s models run every mode', async (_, options) => {
    const lines: string[] = [];
    const tiny = await ensureTinyModels(cacheDir, options);
    const other = await SdxlEnsemble.load({ base: tiny.base, refiner: tiny.refiner, log: (l) => lines.push(l) });
    try {
      const results = await other.generate({ ...spec, steps: 4 }, [{ mode: 'base-only' }, { mode: 'ensemble', handoff: 0.5 }, { mode: 'sdedit', strength: 0.5 }]);
      for (const result of results) {
        expect(result.error).toBeUndefined();
        expect(result.image!.data.length).toBe(64 * 48 * 3);
      }
      const sdedit = readGenerationRecord(results[2].pngTexts)!;
      if (options.exporter === 'A') {
        expect(lines.some((l) => l.includes('samples the latent inside the graph'))).toBe(true);
        expect(sdedit.noise).toMatch(/not reproducible/);
      } else {
        expect(sdedit.noise).not.toMatch(/not reproducible/);
      }
    } finally {
      await other.dispose();
    }
  });
});
