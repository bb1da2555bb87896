/**
 * The request shapes every text or image task takes, read once for all of them: a raw body (text
 * or an image, its content type already checked by the core against the module's), the Hugging
 * Face task shape {"inputs": <text | base64 image | list of them>, "parameters": {...}}, :predict's
 * {"instances": [text | {"b64"}]}, and the Open Inference Protocol's one BYTES input (texts as
 * "str", images as "base64"), optionally with outputs asking for Triton's classification extension.
 */
import { badRequest } from '../errors.ts';
import type { TaskInput } from './task.ts';

/** A v2 request's envelope: answered in v2 by the module. */
export interface V2Envelope {
  readonly id?: string;
  readonly inputName: string;
  /** Outputs asked for, with Triton's classification extension's k where given. */
  readonly outputs?: readonly { readonly name: string; readonly classification?: number }[];
}

/** Texts or images, as sent, with the request's parameters (unchecked beyond their names). */
export interface ItemsRequest<Item> {
  readonly items: readonly Item[];
  /** One input sent as such (a raw body, or "inputs" as one value): pipelines answer it unwrapped. */
  readonly single: boolean;
  /** :predict: answered {"predictions": [...]}. */
  readonly predict: boolean;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly v2?: V2Envelope;
}

export interface ItemsSpec {
  /** The module's task name, for messages. */
  readonly task: string;
  /** Parameter names the task takes ("truncation" and "classification" are always taken). */
  readonly parameters: readonly string[];
  /** config.json maxBatchSize: more inputs in one request are refused. */
  readonly maxBatchSize?: number;
}

const DATA_URL = /^data:[^;,]*;base64,/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** A base64 image (a data URL's payload too) as bytes; 400 naming `where` when it is not base64. */
export function decodeBase64(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string') throw badRequest(`${where} must be a base64 string of an image`, 'invalid_image');
  const text = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (text === '' || !BASE64.test(text)) throw badRequest(`${where} is not base64 (an image must be sent base64-encoded in JSON)`, 'invalid_image');
  return Buffer.from(text, 'base64');
}

/** A raw body as text. */
export const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

/** "parameters" as an object whose names the task takes; 400 naming those it does not. */
export function checkParameters(value: unknown, spec: ItemsSpec): Readonly<Record<string, unknown>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('"parameters" must be an object');
  const unknown = Object.keys(value).filter((k) => !spec.parameters.includes(k) && !['truncation', 'classification'].includes(k));
  if (unknown.length > 0) throw badRequest(`"parameters" has ${unknown.map((k) => `"${k}"`).join(', ')}, which this model does not take (${spec.parameters.join(', ') || 'none'})`);
  return value as Record<string, unknown>;
}

/** top_k: a positive integer, or undefined. */
export function topKParameter(parameters: Readonly<Record<string, unknown>>): number | undefined {
  const topK = parameters.top_k;
  if (topK !== undefined && !(Number.isInteger(topK) && (topK as number) > 0)) throw badRequest(`"parameters.top_k" must be a positive integer, got ${JSON.stringify(topK)}`);
  return topK as number | undefined;
}

function checkBatch<T extends ItemsRequest<unknown>>(request: T, spec: ItemsSpec): T {
  const max = spec.maxBatchSize;
  if (max !== undefined && request.items.length > max) throw badRequest(`${request.items.length} inputs in one request, over the model's maxBatchSize of ${max}`, 'batch_too_large');
  return request;
}

/**
 * The texts or images of a request, or undefined when the body is not a task request of this kind
 * at all (a v2 tensor request, :predict rows of numbers), which the tensor path then answers.
 */
export function parseItems(input: TaskInput, kind: 'texts', spec: ItemsSpec): ItemsRequest<string> | undefined;
export function parseItems(input: TaskInput, kind: 'images', spec: ItemsSpec): ItemsRequest<Uint8Array> | undefined;
export function parseItems(input: TaskInput, kind: 'texts' | 'images', spec: ItemsSpec): ItemsRequest<string | Uint8Array> | undefined {
  if (input.kind === 'raw') return checkBatch({ items: [kind === 'images' ? input.body : utf8(input.body)], single: true, predict: false, parameters: {} }, spec);
  const { body, route } = input;
  if (route === 'infer') {
    const v2 = v2BytesRequest(body, kind, spec);
    if (v2 !== undefined) return checkBatch(v2, spec);
  }
  const raw = route === 'infer' ? body.inputs : body.instances;
  const single = typeof raw === 'string';
  const list = single ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (list === undefined || list.length === 0) return undefined;
  const isText = list.every((v) => typeof v === 'string');
  const isB64 = list.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && 'b64' in v);
  if (!isText && !isB64) return undefined;
  const field = route === 'infer' ? '"inputs"' : '"instances"';
  const parameters = checkParameters(body.parameters, spec);
  const predict = route === 'predict';
  if (kind === 'images') {
    const items = list.map((v, i) => decodeBase64(isB64 ? (v as { b64: unknown }).b64 : v, `${field}[${i}]`));
    return checkBatch({ items, single, predict, parameters }, spec);
  }
  if (isB64) throw badRequest(`this model (${spec.task}) takes text (text/plain, or strings in JSON); ${field} holds base64 images`, 'input_mismatch');
  return checkBatch({ items: list as string[], single, predict, parameters }, spec);
}

/**
 * The Open Inference Protocol's way: one BYTES input whose elements are texts (content_type "str")
 * or base64 images ("base64"; the default for image models), and optionally outputs asking for
 * Triton's classification extension. Undefined when the body is not one BYTES input.
 */
function v2BytesRequest(body: Readonly<Record<string, unknown>>, kind: 'texts' | 'images', spec: ItemsSpec): ItemsRequest<string | Uint8Array> | undefined {
  const inputs = body.inputs;
  if (!Array.isArray(inputs) || inputs.length !== 1) return undefined;
  const input = inputs[0] as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || input.datatype !== 'BYTES') return undefined;
  const name = typeof input.name === 'string' ? input.name : 'input';
  const data = input.data;
  if (!Array.isArray(data) || data.length === 0 || !data.every((v) => typeof v === 'string')) throw badRequest(`input "${name}" "data" must be a non-empty list of strings (texts, or base64 images)`);
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.reduce((a: number, b: unknown) => a * Number(b), 1) !== data.length) throw badRequest(`input "${name}" has ${data.length} elements but shape ${JSON.stringify(shape)}`, 'wrong_shape');
  const contentType = ((input.parameters as Record<string, unknown> | undefined)?.content_type ?? (kind === 'images' ? 'base64' : 'str')) as unknown;
  if (contentType !== 'str' && contentType !== 'base64') throw badRequest(`input "${name}" "parameters.content_type" must be "str" or "base64", got ${JSON.stringify(contentType)}`);
  if (kind === 'images' && contentType !== 'base64') throw badRequest(`this model (${spec.task}) takes images: send them base64 with "parameters": {"content_type": "base64"}`, 'input_mismatch');
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
  const parameters = checkParameters(body.parameters, spec);
  const v2 = { id, inputName: name, outputs: requested };
  const strings = data as string[];
  if (kind === 'images') return { items: strings.map((v, i) => decodeBase64(v, `input "${name}" element ${i}`)), single: false, predict: false, parameters, v2 };
  return { items: contentType === 'base64' ? strings.map((v) => utf8(decodeBase64(v, `input "${name}"`))) : strings, single: false, predict: false, parameters, v2 };
}

/** A v2 answer's envelope around its outputs. */
export function v2Answer(model: { readonly name: string; readonly version: number }, v2: V2Envelope, outputs: readonly unknown[]): Record<string, unknown> {
  return { model_name: model.name, model_version: String(model.version), ...(v2.id === undefined ? {} : { id: v2.id }), outputs };
}
