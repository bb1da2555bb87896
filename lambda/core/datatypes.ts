/**
 * Tensor element types: the Open Inference Protocol's names and onnxruntime's, with what each
 * accepts and how its values are stored.
 */
import type { Tensor } from 'onnxruntime-node';

export type V2Datatype =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type OrtType = Tensor.Type;

export interface DatatypeInfo {
  readonly v2: V2Datatype;
  readonly ort: OrtType;
  /** Bytes per element in the binary tensor encoding; 0 for BYTES (length-prefixed). */
  readonly byteSize: number;
  readonly kind: 'bool' | 'int' | 'bigint' | 'float' | 'half' | 'string';
  /** Inclusive range for integer kinds. */
  readonly min?: number | bigint;
  readonly max?: number | bigint;
}

const table: DatatypeInfo[] = [
  { v2: 'BOOL', ort: 'bool', byteSize: 1, kind: 'bool' },
  { v2: 'UINT8', ort: 'uint8', byteSize: 1, kind: 'int', min: 0, max: 255 },
  { v2: 'UINT16', ort: 'uint16', byteSize: 2, kind: 'int', min: 0, max: 65535 },
  { v2: 'UINT32', ort: 'uint32', byteSize: 4, kind: 'int', min: 0, max: 4294967295 },
  { v2: 'UINT64', ort: 'uint64', byteSize: 8, kind: 'bigint', min: 0n, max: 18446744073709551615n },
  { v2: 'INT8', ort: 'int8', byteSize: 1, kind: 'int', min: -128, max: 127 },
  { v2: 'INT16', ort: 'int16', byteSize: 2, kind: 'int', min: -32768, max: 32767 },
  { v2: 'INT32', ort: 'int32', byteSize: 4, kind: 'int', min: -2147483648, max: 2147483647 },
  { v2: 'INT64', ort: 'int64', byteSize: 8, kind: 'bigint', min: -9223372036854775808n, max: 9223372036854775807n },
  { v2: 'FP16', ort: 'float16', byteSize: 2, kind: 'half', max: 65504 },
  { v2: 'FP32', ort: 'float32', byteSize: 4, kind: 'float', max: 3.4028234663852886e38 },
  { v2: 'FP64', ort: 'float64', byteSize: 8, kind: 'float' },
  { v2: 'BYTES', ort: 'string', byteSize: 0, kind: 'string' },
];

const byV2 = new Map(table.map((d) => [d.v2 as string, d]));
const byOrt = new Map(table.map((d) => [d.ort as string, d]));

export const V2_DATATYPES: readonly string[] = table.map((d) => d.v2);

export function datatypeFromV2(name: string): DatatypeInfo | undefined {
  return byV2.get(name);
}

export function datatypeFromOrt(type: string): DatatypeInfo | undefined {
  return byOrt.get(type);
}
