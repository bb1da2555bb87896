/**
 * The SageMaker hosting adapter: GET /ping and POST /invocations on port 8080 (or
 * SAGEMAKER_BIND_TO_PORT). Each SageMaker request becomes the pipeline's request once — /ping is the
 * model's v2 readiness, /invocations the v2, :predict, embeddings or rerank route the custom
 * attributes name (or the body's shape implies) — and goes through the same pipeline and core as the API.
 */
import { createServer, type Server } from 'node:http';
import { InferenceError } from '../../core/errors.ts';
import { BINARY_HEADER } from '../../core/binary-extension.ts';
import { errorResponse, type CoreRequest, type CoreResponse, type RequestHandler } from '../../core/request.ts';
import { closeServer, sendHttpResponse, serverUrl, toHttpRequest } from '../http/node-server.ts';
import type { HttpPipeline, HttpResponse } from '../http/pipeline.ts';
import { CUSTOM_ATTRIBUTES_HEADER, formatCustomAttributes, parseCustomAttributes } from './attributes.ts';

export interface SageMakerServerOptions {
  /** The pipeline over the core (see limitConcurrency). */
  readonly pipeline: HttpPipeline;
  /** The one model this endpoint serves. */
  readonly modelName: string;
  /** @default 8080 */
  readonly port?: number;
  /** @default '0.0.0.0' (SageMaker connects from outside the container) */
  readonly host?: string;
  /** Bodies over this are refused with 413 before being read in full. @default 25 MiB, SageMaker's real-time limit */
  readonly maxBodyBytes?: number;
}

export interface SageMakerServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Bounds the requests in flight and the queue behind them. Written here because it is a dozen
 * lines and must answer a full queue with 429 at once, which the pool libraries do not do.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;
  private readonly queueLimit: number;

  constructor(max: number, queueLimit: number) {
    this.max = max;
    this.queueLimit = queueLimit;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.queueLimit) {
        throw new InferenceError(429, `server busy: ${this.running} requests running and ${this.waiting.length} queued; retry with backoff`, { reason: 'throttled' });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Requests in flight by default. onnxruntime runs each request synchronously on the event loop, so
 * a limit adds no parallelism; a low one (the vCPUs, 2 here) only makes every run wait for its own
 * loop turn. Measured on the 2-core machine (breast cancer, 1 row, 16 connections, server CPU per
 * request): 2 → 144 µs, 8 → 138, 16 → 97, 32 → 99, 64 → 108. Memory is bounded by the queue:
 * bodies are read before a request waits here.
 */
export const DEFAULT_MAX_CONCURRENCY = 32;

/** The core behind a concurrency limit: `max` requests run at once, `queueLimit` wait, the rest get 429. */
export function limitConcurrency(handler: RequestHandler, options: { maxConcurrency?: number; queueLimit?: number } = {}): RequestHandler {
  const limiter = new ConcurrencyLimiter(options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY, options.queueLimit ?? 64);
  return {
    handle: (request: CoreRequest): Promise<CoreResponse> =>
      limiter.run(() => handler.handle(request)).catch((error: unknown) => {
        if (error instanceof InferenceError) return errorResponse(error);
        throw error;
      }),
  };
}

const SERVER_ROUTES = new Set(['/v2', '/v2/health/live', '/v2/health/ready']);

/** The OpenAI/Cohere-compatible routes that name the model in the body (the core answers 404 for any model but this endpoint's). */
const COMPATIBLE_ROUTES = new Set(['/v1/embeddings', '/v1/rerank', '/v1/models']);

/** A :predict body starts with its "instances" (or "signature_name") key; anything else is taken as v2. */
const PREDICT_BODY = /^\s*\{\s*"(instances|signature_name)"\s*:/;
/** A body with a "documents" key is a rerank request; one with an "input" key (v2 and task bodies have "inputs") an embeddings request. */
const RERANK_BODY = /^\s*\{[^]*"documents"\s*:/;
const EMBEDDINGS_BODY = /^\s*\{[^]*"input"\s*:/;

/** The API route an invocation addresses: the custom attribute's path, or the body's shape. */
function invocationRoute(modelName: string, attributes: Record<string, string>, body: Buffer | undefined, binary: boolean): { method: string; path: string } | InferenceError {
  const method = (attributes.method ?? 'POST').toUpperCase();
  const path = attributes.path;
  if (path === undefined) {
    const head = binary || body === undefined ? '' : body.subarray(0, 1024).toString('utf8');
    if (PREDICT_BODY.test(head)) return { method, path: `/v1/models/${modelName}:predict` };
    // InvokeEndpoint with an OpenAI embeddings or a Cohere/Jina rerank body, as those clients write them.
    if (RERANK_BODY.test(head)) return { method, path: '/v1/rerank' };
    if (EMBEDDINGS_BODY.test(head)) return { method, path: '/v1/embeddings' };
    return { method, path: `/v2/models/${modelName}/infer` };
  }
  // The model's own routes, and the server-wide ones (the API sends those to its first backend, which may be this endpoint's proxy).
  const own =
    SERVER_ROUTES.has(path) ||
    COMPATIBLE_ROUTES.has(path) ||
    path === `/v2/models/${modelName}` ||
    path.startsWith(`/v2/models/${modelName}/`) ||
    path === `/v1/models/${modelName}` ||
    path.startsWith(`/v1/models/${modelName}:`) ||
    path.startsWith(`/v1/models/${modelName}/`) ||
    path.startsWith(`/openai/${modelName}/`);
  if (!own) return new InferenceError(404, `this endpoint serves model "${modelName}" only; custom attribute path "${path}" is not one of its routes`);
  return { method, path };
}

/** InvokeEndpoint passes back only the body and the custom attributes: carry the answering version (and a binary answer's header length) there. */
function withAnswerAttributes(response: HttpResponse): HttpResponse {
  const version = response.headers['X-Model-Version'];
  if (version === undefined) return response;
  const headerLength = response.headers['Inference-Header-Content-Length'];
  const attributes = formatCustomAttributes({ model_version: version, ...(headerLength !== undefined ? { inference_header_content_length: headerLength } : {}) });
  return { ...response, headers: { ...response.headers, 'X-Amzn-SageMaker-Custom-Attributes': attributes } };
}

export function startSageMakerServer(options: SageMakerServerOptions): Promise<SageMakerServer> {
  const { pipeline, modelName } = options;
  const limit = options.maxBodyBytes ?? 25 * 1024 * 1024;
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    // SageMaker gives an invocation 60 s; answer 504 ourselves before that.
    const deadline = Date.now() + 55_000;
    if (path === '/ping') {
      const request = await toHttpRequest(req, limit, { path: `/v2/models/${modelName}/ready`, deadline });
      const rejection = req.method === 'GET' ? request.rejection : new InferenceError(405, `method ${req.method} is not allowed on /ping; allowed: GET`, { headers: { Allow: 'GET' } });
      sendHttpResponse(res, await pipeline({ ...request, rejection }));
      return;
    }
    if (path !== '/invocations') {
      const request = await toHttpRequest(req, limit, { deadline });
      sendHttpResponse(res, await pipeline({ ...request, rejection: new InferenceError(404, `no route for ${req.method} ${path}; a SageMaker container answers GET /ping and POST /invocations`) }));
      return;
    }
    const request = await toHttpRequest(req, limit, { path: '/invocations', deadline });
    if (req.method !== 'POST') {
      sendHttpResponse(res, await pipeline({ ...request, rejection: request.rejection ?? new InferenceError(405, `method ${req.method} is not allowed on /invocations; allowed: POST`, { headers: { Allow: 'POST' } }) }));
      return;
    }
    const attributes = parseCustomAttributes(request.headers[CUSTOM_ATTRIBUTES_HEADER]);
    const binaryHeader = request.headers[BINARY_HEADER] ?? attributes.inference_header_content_length;
    const route = invocationRoute(modelName, attributes, request.body as Buffer | undefined, binaryHeader !== undefined);
    if (route instanceof InferenceError) {
      sendHttpResponse(res, await pipeline({ ...request, rejection: request.rejection ?? route }));
      return;
    }
    const headers = binaryHeader === undefined ? request.headers : { ...request.headers, [BINARY_HEADER]: binaryHeader };
    sendHttpResponse(res, withAnswerAttributes(await pipeline({ ...request, ...route, headers })));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => {
      resolve({ url: serverUrl(server), server, close: () => closeServer(server) });
    });
  });
}
