/**
 * Tensor values both ways: JSON values (nested or flat lists, numbers, strings of digits for exact
 * 64-bit integers, "NaN"/"Infinity" for non-finite floats) into typed arrays, checked value by
 * value, and typed arrays back into exact JSON text or JS values.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DatatypeInfo } from './datatypes.ts';
import { badRequest, showValue } from './errors.ts';
import { MAX_NESTING } from './json.ts';

/** A data list, nested or flat, as one flat list of values; 400 past 32 levels of nesting. */
export function flattenData(data: unknown, name: string): readonly unknown[] {
  if (!Array.isArray(data)) throw badRequest(`input "${name}" "data" must be a list, got ${showValue(data)}`);
  // A list whose first item is not a list is flat (the usual case, checked in O(1), not O(n)): a list
  // nested further on is ragged, and its first list item fails the value check with its index.
  if (!Array.isArray(data[0])) return data;
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

/** The only texts that stand for non-finite values (a Map: a plain object would also match "constructor", "__proto__", ...). */
const NON_FINITE = new Map<unknown, number>([['NaN', Number.NaN], ['Infinity', Number.POSITIVE_INFINITY], ['-Infinity', Number.NEGATIVE_INFINITY]]);
const INTEGER_TEXT = /^-?\d+$/;

/** Values into the typed data of a datatype, each one checked; 400 naming the first bad value and why. */
export function convertValues(values: readonly unknown[], info: DatatypeInfo, name: string): Tensor.DataType {
  const n = values.length;
  const fail = (index: number, why: string): never => {
    throw badRequest(`input "${name}" value at index ${index} is ${showValue(values[index])}, ${why}`, 'invalid_value');
  };
  switch (info.kind) {
    case 'float':
    case 'half': {
      const out = info.kind === 'half' ? new Float16Array(n) : info.v2 === 'FP32' ? new Float32Array(n) : new Float64Array(n);
      // A finite value that rounds to infinity in the tensor's precision would be silently wrong.
      const round = info.kind === 'half' ? Math.f16round : info.v2 === 'FP32' ? Math.fround : (x: number) => x;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v === 'number') {
          // Stored first, checked once in the tensor's precision: a finite value that rounds to
          // infinity there would be silently wrong. A JSON number is always finite as written;
          // JSON.parse gives Infinity only for one past FP64's range (1e400).
          out[i] = v;
          if (!Number.isFinite(out[i])) fail(i, Number.isFinite(v) ? `out of range for ${info.v2} (max magnitude ${info.max})` : `out of range for ${info.v2} (max magnitude ${info.max}); send "Infinity" or "-Infinity" for infinities`);
          continue;
        }
        let value: number;
        if (typeof v === 'bigint') value = Number(v);
        else if (NON_FINITE.has(v)) value = NON_FINITE.get(v)!;
        else fail(i, `not a number (${info.v2})`);
        if (Number.isFinite(value!) && !Number.isFinite(round(value!))) fail(i, `out of range for ${info.v2} (max magnitude ${info.max})`);
        out[i] = value!;
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
