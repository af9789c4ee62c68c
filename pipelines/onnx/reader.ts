// Reads what a model.onnx declares (graph inputs/outputs, opsets, external-data files) without loading
// weights: the protobuf is walked field by field from the file and tensor payloads are skipped by
// length, so inspecting a multi-GB model reads only a few kilobytes of it.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { dtypeFromCode, type OnnxDType } from './tensor.js';

const { onnx } = onnxProto;

/** A dimension as declared: a size, a symbolic name (dynamic axis), or `null` when left unnamed. */
export type DeclaredDim = number | string | null;

export interface DeclaredValue {
  name: string;
  /** Element type; `unknown(<code>)` for types outside the project's set, `non-tensor` for sequences/maps. */
  dtype: OnnxDType | `unknown(${number})` | 'non-tensor';
  /** `null` when the model declares no shape (unknown rank). */
  dims: DeclaredDim[] | null;
}

export interface OnnxModelInfo {
  path: string;
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImports: Array<{ domain: string; version: number }>;
  /** Graph inputs, initializers excluded (old exporters listed initializers as inputs too). */
  inputs: DeclaredValue[];
  outputs: DeclaredValue[];
  /** The distinct external-data file names the initializers point to (relative to the model's folder). */
  externalDataFiles: string[];
}

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_LENGTH = 2;
const WIRE_32BIT = 5;

/** Buffered positional reads over a file descriptor, with protobuf primitives. */
class FileCursor {
  private buffer = Buffer.alloc(64 * 1024);
  private bufferStart = 0;
  private bufferLength = 0;
  position = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  private byteAt(position: number): number {
    if (position < this.bufferStart || position >= this.bufferStart + this.bufferLength) {
      this.bufferStart = position;
      this.bufferLength = readSync(this.fd, this.buffer, 0, this.buffer.length, position);
      if (this.bufferLength === 0) throw new Error('unexpected end of file');
    }
    return this.buffer[position - this.bufferStart];
  }

  readVarint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byteAt(this.position++);
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error('malformed varint');
  }

  readBytes(length: number): Uint8Array {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, this.position + done);
      if (n === 0) throw new Error('unexpected end of file');
      done += n;
    }
    this.position += length;
    return out;
  }

  skipField(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.readVarint();
        break;
      case WIRE_64BIT:
        this.position += 8;
        break;
      case WIRE_LENGTH: {
        const length = this.readVarint(); // read before touching position: `+=` would read it first
        this.position += length;
        break;
      }
      case WIRE_32BIT:
        this.position += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
    if (this.position > this.size) throw new Error('field runs past the end of the file');
  }

  /** Calls `onField(fieldNumber, wireType)` for each field until `end`; the callback must consume or skip it. */
  forEachField(end: number, onField: (field: number, wireType: number) => void): void {
    while (this.position < end) {
      const key = this.readVarint();
      const field = Math.floor(key / 8);
      const wireType = key % 8;
      const before = this.position;
      onField(field, wireType);
      if (this.position === before) this.skipField(wireType);
    }
    if (this.position !== end) throw new Error('message length mismatch');
  }
}

// Field numbers from onnx.proto.
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 } as const;
const GRAPH = { initializer: 5, input: 11, output: 12 } as const;
const TENSOR = { name: 8, externalData: 13 } as const;

/** Reads the declared I/O of the ONNX model at `path` (no external data is touched). */
export function readOnnxModelInfo(path: string): OnnxModelInfo {
  const size = statSync(path).size;
  const fd = openSync(path, 'r');
  try {
    return parseModel(new FileCursor(fd, size), path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${path}: not a readable ONNX model (${reason})`);
  } finally {
    closeSync(fd);
  }
}

function parseModel(cursor: FileCursor, path: string): OnnxModelInfo {
  const info: OnnxModelInfo = {
    path,
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opsetImports: [],
    inputs: [],
    outputs: [],
    externalDataFiles: [],
  };
  let sawGraph = false;
  const decoder = new TextDecoder();
  cursor.forEachField(cursor.size, (field, wireType) => {
    if (field === MODEL.irVersion && wireType === WIRE_VARINT) info.irVersion = cursor.readVarint();
    else if (field === MODEL.producerName && wireType === WIRE_LENGTH) info.producerName = decoder.decode(cursor.readBytes(cursor.readVarint()));
    else if (field === MODEL.producerVersion && wireType === WIRE_LENGTH) info.producerVersion = decoder.decode(cursor.readBytes(cursor.readVarint()));
    else if (field === MODEL.opsetImport && wireType === WIRE_LENGTH) {
      const opset = onnx.OperatorSetIdProto.decode(cursor.readBytes(cursor.readVarint()));
      info.opsetImports.push({ domain: opset.domain, version: toNumber(opset.version) });
    } else if (field === MODEL.graph && wireType === WIRE_LENGTH) {
      sawGraph = true;
      const length = cursor.readVarint();
      parseGraph(cursor, cursor.position + length, info);
    }
  });
  if (!sawGraph) throw new Error('no graph in the file');
  return info;
}

function parseGraph(cursor: FileCursor, end: number, info: OnnxModelInfo): void {
  const initializerNames = new Set<string>();
  const externalFiles = new Set<string>();
  const inputs: DeclaredValue[] = [];
  cursor.forEachField(end, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return;
    if (field === GRAPH.input) inputs.push(declaredValue(cursor.readBytes(cursor.readVarint())));
    else if (field === GRAPH.output) info.outputs.push(declaredValue(cursor.readBytes(cursor.readVarint())));
    else if (field === GRAPH.initializer) {
      const length = cursor.readVarint();
      const tensor = parseTensorHeader(cursor, cursor.position + length);
      initializerNames.add(tensor.name);
      if (tensor.location !== undefined) externalFiles.add(tensor.location);
    }
  });
  info.inputs = inputs.filter((input) => !initializerNames.has(input.name));
  info.externalDataFiles = [...externalFiles].sort();
}

/** Reads a TensorProto's name and external-data location, skipping its payload. */
function parseTensorHeader(cursor: FileCursor, end: number): { name: string; location?: string } {
  const decoder = new TextDecoder();
  const result: { name: string; location?: string } = { name: '' };
  cursor.forEachField(end, (field, wireType) => {
    if (wireType !== WIRE_LENGTH) return;
    if (field === TENSOR.name) result.name = decoder.decode(cursor.readBytes(cursor.readVarint()));
    else if (field === TENSOR.externalData) {
      const entry = onnx.StringStringEntryProto.decode(cursor.readBytes(cursor.readVarint()));
      if (entry.key === 'location') result.location = entry.value;
    }
  });
  return result;
}

function declaredValue(bytes: Uint8Array): DeclaredValue {
  const value = onnx.ValueInfoProto.decode(bytes);
  const tensorType = value.type?.tensorType;
  if (!tensorType) return { name: value.name, dtype: 'non-tensor', dims: null };
  const shape = tensorType.shape;
  const dims = shape
    ? (shape.dim ?? []).map((dim): DeclaredDim => {
        if (dim.dimParam) return dim.dimParam;
        if (dim.dimValue !== undefined && dim.dimValue !== null && Object.prototype.hasOwnProperty.call(dim, 'dimValue')) {
          return toNumber(dim.dimValue);
        }
        return null;
      })
    : null;
  return { name: value.name, dtype: dtypeFromCode(tensorType.elemType ?? 0), dims };
}

function toNumber(value: number | { low: number; high: number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  return value.high * 2 ** 32 + (value.low >>> 0);
}
