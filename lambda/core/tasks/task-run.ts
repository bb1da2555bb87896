/**
 * Requests to image and text models, on every route that runs a model: a raw body (an image with
 * its image/* content type, or text/plain), the Hugging Face task shape {"inputs": <text | base64
 * image | list of them>, "parameters": {...}}, and :predict's {"instances": [{"b64": ...} | text]}.
 * Each becomes the model's input tensors, one run for the whole batch, and the answer: [{label,
 * score}] per input for classifiers (a list of lists for a batch), number[][] for embeddings.
 */
import { Tensor } from 'onnxruntime-node';
import { badRequest, InferenceError } from '../errors.ts';
import type { CoreRequest } from '../request.ts';
import { observeTask, runSession, type InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';
import { IMAGE_CONTENT_TYPES, TEXT_CONTENT_TYPES, type TaskModel } from './hf-folder.ts';
import { imageToPixels, outputSize } from './images.ts';
import { pool } from './texts.ts';

export type TaskInputs = { readonly kind: 'images'; readonly items: readonly Uint8Array[] } | { readonly kind: 'texts'; readonly items: readonly string[] };

export interface TaskRequest {
  readonly inputs: TaskInputs;
  /** One input sent as such (a raw body, or "inputs" as one value): the answer is not wrapped in a batch list. */
  readonly single: boolean;
  readonly topK?: number;
  readonly functionToApply?: 'softmax' | 'sigmoid' | 'none';
  /** :predict answers {"predictions": [...]}. */
  readonly predict: boolean;
}

export interface TaskAnswer {
  readonly json: string;
  readonly headers: Readonly<Record<string, string>>;
}

const mediaType = (request: CoreRequest): string => (request.headers?.['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
const asBytes = (body: string | Uint8Array): Uint8Array => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
const asText = (body: string | Uint8Array): string => (typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));

/** What a task model takes, said in errors. */
const takes = (task: TaskModel): string => (task.image !== undefined ? `images (${IMAGE_CONTENT_TYPES.join(', ')}, or base64 in JSON)` : `text (${TEXT_CONTENT_TYPES.join(', ')}, or strings in JSON)`);

/** A raw image or text body, answered by the task path; undefined for anything else (JSON, binary tensors). */
export function rawTaskRequest(model: LoadedModel, request: CoreRequest, body: string | Uint8Array): TaskRequest | undefined {
  const type = mediaType(request);
  const image = (IMAGE_CONTENT_TYPES as readonly string[]).includes(type) || type === 'image/jpg';
  const text = (TEXT_CONTENT_TYPES as readonly string[]).includes(type);
  if (!image && !text) {
    if (type.startsWith('image/')) throw new InferenceError(415, `content type ${type} is not supported; send ${IMAGE_CONTENT_TYPES.join(', ')}`, { reason: 'unsupported_media_type' });
    return undefined;
  }
  const task = model.task;
  // A tensor model reads a text/plain body as JSON, as it always has (browsers send JSON as text/plain to skip a preflight).
  if (task === undefined && text) return undefined;
  if (task === undefined) throw new InferenceError(415, `model "${model.name}" takes tensors (JSON or the binary extension), not ${type}; it has no image or text preprocessing`, { reason: 'unsupported_media_type' });
  if (image && task.image === undefined) throw new InferenceError(415, `model "${model.name}" (${task.task}) takes ${takes(task)}, not ${type}`, { reason: 'unsupported_media_type' });
  if (text && task.text === undefined) throw new InferenceError(415, `model "${model.name}" (${task.task}) takes ${takes(task)}, not ${type}`, { reason: 'unsupported_media_type' });
  return { inputs: image ? { kind: 'images', items: [asBytes(body)] } : { kind: 'texts', items: [asText(body)] }, single: true, predict: false };
}

const DATA_URL = /^data:[^;,]*;base64,/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string') throw badRequest(`${where} must be a base64 string of an image`, 'invalid_image');
  const text = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text === '' || !BASE64.test(text)) throw badRequest(`${where} is not base64 (an image must be sent base64-encoded in JSON)`, 'invalid_image');
  return Buffer.from(text, 'base64');
}

function parameters(value: unknown): Pick<TaskRequest, 'topK' | 'functionToApply'> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('"parameters" must be an object');
  const { top_k: topK, function_to_apply: fn, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest).filter((k) => !['truncation', 'classification'].includes(k));
  if (unknown.length > 0) throw badRequest(`"parameters" has ${unknown.map((k) => `"${k}"`).join(', ')}, which this model does not take (top_k, function_to_apply)`);
  if (topK !== undefined && !(Number.isInteger(topK) && (topK as number) > 0)) throw badRequest(`"parameters.top_k" must be a positive integer, got ${JSON.stringify(topK)}`);
  if (fn !== undefined && !['softmax', 'sigmoid', 'none'].includes(fn as string)) throw badRequest(`"parameters.function_to_apply" must be "softmax", "sigmoid" or "none", got ${JSON.stringify(fn)}`);
  return { topK: topK as number | undefined, functionToApply: fn as TaskRequest['functionToApply'] };
}

/**
 * A parsed JSON body in the Hugging Face task shape ({"inputs": text | base64 | [...]}) or
 * :predict's instances of text or {"b64"}; undefined when it is a tensor request (v2 inputs of
 * objects, :predict rows of numbers), which the tensor path answers.
 */
export function jsonTaskRequest(model: LoadedModel, parsed: unknown, kind: 'infer' | 'predict'): TaskRequest | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const body = parsed as Record<string, unknown>;
  const raw = kind === 'infer' ? body.inputs : body.instances;
  const single = typeof raw === 'string';
  const list = single ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (list === undefined || list.length === 0) return undefined;
  const isText = list.every((v) => typeof v === 'string');
  const isB64 = list.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && 'b64' in v);
  if (!isText && !isB64) return undefined;
  const task = model.task;
  const field = kind === 'infer' ? '"inputs"' : '"instances"';
  if (task === undefined) throw badRequest(`model "${model.name}" takes tensors, not ${isText ? 'strings' : 'base64 images'}: send ${kind === 'infer' ? 'v2 "inputs" of {name, datatype, shape, data}' : 'rows of numbers'}`, 'input_mismatch');
  const params = parameters(body.parameters);
  if (isB64 || task.image !== undefined) {
    if (task.image === undefined) throw badRequest(`model "${model.name}" (${task.task}) takes ${takes(task)}; ${field} holds base64 images`, 'input_mismatch');
    const items = list.map((v, i) => decodeBase64(isB64 ? (v as { b64: unknown }).b64 : v, `${field}[${i}]`));
    return { inputs: { kind: 'images', items }, single, predict: kind === 'predict', ...params };
  }
  return { inputs: { kind: 'texts', items: list as string[] }, single, predict: kind === 'predict', ...params };
}

function scores(row: Float32Array, fn: 'softmax' | 'sigmoid' | 'none'): number[] {
  const values = Array.from(row);
  if (fn === 'sigmoid') return values.map((v) => 1 / (1 + Math.exp(-v)));
  if (fn === 'none') return values;
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Runs one task request: inputs to tensors, one run, the answer; 400s name the input at fault. */
export async function runTask(model: LoadedModel, request: TaskRequest, observers?: InferenceObservers): Promise<TaskAnswer> {
  const task = model.task!;
  const started = performance.now();
  const { inputs } = request;
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && inputs.items.length > maxBatch) throw badRequest(`${inputs.items.length} inputs in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}`, 'batch_too_large');
  const feeds: Record<string, Tensor> = {};
  const headers: Record<string, string> = {};
  let mask: BigInt64Array | undefined;
  let length = 0;
  if (inputs.kind === 'images') {
    if (task.image === undefined) throw new InferenceError(415, `model "${model.name}" (${task.task}) takes ${takes(task)}, not images`, { reason: 'unsupported_media_type' });
    const { width, height } = outputSize(task.image);
    const one = width * height * 3;
    const pixels = new Float32Array(one * inputs.items.length);
    const decoded = await Promise.all(inputs.items.map((bytes, i) => imageToPixels(bytes, task.image!, request.single ? 'the body' : `input ${i}`)));
    decoded.forEach((p, i) => pixels.set(p, i * one));
    const dims = task.image.layout === 'nchw' ? [inputs.items.length, 3, height, width] : [inputs.items.length, height, width, 3];
    feeds[task.image.input] = new Tensor('float32', pixels, dims);
  } else {
    if (task.text === undefined) throw new InferenceError(415, `model "${model.name}" (${task.task}) takes ${takes(task)}, not text`, { reason: 'unsupported_media_type' });
    const text = task.text;
    const batch = text.encoder.encode(inputs.items, text.truncate);
    const dims = [inputs.items.length, batch.length];
    feeds[text.inputIds] = new Tensor('int64', batch.inputIds, dims);
    if (text.attentionMask !== undefined) feeds[text.attentionMask] = new Tensor('int64', batch.attentionMask, dims);
    if (text.tokenTypeIds !== undefined) feeds[text.tokenTypeIds] = new Tensor('int64', batch.tokenTypeIds, dims);
    if (batch.truncated.length > 0) headers['X-Truncated-Inputs'] = batch.truncated.join(',');
    mask = batch.attentionMask;
    length = batch.length;
  }
  const parsed = performance.now();
  const results = await runSession(model, feeds, [task.output]);
  const ran = performance.now();
  const output = results[task.output];
  let answers: unknown[];
  const classCounts: Record<string, number> = {};
  if (task.task === 'feature-extraction') {
    const data = output.data as Float32Array;
    answers = output.dims.length === 3 ? pool(data, mask!, inputs.items.length, length, task.pooling!.mode, task.pooling!.normalize) : Array.from({ length: inputs.items.length }, (_, i) => Array.from(data.subarray((i * data.length) / inputs.items.length, ((i + 1) * data.length) / inputs.items.length)));
  } else {
    const classes = output.dims[output.dims.length - 1];
    const data = output.data as Float32Array;
    const fn = request.functionToApply ?? task.functionToApply;
    const k = Math.min(request.topK ?? task.topK, classes);
    answers = Array.from({ length: inputs.items.length }, (_, i) => {
      const row = scores(data.subarray(i * classes, (i + 1) * classes), fn);
      const ranked = row.map((score, index) => ({ label: task.labels?.[index] ?? String(index), score })).sort((a, b) => b.score - a.score).slice(0, k);
      classCounts[ranked[0].label] = (classCounts[ranked[0].label] ?? 0) + 1;
      return ranked;
    });
  }
  // Classifiers answer one input with its list of labels; embeddings are always number[][].
  const value = request.single && !request.predict && task.task !== 'feature-extraction' ? answers[0] : answers;
  const json = JSON.stringify(request.predict ? { predictions: answers } : value);
  observeTask(observers, model, inputs.items.length, { started, parsed, ran }, task.task === 'feature-extraction' ? undefined : classCounts);
  return { json, headers };
}
