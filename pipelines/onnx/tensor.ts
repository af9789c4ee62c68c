// Typed tensors for the ONNX writer, and the float32 → float16 conversion used for fp16 weights.

/** Element types the writer and reader know, spelled as onnxruntime-node spells them. */
export type OnnxDType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'float64' | 'uint8' | 'int8';

/** ONNX `TensorProto.DataType` codes. */
export const ONNX_DTYPE_CODES: Readonly<Record<OnnxDType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};

const DTYPE_BY_CODE = new Map<number, OnnxDType>(
  Object.entries(ONNX_DTYPE_CODES).map(([name, code]) => [code, name as OnnxDType]),
);

/** The dtype name for an ONNX `elem_type` code, or `unknown(<code>)` for types the project never uses. */
export function dtypeFromCode(code: number): OnnxDType | `unknown(${number})` {
  return DTYPE_BY_CODE.get(code) ?? `unknown(${code})`;
}

/** A dense tensor to be stored as an initializer. float16 data holds IEEE half bit patterns. */
export type TensorValue =
  | { dtype: 'float32'; dims: number[]; data: Float32Array }
  | { dtype: 'float16'; dims: number[]; data: Uint16Array }
  | { dtype: 'int64'; dims: number[]; data: BigInt64Array }
  | { dtype: 'int32'; dims: number[]; data: Int32Array };

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

function checkLength(dims: number[], length: number): void {
  const expected = elementCount(dims);
  if (expected !== length) {
    throw new Error(`tensor data has ${length} elements but dims [${dims.join(', ')}] need ${expected}`);
  }
}

export function float32Tensor(dims: number[], data: ArrayLike<number>): TensorValue {
  checkLength(dims, data.length);
  return { dtype: 'float32', dims, data: Float32Array.from(data) };
}

export function float16Tensor(dims: number[], data: ArrayLike<number>): TensorValue {
  checkLength(dims, data.length);
  return { dtype: 'float16', dims, data: float32ToFloat16Bits(Float32Array.from(data)) };
}

export function int64Tensor(dims: number[], data: ArrayLike<number | bigint>): TensorValue {
  checkLength(dims, data.length);
  const values = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) values[i] = BigInt(data[i]);
  return { dtype: 'int64', dims, data: values };
}

export function int32Tensor(dims: number[], data: ArrayLike<number>): TensorValue {
  checkLength(dims, data.length);
  return { dtype: 'int32', dims, data: Int32Array.from(data) };
}

/** Little-endian bytes of the tensor's elements, as ONNX `raw_data` stores them. */
export function tensorBytes(tensor: TensorValue): Uint8Array {
  const source = tensor.data;
  const bytes = new Uint8Array(source.byteLength);
  const view = new DataView(bytes.buffer);
  switch (tensor.dtype) {
    case 'float32':
      tensor.data.forEach((value, i) => view.setFloat32(i * 4, value, true));
      break;
    case 'float16':
      tensor.data.forEach((value, i) => view.setUint16(i * 2, value, true));
      break;
    case 'int64':
      tensor.data.forEach((value, i) => view.setBigInt64(i * 8, value, true));
      break;
    case 'int32':
      tensor.data.forEach((value, i) => view.setInt32(i * 4, value, true));
      break;
  }
  return bytes;
}

/** One float32 value → IEEE 754 half bits, rounding to nearest even (overflow → ±inf, NaN kept). */
export function float32ToFloat16(value: number): number {
  return float32BitsToFloat16(new Uint32Array(Float32Array.of(value).buffer)[0]);
}

function float32BitsToFloat16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    // Subnormal half: shift the implicit-one mantissa right, rounding half to even.
    const full = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const truncated = full >>> shift;
    const remainder = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const rounded = remainder > halfway || (remainder === halfway && (truncated & 1) === 1) ? truncated + 1 : truncated;
    return sign | rounded;
  }
  const truncated = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  const rounded = remainder > 0x1000 || (remainder === 0x1000 && (truncated & 1) === 1) ? truncated + 1 : truncated;
  return sign | rounded; // a carry into the exponent is the correct rounding (up to inf)
}

/** IEEE half bits → the float value it denotes. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export function float32ToFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const bits = new Uint32Array(Float32Array.from(values).buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToFloat16(bits[i]);
  return out;
}
