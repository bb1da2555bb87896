/**
 * The SageMaker hosting adapter: GET /ping and POST /invocations on port 8080 (or
 * SAGEMAKER_BIND_TO_PORT), taking and returning the same v2 and :predict bodies as the API.
 * A custom attribute `path=/v2/models/<name>/...;method=GET` reaches any of the model's v2 routes
 * (the API's proxy function uses it for metadata and versioned routes).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { describeError, InferenceError, isInferenceError } from './core/errors.ts';
import { errorResponse, type CoreResponse, type InferenceService } from './core/inference-service.ts';
import { parseJsonBody } from './core/json.ts';
import { BodyTooLargeError, closeServer, readBody } from './http-server.ts';
import { parseCustomAttributes } from './sagemaker-attributes.ts';

export interface SageMakerServerOptions {
  readonly service: InferenceService;
  /** The one model this endpoint serves. */
  readonly modelName: string;
  /** @default 8080 */
  readonly port?: number;
  /** @default '0.0.0.0' (SageMaker connects from outside the container) */
  readonly host?: string;
  /** Requests run at once; more wait in a queue. @default the vCPUs */
  readonly maxConcurrency?: number;
  /** Requests allowed to wait; past that the server answers 429. @default 64 */
  readonly queueLimit?: number;
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
        throw new InferenceError(429, `server busy: ${this.running} requests running and ${this.waiting.length} queued; retry with backoff`);
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

export function startSageMakerServer(options: SageMakerServerOptions): Promise<SageMakerServer> {
  const { service, modelName } = options;
  const limiter = new ConcurrencyLimiter(options.maxConcurrency ?? availableParallelism(), options.queueLimit ?? 64);
  const limit = options.maxBodyBytes ?? 25 * 1024 * 1024;
  const ownPath = new RegExp(`^/(v2/models/${modelName.replace(/[.]/g, '\\.')}(/|$)|v1/models/${modelName.replace(/[.]/g, '\\.')}(:|/))`);

  async function invocations(body: Buffer, attributeHeader: string | undefined, binaryHeader: string | undefined): Promise<CoreResponse> {
    const attributes = parseCustomAttributes(attributeHeader);
    binaryHeader ??= attributes.inference_header_content_length;
    const method = (attributes.method ?? 'POST').toUpperCase();
    let path = attributes.path;
    let parsed: unknown = body.length === 0 ? undefined : binaryHeader !== undefined ? body : body.toString('utf8');
    if (binaryHeader !== undefined) path ??= `/v2/models/${modelName}/infer`;
    if (path === undefined) {
      parsed = parseJsonBody(parsed === undefined ? '' : (parsed as string));
      const rows = typeof parsed === 'object' && parsed !== null && 'instances' in parsed;
      path = rows ? `/v1/models/${modelName}:predict` : `/v2/models/${modelName}/infer`;
    } else if (!ownPath.test(path)) {
      throw new InferenceError(404, `this endpoint serves model "${modelName}" only; custom attribute path "${path}" is not one of its routes`);
    }
    // SageMaker gives an invocation 60 s; answer 504 ourselves before that.
    const headers = binaryHeader === undefined ? undefined : { 'inference-header-content-length': binaryHeader };
    const response = await service.handle({ method, path, headers, body: parsed, bodyBytes: body.length, deadline: Date.now() + 55_000 });
    // InvokeEndpoint passes back only the body and this header: carry the answering version (and a
    // binary answer's header length) in it.
    const version = response.headers['X-Model-Version'];
    const headerLength = response.headers['Inference-Header-Content-Length'];
    if (version === undefined) return response;
    const answerAttributes = `model_version=${version}${headerLength !== undefined ? `;inference_header_content_length=${headerLength}` : ''}`;
    return { ...response, headers: { ...response.headers, 'X-Amzn-SageMaker-Custom-Attributes': answerAttributes } };
  }

  async function ping(): Promise<CoreResponse> {
    const model = await service.loadModel(modelName);
    return {
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status: 'healthy', model: model.name, version: String(model.version), execution_provider: model.executionProvider }),
    };
  }

  const server = createServer(async (req, res) => {
    let response: CoreResponse;
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path === '/ping') {
        if (req.method !== 'GET') throw new InferenceError(405, `method ${req.method} is not allowed on /ping; allowed: GET`, { headers: { Allow: 'GET' } });
        response = await ping();
      } else if (path === '/invocations') {
        if (req.method !== 'POST') throw new InferenceError(405, `method ${req.method} is not allowed on /invocations; allowed: POST`, { headers: { Allow: 'POST' } });
        const body = await readBody(req, limit);
        response = await limiter.run(() => invocations(body, req.headers['x-amzn-sagemaker-custom-attributes'] as string | undefined, req.headers['inference-header-content-length'] as string | undefined));
      } else {
        throw new InferenceError(404, `no route for ${req.method} ${path}; a SageMaker container answers GET /ping and POST /invocations`);
      }
    } catch (error) {
      if (isInferenceError(error)) response = errorResponse(error.statusCode, error.message, error.headers);
      else if (error instanceof BodyTooLargeError) {
        response = errorResponse(413, error.message);
        res.setHeader('Connection', 'close');
      } else {
        console.error(JSON.stringify({ level: 'ERROR', message: 'unexpected error', cause: describeError(error) }));
        response = errorResponse(500, 'internal error; see the endpoint logs');
      }
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(response.statusCode, { ...response.headers, 'Content-Length': typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.length });
    res.end(response.body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '0.0.0.0', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        server,
        close: () => closeServer(server),
      });
    });
  });
}
