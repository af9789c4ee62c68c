import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdxlEnsemble, type Branch, type TrajectorySpec } from '../../pipelines/ensemble.js';
import { kernelsInUse, selectKernels } from '../../pipelines/simd/kernels.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';

// No UNet feed hook here: with a hook the pipeline feeds ONNX Runtime private copies, and this test
// is about the feeds that live in WebAssembly memory (a view at a non-zero offset) reaching the UNet.
const cacheDir = mkdtempSync(join(tmpdir(), 'refinery-simd-pipeline-'));
let ensemble: SdxlEnsemble;
const initialChoice = kernelsInUse();

beforeAll(async () => {
  const folders = await ensureTinyModels(cacheDir);
  ensemble = await SdxlEnsemble.load({ base: folders.base, refiner: folders.refiner });
});

afterAll(async () => {
  selectKernels(initialChoice);
  await ensemble?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

const branches: Branch[] = [{ mode: 'base-only' }, { mode: 'ensemble', handoff: 0.8 }, { mode: 'sdedit', strength: 0.3 }];

describe('the SIMD kernels and workspaces in the whole pipeline', () => {
  it.each([
    [64, 48, 'euler'],
    [136, 64, 'euler'],
    [64, 64, 'euler-karras'],
    [64, 64, 'euler-ancestral'],
  ] as const)('%ix%i %s: every branch gives the bytes of the JavaScript loops', async (width, height, scheduler) => {
    const spec: TrajectorySpec = { prompt: 'a red cube on a blue sphere', negativePrompt: null, seed: 11, steps: 8, guidance: 6, scheduler, width, height };
    expect(selectKernels('wasm-simd')).toBe('wasm-simd');
    const simd = await ensemble.generate(spec, branches);
    expect(selectKernels('js')).toBe('js');
    const js = await ensemble.generate(spec, branches);
    for (const [i, result] of simd.entries()) {
      expect(result.error).toBeUndefined();
      expect(Buffer.from(result.image!.data).equals(Buffer.from(js[i].image!.data))).toBe(true);
    }
    // and the images are not trivially equal across branches (the comparison can fail)
    expect(Buffer.from(simd[0].image!.data).equals(Buffer.from(simd[1].image!.data))).toBe(false);
  });
});
