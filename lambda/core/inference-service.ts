/**
 * The inference core's front door: one call per HTTP-shaped request, the same for the Lambda
 * handler, the local server, the SageMaker container and the batch worker. It routes the Open
 * Inference Protocol (v2) and TF Serving :predict paths, checks every request against the model's
 * signature and config, runs onnxruntime, and answers `{"error": message}` for every failure.
 *
 * The routes are matched here rather than by a router middleware (@middy/http-router) because every
 * adapter, not only the Lambda one, must route the same way.
 */
import type { Tensor } from 'onnxruntime-node';
import { LAMBDA_PAYLOAD_LIMIT_BYTES } from './config.ts';
import { decodeInferRequest, decodeTensor, encodeInferResponse, tensorValues, type EncodedAnswer } from './codec.ts';
import { pendingCapture, sampled, type PendingCapture } from './capture.ts';
import { badRequest, describeError, InferenceError, isInferenceError, methodNotAllowed, modelNotFound, payloadTooLarge, type ErrorReason } from './errors.ts';
import { parseJsonBody, stringifyPrecise } from './json.ts';
import { silentLogger, type CoreLogger, type LoadedModel, type ModelEntry, type ModelRepository } from './model-repository.ts';

export const SERVER_NAME = 'modelship';
export const SERVER_VERSION = '0.1.0';
export const PLATFORM = 'onnxruntime_onnx';

export interface CoreRequest {
  readonly method: string;
  /** Path without query string, e.g. /v2/models/iris/infer. */
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** The body: JSON text (parsed here), already parsed JSON, raw bytes (binary tensor requests), or absent. */
  readonly body?: unknown;
  /** Size of the body as received, for the request size limits. */
  readonly bodyBytes?: number;
  /** Time (epoch ms) by which the answer must be ready; past it, inference stops with 504. @default none */
  readonly deadline?: number;
}

export interface CoreResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  /** JSON text, or bytes for binary tensor answers (JSON header, then raw tensors). */
  readonly body: string | Uint8Array;
  /** For metrics, never sent: the model and version that answered, and why a request failed. */
  readonly observed?: Observed;
}

export interface Observed {
  /** Set once the request names a model that exists. */
  model?: string;
  /** Set once a version was chosen. */
  version?: number;
  readonly reason?: ErrorReason;
}

/** A copy of a live request for the shadow version, to be run off the request path. */
export interface ShadowJob {
  readonly model: string;
  readonly liveVersion: number;
  readonly shadowVersion: number;
  readonly kind: 'infer' | 'predict';
  readonly body: unknown;
}

/** How the shadow version's answer compared with the live one. */
export interface ShadowResult {
  readonly model: string;
  readonly liveVersion: number;
  readonly shadowVersion: number;
  readonly agree: boolean;
  /** What differed, when they disagree: output name and first differing index. */
  readonly difference?: string;
}

/** An outcome reported for a prediction: a conversion, or whether the prediction was right. */
export interface FeedbackEvent {
  readonly model: string;
  readonly version: number;
  readonly id?: string;
  /** 1 for a conversion / correct prediction, 0 otherwise. */
  readonly outcome: 0 | 1;
  readonly timestamp: string;
}

/** What one inference did, for logs and metrics. */
export interface InferenceRecord {
  readonly model: string;
  readonly version: number;
  readonly batchSize: number;
  /** Parsing and checking the request. */
  readonly parseMs: number;
  /** onnxruntime's run. */
  readonly inferenceMs: number;
  /** Encoding the answer. */
  readonly serializeMs: number;
  /** For classifiers: how many rows got each class (named by the config's labels). */
  readonly classCounts?: Readonly<Record<string, number>>;
  /** For regressors: the mean of the first output. */
  readonly meanPrediction?: number;
}

export interface InferenceServiceOptions {
  readonly repository: ModelRepository;
  /** Body limit for models whose config sets none. @default 6 MiB, the Lambda payload limit */
  readonly defaultMaxRequestBytes?: number;
  readonly logger?: CoreLogger;
}

type Route =
  | { kind: 'live' | 'ready' | 'server' }
  | { kind: 'metadata' | 'model-ready' | 'infer' | 'predict'; model: string; version?: string }
  | { kind: 'feedback'; model: string };

const ROUTES: { pattern: RegExp; methods: string[]; route: (m: RegExpExecArray) => Route }[] = [
  { pattern: /^\/v2\/health\/live$/, methods: ['GET'], route: () => ({ kind: 'live' }) },
  { pattern: /^\/v2\/health\/ready$/, methods: ['GET'], route: () => ({ kind: 'ready' }) },
  { pattern: /^\/v2$/, methods: ['GET'], route: () => ({ kind: 'server' }) },
  { pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?$/, methods: ['GET'], route: (m) => ({ kind: 'metadata', model: m[1], version: m[2] }) },
  { pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/ready$/, methods: ['GET'], route: (m) => ({ kind: 'model-ready', model: m[1], version: m[2] }) },
  { pattern: /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/, methods: ['POST'], route: (m) => ({ kind: 'infer', model: m[1], version: m[2] }) },
  { pattern: /^\/v2\/models\/([^/]+)\/feedback$/, methods: ['POST'], route: (m) => ({ kind: 'feedback', model: m[1] }) },
  { pattern: /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?:predict$/, methods: ['POST'], route: (m) => ({ kind: 'predict', model: m[1], version: m[2] }) },
];

const JSON_HEADERS = { 'Content-Type': 'application/json' };

export const errorResponse = (statusCode: number, message: string, headers: Record<string, string> = {}): CoreResponse => ({
  statusCode,
  headers: { ...JSON_HEADERS, ...headers },
  body: JSON.stringify({ error: message }),
});

/** Anything that answers core requests: the inference service, or a proxy to a SageMaker endpoint. */
export interface RequestHandler {
  handle(request: CoreRequest): Promise<CoreResponse>;
}

export class InferenceService implements RequestHandler {
  readonly repository: ModelRepository;
  private readonly defaultMaxRequestBytes: number;
  private readonly logger: CoreLogger;
  /** Called after each successful inference (metrics and capture hang off this). */
  onInference: ((record: InferenceRecord) => void) | undefined;
  /** Called with a copy of a live request when the model has a shadow version; the adapter runs it off the request path (runShadow). */
  onShadow: ((job: ShadowJob) => void) | undefined;
  /** Called with each recorded feedback event. */
  onFeedback: ((event: FeedbackEvent) => void | Promise<void>) | undefined;
  /**
   * Called after an answer sampled for data capture (the model's capture.percent; off by default).
   * It must not throw and must not wait: the adapter writes the record through a buffered path.
   */
  onCapture: ((capture: PendingCapture) => void) | undefined;
  /** Capture share for models whose config sets none (the local server's CAPTURE_PERCENT). @default 0 */
  capturePercent = 0;

  constructor(options: InferenceServiceOptions) {
    this.repository = options.repository;
    this.defaultMaxRequestBytes = options.defaultMaxRequestBytes ?? LAMBDA_PAYLOAD_LIMIT_BYTES;
    this.logger = options.logger ?? silentLogger;
  }

  /** Answers one request; never throws. Unexpected failures are logged and answered 500 without details. */
  async handle(request: CoreRequest): Promise<CoreResponse> {
    const observed: Observed = {};
    try {
      return { ...(await this.route(request, observed)), observed };
    } catch (error) {
      if (isInferenceError(error)) return { ...errorResponse(error.statusCode, error.message, error.headers), observed: { ...observed, reason: error.reason } };
      this.logger.error('unexpected error', { path: request.path, cause: describeError(error), stack: (error as Error)?.stack });
      return { ...errorResponse(500, 'internal error; see the function logs'), observed: { ...observed, reason: 'internal' } };
    }
  }

  private async route(request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const path = request.path.length > 1 && request.path.endsWith('/') ? request.path.slice(0, -1) : request.path;
    for (const { pattern, methods, route } of ROUTES) {
      const match = pattern.exec(path);
      if (match === null) continue;
      const method = request.method.toUpperCase();
      if (!methods.includes(method)) throw methodNotAllowed(method, path, methods);
      return this.dispatch(route(match), request, observed);
    }
    throw modelNotFound(`no route for ${request.method} ${path}; see GET /v2 and /v2/models/{name}`);
  }

  private async dispatch(route: Route, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    switch (route.kind) {
      case 'live':
        return ok({ live: true });
      case 'ready':
        await this.repository.catalog();
        return ok({ ready: true });
      case 'server':
        return ok({ name: SERVER_NAME, version: SERVER_VERSION, extensions: ['model_repository_versions'] });
      case 'metadata':
        return ok(await this.metadata(route.model, route.version));
      case 'model-ready': {
        const model = await this.loadModel(route.model, route.version);
        return ok({ name: model.name, version: String(model.version), ready: true });
      }
      case 'infer':
      case 'predict': {
        const model = await this.loadModel(route.model, route.version ?? (await this.assignVersion(route.model, request.headers?.['x-assignment-key'])), observed);
        checkDeadline(request.deadline, 'before inference');
        const checked = this.checkBody(request, model);
        const { body, binary } = route.kind === 'infer' ? splitBinaryRequest(checked, request.headers?.['inference-header-content-length']) : { body: checked, binary: undefined };
        const answer = route.kind === 'infer' ? await this.inferAnswer(model, body, binary) : { json: await this.predict(model, body), binary: [] };
        checkDeadline(request.deadline, 'during inference');
        if (route.version === undefined && binary === undefined) this.offerShadow(model, route.kind, body);
        return this.answer(model, answer);
      }
      case 'feedback':
        return this.feedback(route.model, request, observed);
    }
  }

  /**
   * The version a plain-route request goes to: the live one, or one drawn by the config's A/B
   * weights — at random, or stably per X-Assignment-Key (the same key always gets the same version).
   */
  async assignVersion(name: string, assignmentKey?: string): Promise<string | undefined> {
    const entry = await this.repository.entry(decodeURIComponent(name));
    const weights = entry.config.abTest?.weights;
    if (weights === undefined || entry.problem !== undefined) return undefined;
    const pairs = Object.entries(weights).sort(([a], [b]) => Number(a) - Number(b));
    const total = pairs.reduce((sum, [, w]) => sum + w, 0);
    let point = (assignmentKey === undefined ? Math.random() : unitHash(`${entry.name}:${assignmentKey}`)) * total;
    for (const [version, weight] of pairs) {
      point -= weight;
      if (point < 0) return version;
    }
    return pairs[pairs.length - 1][0];
  }

  /** Runs a shadow job: the same request on the live and the shadow version, answers compared. */
  async runShadow(job: ShadowJob): Promise<ShadowResult> {
    const run = async (version: number) => {
      const model = await this.repository.load(job.model, version);
      const text = job.kind === 'infer' ? await this.infer(model, job.body) : await this.predict(model, job.body);
      return { model, answer: JSON.parse(text) as Record<string, unknown> };
    };
    const [live, shadow] = [await run(job.liveVersion), await run(job.shadowVersion)];
    const difference = compareAnswers(live.answer, shadow.answer, live.model.config.labelOutput ?? 'label');
    return { model: job.model, liveVersion: job.liveVersion, shadowVersion: job.shadowVersion, agree: difference === undefined, difference };
  }

  private offerShadow(model: LoadedModel, kind: 'infer' | 'predict', body: unknown): void {
    const shadow = model.config.shadow;
    if (shadow === undefined || this.onShadow === undefined || shadow.version === model.version) return;
    if (Math.random() * 100 >= shadow.percent) return;
    this.onShadow({ model: model.name, liveVersion: model.version, shadowVersion: shadow.version, kind, body });
  }

  /** POST /v2/models/{name}/feedback: {model_version, id?, outcome: 0|1|true|false} or {model_version, id?, label, predicted}. */
  private async feedback(name: string, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const body = typeof request.body === 'string' ? parseJsonBody(request.body) : request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('feedback body must be a JSON object with "model_version" and "outcome"');
    const { model_version: versionText, id, outcome, label, predicted } = body as Record<string, unknown>;
    if (typeof versionText !== 'string' && typeof versionText !== 'number') throw badRequest('feedback needs "model_version": the version that answered (model_version in the response, or the X-Model-Version header)');
    if (id !== undefined && typeof id !== 'string') throw badRequest(`feedback "id" must be a string, got ${JSON.stringify(id)}`);
    let value: 0 | 1;
    if (outcome === 0 || outcome === 1 || typeof outcome === 'boolean') value = outcome === 1 || outcome === true ? 1 : 0;
    else if (outcome === undefined && label !== undefined && predicted !== undefined) value = JSON.stringify(label) === JSON.stringify(predicted) ? 1 : 0;
    else throw badRequest('feedback needs "outcome" (0 or 1, true or false) or both "label" and "predicted"');
    const { entry, version } = await this.repository.resolveVersion(decodeURIComponent(name), String(versionText));
    [observed.model, observed.version] = [entry.name, version];
    const event: FeedbackEvent = { model: entry.name, version, id, outcome: value, timestamp: new Date().toISOString() };
    await this.onFeedback?.(event);
    return { statusCode: 202, headers: { ...JSON_HEADERS }, body: JSON.stringify({ recorded: true, model_name: entry.name, model_version: String(version), outcome: value }) };
  }

  /** The loaded session for a model's live version or the version named. */
  async loadModel(name: string, version?: string, observed?: Observed): Promise<LoadedModel> {
    const resolved = await this.repository.resolveVersion(decodeURIComponent(name), version);
    if (observed !== undefined) [observed.model, observed.version] = [resolved.entry.name, resolved.version];
    return this.repository.load(resolved.entry.name, resolved.version);
  }

  /** v2 model metadata: versions, platform, and each tensor's name, datatype and shape (-1 where free). */
  async metadata(name: string, version?: string): Promise<Record<string, unknown>> {
    const model = await this.loadModel(name, version);
    const entry: ModelEntry = await this.repository.entry(model.name);
    const tensors = (specs: LoadedModel['signature']['inputs']) =>
      specs.map((s) => ({ name: s.name, datatype: s.datatype.v2, shape: s.shape }));
    const { description, labels, task, maxBatchSize } = model.config;
    return {
      name: model.name,
      versions: entry.versions.map(String),
      platform: PLATFORM,
      inputs: tensors(model.signature.inputs),
      outputs: tensors(model.signature.outputs),
      parameters: { version: String(model.version), live_version: String(entry.liveVersion), sha256: model.sha256, execution_provider: model.executionProvider, description, task, labels, max_batch_size: maxBatchSize },
    };
  }

  /** Runs a v2 inference request body (parsed or raw JSON) and returns the response body text. */
  async infer(model: LoadedModel, body: unknown): Promise<string> {
    return (await this.inferAnswer(model, body)).json;
  }

  /**
   * Runs a v2 inference request, JSON or with the binary tensor extension (`binary`: the bytes
   * after the JSON header), answering with binary outputs where the request asks for them.
   */
  async inferAnswer(model: LoadedModel, body: unknown, binary?: Uint8Array): Promise<EncodedAnswer> {
    const started = performance.now();
    const request = decodeInferRequest(typeof body === 'string' ? parseJsonBody(body) : body, model, binary);
    const parsed = performance.now();
    const results = await this.run(model, request.feeds, request.outputNames);
    const ran = performance.now();
    const answer = encodeInferResponse(model, request.id, request.outputNames, results, request.binaryOutputs);
    this.record(model, request.batchSize, results, started, parsed, ran);
    if (this.onCapture !== undefined && sampled(model, this.capturePercent)) this.onCapture(pendingCapture(model, 'infer', request.id, request.feeds, results));
    return answer;
  }

  private record(model: LoadedModel, batchSize: number, results: Record<string, Tensor>, started: number, parsed: number, ran: number): void {
    if (this.onInference === undefined) return;
    this.onInference({ model: model.name, version: model.version, batchSize, parseMs: parsed - started, inferenceMs: ran - parsed, serializeMs: performance.now() - ran, ...summarize(results, model) });
  }

  /**
   * TF Serving's row format: {"instances": [row, ...]} for single-input models (or rows of
   * {input: value} objects for several inputs); answers {"predictions": [...]}, one per row, with
   * class indices named by the config's labels.
   */
  async predict(model: LoadedModel, body: unknown): Promise<string> {
    const started = performance.now();
    const parsed = typeof body === 'string' ? parseJsonBody(body) : body;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw badRequest('request body must be a JSON object with an "instances" list');
    }
    const instances = (parsed as { instances?: unknown }).instances;
    if (!Array.isArray(instances) || instances.length === 0) throw badRequest('"instances" must be a non-empty list of rows');
    const feeds = rowsToFeeds(instances, model);
    const parsedAt = performance.now();
    const outputNames = model.signature.outputs.map((s) => s.name);
    const results = await this.run(model, feeds, outputNames);
    const ran = performance.now();
    const answer = stringifyPrecise({ predictions: resultsToRows(results, outputNames, instances.length, model) });
    this.record(model, instances.length, results, started, parsedAt, ran);
    if (this.onCapture !== undefined && sampled(model, this.capturePercent)) this.onCapture(pendingCapture(model, 'predict', undefined, feeds, results));
    return answer;
  }

  private checkBody(request: CoreRequest, model: LoadedModel): unknown {
    const limit = model.config.maxRequestBytes ?? this.defaultMaxRequestBytes;
    const bytes = request.bodyBytes ?? (typeof request.body === 'string' ? Buffer.byteLength(request.body) : 0);
    if (bytes > limit) throw payloadTooLarge(bytes, limit, `model "${model.name}"`);
    if (request.body === undefined || request.body === null || (request.body instanceof Uint8Array && request.body.length === 0)) throw badRequest('request body is empty; expected a JSON object');
    // Raw bytes are JSON text unless the binary extension's header says otherwise.
    if (request.body instanceof Uint8Array && request.headers?.['inference-header-content-length'] === undefined) return Buffer.from(request.body).toString('utf8');
    return request.body;
  }

  private async run(model: LoadedModel, feeds: Record<string, Tensor>, outputNames: string[]): Promise<Record<string, Tensor>> {
    let results: Record<string, Tensor>;
    try {
      results = (await model.session.run(feeds, outputNames)) as Record<string, Tensor>;
    } catch (error) {
      // The inputs passed every check the signature allows; what onnxruntime still rejects (a shape a
      // node cannot take, say) is the request's doing, and its message names the node.
      throw new InferenceError(400, `model "${model.name}" version ${model.version} rejected the input: ${describeError(error)}`, { reason: 'model_rejected_input' });
    }
    return results;
  }

  private answer(model: LoadedModel, answer: EncodedAnswer): CoreResponse {
    const headers = { ...JSON_HEADERS, 'X-Model-Name': model.name, 'X-Model-Version': String(model.version) };
    if (answer.binary.length === 0) return { statusCode: 200, headers, body: answer.json };
    const json = Buffer.from(answer.json, 'utf8');
    return {
      statusCode: 200,
      headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(json.length) },
      body: Buffer.concat([json, ...answer.binary]),
    };
  }
}

/**
 * The binary tensor extension: with an Inference-Header-Content-Length header the body is that many
 * bytes of JSON followed by raw tensor data. Without it, the body is JSON as usual.
 */
function splitBinaryRequest(body: unknown, headerLength: string | undefined): { body: unknown; binary?: Uint8Array } {
  if (headerLength === undefined) return { body };
  const length = Number(headerLength);
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body instanceof Uint8Array ? body : undefined;
  if (bytes === undefined) throw badRequest('a binary request (Inference-Header-Content-Length) needs a raw body, not JSON alone');
  if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
    throw badRequest(`Inference-Header-Content-Length is "${headerLength}" but the body has ${bytes.length} bytes; it must be the byte length of the JSON header at the start of the body`);
  }
  return { body: parseJsonBody(Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('utf8')), binary: bytes.subarray(length) };
}

const ok = (body: unknown): CoreResponse => ({ statusCode: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) });

/**
 * A request past its deadline answers 504. onnxruntime cannot be interrupted mid-run (it blocks
 * the event loop), so the check runs before and after it; the adapters set the deadline ahead of
 * their own hard timeout, so the answer still goes out and the slot is freed.
 */
function checkDeadline(deadline: number | undefined, when: string): void {
  if (deadline !== undefined && Date.now() > deadline) {
    throw new InferenceError(504, `the request ran past its time budget (${when}); send fewer rows per request or use batch prediction`);
  }
}

/** What the answer says in aggregate, for metrics: class counts of classifiers, the mean of regressors. */
function summarize(results: Record<string, Tensor>, model: LoadedModel): Pick<InferenceRecord, 'classCounts' | 'meanPrediction'> {
  const labels = results[model.config.labelOutput ?? 'label'];
  if (labels !== undefined && (labels.type === 'int64' || labels.type === 'int32')) {
    const counts: Record<string, number> = {};
    for (const value of labels.data as Iterable<number | bigint>) {
      const name = model.config.labels?.[Number(value)] ?? String(value);
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return { classCounts: counts };
  }
  const first = results[model.signature.outputs[0].name];
  if (first !== undefined && (first.type === 'float32' || first.type === 'float64') && first.data.length > 0) {
    const data = first.data as Float32Array;
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i];
    return { meanPrediction: sum / data.length };
  }
  return {};
}

/** A stable number in [0, 1) from a string (FNV-1a), for sticky A/B assignment. */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash / 0x100000000;
}

/**
 * Compares two answers (v2 or :predict) of different versions: class labels must match exactly,
 * other numbers within 1e-3 absolute + 1e-2 relative. Returns what differed first, or undefined.
 */
export function compareAnswers(live: Record<string, unknown>, shadow: Record<string, unknown>, labelOutput: string): string | undefined {
  const close = (a: unknown, b: unknown): boolean =>
    typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-3 + 1e-2 * Math.abs(a) : JSON.stringify(a) === JSON.stringify(b);
  if (Array.isArray(live.outputs) && Array.isArray(shadow.outputs)) {
    for (const output of live.outputs as { name: string; data: unknown[] }[]) {
      const other = (shadow.outputs as { name: string; data: unknown[] }[]).find((o) => o.name === output.name);
      if (other === undefined) return `output "${output.name}" missing from the shadow answer`;
      const exact = output.name === labelOutput;
      const index = output.data.findIndex((v, i) => (exact ? v !== other.data[i] : !close(v, other.data[i])));
      if (index >= 0 || output.data.length !== other.data.length) return `output "${output.name}" differs at index ${Math.max(index, 0)}: ${JSON.stringify(output.data[index])} vs ${JSON.stringify(other.data[index])}`;
    }
    return undefined;
  }
  const flat = (v: unknown): unknown[] => (Array.isArray(v) ? v.flatMap(flat) : typeof v === 'object' && v !== null ? Object.values(v).flatMap(flat) : [v]);
  const [a, b] = [flat(live.predictions), flat(shadow.predictions)];
  const index = a.findIndex((v, i) => !close(v, b[i]));
  return index >= 0 || a.length !== b.length ? `prediction value ${Math.max(index, 0)} differs: ${JSON.stringify(a[index])} vs ${JSON.stringify(b[index])}` : undefined;
}

function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let cursor = value;
  while (Array.isArray(cursor)) {
    shape.push(cursor.length);
    cursor = cursor[0];
  }
  return shape;
}

function rowsToFeeds(instances: unknown[], model: LoadedModel): Record<string, Tensor> {
  const inputs = model.signature.inputs;
  const named = typeof instances[0] === 'object' && instances[0] !== null && !Array.isArray(instances[0]);
  if (!named && inputs.length !== 1) {
    throw badRequest(`model "${model.name}" has ${inputs.length} inputs (${inputs.map((s) => s.name).join(', ')}); send each instance as an object keyed by input name`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const spec of inputs) {
    const rows = instances.map((row, index) => {
      if (!named) return row;
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw badRequest(`instances[${index}] must be an object keyed by input name, like instances[0]`);
      const value = (row as Record<string, unknown>)[spec.name];
      if (value === undefined) throw badRequest(`instances[${index}] has no value for input "${spec.name}"`);
      return value;
    });
    const rowShape = shapeOf(rows[0]);
    rows.forEach((row, index) => {
      const shape = shapeOf(row);
      if (shape.join(',') !== rowShape.join(',')) {
        throw badRequest(`instances[${index}] has shape [${shape.join(',')}] but instances[0] has [${rowShape.join(',')}]; every row must have the same shape`);
      }
    });
    feeds[spec.name] = decodeTensor({ name: spec.name, datatype: spec.datatype.v2, shape: [rows.length, ...rowShape], data: rows }, spec, model);
  }
  if (named) {
    instances.forEach((row, index) => {
      for (const key of Object.keys(row as object)) {
        if (!inputs.some((s) => s.name === key)) throw badRequest(`instances[${index}] has unknown input "${key}"; model "${model.name}" expects: ${inputs.map((s) => s.name).join(', ')}`);
      }
    });
  }
  return feeds;
}

function resultsToRows(results: Record<string, Tensor>, outputNames: string[], rows: number, model: LoadedModel): unknown[] {
  const labels = model.config.labels;
  const labelOutput = model.config.labelOutput ?? 'label';
  const perOutput = outputNames.map((name) => {
    const tensor = results[name];
    const values = tensorValues(tensor);
    const rowDims = tensor.dims.slice(1);
    const rowSize = rowDims.reduce((a, b) => a * b, 1);
    return Array.from({ length: rows }, (_, r) => {
      if (rowDims.length === 0) {
        const value = values[r];
        return labels !== undefined && name === labelOutput ? (labels[Number(value)] ?? value) : value;
      }
      return nest(values.slice(r * rowSize, (r + 1) * rowSize), rowDims);
    });
  });
  return Array.from({ length: rows }, (_, r) =>
    outputNames.length === 1 ? perOutput[0][r] : Object.fromEntries(outputNames.map((name, i) => [name, perOutput[i][r]])),
  );
}

function nest(flat: unknown[], dims: readonly number[]): unknown {
  if (dims.length <= 1) return flat;
  const size = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), dims.slice(1)));
}
