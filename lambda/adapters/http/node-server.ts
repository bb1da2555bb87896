/** Shared pieces of the Node HTTP servers (local and SageMaker): the request as the pipeline's, capped body reading, writing answers, clean shutdown. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { bodyOverLimit, decodePath, type HttpRequest, type HttpResponse } from './pipeline.ts';

class BodyTooLargeError extends Error {
  readonly bytes: number;
  constructor(bytes: number) {
    super(`request body is ${bytes} bytes or more`);
    this.bytes = bytes;
  }
}

/**
 * Reads the whole body, refusing (before reading it all) one over `limit` bytes. Events rather than
 * `for await`: the async iterator costs several microseconds per request, a measurable share of a
 * small request's time.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError(declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLargeError(size));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/**
 * A Node request as the pipeline's: headers as Node gives them (lower-cased), the path decoded once,
 * the body read up to `limit` bytes (over it, the request carries a 413 rejection and the connection
 * is closed after the answer, since the rest of the body is not read).
 */
export async function toHttpRequest(req: IncomingMessage, res: ServerResponse, limit: number, options: { path?: string; deadline?: number } = {}): Promise<HttpRequest> {
  const rawPath = options.path ?? (req.url ?? '/').split('?', 1)[0];
  const path = decodePath(rawPath);
  const common = { method: req.method ?? 'GET', path: typeof path === 'string' ? path : '/', headers: req.headers as Record<string, string | undefined>, requestId: randomUUID(), deadline: options.deadline };
  if (typeof path !== 'string') {
    req.resume();
    return { ...common, bodyBytes: 0, rejection: path };
  }
  try {
    const body = await readBody(req, limit);
    return { ...common, body: body.length === 0 ? undefined : body, bodyBytes: body.length };
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    res.setHeader('Connection', 'close');
    return { ...common, bodyBytes: error.bytes, rejection: bodyOverLimit(error.bytes, limit) };
  }
}

/**
 * Writes an answer with its length; nothing when the connection is gone. A text body is handed to
 * Node as text: Node then sends the head and the body in one write, where a Buffer body costs a
 * writev of two (measured: the largest single cost of a small answer).
 */
export function sendHttpResponse(res: ServerResponse, response: HttpResponse): void {
  if (res.headersSent || res.destroyed) return;
  const length = typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.length;
  res.writeHead(response.statusCode, { ...response.headers, 'Content-Length': String(length) });
  res.end(response.body);
}

/** Stops accepting connections and resolves once open ones end (idle ones at once, busy ones within graceMs). */
export function closeServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((done) => {
    server.close(() => done());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

/** Closes cleanly and exits 0 on SIGINT or SIGTERM. */
export function exitOnSignals(close: () => Promise<void>): void {
  const stop = (signal: string) => {
    console.log(`${signal}: shutting down`);
    close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** The URL a listening server answers on. */
export function serverUrl(server: Server): string {
  const address = server.address() as import('node:net').AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address === '0.0.0.0' ? '127.0.0.1' : address.address;
  return `http://${host}:${address.port}`;
}
