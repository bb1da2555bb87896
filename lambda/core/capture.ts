/**
 * Data capture, as SageMaker offers it: a sampled share of requests and their answers, one JSON
 * line each, for drift analysis and for replaying real traffic. The record holds the decoded
 * tensors (whatever the protocol, JSON or binary, v2 or :predict), so every capture reads the same.
 */
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
 * A capture of a task request: what the module keeps of the inputs (`captured`: texts, images by
 * sha256 and size unless config asks for the tensor, pairs, questions), the answer, and per input
 * the drift signals the module declares, named, in its order (rows as the drift job reads them).
 */
export function pendingTaskCapture(model: LoadedModel, captured: unknown, answer: string, rows: readonly (readonly number[])[], signals: readonly { readonly name: string; readonly kind: string }[]): PendingCapture {
  const task = JSON.stringify(model.task?.module.name ?? 'unknown');
  return capture(model, () => `"kind":"task","task":${task},"request":${JSON.stringify(captured)},"response":${answer},"drift":{"signals":${JSON.stringify(signals)},"rows":${JSON.stringify(rows)}}`);
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
