/**
 * v2 tensors in and out: the JSON form, and the binary tensor extension (Triton's: a JSON header of
 * `Inference-Header-Content-Length` bytes, then each tensor's raw little-endian bytes; BYTES elements
 * as a 4-byte length and the bytes). Numbers come back as typed arrays, INT64/UINT64 as BigInt64Array /
 * BigUint64Array (exact past 2^53), BYTES as strings.
 */

export type Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export type TypedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

/** A tensor's values: a typed array, strings (BYTES), booleans (BOOL), or numbers (flat or nested). */
export type TensorData = TypedArray | readonly string[] | readonly boolean[] | readonly unknown[];

/** A tensor as the v2 protocol describes it. FP16 values travel as their raw bits (Uint16Array). */
export interface Tensor<D = TensorData> {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: D;
  readonly parameters?: Record<string, unknown>;
}

/** An input given by name: a typed array (shape [length] unless given) or values with a shape. */
export type NamedInput = TypedArray | { readonly data: TensorData; readonly shape: readonly number[]; readonly datatype?: Datatype };

/** An answer's tensor: typed arrays for numbers, strings for BYTES, booleans for BOOL. */
export type OutputTensor = Tensor<TypedArray | string[] | boolean[]>;

const BYTES_PER_ELEMENT: Partial<Record<Datatype, number>> = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 };

type TypedArrayConstructor = { new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray; new (length: number): TypedArray; readonly BYTES_PER_ELEMENT: number };

const ARRAY_TYPES: Partial<Record<Datatype, TypedArrayConstructor>> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  FP16: Uint16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  FP32: Float32Array,
  UINT64: BigUint64Array as unknown as TypedArrayConstructor,
  INT64: BigInt64Array as unknown as TypedArrayConstructor,
  FP64: Float64Array,
};

/** The datatype a typed array carries (Uint16Array is UINT16: FP16 must be named). */
export function datatypeOf(data: TensorData): Datatype {
  if (data instanceof Float32Array) return 'FP32';
  if (data instanceof Float64Array) return 'FP64';
  if (data instanceof Int32Array) return 'INT32';
  if (data instanceof BigInt64Array) return 'INT64';
  if (data instanceof BigUint64Array) return 'UINT64';
  if (data instanceof Uint8Array) return 'UINT8';
  if (data instanceof Int8Array) return 'INT8';
  if (data instanceof Int16Array) return 'INT16';
  if (data instanceof Uint16Array) return 'UINT16';
  if (data instanceof Uint32Array) return 'UINT32';
  const first = firstLeaf(data);
  if (typeof first === 'string') return 'BYTES';
  if (typeof first === 'boolean') return 'BOOL';
  if (typeof first === 'bigint') return 'INT64';
  throw new TypeError('give the datatype of an input whose values are plain numbers (e.g. { data, shape, datatype: "FP32" }), or pass a typed array');
}

function firstLeaf(data: unknown): unknown {
  let value = data;
  while (Array.isArray(value)) value = value[0];
  return value;
}

/** Inputs as the v2 list, from the list itself or a record of name → typed array / { data, shape }. */
export function toInputList(inputs: readonly Tensor[] | Record<string, NamedInput>): Tensor[] {
  if (Array.isArray(inputs)) return (inputs as Tensor[]).map((t) => ({ ...t, datatype: t.datatype ?? datatypeOf(t.data) }));
  return Object.entries(inputs as Record<string, NamedInput>).map(([name, input]) => {
    if (ArrayBuffer.isView(input)) return { name, datatype: datatypeOf(input as TypedArray), shape: [(input as TypedArray).length], data: input as TypedArray };
    const given = input as Exclude<NamedInput, TypedArray>;
    return { name, datatype: given.datatype ?? datatypeOf(given.data), shape: given.shape, data: given.data };
  });
}

const flatten = (data: readonly unknown[]): unknown[] => (data.some(Array.isArray) ? (data as unknown[]).flat(Infinity) : (data as unknown[]));

/** A tensor's values as JSON values: 64-bit integers as strings of digits (exact), NaN and infinities as the protocol's strings. */
function jsonValues(tensor: Tensor): unknown[] {
  const values: unknown[] = ArrayBuffer.isView(tensor.data) ? Array.from(tensor.data as ArrayLike<unknown>) : flatten(tensor.data as readonly unknown[]);
  return values.map((v) => (typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

/** The byte length of a tensor's values in the binary extension (for the threshold). */
export function binaryByteLength(tensor: Tensor): number {
  if (tensor.datatype === 'BYTES') return flatten(tensor.data as readonly unknown[]).reduce<number>((sum, s) => sum + 4 + utf8.encode(String(s)).length, 0);
  if (ArrayBuffer.isView(tensor.data)) return (tensor.data as TypedArray).byteLength;
  return flatten(tensor.data as readonly unknown[]).length * (BYTES_PER_ELEMENT[tensor.datatype] ?? 8);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** A tensor's values as little-endian bytes (the machines this runs on are little-endian; checked once). */
function binaryValues(tensor: Tensor): Uint8Array {
  if (tensor.datatype === 'BYTES') {
    const parts = flatten(tensor.data as readonly unknown[]).map((s) => (s instanceof Uint8Array ? s : utf8.encode(String(s))));
    const out = new Uint8Array(parts.reduce((sum, p) => sum + 4 + p.length, 0));
    const view = new DataView(out.buffer);
    let offset = 0;
    for (const part of parts) {
      view.setUint32(offset, part.length, true);
      out.set(part, offset + 4);
      offset += 4 + part.length;
    }
    return out;
  }
  const Type = ARRAY_TYPES[tensor.datatype];
  if (Type === undefined) throw new TypeError(`unknown datatype ${tensor.datatype}`);
  let array: TypedArray;
  if (ArrayBuffer.isView(tensor.data) && (tensor.data as TypedArray).BYTES_PER_ELEMENT === Type.BYTES_PER_ELEMENT) array = tensor.data as TypedArray;
  else {
    const values = ArrayBuffer.isView(tensor.data) ? Array.from(tensor.data as ArrayLike<unknown>) : flatten(tensor.data as readonly unknown[]);
    array = new Type(values.length);
    const big = tensor.datatype === 'INT64' || tensor.datatype === 'UINT64';
    for (let i = 0; i < values.length; i++) (array as unknown as unknown[])[i] = big ? BigInt(values[i] as number) : tensor.datatype === 'BOOL' ? Number(Boolean(values[i])) : Number(values[i]);
  }
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('@modelship/client needs a little-endian machine (the binary tensor extension is little-endian)');

export interface EncodedRequest {
  readonly body: Uint8Array | string;
  readonly headers: Record<string, string>;
}

export interface InferBody {
  readonly id?: string;
  readonly parameters?: Record<string, unknown>;
  readonly outputs?: readonly { name: string; parameters?: Record<string, unknown> }[];
}

/**
 * A v2 request: JSON, or binary when the inputs' values reach `binaryThreshold` bytes. Outputs are
 * asked for in binary when `binaryOutputs` (exact INT64 and no JSON number parsing).
 */
export function encodeInferRequest(inputs: Tensor[], body: InferBody, options: { binaryThreshold: number; binaryOutputs: boolean }): EncodedRequest {
  const binary = inputs.reduce((sum, t) => sum + binaryByteLength(t), 0) >= options.binaryThreshold;
  const parameters = options.binaryOutputs && body.outputs === undefined ? { ...body.parameters, binary_data_output: true } : body.parameters;
  const outputs = options.binaryOutputs && body.outputs !== undefined ? body.outputs.map((o) => ({ ...o, parameters: { ...o.parameters, binary_data: true } })) : body.outputs;
  const head = { ...(body.id === undefined ? {} : { id: body.id }), ...(parameters === undefined ? {} : { parameters }), ...(outputs === undefined ? {} : { outputs }) };
  if (!binary) {
    const json = JSON.stringify({ ...head, inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, ...(t.parameters ? { parameters: t.parameters } : {}), data: jsonValues(t) })) });
    return { body: json, headers: { 'Content-Type': 'application/json' } };
  }
  const values = inputs.map(binaryValues);
  const header = utf8.encode(JSON.stringify({ ...head, inputs: inputs.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: { ...t.parameters, binary_data_size: values[i].length } })) }));
  const out = new Uint8Array(header.length + values.reduce((sum, v) => sum + v.length, 0));
  out.set(header, 0);
  let offset = header.length;
  for (const v of values) {
    out.set(v, offset);
    offset += v.length;
  }
  return { body: out, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) } };
}

export interface InferResult {
  readonly modelName: string;
  readonly modelVersion?: string;
  readonly id?: string;
  readonly parameters?: Record<string, unknown>;
  /** In the order the server gave them. */
  readonly outputs: OutputTensor[];
  /** The same outputs by name. */
  readonly byName: Record<string, OutputTensor>;
}

interface WireOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown> & { binary_data_size?: number };
}

/** An answer, JSON or binary (the header length given), as typed arrays. */
export function decodeInferResponse(bytes: Uint8Array, headerLength: number | undefined): InferResult {
  const headerBytes = headerLength === undefined ? bytes : bytes.subarray(0, headerLength);
  const header = JSON.parse(utf8Decoder.decode(headerBytes)) as { model_name: string; model_version?: string; id?: string; parameters?: Record<string, unknown>; outputs: WireOutput[] };
  let offset = headerLength ?? bytes.length;
  const outputs = header.outputs.map((o): OutputTensor => {
    const size = o.parameters?.binary_data_size;
    const { binary_data_size: _, ...parameters } = o.parameters ?? {};
    const base = { name: o.name, datatype: o.datatype, shape: o.shape, ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
    if (size === undefined) return { ...base, data: fromJson(o) };
    if (offset + size > bytes.length) throw new Error(`the answer declares ${size} bytes for output "${o.name}" but only ${bytes.length - offset} remain`);
    const raw = bytes.slice(offset, offset + size); // a copy: aligned for the typed array
    offset += size;
    return { ...base, data: fromBinary(o.datatype, raw) };
  });
  return { modelName: header.model_name, modelVersion: header.model_version, id: header.id, parameters: header.parameters, outputs, byName: Object.fromEntries(outputs.map((o) => [o.name, o])) };
}

function fromBinary(datatype: Datatype, raw: Uint8Array): TypedArray | string[] | boolean[] {
  if (datatype === 'BYTES') {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: string[] = [];
    for (let offset = 0; offset < raw.length; ) {
      const length = view.getUint32(offset, true);
      out.push(utf8Decoder.decode(raw.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    return out;
  }
  if (datatype === 'BOOL') return Array.from(raw, (b) => b !== 0);
  const Type = ARRAY_TYPES[datatype]!;
  return new Type(raw.buffer, raw.byteOffset, raw.byteLength / Type.BYTES_PER_ELEMENT);
}

/** JSON values as typed arrays (64-bit integers that JSON.parse rounded are only exact when the server sent strings: ask for binary outputs). */
function fromJson(output: WireOutput): TypedArray | string[] | boolean[] {
  const values = flatten(output.data ?? []);
  if (output.datatype === 'BYTES') return values.map(String);
  if (output.datatype === 'BOOL') return values.map(Boolean);
  const Type = ARRAY_TYPES[output.datatype]!;
  const array = new Type(values.length);
  const big = output.datatype === 'INT64' || output.datatype === 'UINT64';
  for (let i = 0; i < values.length; i++) (array as unknown as unknown[])[i] = big ? BigInt(values[i] as number | string) : Number(values[i]);
  return array;
}
