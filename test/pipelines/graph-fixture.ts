import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

// Minimal ONNX graphs for unit tests of the host-side code (ORT as an independent float32 reference).

const { onnx } = onnxProto;
export const ELEM = { float32: 1, int32: 6, int64: 7, float16: 10 } as const;
export type Elem = keyof typeof ELEM;
export type Dim = number | string;

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: { name: string; int?: number; float?: number }[];
}

export function valueInfo(name: string, type: Elem, dims: Dim[]) {
  return {
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** Writes a graph with the given nodes, inputs and outputs to `path`. */
export function writeGraph(
  path: string,
  nodes: GraphNode[],
  inputs: [string, Elem, Dim[]][],
  outputs: [string, Elem, Dim[]][],
): string {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'fixture',
      node: nodes.map((n) => ({
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: (n.attributes ?? []).map((a) =>
          a.int !== undefined
            ? { name: a.name, type: onnx.AttributeProto.AttributeType.INT, i: a.int }
            : { name: a.name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.float },
        ),
      })),
      input: inputs.map(([name, type, dims]) => valueInfo(name, type, dims)),
      output: outputs.map(([name, type, dims]) => valueInfo(name, type, dims)),
    },
  });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}
