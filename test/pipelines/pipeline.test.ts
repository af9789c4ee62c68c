import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdxlEnsemble, type Branch, type BranchResult, type TrajectorySpec } from '../../pipelines/ensemble.js';
import { encodePng } from '../../pipelines/image/png.js';
import { TorchGenerator } from '../../pipelines/noise/torch-generator.js';
import type { HostTensor } from '../../pipelines/session.js';
import { ensureTinyModels, type TinyModelFolders } from '../../pipelines/tiny/tiny-models.js';

// End-to-end behaviour on the tiny random-weight models (64×64, few steps). Golden numbers come from
// the spec: Euler "leading" timesteps (§5.3, §7, §8), torch randn seed 0 (§10.2), init_noise_sigma.

const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-pipeline-'));
let folders: TinyModelFolders;

type Hook = ((stage: 'base' | 'refiner', feeds: Record<string, HostTensor>) => unknown) | undefined;

/** One ensemble whose UNet-feed hook can be swapped per test. */
let hook: Hook;
let ensemble: SdxlEnsemble;
const logLines: string[] = [];

const spec: TrajectorySpec = {
  prompt: 'a photo of a cat',
  negativePrompt: null,
  seed: 1,
  steps: 6,
  guidance: 5,
  scheduler: 'euler',
  width: 64,
  height: 64,
};

beforeAll(async () => {
  folders = await ensureTinyModels(cacheDir);
  ensemble = await SdxlEnsemble.load({
    base: folders.base,
    refiner: folders.refiner,
    log: (line) => logLines.push(line),
    inspectUnetFeeds: (stage, feeds) => hook?.(stage, feeds),
  });
});

afterAll(async () => {
  await ensemble?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

async function imageOf(s: TrajectorySpec, branch: Branch, mutate?: Hook): Promise<BranchResult> {
  hook = mutate;
  try {
    const [result] = await ensemble.generate(s, [branch]);
    return result;
  } finally {
    hook = undefined;
  }
}

function pixels(result: BranchResult): Buffer {
  expect(result.error).toBeUndefined();
  return Buffer.from(result.image!.data);
}

describe('SDXL pipelines on the tiny models', () => {
  it('same seed → byte-identical PNG, also from a second ensemble instance; different seed → different image', async () => {
    const first = await imageOf(spec, { mode: 'ensemble', handoff: 0.8 });
    const again = await imageOf(spec, { mode: 'ensemble', handoff: 0.8 });
    expect(encodePng(again.image!, again.pngTexts).equals(encodePng(first.image!, first.pngTexts))).toBe(true);
    const other = await SdxlEnsemble.load({ base: folders.base, refiner: folders.refiner });
    try {
      const [fresh] = await other.generate(spec, [{ mode: 'ensemble', handoff: 0.8 }]);
      expect(encodePng(fresh.image!, fresh.pngTexts).equals(encodePng(first.image!, first.pngTexts))).toBe(true);
    } finally {
      await other.dispose();
    }
    const seed2 = await imageOf({ ...spec, seed: 2 }, { mode: 'ensemble', handoff: 0.8 });
    expect(pixels(seed2).equals(pixels(first))).toBe(false);
  });

  it('handoff 1.0 is base-only', async () => {
    const base = await imageOf(spec, { mode: 'base-only' });
    const handoff1 = await imageOf(spec, { mode: 'ensemble', handoff: 1 });
    expect(pixels(handoff1).equals(pixels(base))).toBe(true);
    expect(handoff1.unetCalls).toEqual({ base: 6, refiner: 0 });
  });

  it('initial latents are f32(torch randn(seed) · init_noise_sigma), drawn as one [1,4,128,128] tensor (spec §10.2, §5.3)', async () => {
    // 1024² at N=40: init_noise_sigma 12.778570175170898; seed 0 first randn −1.1258398294448853
    let firstSample: Float32Array | undefined;
    let timestep: number | undefined;
    const stop = new Error('stop after the first UNet call');
    hook = (stage, feeds) => {
      firstSample = Float32Array.from(feeds.sample.data);
      timestep = feeds.timestep.data[0];
      throw stop;
    };
    await expect(ensemble.runBase({ ...spec, seed: 0, steps: 40, width: 1024, height: 1024 }, [{ mode: 'base-only' }])).rejects.toBe(stop);
    hook = undefined;
    expect(timestep).toBe(976);
    const initSigma = Math.fround(12.778570175170898);
    const sigma0 = new Float32Array(new Uint32Array([0x414bd482]).buffer)[0]; // σ_0 for N = 40
    const latent0 = Math.fround(-1.1258398294448853 * initSigma);
    // the UNet sees scale_model_input(x) = f32(x / f32(sqrt(f32(f32(σ0²) + 1)))) in both CFG rows
    const divisor = Math.fround(Math.sqrt(Math.fround(Math.fround(sigma0 * sigma0) + 1)));
    expect(firstSample!.length).toBe(2 * 4 * 128 * 128);
    expect(firstSample![0]).toBe(Math.fround(latent0 / divisor));
    expect(firstSample![4 * 128 * 128]).toBe(firstSample![0]);
    const expected = new TorchGenerator(0).randn([1, 4, 128, 128]);
    expect(expected[0]).toBe(Math.fround(-1.1258398294448853));
  });

  it('runs CFG as one batched UNet call per step with [negative; positive] time ids, Euler timesteps of the spec', async () => {
    const calls: { stage: string; t: number; batch: number; timeIds: number[]; halvesEqual: boolean }[] = [];
    await imageOf({ ...spec, steps: 40 }, { mode: 'ensemble', handoff: 0.8 }, (stage, feeds) => {
      const sample = feeds.sample.data;
      const half = sample.length / 2;
      let equal = true;
      for (let i = 0; i < half; i++) if (sample[i] !== sample[half + i]) equal = false;
      calls.push({ stage, t: feeds.timestep.data[0], batch: feeds.sample.dims[0], timeIds: Array.from(feeds.time_ids.data), halvesEqual: equal });
    });
    const base = calls.filter((c) => c.stage === 'base');
    const refiner = calls.filter((c) => c.stage === 'refiner');
    // spec §7: N=40, 0.8 → base 32 steps 976…201, refiner 8 steps 176…1
    expect(base.map((c) => c.t)).toEqual(Array.from({ length: 32 }, (_, i) => 976 - 25 * i));
    expect(refiner.map((c) => c.t)).toEqual([176, 151, 126, 101, 76, 51, 26, 1]);
    expect(calls.every((c) => c.batch === 2 && c.halvesEqual)).toBe(true);
    expect(base[0].timeIds).toEqual([64, 64, 0, 0, 64, 64, 64, 64, 0, 0, 64, 64]);
    expect(refiner[0].timeIds).toEqual([64, 64, 0, 0, 2.5, 64, 64, 0, 0, 6]);
  });

  it('SDEdit strength 0.3 at 40 steps refines the last 12 steps from t = 276 (spec §8)', async () => {
    const refinerSteps: number[] = [];
    const result = await imageOf({ ...spec, steps: 40 }, { mode: 'sdedit', strength: 0.3 }, (stage, feeds) => {
      if (stage === 'refiner') refinerSteps.push(feeds.timestep.data[0]);
    });
    expect(refinerSteps).toEqual(Array.from({ length: 12 }, (_, i) => 276 - 25 * i));
    expect(result.unetCalls).toEqual({ base: 40, refiner: 12 });
  });

  it('guidance ≤ 1 turns CFG off (batch 1)', async () => {
    const batches: number[] = [];
    await imageOf({ ...spec, guidance: 1 }, { mode: 'base-only' }, (_, feeds) => batches.push(feeds.sample.dims[0]));
    expect(new Set(batches)).toEqual(new Set([1]));
  });

  it('a null negative prompt differs from "" for the base; the refiner encodes "" for null', async () => {
    const none = await imageOf(spec, { mode: 'base-only' });
    const empty = await imageOf({ ...spec, negativePrompt: '' }, { mode: 'base-only' });
    expect(pixels(none).equals(pixels(empty))).toBe(false);
    const firstRefinerContext = async (negativePrompt: string | null) => {
      let captured: Float32Array | undefined;
      await imageOf({ ...spec, negativePrompt }, { mode: 'sdedit', strength: 0.3 }, (stage, feeds) => {
        if (stage === 'refiner') captured ??= Float32Array.from(feeds.encoder_hidden_states.data);
      });
      return captured!;
    };
    const refinerContext = [await firstRefinerContext(null), await firstRefinerContext('')];
    expect(refinerContext).toHaveLength(2);
    expect(Array.from(refinerContext[0])).toEqual(Array.from(refinerContext[1]));
  });

  describe('mutations of the conditioning change the output', () => {
    const mutated = async (stage: 'base' | 'refiner', mutate: (feeds: Record<string, HostTensor>) => void, s = spec) => {
      const branch: Branch = stage === 'base' ? { mode: 'base-only' } : { mode: 'ensemble', handoff: 0.5 };
      return pixels(await imageOf(s, branch, (at, feeds) => at === stage && mutate(feeds)));
    };
    const withNegative = { ...spec, negativePrompt: 'blurry' };

    it.each([0, 1, 2, 3, 4, 5])('base time id %i', async (index) => {
      const reference = await mutated('base', () => {});
      const changed = await mutated('base', (feeds) => {
        const row = 6 + index; // the positive row
        feeds.time_ids.data[row] = feeds.time_ids.data[row] === 0 ? 64 : 0;
      });
      expect(changed.equals(reference)).toBe(false);
    });

    it.each([0, 1, 2, 3, 4])('refiner time id %i (4 = aesthetic score)', async (index) => {
      const reference = await mutated('refiner', () => {});
      const changed = await mutated('refiner', (feeds) => {
        const row = 5 + index;
        feeds.time_ids.data[row] = feeds.time_ids.data[row] === 0 ? 64 : 0;
      });
      expect(changed.equals(reference)).toBe(false);
    });

    it.each(['base', 'refiner'] as const)('%s pooled text embeddings', async (stage) => {
      const reference = await mutated(stage, () => {});
      const changed = await mutated(stage, (feeds) => feeds.text_embeds.data.fill(0, feeds.text_embeds.data.length / 2));
      expect(changed.equals(reference)).toBe(false);
    });

    it.each(['base', 'refiner'] as const)('%s negative branch', async (stage) => {
      const reference = await mutated(stage, () => {}, withNegative);
      const changed = await mutated(
        stage,
        (feeds) => {
          feeds.encoder_hidden_states.data.fill(0, 0, feeds.encoder_hidden_states.data.length / 2);
          feeds.text_embeds.data.fill(0, 0, feeds.text_embeds.data.length / 2);
        },
        withNegative,
      );
      expect(changed.equals(reference)).toBe(false);
    });
  });

  it('non-finite latents are reported, never turned into an image', async () => {
    const result = await imageOf(spec, { mode: 'base-only' }, (_, feeds) => {
      feeds.sample.data[0] = NaN;
    });
    expect(result.image).toBeNull();
    expect(result.error).toMatch(/non-finite/);
  });
});
