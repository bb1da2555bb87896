/**
 * The one task path, for every task and every adapter: the body as the module takes it (a raw body
 * of a content type it lists, or parsed JSON), `module.parse`, then `module.run` with the session
 * lent through runSession and the phases timed for the observers; a sampled answer is captured with
 * the module's drift signals. The core knows no task by name: the registry's modules do.
 */
import type { Tensor } from 'onnxruntime-node';
import { pendingTaskCapture, sampled } from '../capture.ts';
import { InferenceError } from '../errors.ts';
import type { CoreRequest } from '../request.ts';
import { observeTask, runSession, type InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';
import { IMAGE_CONTENT_TYPES } from './hf-folder.ts';
import { takesImages, taskContentTypes } from './registry.ts';
import type { LoadedTask, TaskInput, TaskResult } from './task.ts';

export interface TaskAnswer {
  readonly json: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly result: TaskResult;
}

const mediaType = (request: CoreRequest): string => (request.headers?.['content-type'] ?? '').split(';', 1)[0].trim().toLowerCase();
const asBytes = (body: string | Uint8Array): Uint8Array => (typeof body === 'string' ? Buffer.from(body, 'utf8') : body);

/** What a task takes, said in errors. */
export function takes(task: LoadedTask): string {
  const types = taskContentTypes(task);
  if (takesImages(task)) return `images (${types.join(', ')}, or base64 in JSON)`;
  if (types.length > 0) return `text (${types.join(', ')}, or strings in JSON)`;
  return 'JSON';
}

/**
 * A raw body the model's task takes by its content type; undefined for anything else (JSON, binary
 * tensors, text/plain to a model that reads it as JSON); 415 for an image or text to a model that
 * does not take it.
 */
export function rawTaskInput(model: LoadedModel, request: CoreRequest, body: string | Uint8Array): TaskInput | undefined {
  const type = mediaType(request);
  const contentType = type === 'image/jpg' ? 'image/jpeg' : type;
  const task = model.task;
  const isImage = type.startsWith('image/') || type === 'application/x-image';
  if (task === undefined) {
    // A tensor model reads a text/plain body as JSON, as it always has (browsers send JSON as text/plain to skip a preflight).
    if (isImage) throw new InferenceError(415, `model "${model.name}" takes tensors (JSON or the binary extension), not ${type}; it has no image or text preprocessing`, { reason: 'unsupported_media_type' });
    return undefined;
  }
  const types = taskContentTypes(task);
  if (types.includes(contentType)) return { kind: 'raw', contentType, body: asBytes(body) };
  const name = `model "${model.name}" (${task.module.name})`;
  if (isImage && takesImages(task)) throw new InferenceError(415, `content type ${type} is not supported; send ${types.join(', ')}`, { reason: 'unsupported_media_type' });
  if (isImage && !(IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) throw new InferenceError(415, `content type ${type} is not supported; ${name} takes ${takes(task)}`, { reason: 'unsupported_media_type' });
  if (isImage || (type === 'text/plain' && types.length > 0)) throw new InferenceError(415, `${name} takes ${takes(task)}, not ${type}`, { reason: 'unsupported_media_type' });
  return undefined;
}

/** A parsed JSON body as the task's request; undefined when it is not one (a v2 tensor request), which the tensor path answers. */
export function jsonTaskInput(parsed: unknown, route: 'infer' | 'predict'): TaskInput | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return { kind: 'json', route, body: parsed as Record<string, unknown> };
}

/** The task's parsed request, or undefined (not a task request: the tensor path answers it). */
export function parseTask(model: LoadedModel, input: TaskInput | undefined): unknown {
  if (model.task === undefined || input === undefined) return undefined;
  return model.task.module.parse(model.task.loaded, input);
}

/** Runs a parsed task request: the module's run, the observers told, a sampled answer captured. */
export async function runTask(model: LoadedModel, request: unknown, observers?: InferenceObservers): Promise<TaskAnswer> {
  const task = model.task!;
  const started = performance.now();
  const times = { started, parsed: started, ran: started };
  const result = await task.module.run(task.loaded, request, {
    model: { name: model.name, version: model.version },
    run: (feeds, outputs) => runSession(model, feeds, outputs === undefined ? model.signature.outputs.map((o) => o.name) : [...outputs]),
    mark: (phase) => {
      times[phase] = performance.now();
      if (phase === 'parsed') times.ran = times.parsed;
    },
  });
  if (times.ran < times.parsed) times.ran = times.parsed;
  const json = JSON.stringify(result.answer);
  observeTask(observers, model, result.items, times, result.classCounts === undefined ? undefined : { ...result.classCounts });
  if (observers?.onCapture !== undefined && sampled(model, observers.capturePercent ?? 0, observers.random)) {
    const captured = typeof result.captured === 'function' ? (result.captured as () => unknown)() : result.captured;
    observers.onCapture(pendingTaskCapture(model, captured, json, result.signals, task.module.signals));
  }
  return { json, headers: result.headers ?? {}, result };
}


/**
 * The feeds a task request gives the model's first session run (what `modelship optimize` times a
 * candidate on): the module runs the request as it would serve it, its first run's feeds kept.
 */
export async function taskFeeds(model: LoadedModel, input: TaskInput): Promise<Record<string, Tensor>> {
  const task = model.task;
  const request = parseTask(model, input);
  if (task === undefined || request === undefined) throw new Error(`model "${model.name}" does not take this request as a task request`);
  let first: Record<string, Tensor> | undefined;
  await task.module.run(task.loaded, request, {
    model: { name: model.name, version: model.version },
    run: (feeds, outputs) => {
      first ??= feeds;
      return runSession(model, feeds, outputs === undefined ? model.signature.outputs.map((o) => o.name) : [...outputs]);
    },
    mark: () => undefined,
  });
  if (first === undefined) throw new Error(`model "${model.name}" (${task.module.name}) ran no session on the request`);
  return first;
}
