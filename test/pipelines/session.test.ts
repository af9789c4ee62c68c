import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  OnnxSession,
  float16BitsToFloat32,
  float16ToFloat32Array,
  float32ToFloat16Array,
  float32ToFloat16Bits,
} from '../../pipelines/session.js';
import { ELEM, type Dim, type Elem, writeGraph } from './graph-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'refinery-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A one-node graph `out = Cast<to>(inp)` written to a file; returns its path. */
function castGraph(file: string, input: [Elem, Dim[]], output: [Elem, Dim[]]): string {
  return writeGraph(join(dir, file), [{ op: 'Cast', inputs: ['inp'], outputs: ['out'], attributes: [{ name: 'to', int: ELEM[output[0]] }] }], [['inp', ...input]], [['out', ...output]]);
}

/** `y = a + b` and `z = a`, two float32 inputs of shape [n]. */
function addGraph(file: string): string {
  return writeGraph(
    join(dir, file),
    [
      { op: 'Add', inputs: ['a', 'b'], outputs: ['y'] },
      { op: 'Identity', inputs: ['a'], outputs: ['z'] },
    ],
    [['a', 'float32', ['n']], ['b', 'float32', ['n']]],
    [['y', 'float32', ['n']], ['z', 'float32', ['n']]],
  );
}

describe('float16 conversion', () => {
  it('matches IEEE binary16 reference values', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff); // max finite
    expect(float32ToFloat16Bits(65519.99)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // halfway to 2^16 ties to even → Inf
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // half of it: ties to even → 0
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: ties to even → 2
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
    expect(float32ToFloat16Bits(1 / 3)).toBe(0x3555);
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e9)).toBe(0xfc00);
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
    expect(float16BitsToFloat32(0x3555)).toBe(0.333251953125);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
  });

  it('round-trips every finite binary16 value and rounds every midpoint to the even neighbour', () => {
    const failures: string[] = [];
    for (let bits = 0; bits < 0x7c00; bits++) {
      for (const signed of [bits, bits | 0x8000]) {
        if (float32ToFloat16Bits(float16BitsToFloat32(signed)) !== signed) failures.push(`round trip ${signed}`);
      }
      const low = float16BitsToFloat32(bits);
      const high = float16BitsToFloat32(bits + 1);
      const mid = (low + high) / 2; // exact in float32: binary16 has 11 significant bits
      const even = bits % 2 === 0 ? bits : bits + 1;
      if (bits + 1 < 0x7c00 && float32ToFloat16Bits(mid) !== even) failures.push(`midpoint ${bits}`);
    }
    expect(failures).toEqual([]);
  });

  it('agrees with ONNX Runtime Cast(float→float16) and Cast(float16→float)', async () => {
    const toHalf = await OnnxSession.create(castGraph('to-half.onnx', ['float32', ['n']], ['float16', ['n']]));
    const values = new Float32Array(20000);
    let state = 12345;
    for (let i = 0; i < values.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const scale = 2 ** ((state % 48) - 30); // covers subnormal, normal and overflow ranges
      values[i] = ((state / 2 ** 32) * 2 - 1) * scale;
    }
    const raw = await ort.InferenceSession.create(castGraph('to-half-raw.onnx', ['float32', ['n']], ['float16', ['n']]));
    const result = await raw.run({ inp: new ort.Tensor('float32', values, [values.length]) });
    expect(Array.from(float32ToFloat16Array(values))).toEqual(Array.from(result.out.data as Uint16Array));
    await raw.release();
    await toHalf.dispose();

    const allBits = new Uint16Array(0x7c00);
    for (let i = 0; i < allBits.length; i++) allBits[i] = i;
    const back = await ort.InferenceSession.create(castGraph('from-half.onnx', ['float16', ['n']], ['float32', ['n']]));
    const widened = await back.run({ inp: new ort.Tensor('float16', allBits, [allBits.length]) });
    expect(Array.from(float16ToFloat32Array(allBits))).toEqual(Array.from(widened.out.data as Float32Array));
    await back.release();
  });
});

describe('OnnxSession', () => {
  it('feeds int64 and int32 input_ids from plain numbers', async () => {
    for (const type of ['int64', 'int32'] as const) {
      const session = await OnnxSession.create(castGraph(`ids-${type}.onnx`, [type, ['batch', 'sequence']], ['float32', ['batch', 'sequence']]));
      expect(session.input('inp')?.type).toBe(type);
      const out = await session.run({ inp: { data: Int32Array.of(49406, 320, 49407), dims: [1, 3] } });
      expect(Array.from(out.out.data)).toEqual([49406, 320, 49407]);
      expect(out.out.dims).toEqual([1, 3]);
      await session.dispose();
    }
  });

  it('adapts a one-element timestep to rank 0 (gen B float) or rank 1 (gen A int64, truncating)', async () => {
    const scalar = await OnnxSession.create(castGraph('t-scalar.onnx', ['float32', []], ['float32', []]));
    const s = await scalar.run({ inp: { data: Float32Array.of(976.5), dims: [1] } });
    expect(s.out.dims).toEqual([]);
    expect(s.out.data[0]).toBe(976.5);
    const ranked = await OnnxSession.create(castGraph('t-int64.onnx', ['int64', ['steps']], ['float32', ['steps']]));
    const r = await ranked.run({ inp: { data: Float32Array.of(976.9), dims: [] } });
    expect(r.out.dims).toEqual([1]);
    expect(r.out.data[0]).toBe(976); // NumPy astype truncation
    await scalar.dispose();
    await ranked.dispose();
  });

  it('adds up CPU time inside run only when asked (measureCpu), wall time always', async () => {
    const big = { inp: { data: new Float32Array(1 << 20).fill(0.5), dims: [1 << 20] } };
    const measured = await OnnxSession.create(castGraph('cpu-on.onnx', ['float32', ['n']], ['float16', ['n']]), { measureCpu: true });
    const plain = await OnnxSession.create(castGraph('cpu-off.onnx', ['float32', ['n']], ['float16', ['n']]));
    for (let i = 0; i < 10; i++) {
      await measured.run(big);
      await plain.run(big);
    }
    expect(measured.runCpuMs).toBeGreaterThan(0);
    expect(plain.runCpuMs).toBe(0);
    expect(plain.runMs).toBeGreaterThan(0);
    expect(plain.runCount).toBe(10);
    await measured.dispose();
    await plain.dispose();
  });

  it('accepts both thread-pool spinning behaviours (ORT session config) and gives the same outputs', async () => {
    const inputs = { inp: { data: Float32Array.from({ length: 4096 }, (_, i) => i / 7), dims: [4096] } };
    const stopping = await OnnxSession.create(castGraph('spin-stop.onnx', ['float32', ['n']], ['float16', ['n']]));
    const spinning = await OnnxSession.create(castGraph('spin-keep.onnx', ['float32', ['n']], ['float16', ['n']]), { spinBetweenRuns: true });
    const a = await stopping.run(inputs);
    const b = await spinning.run(inputs);
    expect(Array.from(a.out.data)).toEqual(Array.from(b.out.data));
    await stopping.dispose();
    await spinning.dispose();
  });

  it('converts a feed marked constant once per tensor object and reuses it', async () => {
    const session = await OnnxSession.create(castGraph('const-half.onnx', ['float16', ['n']], ['float16', ['n']]));
    const data = Float32Array.of(1, 2, 3);
    const constant = { data, dims: [3], constant: true };
    expect(Array.from((await session.run({ inp: constant })).out.data)).toEqual([1, 2, 3]);
    data[0] = 5; // breaks the promise on purpose: the converted tensor is reused
    expect(Array.from((await session.run({ inp: constant })).out.data)).toEqual([1, 2, 3]);
    // a new object, or one not marked constant, is converted afresh
    expect(Array.from((await session.run({ inp: { ...constant } })).out.data)).toEqual([5, 2, 3]);
    expect(Array.from((await session.run({ inp: { data, dims: [3] } })).out.data)).toEqual([5, 2, 3]);
    await session.dispose();
  });

  it('writes float32 outputs into caller arrays when asked (into), and converts float16 ones as usual', async () => {
    const session = await OnnxSession.create(castGraph('into-f32.onnx', ['float16', ['n']], ['float32', ['n']]));
    const target = new Float32Array(8).fill(-1);
    const view = target.subarray(2, 6);
    const out = await session.run({ inp: { data: Float32Array.of(1, 2, 3, 4), dims: [4] } }, undefined, { into: { out: { data: view, dims: [4] } } });
    expect(out.out.data).toBe(view);
    expect(Array.from(target)).toEqual([-1, -1, 1, 2, 3, 4, -1, -1]);
    await expect(session.run({ inp: { data: Float32Array.of(1, 2, 3, 4), dims: [4] } }, undefined, { into: { out: { data: view, dims: [5] } } })).rejects.toThrow(/4 values for dims \[5\]/);
    await session.dispose();
    const half = await OnnxSession.create(castGraph('into-f16.onnx', ['float32', ['n']], ['float16', ['n']]));
    const ignored = new Float32Array(2).fill(-1);
    const converted = await half.run({ inp: { data: Float32Array.of(0.5, 3), dims: [2] } }, undefined, { into: { out: { data: ignored, dims: [2] } } });
    expect(Array.from(converted.out.data)).toEqual([0.5, 3]);
    expect(Array.from(ignored)).toEqual([-1, -1]);
    await half.dispose();
  });

  it('converts float16 inputs and outputs', async () => {
    const session = await OnnxSession.create(castGraph('half-io.onnx', ['float16', ['n']], ['float16', ['n']]));
    expect(session.usesFloat16).toBe(true);
    const out = await session.run({ inp: { data: Float32Array.of(0.1, 1 / 3, 70000, -2), dims: [4] } });
    expect(Array.from(out.out.data)).toEqual([float16BitsToFloat32(0x2e66), 0.333251953125, Infinity, -2]);
    await session.dispose();
  });

  it('validates feeds: missing inputs are an error naming them, extra feeds a warning', async () => {
    const lines: string[] = [];
    const session = await OnnxSession.create(addGraph('add.onnx'), { log: (l) => lines.push(l), label: 'adder' });
    await expect(session.run({ a: { data: Float32Array.of(1), dims: [1] } })).rejects.toThrow(/missing inputs b/);
    const out = await session.run(
      { a: { data: Float32Array.of(1, 2), dims: [2] }, b: { data: Float32Array.of(3, 4), dims: [2] }, c: { data: Float32Array.of(0), dims: [1] } },
      ['y'],
    );
    expect(Array.from(out.y.data)).toEqual([4, 6]);
    expect(Object.keys(out)).toEqual(['y']);
    expect(lines.some((l) => l.includes('warning') && l.includes('c'))).toBe(true);
    expect(session.runCount).toBe(1);
    expect(session.runMs).toBeGreaterThanOrEqual(0);
    await session.dispose();
    await expect(session.run({})).rejects.toThrow(/after dispose/);
  });

  it('logs each feed dtype and dims when ORT rejects a run', async () => {
    const lines: string[] = [];
    const session = await OnnxSession.create(castGraph('fixed.onnx', ['float32', [1, 3]], ['float32', [1, 3]]), { log: (l) => lines.push(l), label: 'fixed' });
    await expect(session.run({ inp: { data: new Float32Array(4), dims: [1, 4] } })).rejects.toThrow();
    expect(lines).toContain('fixed: feed inp: float32 [1, 4]');
    await session.dispose();
  });

  it('falls back to CPU with a log line when the provider is unavailable, or fails when told not to', async () => {
    const path = castGraph('ep.onnx', ['float32', ['n']], ['float32', ['n']]);
    const lines: string[] = [];
    const session = await OnnxSession.create(path, { provider: 'no-such-ep', log: (l) => lines.push(l), label: 'ep' });
    expect(session.provider).toBe('cpu');
    expect(lines.some((l) => l.includes('no-such-ep unavailable') && l.includes('falling back to cpu'))).toBe(true);
    expect(lines).toContain('ep: running on cpu');
    await session.dispose();
    await expect(OnnxSession.create(path, { provider: 'no-such-ep', fallbackToCpu: false })).rejects.toThrow(/no-such-ep/);
    await expect(OnnxSession.create(join(dir, 'absent.onnx'))).rejects.toThrow(/not found/);
  });
});
