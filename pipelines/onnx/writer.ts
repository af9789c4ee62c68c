// A small typed ONNX graph builder and model writer on onnx-proto (protobufjs static code), so test
// models are code rather than binary fixtures. Output bytes depend only on what was added, in order.
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import onnxProto from 'onnx-proto';
import { ONNX_DTYPE_CODES, tensorBytes, type OnnxDType, type TensorValue } from './tensor.js';

const { onnx } = onnxProto;

/** A tensor dimension: a fixed size, or a symbolic name (a dynamic axis such as `batch_size`). */
export type Dim = number | string;

/** A graph input or output declaration. */
export interface ValueDeclaration {
  name: string;
  dtype: OnnxDType;
  dims: Dim[];
}

/** A typed node attribute; build them with the `attr` helpers. */
export type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorValue };

export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  ints: (value: number[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: number[]): AttributeValue => ({ kind: 'floats', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  tensor: (value: TensorValue): AttributeValue => ({ kind: 'tensor', value }),
};

export interface NodeOptions {
  /** Node name; default `<OpType>_<n>`. */
  name?: string;
  /** Output value names; default one output named `<node name>_out`. A number asks for that many. */
  outputs?: string[] | number;
  domain?: string;
}

interface NodeRecord {
  opType: string;
  name: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Array<[string, AttributeValue]>;
}

/**
 * Builds one ONNX graph. Every add returns the value name to wire into later nodes. Names are
 * generated from per-builder counters, so the same sequence of calls gives the same graph.
 */
export class GraphBuilder {
  private readonly inputs: ValueDeclaration[] = [];
  private readonly outputs: ValueDeclaration[] = [];
  private readonly nodes: NodeRecord[] = [];
  private readonly initializers = new Map<string, TensorValue>();
  private readonly usedNames = new Set<string>();
  private readonly opCounters = new Map<string, number>();

  constructor(readonly name: string) {}

  input(name: string, dtype: OnnxDType, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push({ name, dtype, dims });
    return name;
  }

  /** Declares a graph output named `name` carrying `value` (an Identity is added when the names differ). */
  output(name: string, dtype: OnnxDType, dims: Dim[], value: string): string {
    if (value !== name) this.node('Identity', [value], {}, { outputs: [name], name: `${name}_output` });
    this.outputs.push({ name, dtype, dims });
    return name;
  }

  /** Adds a constant tensor; `name` is made unique if taken. */
  initializer(name: string, tensor: TensorValue): string {
    const unique = this.uniqueName(name);
    this.initializers.set(unique, tensor);
    return unique;
  }

  /** Adds a node and returns its first output name (see `nodeOutputs` for several). */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, options: NodeOptions = {}): string {
    return this.nodeOutputs(opType, inputs, attributes, options)[0];
  }

  nodeOutputs(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, options: NodeOptions = {}): string[] {
    const name = options.name !== undefined ? this.uniqueName(options.name) : this.nextNodeName(opType);
    let outputs: string[];
    if (Array.isArray(options.outputs)) {
      for (const output of options.outputs) this.claim(output);
      outputs = options.outputs;
    } else {
      const count = options.outputs ?? 1;
      outputs = Array.from({ length: count }, (_, i) => this.uniqueName(count === 1 ? `${name}_out` : `${name}_out${i}`));
    }
    this.nodes.push({ opType, name, domain: options.domain ?? '', inputs, outputs, attributes: Object.entries(attributes) });
    return outputs;
  }

  /** The ONNX GraphProto message object; tensors at or above `externalThreshold` bytes go to `sink`. */
  toProto(sink?: ExternalDataSink): InstanceType<typeof onnx.GraphProto> {
    return onnx.GraphProto.create({
      name: this.name,
      node: this.nodes.map((node) =>
        onnx.NodeProto.create({
          input: node.inputs,
          output: node.outputs,
          name: node.name,
          opType: node.opType,
          domain: node.domain,
          attribute: node.attributes.map(([attrName, value]) => attributeProto(attrName, value)),
        }),
      ),
      initializer: [...this.initializers].map(([tensorName, tensor]) => tensorProto(tensorName, tensor, sink)),
      input: this.inputs.map(valueInfoProto),
      output: this.outputs.map(valueInfoProto),
    });
  }

  private nextNodeName(opType: string): string {
    const count = this.opCounters.get(opType) ?? 0;
    this.opCounters.set(opType, count + 1);
    return this.uniqueName(`${opType}_${count}`);
  }

  private claim(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`graph '${this.name}': the name '${name}' is already used`);
    this.usedNames.add(name);
  }

  private uniqueName(base: string): string {
    let candidate = base;
    for (let i = 1; this.usedNames.has(candidate); i++) candidate = `${base}_${i}`;
    this.usedNames.add(candidate);
    return candidate;
  }
}

/** Collects tensor bytes for one external-data sidecar file. */
export interface ExternalDataSink {
  /** The sidecar's file name, written into each tensor's `location` entry. */
  location: string;
  /** Tensors with at least this many bytes go to the sidecar. */
  thresholdBytes: number;
  chunks: Uint8Array[];
  size: number;
}

/** Offsets in the sidecar are aligned to this many bytes (any alignment is valid ONNX). */
const EXTERNAL_DATA_ALIGNMENT = 64;

function tensorProto(name: string, tensor: TensorValue, sink?: ExternalDataSink): InstanceType<typeof onnx.TensorProto> {
  const bytes = tensorBytes(tensor);
  const base = { name, dims: tensor.dims, dataType: ONNX_DTYPE_CODES[tensor.dtype] };
  if (sink && bytes.byteLength >= sink.thresholdBytes) {
    const padding = (EXTERNAL_DATA_ALIGNMENT - (sink.size % EXTERNAL_DATA_ALIGNMENT)) % EXTERNAL_DATA_ALIGNMENT;
    if (padding) sink.chunks.push(new Uint8Array(padding));
    const offset = sink.size + padding;
    sink.chunks.push(bytes);
    sink.size = offset + bytes.byteLength;
    return onnx.TensorProto.create({
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: sink.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ],
    });
  }
  return onnx.TensorProto.create({ ...base, rawData: bytes });
}

function attributeProto(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const Type = onnx.AttributeProto.AttributeType;
  switch (value.kind) {
    case 'int':
      return onnx.AttributeProto.create({ name, type: Type.INT, i: value.value });
    case 'float':
      return onnx.AttributeProto.create({ name, type: Type.FLOAT, f: value.value });
    case 'ints':
      return onnx.AttributeProto.create({ name, type: Type.INTS, ints: value.value });
    case 'floats':
      return onnx.AttributeProto.create({ name, type: Type.FLOATS, floats: value.value });
    case 'string':
      return onnx.AttributeProto.create({ name, type: Type.STRING, s: new TextEncoder().encode(value.value) });
    case 'tensor':
      return onnx.AttributeProto.create({ name, type: Type.TENSOR, t: tensorProto(name, value.value) });
  }
}

function valueInfoProto(value: ValueDeclaration): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name: value.name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE_CODES[value.dtype],
        shape: { dim: value.dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  });
}

export interface ModelOptions {
  /** Default opset of the `ai.onnx` domain; default 17. */
  opsetVersion?: number;
  /** Default 8 (the IR version that goes with opset 17). */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** `metadata_props` entries, written in key order. */
  metadata?: Record<string, string>;
  /**
   * Store every initializer of at least `thresholdBytes` (default 100, as optimum does) in one sidecar
   * file named `location` (default `model.onnx_data`) next to the model file.
   */
  externalData?: { location?: string; thresholdBytes?: number };
}

export interface SerializedModel {
  /** The `model.onnx` bytes. */
  model: Uint8Array;
  /** The sidecar bytes and file name when external data was requested and any tensor went there. */
  externalData?: { location: string; bytes: Uint8Array };
}

export function serializeModel(graph: GraphBuilder, options: ModelOptions = {}): SerializedModel {
  const sink: ExternalDataSink | undefined = options.externalData
    ? {
        location: options.externalData.location ?? 'model.onnx_data',
        thresholdBytes: options.externalData.thresholdBytes ?? 100,
        chunks: [],
        size: 0,
      }
    : undefined;
  if (sink && (sink.location.includes('/') || sink.location.includes('\\'))) {
    throw new Error(`external data location '${sink.location}' must be a bare file name`);
  }
  const metadata = Object.entries(options.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const model = onnx.ModelProto.create({
    irVersion: options.irVersion ?? 8,
    opsetImport: [{ domain: '', version: options.opsetVersion ?? 17 }],
    producerName: options.producerName ?? 'refinery',
    producerVersion: options.producerVersion ?? '0.1.0',
    docString: options.docString ?? '',
    graph: graph.toProto(sink),
    metadataProps: metadata.map(([key, value]) => ({ key, value })),
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  if (!sink || sink.size === 0) return { model: bytes };
  const sidecar = new Uint8Array(sink.size);
  let offset = 0;
  for (const chunk of sink.chunks) {
    sidecar.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { model: bytes, externalData: { location: sink.location, bytes: sidecar } };
}

/** Atomic, fsynced writes (pipelines/atomic-write.ts), re-exported for the model writers. */
export { writeFileAtomic };

/**
 * Serializes `graph` and writes it to `modelPath`, plus the external-data sidecar next to it when
 * requested (sidecar first, so a reader never sees a model whose data is missing). Returns the
 * paths written.
 */
export function writeModel(modelPath: string, graph: GraphBuilder, options: ModelOptions = {}): string[] {
  const serialized = serializeModel(graph, options);
  const written: string[] = [];
  if (serialized.externalData) {
    const sidecarPath = join(dirname(modelPath), serialized.externalData.location);
    writeFileAtomic(sidecarPath, serialized.externalData.bytes);
    written.push(sidecarPath);
  }
  writeFileAtomic(modelPath, serialized.model);
  written.push(modelPath);
  return written;
}
