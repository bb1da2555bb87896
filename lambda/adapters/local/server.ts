/**
 * The local server: each HTTP request becomes the pipeline's request, once, and goes through the
 * same pipeline and core as in Lambda and SageMaker. The console's page and data are answered first.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { InferenceError } from '../../core/errors.ts';
import { closeServer, sendHttpResponse, serverUrl, toHttpRequest } from '../http/node-server.ts';
import type { HttpPipeline, HttpRequest } from '../http/pipeline.ts';
import type { ConsoleResponse } from './console.ts';
import { headerPairs, type SigV4Refusal, type SigV4Verifier } from './sigv4.ts';

export interface LocalServerOptions {
  readonly pipeline: HttpPipeline;
  /** @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Bodies larger than this are refused with 413 before they are read in full. @default 6 MiB */
  readonly maxBodyBytes?: number;
  /** The time each request may take, as the function's timeout. @default 30000 */
  readonly timeoutMs?: number;
  /**
   * Paths the server answers itself, before the pipeline (the console), told whether the request
   * carries the API key: undefined passes the request on to the pipeline (whose key check answers 401).
   */
  readonly routes?: (method: string, path: string, authorized: boolean) => Promise<ConsoleResponse | undefined>;
  /** Whether a request carries the API key (the pipeline's `authorize` refuses the others). @default - every request */
  readonly authorized?: (request: Pick<HttpRequest, 'headers'>) => boolean;
  /** Origins allowed to send state-changing (non-GET) requests besides the server's own. @default - none */
  readonly corsOrigins?: readonly string[];
  /**
   * Requires every request to be signed with AWS Signature Version 4 (AUTH=iam), checked as API
   * Gateway checks it, before anything else reads the request: a refused request is answered as API
   * Gateway answers it (403, `{"message"}`, x-amzn-ErrorType) and reaches neither the console's data
   * nor the pipeline. @default - no signature needed
   */
  readonly signatures?: SigV4Verifier;
}

export interface LocalServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** The API key check of the local server (API_KEY): a constant-time comparison of x-api-key. */
export function apiKeyCheck(apiKey: string): { authorized: (request: Pick<HttpRequest, 'headers'>) => boolean; authorize: (request: HttpRequest) => void } {
  const expected = Buffer.from(apiKey);
  const authorized = (request: Pick<HttpRequest, 'headers'>) => {
    const given = Buffer.from(String(request.headers['x-api-key'] ?? ''));
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  return {
    authorized,
    authorize: (request) => {
      if (!authorized(request)) throw new InferenceError(401, 'missing or wrong x-api-key header; the local server was started with API_KEY', { reason: 'unauthorized' });
    },
  };
}

/** Whether a Host header names this machine's loopback interface (or the host the server was told to bind). */
function loopbackOrConfigured(host: string | undefined, configured: string): boolean {
  if (host === undefined) return false;
  const key = `${configured} ${host}`;
  const known = hostVerdicts.get(key);
  if (known !== undefined) return known;
  const verdict = isLoopbackOrConfigured(host, configured);
  // A handful of distinct Host values reach a local server; remember them, within bounds.
  if (hostVerdicts.size < 64) hostVerdicts.set(key, verdict);
  return verdict;
}
const hostVerdicts = new Map<string, boolean>();

function isLoopbackOrConfigured(host: string, configured: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) || hostname === configured || hostname === `[${configured}]`;
}

/**
 * Refusals before anything else runs, for a developer tool that is often left running:
 * - a Host that is not this machine's loopback name (nor HOST): a page on another site reaching the
 *   server through DNS rebinding;
 * - a state-changing request from another origin (a browser's "simple" cross-origin POST needs no
 *   preflight), unless that origin is allowed.
 */
function browserAttack(req: IncomingMessage, configuredHost: string, corsOrigins: readonly string[]): InferenceError | undefined {
  if (!loopbackOrConfigured(req.headers.host, configuredHost)) {
    return new InferenceError(403, `Host "${String(req.headers.host ?? '').slice(0, 100)}" is not this server's; the local server answers only loopback host names and the HOST it was started with (a guard against DNS rebinding)`, { reason: 'unauthorized' });
  }
  const origin = req.headers.origin;
  if (origin === undefined || req.method === 'GET' || req.method === 'HEAD') return undefined;
  let sameOrigin = false;
  try {
    sameOrigin = new URL(origin).host === req.headers.host;
  } catch {
    // An Origin that is not a URL ("null" from a sandboxed page) is never this server's.
  }
  if (sameOrigin || corsOrigins.includes(origin)) return undefined;
  return new InferenceError(403, `cross-origin ${req.method} from ${origin.slice(0, 100)} refused; start the server with CORS_ORIGINS=${origin.slice(0, 100)} to allow that origin`, { reason: 'unauthorized' });
}

/** A refused signature as API Gateway answers it: its body, its error type header, its request id header. */
function apiGatewayRefusal(refusal: SigV4Refusal, requestId: string) {
  return { statusCode: refusal.statusCode, headers: { 'Content-Type': 'application/json', 'x-amzn-ErrorType': refusal.errorType, 'x-amzn-RequestId': requestId }, body: JSON.stringify({ message: refusal.message }) };
}

export function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const limit = options.maxBodyBytes ?? 6 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const configuredHost = options.host ?? '127.0.0.1';
  const server = createServer(async (req, res) => {
    try {
      const method = req.method ?? 'GET';
      const refused = browserAttack(req, configuredHost, options.corsOrigins ?? []);
      if (refused !== undefined) {
        req.resume();
        sendHttpResponse(res, await options.pipeline({ method, path: (req.url ?? '/').split('?', 1)[0], headers: req.headers as Record<string, string | undefined>, bodyBytes: 0, requestId: randomUUID(), rejection: refused }));
        return;
      }
      const keyAuthorized = () => options.authorized?.({ headers: req.headers as Record<string, string | undefined> }) ?? true;
      if (options.signatures === undefined) {
        if (await answeredByRoutes(res, method, req.url, keyAuthorized())) return;
        sendHttpResponse(res, await options.pipeline(await toHttpRequest(req, limit, { deadline: Date.now() + timeoutMs })));
        return;
      }
      // The signature covers the body, so it is read first (up to the limit; over it, the pipeline answers 413).
      const request = await toHttpRequest(req, limit, { deadline: Date.now() + timeoutMs });
      if (request.rejection === undefined) {
        const body = request.body === undefined ? undefined : typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
        const refusal = await options.signatures.verify({ method, target: req.url ?? '/', headers: headerPairs(req.rawHeaders), body });
        if (await answeredByRoutes(res, method, req.url, refusal === undefined && keyAuthorized())) return;
        if (refusal !== undefined) {
          sendHttpResponse(res, apiGatewayRefusal(refusal, request.requestId));
          return;
        }
      }
      sendHttpResponse(res, await options.pipeline(request));
    } catch (error) {
      // The pipeline answers every request; this is a failure outside it (the console's files, say).
      console.error('local server error', error);
      sendHttpResponse(res, { statusCode: 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: 'internal error in the local server' }) });
    }
  });
  /** The console's own paths, answered before the pipeline; false when the request is not one of them. */
  const answeredByRoutes = async (res: import('node:http').ServerResponse, method: string, url: string | undefined, authorized: boolean): Promise<boolean> => {
    if (options.routes === undefined) return false;
    const own = await options.routes(method, (url ?? '/').split('?', 1)[0], authorized);
    if (own === undefined) return false;
    res.req.resume();
    sendHttpResponse(res, own);
    return true;
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      resolve({ url: serverUrl(server), server, close: () => closeServer(server) });
    });
  });
}
