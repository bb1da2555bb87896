/**
 * ONNX files read and written with protobufjs and the ONNX project's own schema (onnx-ml.proto,
 * vendored from ONNX 1.23: every field up to IR version 14, so nothing a model carries is dropped as
 * unknown). Tensors stored as external data are read into the model; a result is written as one file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

// Loaded on first use, so that importing this module (e.g. into a bundle that never converts) reads no file.
let modelProto: protobuf.Type | undefined;
const ModelProto = {
  get type(): protobuf.Type {
    return (modelProto ??= protobuf.loadSync(join(dirname(fileURLToPath(import.meta.url)), 'onnx-ml.proto')).lookupType('onnx.ModelProto'));
  },
};

/** TensorProto.DataType. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13 } as const;
/** AttributeProto.AttributeType. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
/** protobuf's own limit on one message, which a model written as one file must stay under. */
export const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;

type Int = number | { toNumber(): number };
export const num = (v: Int | undefined | null): number => (v === undefined || v === null ? 0 : typeof v === 'number' ? v : v.toNumber());

export interface Tensor {
  name: string;
  dims: Int[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int[];
  doubleData?: number[];
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
}

export interface Attribute {
  name: string;
  type: number;
  f?: number;
  i?: Int;
  s?: Uint8Array;
  t?: Tensor;
  floats?: number[];
  ints?: Int[];
  strings?: Uint8Array[];
  g?: Graph;
}

export interface Node {
  name?: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}

export interface ValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: unknown } };
}

export interface Graph {
  name?: string;
  node: Node[];
  initializer: Tensor[];
  input: ValueInfo[];
  output: ValueInfo[];
  valueInfo: ValueInfo[];
}

export interface Model {
  irVersion: Int;
  opsetImport: { domain?: string; version: Int }[];
  producerName?: string;
  graph: Graph;
  metadataProps?: { key: string; value: string }[];
}

/** Decodes an ONNX file; tensors kept as external data (beside it, in `dir`) are read in. */
export function decodeModel(bytes: Uint8Array, dir?: string): Model {
  let model: Model;
  try {
    model = ModelProto.type.toObject(ModelProto.type.decode(bytes), { defaults: false, arrays: true }) as unknown as Model;
  } catch (error) {
    throw new Error(`not an ONNX model: ${(error as Error).message}`);
  }
  if (model.graph === undefined) throw new Error('not an ONNX model: it has no graph');
  for (const key of ['node', 'initializer', 'input', 'output', 'valueInfo'] as const) (model.graph[key] as unknown[]) ??= [];
  for (const node of model.graph.node) {
    node.input ??= [];
    node.output ??= [];
    node.attribute ??= [];
  }
  for (const tensor of model.graph.initializer) {
    if (tensor.dataLocation !== 1) continue;
    const info = Object.fromEntries((tensor.externalData ?? []).map(({ key, value }) => [key, value]));
    if (dir === undefined || info.location === undefined) throw new Error(`tensor "${tensor.name}" is stored as external data, and the folder holding it is not known`);
    const file = resolve(dir, info.location);
    if (relative(dir, file).startsWith('..')) throw new Error(`tensor "${tensor.name}" names external data outside the model's folder: ${info.location}`);
    if (!existsSync(file)) throw new Error(`tensor "${tensor.name}" names external data ${info.location}, which does not exist`);
    const data = readFileSync(file);
    const offset = Number(info.offset ?? 0);
    tensor.rawData = data.subarray(offset, info.length !== undefined ? offset + Number(info.length) : undefined);
    delete tensor.dataLocation;
    delete tensor.externalData;
  }
  return model;
}

/** Encodes a model as one file (protobuf's 2 GB limit applies: larger results are refused, named). */
export function encodeModel(model: Model): Uint8Array {
  const bytes = ModelProto.type.encode(ModelProto.type.fromObject(model as unknown as Record<string, unknown>)).finish();
  if (bytes.length > MAX_PROTOBUF_BYTES) throw new Error(`the result is ${bytes.length} bytes, over protobuf's 2 GB limit for one file`);
  return bytes;
}

const bytesPerElement: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2, [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8 };

export const elementCount = (t: Tensor): number => t.dims.reduce<number>((n, d) => n * num(d), 1);

/** Bytes a tensor's values take in the file. */
export function tensorBytes(t: Tensor): number {
  if (t.rawData !== undefined && t.rawData.length > 0) return t.rawData.length;
  return elementCount(t) * (bytesPerElement[t.dataType] ?? 4);
}

/** The values of an FP32 tensor. */
export function floatValues(t: Tensor): Float32Array {
  if (t.rawData !== undefined && t.rawData.length > 0) return new Float32Array(Uint8Array.from(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

/** The values of an integer tensor (any width), as numbers. */
export function intValues(t: Tensor): number[] {
  const raw = t.rawData !== undefined && t.rawData.length > 0 ? Uint8Array.from(t.rawData).buffer : undefined;
  switch (t.dataType) {
    case DataType.INT64: return raw ? Array.from(new BigInt64Array(raw), Number) : (t.int64Data ?? []).map(num);
    case DataType.INT32: return raw ? Array.from(new Int32Array(raw)) : (t.int32Data ?? []);
    case DataType.INT16: return raw ? Array.from(new Int16Array(raw)) : (t.int32Data ?? []);
    case DataType.UINT16: return raw ? Array.from(new Uint16Array(raw)) : (t.int32Data ?? []);
    case DataType.INT8: return raw ? Array.from(new Int8Array(raw)) : (t.int32Data ?? []);
    case DataType.UINT8: return raw ? Array.from(new Uint8Array(raw)) : (t.int32Data ?? []);
    default: throw new Error(`tensor "${t.name}" is not an integer tensor (data type ${t.dataType})`);
  }
}

/** A tensor holding `values` as raw little-endian data. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: ArrayBufferView): Tensor {
  return { name, dataType, dims: [...dims], rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export function makeNode(opType: string, input: string[], output: string[], attributes: Record<string, number | number[] | Tensor> = {}, name?: string, domain?: string): Node {
  const attribute: Attribute[] = Object.entries(attributes).map(([key, value]) => {
    if (Array.isArray(value)) return { name: key, type: AttributeType.INTS, ints: value };
    if (typeof value === 'number') return { name: key, type: AttributeType.INT, i: value };
    return { name: key, type: AttributeType.TENSOR, t: value };
  });
  return { opType, input, output, attribute, ...(name !== undefined ? { name } : {}), ...(domain !== undefined ? { domain } : {}) };
}

export const attribute = (node: Node, name: string): Attribute | undefined => node.attribute.find((a) => a.name === name);
export const intAttribute = (node: Node, name: string, fallback: number): number => {
  const a = attribute(node, name);
  return a?.i !== undefined ? num(a.i) : fallback;
};
export const floatAttribute = (node: Node, name: string, fallback: number): number => attribute(node, name)?.f ?? fallback;
export const intsAttribute = (node: Node, name: string): number[] | undefined => attribute(node, name)?.ints?.map(num);

/** The opset the model imports for a domain ('' is ai.onnx). */
export function opsetVersion(model: Model, domain = ''): number {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry === undefined ? 0 : num(entry.version);
}

export function setOpsetVersion(model: Model, version: number, domain = ''): void {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === domain);
  if (entry !== undefined) entry.version = version;
  else model.opsetImport.push({ domain, version });
}
