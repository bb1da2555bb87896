/** Shared pieces of the HTTP servers (local and SageMaker): capped body reading, clean close and shutdown. */
import type { IncomingMessage, Server } from 'node:http';

export class BodyTooLargeError extends Error {
  readonly bytes: number;
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(`request body is ${bytes} bytes or more, over the server's ${limit}-byte limit; send fewer rows per request or use batch prediction`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** Reads the whole body, refusing (before reading it all) one over `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(declared, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(size, limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
