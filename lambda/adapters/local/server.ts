/**
 * The local server: each HTTP request becomes the pipeline's request, once, and goes through the
 * same pipeline and core as in Lambda and SageMaker. The console's page and data are answered first.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { InferenceError } from '../../core/errors.ts';
import { closeServer, sendHttpResponse, serverUrl, toHttpRequest } from '../http/node-server.ts';
import type { HttpPipeline, HttpRequest } from '../http/pipeline.ts';
import type { ConsoleResponse } from './console.ts';

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
   * Paths the server answers itself, before the pipeline (the console): undefined passes the request
   * on. Only `public` answers (the page and its scripts) are sent without the API key check; the
   * console's data goes to the pipeline's key check first when they are not.
   */
  readonly routes?: (method: string, path: string) => Promise<ConsoleResponse | undefined>;
  /** Whether a request carries the API key (the pipeline's `authorize` refuses the others). @default - every request */
  readonly authorized?: (request: Pick<HttpRequest, 'headers'>) => boolean;
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

export function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const limit = options.maxBodyBytes ?? 6 * 1024 * 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const server = createServer(async (req, res) => {
    try {
      if (options.routes !== undefined) {
        const own = await options.routes(req.method ?? 'GET', (req.url ?? '/').split('?', 1)[0]);
        if (own !== undefined && (own.public === true || (options.authorized?.({ headers: req.headers as Record<string, string | undefined> }) ?? true))) {
          req.resume();
          sendHttpResponse(res, own);
          return;
        }
      }
      sendHttpResponse(res, await options.pipeline(await toHttpRequest(req, res, limit, { deadline: Date.now() + timeoutMs })));
    } catch (error) {
      // The pipeline answers every request; this is a failure outside it (the console's files, say).
      console.error('local server error', error);
      sendHttpResponse(res, { statusCode: 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: 'internal error in the local server' }) });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
      resolve({ url: serverUrl(server), server, close: () => closeServer(server) });
    });
  });
}
