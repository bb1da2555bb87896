/**
 * Requests to image and text models, on every route that runs a model: a raw body (an image with
 * its image/* content type, or text/plain), the Hugging Face task shape {"inputs": <text | base64
 * image | list of them>, "parameters": {...}}, and :predict's {"instances": [{"b64": ...} | text]}.
 * Each becomes the model's input tensors, one run for the whole batch, and the answer: [{label,
 * score}] per input for classifiers (a list of lists for a batch), number[][] for embeddings.
 */
import { Tensor } from 'onnxruntime-node';
import { pendingTaskCapture, sampled } from '../capture.ts';
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
  /** Sent as a v2 BYTES input: answered in v2 (a BYTES label tensor and an FP32 score tensor, or the classification extension). */
  readonly v2?: { readonly id?: string; readonly inputName: string; readonly outputs?: readonly { readonly name: string; readonly classification?: number }[] };
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
  if (kind === 'infer') {
    const v2 = v2BytesRequest(model, body);
    if (v2 !== undefined) return v2;
  }
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

/**
 * The Open Inference Protocol's way: one BYTES input whose elements are texts (content_type "str")
 * or base64 images ("base64"; the default for image models), and optionally outputs asking for
 * Triton's classification extension ({"name": ..., "parameters": {"classification": k}}).
 */
function v2BytesRequest(model: LoadedModel, body: Record<string, unknown>): TaskRequest | undefined {
  const inputs = body.inputs;
  const task = model.task;
  if (task === undefined || !Array.isArray(inputs) || inputs.length !== 1) return undefined;
  const input = inputs[0] as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || input.datatype !== 'BYTES') return undefined;
  const name = typeof input.name === 'string' ? input.name : 'input';
  const data = input.data;
  if (!Array.isArray(data) || data.length === 0 || !data.every((v) => typeof v === 'string')) throw badRequest(`input "${name}" "data" must be a non-empty list of strings (texts, or base64 images)`);
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.reduce((a: number, b: unknown) => a * Number(b), 1) !== data.length) throw badRequest(`input "${name}" has ${data.length} elements but shape ${JSON.stringify(shape)}`, 'wrong_shape');
  const contentType = ((input.parameters as Record<string, unknown> | undefined)?.content_type ?? (task.image !== undefined ? 'base64' : 'str')) as unknown;
  if (contentType !== 'str' && contentType !== 'base64') throw badRequest(`input "${name}" "parameters.content_type" must be "str" or "base64", got ${JSON.stringify(contentType)}`);
  if (task.image !== undefined && contentType !== 'base64') throw badRequest(`model "${model.name}" (${task.task}) takes images: send them base64 with "parameters": {"content_type": "base64"}`, 'input_mismatch');
  const outputs = body.outputs === undefined ? undefined : Array.isArray(body.outputs) ? body.outputs : undefined;
  if (body.outputs !== undefined && outputs === undefined) throw badRequest('"outputs" must be a list');
  const requested = outputs?.map((o, i) => {
    const out = o as { name?: unknown; parameters?: { classification?: unknown } };
    if (typeof out?.name !== 'string') throw badRequest(`outputs[${i}] must name an output`);
    const k = out.parameters?.classification;
    if (k !== undefined && !(Number.isInteger(k) && (k as number) > 0)) throw badRequest(`outputs[${i}] "parameters.classification" must be a positive integer, got ${JSON.stringify(k)}`);
    return { name: out.name, classification: k as number | undefined };
  });
  const id = typeof body.id === 'string' ? body.id : undefined;
  const params = parameters(body.parameters);
  const v2 = { id, inputName: name, outputs: requested };
  if (task.image !== undefined) return { inputs: { kind: 'images', items: data.map((v, i) => decodeBase64(v, `input "${name}" element ${i}`)) }, single: false, predict: false, v2, ...params };
  return { inputs: { kind: 'texts', items: contentType === 'base64' ? data.map((v) => Buffer.from(decodeBase64(v, `input "${name}"`)).toString('utf8')) : (data as string[]) }, single: false, predict: false, v2, ...params };
}

/** A v2 answer of a task: BYTES labels and FP32 scores ([inputs, k]), embeddings as FP32 [inputs, dims], or the classification extension's "score:index:label" strings. */
function v2Answer(model: LoadedModel, request: TaskRequest, answers: unknown[]): string {
  const task = model.task!;
  const n = answers.length;
  const outputs: Record<string, unknown>[] = [];
  if (task.task === 'feature-extraction') {
    const rows = answers as number[][];
    outputs.push({ name: 'embedding', datatype: 'FP32', shape: [n, rows[0]?.length ?? 0], data: rows.flat() });
  } else {
    const rows = answers as { label: string; score: number; index: number }[][];
    const k = rows[0]?.length ?? 0;
    const wanted = request.v2?.outputs;
    const known = new Set(['label', 'score', task.output]);
    for (const out of wanted ?? []) if (!known.has(out.name)) throw badRequest(`model "${model.name}" has no output "${out.name}" (outputs: ${[...known].join(', ')})`, 'input_mismatch');
    const classified = wanted?.filter((o) => o.classification !== undefined) ?? [];
    for (const out of classified) {
      const top = Math.min(out.classification!, k);
      outputs.push({ name: out.name, datatype: 'BYTES', shape: [n, top], data: rows.flatMap((r) => r.slice(0, top).map((c) => `${c.score}:${c.index}:${c.label}`)) });
    }
    const plain = wanted === undefined ? ['label', 'score'] : wanted.filter((o) => o.classification === undefined).map((o) => o.name);
    if (plain.includes('label')) outputs.push({ name: 'label', datatype: 'BYTES', shape: [n, k], data: rows.flatMap((r) => r.map((c) => c.label)) });
    if (plain.includes('score') || plain.includes(task.output)) outputs.push({ name: plain.includes('score') ? 'score' : task.output, datatype: 'FP32', shape: [n, k], data: rows.flatMap((r) => r.map((c) => Math.fround(c.score))) });
  }
  return JSON.stringify({ model_name: model.name, model_version: String(model.version), ...(request.v2?.id === undefined ? {} : { id: request.v2.id }), outputs });
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

/** The session's feeds for a task request: images decoded and normalized, or texts tokenized. */
export async function taskFeeds(model: LoadedModel, request: Pick<TaskRequest, 'inputs' | 'single'>): Promise<{ feeds: Record<string, Tensor>; headers: Record<string, string>; mask?: BigInt64Array; length: number }> {
  const task = model.task!;
  const { inputs } = request;
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
  return { feeds, headers, mask, length };
}

/** Runs one task request: inputs to tensors, one run, the answer; 400s name the input at fault. */
export async function runTask(model: LoadedModel, request: TaskRequest, observers?: InferenceObservers): Promise<TaskAnswer> {
  const task = model.task!;
  const started = performance.now();
  const { inputs } = request;
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && inputs.items.length > maxBatch) throw badRequest(`${inputs.items.length} inputs in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}`, 'batch_too_large');
  const { feeds, headers, mask, length } = await taskFeeds(model, request);
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
      // v2 answers keep every class (top_k still applies); the classification extension picks its own k.
      const limit = request.v2 !== undefined && request.topK === undefined ? classes : k;
      const ranked = row.map((score, index) => ({ label: task.labels?.[index] ?? String(index), score, index })).sort((a, b) => b.score - a.score).slice(0, limit);
      classCounts[ranked[0].label] = (classCounts[ranked[0].label] ?? 0) + 1;
      return ranked;
    });
  }
  // What callers see of a class: its label and score (the index is for v2 answers and drift signals).
  const shown = task.task === 'feature-extraction' ? answers : (answers as { label: string; score: number }[][]).map((r) => r.map(({ label, score }) => ({ label, score })));
  // Classifiers answer one input with its list of labels; embeddings are always number[][].
  const unwrap = request.single && !request.predict && task.task !== 'feature-extraction';
  const json = request.v2 !== undefined ? v2Answer(model, request, answers) : JSON.stringify(request.predict ? { predictions: shown } : unwrap ? shown[0] : shown);
  observeTask(observers, model, inputs.items.length, { started, parsed, ran }, task.task === 'feature-extraction' ? undefined : classCounts);
  if (observers?.onCapture !== undefined && sampled(model, observers.capturePercent ?? 0)) {
    // Per input, what drift is watched on: the predicted class and its score (classifiers), the text's length (text models).
    const signals = answers.map((answer, i) => {
      const top = task.task === 'feature-extraction' ? [] : [(answer as { index: number }[])[0].index, (answer as { score: number }[])[0].score];
      return inputs.kind === 'texts' ? [...top, inputs.items[i].length] : top;
    });
    const pixels = inputs.kind === 'images' ? feeds[task.image!.input] : undefined;
    observers.onCapture(pendingTaskCapture(model, inputs.kind === 'texts' ? { texts: inputs.items } : { images: inputs.items, pixels: pixels === undefined ? undefined : { dims: pixels.dims, data: pixels.data as Float32Array } }, json, signals));
  }
  return { json, headers };
}
