/**
 * Open Inference Protocol (v2) JSON tensors to onnxruntime tensors and back. Every check names the
 * input and what was expected; data goes straight into typed arrays (onnxruntime takes them without
 * a copy), and 64-bit integers stay exact both ways.
 */
import { Tensor } from 'onnxruntime-node';
import { datatypeFromV2, V2_DATATYPES, type DatatypeInfo } from './datatypes.ts';
import { badRequest } from './errors.ts';
import type { LoadedModel } from './model-repository.ts';
import { formatShape, type TensorSpec } from './signature.ts';

const MAX_NESTING = 32;

export interface DecodedRequest {
  readonly id: string | undefined;
  readonly feeds: Record<string, Tensor>;
  /** Outputs to return, in the order asked (all of the model's outputs when none are named). */
  readonly outputNames: string[];
  /** Outputs to return as raw bytes after the JSON (binary tensor extension). */
  readonly binaryOutputs: ReadonlySet<string>;
  /** First dimension of the first input, for metrics. */
  readonly batchSize: number;
}

export interface RequestInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: unknown;
  /** The input's raw little-endian bytes, when sent with the binary tensor extension. */
  readonly binary?: Uint8Array;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const show = (value: unknown): string => {
  const text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
};

/**
 * Checks a v2 inference request body against a model's signature and builds its feeds. With the
 * binary tensor extension (as Triton implements it), `binary` holds the bytes after the JSON
 * header, and inputs with parameters.binary_data_size take their data from it, in order.
 */
export function decodeInferRequest(body: unknown, model: LoadedModel, binary?: Uint8Array): DecodedRequest {
  if (!isObject(body)) throw badRequest('request body must be a JSON object with an "inputs" list');
  const { id, inputs, outputs, parameters } = body;
  if (id !== undefined && typeof id !== 'string') throw badRequest(`"id" must be a string, got ${show(id)}`);
  if (parameters !== undefined && !isObject(parameters)) throw badRequest('"parameters" must be a JSON object');
  if (inputs === undefined) throw badRequest('request has no "inputs" list');
  if (!Array.isArray(inputs)) throw badRequest(`"inputs" must be a list of tensors, got ${show(inputs)}`);
  const feeds: Record<string, Tensor> = {};
  let batchSize = 0;
  let offset = 0;
  inputs.forEach((input: unknown, index: number) => {
    const size = isObject(input) && isObject(input.parameters) ? input.parameters.binary_data_size : undefined;
    let checked = checkRequestInput(input, index, size !== undefined);
    if (size !== undefined) {
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw badRequest(`input "${checked.name}" parameters.binary_data_size must be an integer >= 0, got ${show(size)}`);
      if (binary === undefined) throw badRequest(`input "${checked.name}" declares binary_data_size but the request has no binary part (send the Inference-Header-Content-Length header)`);
      if (offset + size > binary.length) throw badRequest(`input "${checked.name}" declares ${size} binary bytes but only ${binary.length - offset} remain after the JSON header`);
      checked = { ...checked, binary: binary.subarray(offset, offset + size) };
      offset += size;
    } else if (checked.data === undefined) throw badRequest(`input "${checked.name}" has no "data"`);
    const spec = model.signature.inputs.find((s) => s.name === checked.name);
    if (spec === undefined) {
      throw badRequest(`unknown input "${checked.name}" for model "${model.name}"; it expects: ${model.signature.inputs.map((s) => s.name).join(', ')}`, 'input_mismatch');
    }
    if (feeds[checked.name] !== undefined) throw badRequest(`input "${checked.name}" is given twice`);
    feeds[checked.name] = decodeTensor(checked, spec, model);
    if (index === 0) batchSize = checked.shape[0] ?? 1;
  });
  for (const spec of model.signature.inputs) {
    if (feeds[spec.name] === undefined) {
      throw badRequest(`missing input "${spec.name}" for model "${model.name}"; it expects: ${model.signature.inputs.map((s) => s.name).join(', ')}`, 'input_mismatch');
    }
  }
  if (binary !== undefined && offset !== binary.length) {
    throw badRequest(`the binary part has ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}`);
  }
  const outputNames = decodeRequestedOutputs(outputs, model);
  const allBinary = isObject(parameters) && parameters.binary_data_output === true;
  const binaryOutputs = new Set(
    outputNames.filter((name) => allBinary || (Array.isArray(outputs) && outputs.some((o: unknown) => isObject(o) && o.name === name && isObject(o.parameters) && o.parameters.binary_data === true))),
  );
  return { id, feeds, outputNames, binaryOutputs, batchSize };
}

function checkRequestInput(input: unknown, index: number, dataMayBeBinary = false): RequestInput {
  if (!isObject(input)) throw badRequest(`inputs[${index}] must be a JSON object with name, shape, datatype and data`);
  const { name, shape, datatype, data } = input;
  if (typeof name !== 'string' || name === '') throw badRequest(`inputs[${index}] has no "name"`);
  if (typeof datatype !== 'string') throw badRequest(`input "${name}" has no "datatype"; expected one of ${V2_DATATYPES.join(', ')}`);
  if (!Array.isArray(shape)) throw badRequest(`input "${name}" has no "shape" list`);
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) {
      throw badRequest(`input "${name}" shape ${show(shape)} is invalid: every dimension must be an integer >= 0, got ${show(dim)}`);
    }
  }
  if (data === undefined && !dataMayBeBinary) throw badRequest(`input "${name}" has no "data"`);
  return { name, shape: shape as number[], datatype, data };
}

function decodeRequestedOutputs(outputs: unknown, model: LoadedModel): string[] {
  const all = model.signature.outputs.map((s) => s.name);
  if (outputs === undefined) return all;
  if (!Array.isArray(outputs)) throw badRequest('"outputs" must be a list of {"name": ...} objects');
  const names = outputs.map((output: unknown, index: number) => {
    if (!isObject(output) || typeof output.name !== 'string') throw badRequest(`outputs[${index}] must be an object with a "name"`);
    if (!all.includes(output.name)) {
      throw badRequest(`unknown output "${output.name}" for model "${model.name}"; it has: ${all.join(', ')}`, 'input_mismatch');
    }
    return output.name;
  });
  return names.length > 0 ? [...new Set(names)] : all;
}

/** Checks one input's datatype, shape and data against its spec and converts the data. */
export function decodeTensor(input: RequestInput, spec: TensorSpec, model: LoadedModel): Tensor {
  const { name, shape } = input;
  const info = datatypeFromV2(input.datatype);
  if (info === undefined) {
    throw badRequest(`input "${name}" has unknown datatype "${input.datatype}"; expected one of ${V2_DATATYPES.join(', ')}`, 'wrong_datatype');
  }
  if (info.v2 !== spec.datatype.v2) {
    throw badRequest(`input "${name}" has datatype ${info.v2} but model "${model.name}" expects ${spec.datatype.v2}`, 'wrong_datatype');
  }
  if (spec.shape.length > 0 && shape.length !== spec.shape.length) {
    throw badRequest(`input "${name}" has shape ${formatShape(shape)} (rank ${shape.length}) but model "${model.name}" expects rank ${spec.shape.length}: ${formatShape(spec.shape)}`, 'wrong_shape');
  }
  spec.shape.forEach((expected, dim) => {
    if (expected >= 0 && shape[dim] !== expected) {
      throw badRequest(`input "${name}" dimension ${dim} is ${shape[dim]} but model "${model.name}" expects ${expected} (shape ${formatShape(spec.shape)})`, 'wrong_shape');
    }
  });
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && spec.shape[0] === -1 && shape[0] > maxBatch) {
    throw badRequest(`input "${name}" batch size ${shape[0]} is over model "${model.name}"'s maxBatchSize ${maxBatch}; split the request or use batch prediction`, 'batch_too_large');
  }
  const expectedCount = shape.reduce((a, b) => a * b, 1);
  let data: Tensor.DataType;
  if (input.binary !== undefined) data = decodeBinary(input.binary, info, expectedCount, name, shape);
  else {
    const values = flattenData(input.data, name);
    if (values.length !== expectedCount) {
      throw badRequest(`input "${name}" has ${values.length} values but shape ${formatShape(shape)} needs ${expectedCount}`, 'wrong_shape');
    }
    data = convertValues(values, info, name);
  }
  const tensor = new Tensor(info.ort, data, shape);
  if (info.kind === 'half') {
    // onnxruntime-common turns float16 data into a Float16Array where the runtime has one (Node 24),
    // and the Node binding then sees zero bytes (onnxruntime #26791); hand it the raw bits back.
    (tensor as unknown as { cpuData: Uint16Array }).cpuData = data as Uint16Array;
  }
  return tensor;
}

const TYPED: Record<string, new (buffer: ArrayBuffer) => Tensor.DataType> = {
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array, INT8: Int8Array, INT16: Int16Array,
  INT32: Int32Array, INT64: BigInt64Array, FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array, BOOL: Uint8Array,
};

/** Raw little-endian tensor bytes (BYTES: each element a 4-byte length, then its bytes) into typed data. */
function decodeBinary(bytes: Uint8Array, info: DatatypeInfo, count: number, name: string, shape: readonly number[]): Tensor.DataType {
  if (info.v2 === 'BYTES') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: string[] = [];
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 4 > bytes.length) throw badRequest(`input "${name}" binary data ends after ${i} of ${count} BYTES elements`);
      const length = view.getUint32(at, true);
      if (at + 4 + length > bytes.length) throw badRequest(`input "${name}" BYTES element ${i} declares ${length} bytes past the end of its binary data`);
      out.push(Buffer.from(bytes.buffer, bytes.byteOffset + at + 4, length).toString('utf8'));
      at += 4 + length;
    }
    if (at !== bytes.length) throw badRequest(`input "${name}" binary data has ${bytes.length - at} bytes left after its ${count} BYTES elements`);
    return out;
  }
  if (bytes.length !== count * info.byteSize) {
    throw badRequest(`input "${name}" binary_data_size is ${bytes.length} bytes but shape ${formatShape(shape)} of ${info.v2} needs ${count * info.byteSize}`);
  }
  // Copied into an aligned buffer: typed arrays need element-aligned offsets.
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const data = new TYPED[info.v2](aligned.buffer);
  if (info.kind === 'bool' && (data as Uint8Array).some((b) => b > 1)) throw badRequest(`input "${name}" BOOL binary data must hold bytes 0 or 1`);
  return data;
}

/** A tensor's data as raw little-endian bytes (BYTES: length-prefixed elements), for binary outputs. */
export function encodeTensorBytes(tensor: Tensor): Buffer {
  if (tensor.type === 'string') {
    return Buffer.concat((tensor.data as string[]).flatMap((text) => {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }));
  }
  const data = tensor.data as Uint8Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function flattenData(data: unknown, name: string): readonly unknown[] {
  if (!Array.isArray(data)) throw badRequest(`input "${name}" "data" must be a list, got ${show(data)}`);
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (list: readonly unknown[], depth: number): void => {
    if (depth > MAX_NESTING) throw badRequest(`input "${name}" "data" is nested deeper than ${MAX_NESTING} levels`);
    for (const item of list) {
      if (Array.isArray(item)) walk(item, depth + 1);
      else out.push(item);
    }
  };
  walk(data, 1);
  return out;
}

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };
const INTEGER_TEXT = /^-?\d+$/;

function convertValues(values: readonly unknown[], info: DatatypeInfo, name: string): Tensor.DataType {
  const n = values.length;
  const fail = (index: number, why: string): never => {
    throw badRequest(`input "${name}" value at index ${index} is ${show(values[index])}, ${why}`, 'invalid_value');
  };
  switch (info.kind) {
    case 'float':
    case 'half': {
      const out = info.kind === 'half' ? new Float16Array(n) : info.v2 === 'FP32' ? new Float32Array(n) : new Float64Array(n);
      // A finite value that rounds to infinity in the tensor's precision would be silently wrong.
      const round = info.kind === 'half' ? Math.f16round : info.v2 === 'FP32' ? Math.fround : (x: number) => x;
      for (let i = 0; i < n; i++) {
        let v = values[i];
        if (typeof v !== 'number') {
          if (typeof v === 'bigint') v = Number(v);
          else if (typeof v === 'string' && v in NON_FINITE) v = NON_FINITE[v];
          else fail(i, `not a number (${info.v2})`);
        }
        if (Number.isFinite(v) && !Number.isFinite(round(v as number))) fail(i, `out of range for ${info.v2} (max magnitude ${info.max})`);
        out[i] = v as number;
      }
      // onnxruntime-node takes float16 as its raw bits (it rejects Float16Array; onnxruntime #26791).
      return out instanceof Float16Array ? new Uint16Array(out.buffer) : out;
    }
    case 'int': {
      const Ctor = { UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, INT8: Int8Array, INT16: Int16Array, INT32: Int32Array }[info.v2 as 'UINT8'];
      const out = new Ctor(n);
      const min = info.min as number;
      const max = info.max as number;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' && typeof v !== 'bigint') fail(i, `not an integer (${info.v2})`);
        if (typeof v === 'number' && !Number.isInteger(v)) fail(i, `not an integer (${info.v2})`);
        const num = Number(v);
        if (num < min || num > max) fail(i, `out of range for ${info.v2} (${min}..${max})`);
        out[i] = num;
      }
      return out;
    }
    case 'bigint': {
      const out = info.v2 === 'INT64' ? new BigInt64Array(n) : new BigUint64Array(n);
      const min = info.min as bigint;
      const max = info.max as bigint;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        let big: bigint;
        if (typeof v === 'bigint') big = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
        else if (typeof v === 'string' && INTEGER_TEXT.test(v)) big = BigInt(v);
        else if (typeof v === 'number' && Number.isInteger(v)) return fail(i, `an integer JSON cannot carry exactly here; send it as a string of digits (${info.v2})`);
        else return fail(i, `not an integer (${info.v2})`);
        if (big < min || big > max) fail(i, `out of range for ${info.v2} (${min}..${max})`);
        out[i] = big;
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') fail(i, 'not true or false (BOOL)');
        out[i] = v ? 1 : 0;
      }
      return out;
    }
    case 'string': {
      for (let i = 0; i < n; i++) if (typeof values[i] !== 'string') fail(i, 'not a string (BYTES)');
      return values as string[];
    }
  }
}

/** A tensor's data as JSON array text: exact for 64-bit integers, and NaN/Infinity as strings. */
export function encodeTensorData(tensor: Tensor): string {
  const data = tensor.data;
  switch (tensor.type) {
    case 'string':
      return JSON.stringify(data);
    case 'bool':
      return `[${Array.from(data as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
    case 'float16':
      return encodeFloats(asFloat16(data as Uint16Array | Float16Array));
    case 'float32':
    case 'float64':
      return encodeFloats(data as Float32Array | Float64Array);
    default:
      // Integer typed arrays (BigInt ones included) join to exact decimal text.
      return `[${(data as Int32Array).join(',')}]`;
  }
}

/** float16 outputs arrive as Float16Array on Node 24, as raw Uint16Array bits elsewhere. */
const asFloat16 = (data: Uint16Array | Float16Array): Float16Array =>
  data instanceof Float16Array ? data : new Float16Array(data.buffer, data.byteOffset, data.length);

function encodeFloats(data: Float16Array | Float32Array | Float64Array): string {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      return `[${Array.from(data, (v) => (Number.isFinite(v) ? String(v) : `"${v}"`)).join(',')}]`;
    }
  }
  return `[${data.join(',')}]`;
}

/** A tensor's data as JS values (BigInt for 64-bit integers), for row-shaped answers. */
export function tensorValues(tensor: Tensor): unknown[] {
  const data = tensor.data;
  switch (tensor.type) {
    case 'bool':
      return Array.from(data as Uint8Array, (v) => v !== 0);
    case 'float16':
      return Array.from(asFloat16(data as Uint16Array | Float16Array));
    default:
      return Array.from(data as ArrayLike<unknown>);
  }
}

export interface EncodedAnswer {
  /** The JSON body, or the JSON header when outputs travel as binary. */
  readonly json: string;
  /** Raw bytes of the binary outputs, in order, after the JSON header. */
  readonly binary: readonly Buffer[];
}

/** The response body of an inference: model name and version, the request id, and the outputs asked for. */
export function encodeInferResponse(model: LoadedModel, id: string | undefined, outputNames: readonly string[], results: Record<string, Tensor>, binaryOutputs: ReadonlySet<string> = new Set()): EncodedAnswer {
  const binary: Buffer[] = [];
  const outputs = outputNames.map((name) => {
    const tensor = results[name];
    const spec = model.signature.outputs.find((s) => s.name === name)!;
    const head = `{"name":${JSON.stringify(name)},"datatype":"${spec.datatype.v2}","shape":[${tensor.dims.join(',')}]`;
    if (!binaryOutputs.has(name)) return `${head},"data":${encodeTensorData(tensor)}}`;
    const bytes = encodeTensorBytes(tensor);
    binary.push(bytes);
    return `${head},"parameters":{"binary_data_size":${bytes.length}}}`;
  });
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  return { json: `{"model_name":${JSON.stringify(model.name)},"model_version":"${model.version}"${idPart},"outputs":[${outputs.join(',')}]}`, binary };
}
