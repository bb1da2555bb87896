/**
 * The v2 binary tensor extension, as Triton implements it: with an Inference-Header-Content-Length
 * header the body is that many bytes of JSON followed by each input's raw little-endian bytes
 * (BYTES: each element a 4-byte length, then its bytes); answers put binary outputs after the JSON
 * header the same way.
 */
import type { Tensor } from 'onnxruntime-node';
import type { DatatypeInfo } from './datatypes.ts';
import { badRequest } from './errors.ts';
import { parseJsonBody, type ParseOptions } from './json.ts';
import { formatShape } from './signature.ts';

export const BINARY_HEADER = 'inference-header-content-length';

/** A request body split into its JSON header (parsed) and the binary part after it. */
export function splitBinaryRequest(body: unknown, headerLength: string, options: ParseOptions = {}): { body: unknown; binary: Uint8Array } {
  const length = Number(headerLength);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body instanceof Uint8Array ? body : undefined;
  if (bytes === undefined) throw badRequest('a binary request (Inference-Header-Content-Length) needs a raw body, not JSON alone');
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw badRequest(`Inference-Header-Content-Length is "${headerLength}" but the body has ${bytes.length} bytes; it must be the byte length of the JSON header at the start of the body`);
  }
  return { body: parseJsonBody(Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('utf8'), options), binary: bytes.subarray(length) };
}

const TYPED: Record<string, new (buffer: ArrayBuffer) => Tensor.DataType> = {
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array, INT8: Int8Array, INT16: Int16Array,
  INT32: Int32Array, INT64: BigInt64Array, FP16: Uint16Array, FP32: Float32Array, FP64: Float64Array, BOOL: Uint8Array,
};

/** Raw little-endian tensor bytes (BYTES: each element a 4-byte length, then its bytes) into typed data. */
export function decodeBinaryTensor(bytes: Uint8Array, info: DatatypeInfo, count: number, name: string, shape: readonly number[]): Tensor.DataType {
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
