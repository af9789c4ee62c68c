import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { besselStd, combineGuidance, rescaleGuidance } from '../../pipelines/guidance.js';
import { writeGraph } from './graph-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'refinery-guidance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pseudoRandom(count: number, seed: number, spread: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state / 2 ** 32) * 2 - 1) * spread;
  }
  return out;
}

describe('classifier-free guidance', () => {
  it('equals float32 IEEE arithmetic u + g·(c − u), one rounding per op (ONNX Runtime Sub/Mul/Add as reference)', async () => {
    // independent float32 reference: ORT evaluates each node in float32 with one rounding
    const path = writeGraph(
      join(dir, 'cfg.onnx'),
      [
        { op: 'Sub', inputs: ['c', 'u'], outputs: ['d'] },
        { op: 'Mul', inputs: ['g', 'd'], outputs: ['gd'] },
        { op: 'Add', inputs: ['u', 'gd'], outputs: ['eps'] },
      ],
      [['u', 'float32', ['n']], ['c', 'float32', ['n']], ['g', 'float32', [1]]],
      [['eps', 'float32', ['n']]],
    );
    const session = await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled' });
    const n = 4096;
    const u = pseudoRandom(n, 1, 3);
    const c = pseudoRandom(n, 2, 3);
    for (const g of [5, 7.5, 1.37]) {
      const batch = new Float32Array(2 * n);
      batch.set(u, 0);
      batch.set(c, n);
      const ours = combineGuidance(batch, g);
      const reference = await session.run({
        u: new ort.Tensor('float32', u, [n]),
        c: new ort.Tensor('float32', c, [n]),
        g: new ort.Tensor('float32', Float32Array.of(g), [1]),
      });
      expect(Array.from(ours)).toEqual(Array.from(reference.eps.data as Float32Array));
      // and it is not the same as evaluating in double and rounding once
      const once = Float32Array.from(u, (x, i) => x + g * (c[i] - x));
      if (g === 1.37) expect(Array.from(ours)).not.toEqual(Array.from(once));
    }
    await session.release();
  });

  it('guidance 1 returns the conditional prediction', () => {
    const batch = Float32Array.of(1, 2, 3, 10, 20, 30);
    expect(Array.from(combineGuidance(batch, 1))).toEqual([10, 20, 30]);
  });

  it('uses the sample standard deviation (N − 1)', () => {
    // textbook: sample std of 2,4,4,4,5,5,7,9 is sqrt(32/7)
    expect(besselStd(Float32Array.of(2, 4, 4, 4, 5, 5, 7, 9))).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });

  it('guidance rescale φ=1 matches the conditional std, φ=0 is a no-op', () => {
    const cond = pseudoRandom(1000, 3, 1);
    const guided = pseudoRandom(1000, 4, 4);
    const copy = Float32Array.from(guided);
    rescaleGuidance(copy, cond, 0);
    expect(copy).toEqual(guided);
    const full = Float32Array.from(guided);
    rescaleGuidance(full, cond, 1);
    expect(besselStd(full)).toBeCloseTo(besselStd(cond), 5);
    const half = Float32Array.from(guided);
    rescaleGuidance(half, cond, 0.5);
    const ratio = besselStd(cond) / besselStd(guided);
    expect(half[10]).toBeCloseTo(guided[10] * (0.5 * ratio + 0.5), 5);
  });
});
