/**
 * Data capture, as SageMaker offers it: a sampled share of requests and their answers, one JSON
 * line each, for drift analysis and for replaying real traffic. The record holds the decoded
 * tensors (whatever the protocol, JSON or binary, v2 or :predict), so every capture reads the same.
 */
import { createHash } from 'node:crypto';
import type { Tensor } from 'onnxruntime-node';
import { encodeTensorData } from './tensor-values.ts';
import type { LoadedModel } from './sessions.ts';
import type { TensorSpec } from './signature.ts';

/** A capture the core offers after an answer; the adapter decides when to encode and where to write it. */
export interface PendingCapture {
  readonly model: string;
  readonly version: number;
  /** The model's capture.maxRecordBytes: larger records are skipped. */
  readonly maxRecordBytes: number;
  /** The record as one line of JSON (no newline), built on demand: adapters call it off the request path where they can. */
  encode(extra?: Readonly<Record<string, string>>): string;
}

/** The shape of one capture line, as `encode` writes it. */
export interface CaptureRecord {
  readonly model: string;
  readonly version: number;
  readonly capturedAt: string;
  readonly kind: 'infer' | 'predict';
  readonly id?: string;
  readonly request: { readonly inputs: CapturedTensor[] };
  readonly response: { readonly outputs: CapturedTensor[] };
}

export interface CapturedTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: number[];
  readonly data: unknown[];
}

/**
 * A capture of an image or text request: the texts (images by sha256 and size only: the bytes stay
 * out of logs and the store unless the caller keeps them), the answer, and per input the signals
 * the drift job compares with baseline.json (predicted class, top score, text length).
 */
export function pendingTaskCapture(model: LoadedModel, inputs: { readonly texts?: readonly string[]; readonly images?: readonly Uint8Array[]; readonly pixels?: { readonly dims: readonly number[]; readonly data: Float32Array } }, answer: string, signals: readonly (readonly number[])[]): PendingCapture {
  const images = (inputs.images ?? []).map((bytes) => ({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length }));
  // capture.images "tensor": the decoded input the model saw, its FP32 bytes (little-endian) in base64, exact and a third the
  // size of JSON numbers; a record past maxRecordBytes is skipped and counted as any other.
  const pixels = inputs.pixels;
  const tensor = model.config.capture?.images === 'tensor' && pixels !== undefined ? { tensor: { name: model.task?.image?.input, datatype: 'FP32', shape: pixels.dims, b64: Buffer.from(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength).toString('base64') } } : {};
  const request = inputs.texts !== undefined ? { texts: inputs.texts } : { images, ...tensor };
  return capture(model, `"kind":"task","task":"${model.task?.task}","request":${JSON.stringify(request)},"response":${answer},"drift":{"rows":${JSON.stringify(signals)}}`);
}

/** A pending capture whose line is the adapter's fields, the model, version and time, then `body` (JSON members, encoded on demand). */
function capture(model: LoadedModel, body: string | (() => string)): PendingCapture {
  const capturedAt = new Date().toISOString();
  return {
    model: model.name,
    version: model.version,
    maxRecordBytes: model.config.capture?.maxRecordBytes ?? 200 * 1024,
    encode: (extra = {}) => {
      const head = Object.entries({ ...extra, model: model.name }).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
      return `{${head.join(',')},"version":${model.version},"capturedAt":"${capturedAt}",${typeof body === 'string' ? body : body()}}`;
    },
  };
}

/** Whether this request is sampled: the model's capture.percent, else `fallbackPercent`, else 0 (off). */
export function sampled(model: LoadedModel, fallbackPercent = 0, random: () => number = Math.random): boolean {
  const percent = model.config.capture?.percent ?? fallbackPercent;
  return percent > 0 && random() * 100 < percent;
}

export function pendingCapture(model: LoadedModel, kind: 'infer' | 'predict', id: string | undefined, feeds: Readonly<Record<string, Tensor>>, results: Readonly<Record<string, Tensor>>): PendingCapture {
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  return capture(model, () => `"kind":"${kind}"${idPart},"request":{"inputs":${tensors(model.signature.inputs, feeds)}},"response":{"outputs":${tensors(model.signature.outputs, results)}}`);
}

/** Tensors in signature order, data written exactly (INT64 past 2^53 included) by the codec. */
function tensors(specs: readonly TensorSpec[], values: Readonly<Record<string, Tensor>>): string {
  const parts: string[] = [];
  for (const spec of specs) {
    const tensor = values[spec.name];
    if (tensor === undefined) continue;
    parts.push(`{"name":${JSON.stringify(spec.name)},"datatype":"${spec.datatype.v2}","shape":[${tensor.dims.join(',')}],"data":${encodeTensorData(tensor)}}`);
  }
  return `[${parts.join(',')}]`;
}
