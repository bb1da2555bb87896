/** The core's request and answer: what every adapter converts its transport's request into, and back. */
import type { ErrorReason, InferenceError } from './errors.ts';

export interface CoreRequest {
  readonly method: string;
  /** Path without query string, decoded once by the adapter, e.g. /v2/models/iris/infer. */
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** The body: JSON text (parsed here), raw bytes (JSON text, or a binary tensor request), or absent. */
  readonly body?: string | Uint8Array;
  /** Size of the body as received, for the request size limits. @default the body's length */
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
  /** Set when the answer is an error; the HTTP pipeline renders it (5xx without internals, with the request id). */
  readonly error?: InferenceError;
}

export interface Observed {
  /** Set once the request names a model that exists. */
  model?: string;
  /** Set once a version was chosen. */
  version?: number;
  reason?: ErrorReason;
}

/** Anything that answers core requests: the inference service, or a proxy to a SageMaker endpoint. */
export interface RequestHandler {
  handle(request: CoreRequest): Promise<CoreResponse>;
}

export const JSON_HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'application/json' };

export const jsonResponse = (body: unknown, statusCode = 200): CoreResponse => ({ statusCode, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) });

/**
 * An error as an answer: `{"error": ...}` with the error's own headers (Allow, say). The body holds
 * what the caller may see (below 500 the message, else the stable public sentence); the HTTP
 * pipeline renders errors from `error` itself and adds the request id to 5xx answers.
 */
export const errorResponse = (error: InferenceError, observed: Observed = {}): CoreResponse => ({
  statusCode: error.statusCode,
  headers: { ...JSON_HEADERS, ...error.headers },
  body: JSON.stringify({ error: error.publicMessage }),
  observed: { ...observed, reason: error.reason },
  error,
});
