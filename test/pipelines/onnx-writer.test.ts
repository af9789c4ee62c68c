import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { readOnnxModelInfo } from '../../pipelines/onnx/reader.js';
import {
  float16Tensor,
  float16ToFloat32,
  float32Tensor,
  float32ToFloat16,
  int64Tensor,
} from '../../pipelines/onnx/tensor.js';
import { GraphBuilder, attr, serializeModel, writeModel } from '../../pipelines/onnx/writer.js';

const { onnx } = onnxProto;
const scratch = mkdtempSync(join(tmpdir(), 'refinery-onnx-writer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** y = x · W + cast(b16), with W [3,40] = i/100 row-major and b16 fp16 [40] = j/10. */
function affineGraph(): GraphBuilder {
  const graph = new GraphBuilder('affine');
  const x = graph.input('x', 'float32', ['batch_size', 3]);
  const weight = graph.initializer('weight', float32Tensor([3, 40], Array.from({ length: 120 }, (_, i) => i / 100)));
  const bias16 = graph.initializer('bias', float16Tensor([40], Array.from({ length: 40 }, (_, j) => j / 10)));
  const bias = graph.node('Cast', [bias16], { to: attr.int(1) });
  const product = graph.node('MatMul', [x, weight]);
  graph.output('y', 'float32', ['batch_size', 40], graph.node('Add', [product, bias]));
  return graph;
}

function expectedAffine(row: number[], column: number): number {
  const weight = (r: number) => Math.fround((r * 40 + column) / 100);
  return row[0] * weight(0) + row[1] * weight(1) + row[2] * weight(2) + float16ToFloat32(float32ToFloat16(column / 10));
}

describe('float16 conversion (IEEE 754 binary16)', () => {
  it('encodes known bit patterns with round-to-nearest-even', () => {
    expect(float32ToFloat16(1)).toBe(0x3c00);
    expect(float32ToFloat16(-2)).toBe(0xc000);
    expect(float32ToFloat16(0.1)).toBe(0x2e66);
    expect(float32ToFloat16(65504)).toBe(0x7bff); // largest finite half
    expect(float32ToFloat16(65520)).toBe(0x7c00); // halfway to 2^16 rounds to even → inf
    expect(float32ToFloat16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(float32ToFloat16(2 ** -14)).toBe(0x0400); // smallest normal
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even mantissa (up)
    expect(float32ToFloat16(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(float16ToFloat32(0x3555)).toBeCloseTo(0.33325195, 8);
  });
});

describe('ONNX writer', () => {
  it('writes a model that onnxruntime runs with the expected arithmetic', async () => {
    const path = join(scratch, 'inline', 'model.onnx');
    writeModel(path, affineGraph());
    expect(readdirSync(join(scratch, 'inline'))).toEqual(['model.onnx']);
    const session = await ort.InferenceSession.create(path);
    const rows = [[1, 2, 3], [-0.5, 0.25, 4]];
    const result = await session.run({ x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [2, 3]) });
    expect(result.y.dims).toEqual([2, 40]);
    const y = result.y.data as Float32Array;
    for (const [r, row] of rows.entries()) {
      for (const column of [0, 1, 17, 39]) expect(y[r * 40 + column]).toBeCloseTo(expectedAffine(row, column), 4);
    }
  });

  it('gives byte-identical output for the same calls', () => {
    const first = serializeModel(affineGraph(), { externalData: {} });
    const second = serializeModel(affineGraph(), { externalData: {} });
    expect(Buffer.from(first.model).equals(Buffer.from(second.model))).toBe(true);
    expect(Buffer.from(first.externalData!.bytes).equals(Buffer.from(second.externalData!.bytes))).toBe(true);
  });

  it('puts tensors above the threshold in one model.onnx_data sidecar that onnxruntime loads by path', async () => {
    const dir = join(scratch, 'external');
    writeModel(join(dir, 'model.onnx'), affineGraph(), { externalData: { thresholdBytes: 100 } });
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
    const weight = model.graph!.initializer!.find((t) => t.name === 'weight')!;
    expect(weight.dataLocation).toBe(onnx.TensorProto.DataLocation.EXTERNAL);
    expect(weight.rawData!.length).toBe(0);
    const entries = Object.fromEntries(weight.externalData!.map((e) => [e.key, e.value]));
    expect(entries).toMatchObject({ location: 'model.onnx_data', length: '480' });
    const bias = model.graph!.initializer!.find((t) => t.name === 'bias')!; // 80 bytes: stays inline
    expect(bias.rawData!.length).toBe(80);
    const sidecar = readFileSync(join(dir, 'model.onnx_data'));
    const offset = Number(entries.offset);
    expect(sidecar.readFloatLE(offset + 4 * 41)).toBeCloseTo(0.41, 6);

    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const result = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]) });
    expect((result.y.data as Float32Array)[5]).toBeCloseTo(expectedAffine([1, 2, 3], 5), 4);
  });

  it('writes opset, IR version and metadata', () => {
    const { model } = serializeModel(affineGraph(), { opsetVersion: 17, irVersion: 8, metadata: { b: '2', a: '1' } });
    const decoded = onnx.ModelProto.decode(model);
    expect(Number(decoded.irVersion)).toBe(8);
    expect(decoded.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    expect(decoded.metadataProps.map((p) => p.key)).toEqual(['a', 'b']);
  });

  it('rejects duplicate value names', () => {
    const graph = new GraphBuilder('dup');
    graph.input('x', 'float32', [1]);
    expect(() => graph.input('x', 'float32', [1])).toThrow(/'x' is already used/);
  });
});

describe('ONNX reader', () => {
  it('returns declared inputs and outputs with dtypes and symbolic dims', () => {
    const graph = new GraphBuilder('io');
    const ids = graph.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
    const step = graph.input('timestep', 'float16', []);
    graph.output('ids_out', 'int64', ['batch_size', 'sequence_length'], graph.node('Identity', [ids]));
    graph.output('step_out', 'float16', [], graph.node('Identity', [step]));
    const path = join(scratch, 'io', 'model.onnx');
    writeModel(path, graph);
    const info = readOnnxModelInfo(path);
    expect(info.inputs).toEqual([
      { name: 'input_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] },
      { name: 'timestep', dtype: 'float16', dims: [] },
    ]);
    expect(info.outputs.map((o) => o.name)).toEqual(['ids_out', 'step_out']);
    expect(info.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(info.externalDataFiles).toEqual([]);
  });

  it('skips large embedded weights and lists external data files', () => {
    const graph = new GraphBuilder('big');
    const x = graph.input('x', 'float32', ['n', 1024]);
    const weight = graph.initializer('w', float32Tensor([1024, 1024], new Float32Array(1024 * 1024)));
    graph.initializer('unused_ids', int64Tensor([2], [1, 2]));
    graph.output('y', 'float32', ['n', 1024], graph.node('MatMul', [x, weight]));
    const embedded = join(scratch, 'big-embedded', 'model.onnx');
    writeModel(embedded, graph);
    expect(readOnnxModelInfo(embedded).inputs.map((i) => i.name)).toEqual(['x']);
    const external = join(scratch, 'big-external', 'model.onnx');
    writeModel(external, graph, { externalData: {} });
    expect(readOnnxModelInfo(external).externalDataFiles).toEqual(['model.onnx_data']);
  });

  it('names the file when it is not an ONNX model', () => {
    const path = join(scratch, 'broken.onnx');
    writeFileSync(path, 'this is a text file, not a protobuf');
    expect(() => readOnnxModelInfo(path)).toThrow(/broken\.onnx: not a readable ONNX model/);
  });
});
