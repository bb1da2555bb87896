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
 * How much of an over-limit body is read and thrown away after the 413 is decided. A server that
 * answers and closes while the client is still writing leaves unread bytes in its socket, so its
 * close is a TCP reset, which may reach the client before the answer does (EPIPE or ECONNRESET
 * instead of the 413). Mature servers read on: Go's net/http discards up to 256 KiB, nginx lingers
 * up to 30 s. Here: whatever a client sends after the limit, up to 64 MiB or 10 s, whichever comes
 * first. 64 MiB covers any body a client may mean for these servers (the largest limit is
 * SageMaker's 25 MiB, and a client sending more than twice that is not waiting for an answer), and
 * reading and discarding it keeps nothing in memory (on loopback, tens of milliseconds). Clients that
 * read while they write (curl, undici, browsers) stop at the 413 and close long before either bound.
 */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;
export const DISCARD_MAX_MS = 10_000;

/** Reads and drops the rest of an over-limit body (see DISCARD_MAX_BYTES); past the bound, closes the connection. */
function discardRest(req: IncomingMessage): void {
  let discarded = 0;
  const stop = () => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(stop, DISCARD_MAX_MS).unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX_BYTES) stop();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * A Node request as the pipeline's: headers as Node gives them (lower-cased), the path decoded once,
 * the body read up to `limit` bytes. Over it, the request carries a 413 rejection and the rest of the
 * body is discarded (within bounds) while the answer goes out, so the client can read it.
 */
export async function toHttpRequest(req: IncomingMessage, limit: number, options: { path?: string; deadline?: number } = {}): Promise<HttpRequest> {
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
    discardRest(req);
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
