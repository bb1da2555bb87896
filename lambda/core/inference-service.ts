/**
 * The inference core's front door: one call per request, the same for every adapter (API Gateway,
 * the local server, the SageMaker container) through the HTTP pipeline, and for the batch worker. It
 * routes, picks the model version (path, live, or A/B draw), checks the body against the model and
 * runs it, and answers every failure as an error response; it never throws.
 */
import { assignVersion } from './ab-assignment.ts';
import { BINARY_HEADER, splitBinaryRequest } from './binary-extension.ts';
import { LAMBDA_PAYLOAD_LIMIT_BYTES } from './config.ts';
import { CompatibleApi } from './compat/compatible-api.ts';
import { badRequest, deadlinePassed, describeError, InferenceError, isInferenceError, payloadTooLarge } from './errors.ts';
import { parseFeedback, type FeedbackEvent } from './feedback.ts';
import { runInfer } from './infer.ts';
import { silentLogger, type CoreLogger } from './logger.ts';
import { modelMetadata, SERVER_METADATA } from './metadata.ts';
import type { ModelRepository } from './model-repository.ts';
import { runPredict } from './predict.ts';
import { errorResponse, jsonResponse, JSON_HEADERS, type CoreRequest, type CoreResponse, type Observed, type RequestHandler } from './request.ts';
import { matchRoute, type Route } from './routes.ts';
import type { InferenceObservers } from './session-run.ts';
import type { LoadedModel } from './sessions.ts';
import { shadowJobFor, type ShadowJob } from './shadow.ts';
import { takesExactIntegers } from './signature.ts';
import { parseJsonBody } from './json.ts';
import { jsonTaskInput, parseTask, rawTaskInput, runTask, takes } from './tasks/task-run.ts';
import type { TaskInput } from './tasks/task.ts';
import type { EncodedAnswer } from './v2-response.ts';

/** Everything that hears from the core, given once when the service is built. */
export interface ServiceHooks extends InferenceObservers {
  /** Called with a copy of a live request when the model has a shadow version; the adapter runs it off the request path (runShadow). */
  readonly onShadow?: (job: ShadowJob) => void;
  /** Called with each feedback event; the request answers 202 once it resolves. */
  readonly onFeedback?: (event: FeedbackEvent) => void | Promise<void>;
}

export interface InferenceServiceOptions {
  readonly repository: ModelRepository;
  /** Body limit for models whose config sets none. @default 6 MiB, the Lambda payload limit */
  readonly defaultMaxRequestBytes?: number;
  readonly logger?: CoreLogger;
  /** @default - nothing observes inferences, shadow copies are not made, feedback is answered and dropped */
  readonly hooks?: ServiceHooks;
}

export class InferenceService implements RequestHandler {
  readonly repository: ModelRepository;
  private readonly defaultMaxRequestBytes: number;
  private readonly logger: CoreLogger;
  private readonly hooks: ServiceHooks;
  private readonly compatible: CompatibleApi;

  constructor(options: InferenceServiceOptions) {
    this.repository = options.repository;
    this.defaultMaxRequestBytes = options.defaultMaxRequestBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;
    this.logger = options.logger ?? silentLogger;
    this.hooks = options.hooks ?? {};
    const loadModel = (name: string, version: string | undefined, observed: Observed) => this.loadModel(name, version, observed);
    this.compatible = new CompatibleApi({ repository: this.repository, loadModel, defaultMaxRequestBytes: this.defaultMaxRequestBytes, hooks: this.hooks, createdAt: Math.floor(Date.now() / 1000) });
  }

  /**
   * Answers one request; never throws. An unexpected failure is answered as an internal error
   * carrying the original as its cause (the pipeline logs it, with its stack, under the request id).
   */
  async handle(request: CoreRequest): Promise<CoreResponse> {
    const observed: Observed = {};
    try {
      return { ...(await this.dispatch(matchRoute(request.method, request.path), request, observed)), observed };
    } catch (error) {
      if (isInferenceError(error)) return errorResponse(error, observed);
      return errorResponse(new InferenceError(500, `unexpected error on ${request.method} ${request.path}: ${describeError(error)}`, { cause: error }), observed);
    }
  }

  private async dispatch(route: Route, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    switch (route.kind) {
      case 'live':
        return jsonResponse({ live: true });
      case 'ready':
        await this.repository.catalog();
        return jsonResponse({ ready: true });
      case 'server':
        return jsonResponse(SERVER_METADATA);
      case 'metadata':
        return jsonResponse(await this.metadata(route.model, route.version));
      case 'model-ready': {
        const model = await this.loadModel(route.model, route.version);
        return jsonResponse({ name: model.name, version: String(model.version), ready: true });
      }
      case 'infer':
      case 'predict':
        return this.inference(route.kind, route.model, route.version, request, observed);
      case 'feedback':
        return this.feedback(route.model, request, observed);
      case 'embeddings':
      case 'rerank':
      case 'openai-models':
      case 'openai-model':
        return this.compatible.handle(route, request, observed);
    }
  }

  private async inference(kind: 'infer' | 'predict', name: string, versionText: string | undefined, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const version = versionText ?? assignVersion(await this.repository.entry(name), request.headers?.['x-assignment-key'], this.hooks.random);
    const model = await this.loadModel(name, version, observed);
    checkDeadline(request.deadline, 'before inference');
    const headerLength = request.headers?.[BINARY_HEADER];
    const raw = this.checkBody(request, model);
    // Task models (registry.ts): a raw body of a content type the task takes, or JSON it reads.
    let parsed: unknown;
    if (headerLength === undefined) {
      const rawInput = rawTaskInput(model, request, raw);
      // Parsed as the tensor path parses it, so a JSON tensor request to a task model is read once.
      parsed = rawInput === undefined && model.task !== undefined ? parseJsonBody(bodyText(raw), { exactIntegers: takesExactIntegers(model.signature) }) : undefined;
      const input = rawInput ?? (parsed === undefined ? undefined : jsonTaskInput(parsed, kind));
      const task = parseTask(model, input);
      if (task !== undefined) {
        const answer = await runTask(model, task, this.hooks);
        checkDeadline(request.deadline, 'during inference');
        if (versionText === undefined && this.hooks.onShadow !== undefined) {
          const job = rawInput?.kind === 'raw' ? shadowJobFor(model, 'infer', undefined, this.hooks.random, rawInput) : shadowJobFor(model, kind, parsed, this.hooks.random);
          if (job !== undefined) this.hooks.onShadow(job);
        }
        return { statusCode: 200, headers: { ...JSON_HEADERS, 'X-Model-Name': model.name, 'X-Model-Version': String(model.version), ...answer.headers }, body: answer.json };
      }
    }
    // Raw bytes are JSON text unless the binary extension's header says otherwise.
    const body = parsed ?? (headerLength === undefined ? bodyText(raw) : raw);
    let answer: EncodedAnswer;
    let shadowBody: unknown;
    if (kind === 'predict') {
      answer = { json: await runPredict(model, body, this.hooks), binary: [] };
      shadowBody = body;
    } else if (headerLength !== undefined) {
      const split = splitBinaryRequest(body, headerLength, { exactIntegers: takesExactIntegers(model.signature) });
      answer = await runInfer(model, split.body, split.binary, this.hooks);
    } else {
      answer = await runInfer(model, body, undefined, this.hooks);
      shadowBody = body;
    }
    checkDeadline(request.deadline, 'during inference');
    // Only plain-route JSON requests are copied to a shadow version: a versioned route asked for one version.
    if (versionText === undefined && shadowBody !== undefined && this.hooks.onShadow !== undefined) {
      const job = shadowJobFor(model, kind, shadowBody, this.hooks.random);
      if (job !== undefined) this.hooks.onShadow(job);
    }
    return inferenceResponse(model, answer);
  }

  private async feedback(name: string, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const report = parseFeedback(bodyText(request.body));
    const { entry, version } = await this.repository.resolveVersion(name, report.versionText);
    [observed.model, observed.version] = [entry.name, version];
    const event: FeedbackEvent = { model: entry.name, version, id: report.id, outcome: report.outcome, timestamp: new Date().toISOString() };
    await this.hooks.onFeedback?.(event);
    return jsonResponse({ recorded: true, model_name: entry.name, model_version: String(version), outcome: report.outcome }, 202);
  }

  /** The loaded session for a model's live version or the version named. */
  async loadModel(name: string, version?: string, observed?: Observed): Promise<LoadedModel> {
    const resolved = await this.repository.resolveVersion(name, version);
    if (observed !== undefined) [observed.model, observed.version] = [resolved.entry.name, resolved.version];
    return this.repository.load(resolved.entry.name, resolved.version);
  }

  /** v2 model metadata of a model's live version or the version named. */
  async metadata(name: string, version?: string): Promise<Record<string, unknown>> {
    const model = await this.loadModel(name, version);
    return modelMetadata(model, await this.repository.entry(model.name));
  }

  /** Runs a v2 inference request body (parsed or JSON text) and returns the response text, with the service's observers. */
  async infer(model: LoadedModel, body: unknown): Promise<string> {
    const task = this.taskRequest(model, body, 'infer');
    if (task !== undefined) return (await runTask(model, task, this.hooks)).json;
    return (await runInfer(model, body, undefined, this.hooks)).json;
  }

  /** Runs a :predict body (parsed or JSON text) and returns the response text, with the service's observers. Task models take their own shapes (texts, {"b64"} images, ...). */
  async predict(model: LoadedModel, body: unknown): Promise<string> {
    const task = this.taskRequest(model, body, 'predict');
    if (task !== undefined) return (await runTask(model, task, this.hooks)).json;
    return runPredict(model, body, this.hooks);
  }

  /**
   * Runs a task model on a body as its module reads it (JSON, parsed or text; or a raw body with
   * its content type), with the service's observers: batch jobs, shadow runs and the compatible
   * routes call it. Undefined when the module does not take the body as a task request.
   */
  async runTaskInput(model: LoadedModel, input: TaskInput): Promise<{ json: string; headers: Readonly<Record<string, string>> } | undefined> {
    const task = parseTask(model, input);
    return task === undefined ? undefined : runTask(model, task, this.hooks);
  }

  /** A parsed or textual body as a task request, for task models (batch jobs and shadow runs call infer/predict directly). */
  private taskRequest(model: LoadedModel, body: unknown, kind: 'infer' | 'predict'): unknown {
    if (model.task === undefined) return undefined;
    return parseTask(model, jsonTaskInput(typeof body === 'string' ? parseJsonBody(body) : body, kind));
  }

  /** The body as received, within the model's size limit and not empty. */
  private checkBody(request: CoreRequest, model: LoadedModel): string | Uint8Array {
    const limit = model.config.maxRequestBytes ?? this.defaultMaxRequestBytes;
    const body = request.body;
    const bytes = request.bodyBytes ?? (typeof body === 'string' ? Buffer.byteLength(body) : (body?.length ?? 0));
    if (bytes > limit) throw payloadTooLarge(bytes, limit, `model "${model.name}"`);
    if (body === undefined || body.length === 0) {
      const task = model.task;
      const text = task !== undefined && task.module.contentTypes(task.loaded).includes('text/plain');
      throw badRequest(task === undefined ? 'request body is empty; expected a JSON object' : `request body is empty; expected ${takes(task)}`, text ? 'invalid_text' : 'invalid_request');
    }
    return body;
  }
}

/** A body as text (JSON is parsed from text). */
const bodyText = (body: string | Uint8Array | undefined): string => (body === undefined ? '' : typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));

/** A successful inference: JSON, or the JSON header then binary outputs; the answering version in headers. */
function inferenceResponse(model: LoadedModel, answer: EncodedAnswer): CoreResponse {
  const headers = { ...JSON_HEADERS, 'X-Model-Name': model.name, 'X-Model-Version': String(model.version) };
  if (answer.binary.length === 0) return { statusCode: 200, headers, body: answer.json };
  const json = Buffer.from(answer.json, 'utf8');
  return {
    statusCode: 200,
    headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.length) },
    body: Buffer.concat([json, ...answer.binary]),
  };
}

/**
 * A request past its deadline answers 504. onnxruntime cannot be interrupted mid-run (it blocks
 * the event loop), so the check runs before and after it; the adapters set the deadline ahead of
 * their own hard timeout, so the answer still goes out and the slot is freed.
 */
function checkDeadline(deadline: number | undefined, when: string): void {
  if (deadline !== undefined && Date.now() > deadline) throw deadlinePassed(when);
}
