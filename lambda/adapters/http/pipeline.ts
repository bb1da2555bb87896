/**
 * The one HTTP request pipeline every adapter calls: API Gateway (REST and HTTP API events), the
 * SageMaker container, and the local server each convert their transport's request into an
 * HttpRequest once, call the pipeline, and convert the HttpResponse back once.
 *
 * The pipeline is middy over a transport-neutral event. It gives every answer the same security
 * headers (and CORS headers when configured), the Open Inference Protocol's `{"error": ...}` body,
 * the request and response size limits, and one observation per request for metrics and the
 * console. As in middy, only errors below 500 show their message; a 5xx answer carries a stable
 * message and the request id, and its detail (store locations, SDK text) goes to the log.
 */
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpErrorHandler from '@middy/http-error-handler';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { Context } from 'aws-lambda';
import { describeError, InferenceError, isInferenceError, reasonForStatus, type ErrorReason } from '../../core/errors.ts';
import { openAiErrorBody } from '../../core/compat/openai-errors.ts';
import { silentLogger, type CoreLogger } from '../../core/logger.ts';
import { COMPATIBLE_PATH } from '../../core/routes.ts';
import type { Observed, RequestHandler } from '../../core/request.ts';
import type { RequestObservation } from '../../observability/telemetry.ts';

/** A request as every transport delivers it, converted once by its adapter. */
export interface HttpRequest {
  readonly method: string;
  /** The path, percent-decoded once, without the query string or an API stage prefix. */
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body as received: text, or bytes. */
  readonly body?: string | Uint8Array;
  /** Size of the body as received. */
  readonly bodyBytes: number;
  /** The transport's request id (Lambda's, or one the server made): in 5xx answers and logs. */
  readonly requestId: string;
  /** Time (epoch ms) by which the answer must be ready. @default none */
  readonly deadline?: number;
  /**
   * A problem the adapter met before the request could reach the core (a body over the server's
   * limit, a path that is not valid percent-encoding): answered through the pipeline like any other.
   */
  readonly rejection?: InferenceError;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  /** JSON text, or bytes (binary tensor answers). */
  readonly body: string | Uint8Array;
}

export interface HttpPipelineOptions {
  /** Origins allowed by CORS. @default - CORS off: no CORS headers */
  readonly corsOrigins?: string[];
  /** Answers larger than this (as the transport carries them) are refused with 413 pointing to batch mode. @default - no limit */
  readonly maxResponseBytes?: number;
  /** What the response limit is, in its 413 message. @default 'a response' */
  readonly responseLimitName?: string;
  /** Whether the transport carries binary answers base64-encoded (API Gateway does), for the response limit. @default false */
  readonly binaryAsBase64?: boolean;
  /** Checks a request before anything else happens (the local server's API key); throw an InferenceError to refuse it. @default - every request is let through */
  readonly authorize?: (request: HttpRequest) => void;
  /** Called once per request with its outcome, sizes and duration (metrics, the local console). */
  readonly onResponse?: (observation: RequestObservation) => void;
  /** Middlewares that wrap everything else (the Lambda entry's Powertools tracer, logger and metrics). */
  readonly outerMiddlewares?: middy.MiddlewareObj<PipelineEvent, HttpResponse, Error, Context>[];
  /** Answer 504 this long before the Lambda function's own timeout (needs a Lambda context). @default 0 (off) */
  readonly timeoutEarlyInMillis?: number;
  readonly logger?: CoreLogger;
}

/** The pipeline's event: the request, and what the core observed of it (for the observation). */
export type PipelineEvent = HttpRequest & { observed?: Observed; startedAt?: number };

export type HttpPipeline = (request: HttpRequest, context?: Context) => Promise<HttpResponse>;

/**
 * The security headers of an API's JSON answers, after OWASP's REST Security Cheat Sheet: HSTS,
 * nosniff, no framing (X-Frame-Options and CSP frame-ancestors), a CSP that allows nothing,
 * same-origin resource policy and no referrer. middy's defaults add the document policies of a web
 * page (Permissions-Policy, COEP/COOP, Origin-Agent-Cluster, Report-To, ...), ~1.3 KB that no
 * browser applies to a JSON answer, on every answer: they are off here.
 */
const API_SECURITY_HEADERS = {
  contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'" },
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: false,
  dnsPrefetchControl: false,
  downloadOptions: false,
  originAgentCluster: false,
  permissionsPolicy: false,
  permittedCrossDomainPolicies: false,
  reportTo: false,
  reportingEndpoints: false,
  xssProtection: false,
} as const;

/** A context for transports that have no Lambda one: middy only reads it for the early timeout, which is off for them. */
const NO_CONTEXT = {} as Context;

export function createHttpPipeline(handler: RequestHandler, options: HttpPipelineOptions = {}): HttpPipeline {
  const logger = options.logger ?? silentLogger;
  const maxResponseBytes = options.maxResponseBytes ?? Number.POSITIVE_INFINITY;

  const core = async (event: PipelineEvent): Promise<HttpResponse> => {
    if (event.rejection !== undefined) throw event.rejection;
    options.authorize?.(event);
    const response = await handler.handle({ method: event.method, path: event.path, headers: event.headers, body: event.body, bodyBytes: event.bodyBytes, deadline: event.deadline });
    event.observed = response.observed;
    if (response.error !== undefined) throw response.error;
    const binary = typeof response.body !== 'string';
    const bytes = binary && options.binaryAsBase64 ? Math.ceil(response.body.length / 3) * 4 : byteLength(response.body);
    if (bytes > maxResponseBytes) {
      throw new InferenceError(413, `the answer would be ${bytes} bytes, over the ${maxResponseBytes}-byte limit of ${options.responseLimitName ?? 'a response'}; ask for fewer outputs ("outputs") or rows per request, use binary outputs, or use batch prediction`, { reason: 'response_too_large' });
    }
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  };

  const pipeline = middy<PipelineEvent, HttpResponse, Error, Context>({ timeoutEarlyInMillis: options.timeoutEarlyInMillis ?? 0 })
    .use(options.outerMiddlewares ?? [])
    .use(options.onResponse === undefined ? [] : [observeResponses(options.onResponse)])
    // before: in the order added; after and onError: in reverse. So the security and CORS headers
    // are added last, to every answer, errors included; openInferenceErrors shapes an error before
    // httpErrorHandler writes it.
    .use(httpSecurityHeaders(API_SECURITY_HEADERS))
    .use(options.corsOrigins !== undefined ? [httpCors({ origins: options.corsOrigins })] : [])
    .use(
      httpErrorHandler({
        // Only unexpected errors reach here unshaped (openInferenceErrors logged the others): log them.
        logger: (error: unknown) => {
          if ((error as { shaped?: boolean }).shaped !== true) logger.error('unhandled error', { cause: describeError(error) });
        },
        fallbackMessage: JSON.stringify({ error: 'internal error' }),
      }),
    )
    .use(openInferenceErrors(logger))
    .handler(core);
  return (request, context) => pipeline(request as PipelineEvent, context ?? NO_CONTEXT);
}

const byteLength = (body: string | Uint8Array): number => (typeof body === 'string' ? Buffer.byteLength(body) : body.length);

/**
 * Gives every error the Open Inference Protocol's body, {"error": "..."} (OpenAI's on its
 * compatible routes), before middy's error
 * handler writes it out: the message itself below 500; at 500 and above a stable message with the
 * request id, the detail logged under that id.
 */
function openInferenceErrors(logger: CoreLogger): middy.MiddlewareObj<PipelineEvent, HttpResponse> {
  return {
    onError: (request) => {
      const error = request.error as (Error & { statusCode?: number; reason?: ErrorReason }) | null | undefined;
      let problem: InferenceError;
      if (isInferenceError(error)) problem = error;
      else if (error?.name === 'TimeoutError') problem = new InferenceError(504, 'the request ran too long and was stopped before the function timeout; send fewer rows or use batch prediction');
      else if (typeof error?.statusCode === 'number' && error.statusCode < 500) problem = new InferenceError(error.statusCode, error.message);
      else return; // unexpected: middy's handler answers a generic 500 and logs it
      const { requestId, method, path, observed } = request.event;
      let message = problem.publicMessage;
      if (problem.statusCode >= 500) {
        const cause = problem.cause as Error | undefined;
        logger.error('request failed', { requestId, method, path, model: observed?.model, status: problem.statusCode, reason: problem.reason, cause: problem.message, stack: cause instanceof Error ? cause.stack : undefined });
        message = `${message} (request id ${requestId})`;
      }
      // The OpenAI/Cohere-compatible routes answer in OpenAI's error shape, so its clients raise a readable exception.
      const body = COMPATIBLE_PATH.test(path) ? openAiErrorBody(problem, message) : { error: message };
      request.error = Object.assign(new Error(JSON.stringify(body)), {
        statusCode: problem.statusCode,
        expose: true,
        shaped: true,
        headers: { ...problem.headers, ...(problem.statusCode >= 500 ? { 'X-Request-Id': requestId } : {}) },
        reason: problem.reason,
      });
    },
  };
}

/**
 * Reports each request's outcome to onResponse. Added first (inside the outer middlewares), so its
 * after and onError run last, when the answer (an error's included) is final.
 */
function observeResponses(onResponse: (observation: RequestObservation) => void): middy.MiddlewareObj<PipelineEvent, HttpResponse> {
  const report = (request: middy.Request<PipelineEvent, HttpResponse>) => {
    const { event, response } = request;
    const statusCode = response?.statusCode ?? 500;
    const error = request.error as { reason?: ErrorReason } | null | undefined;
    const reason = statusCode < 400 ? undefined : (event.observed?.reason ?? error?.reason ?? reasonForStatus(statusCode));
    try {
      onResponse({
        model: event.observed?.model,
        version: event.observed?.version,
        method: event.method,
        path: event.path,
        statusCode,
        reason,
        requestBytes: event.bodyBytes,
        responseBytes: response === undefined || response === null ? 0 : byteLength(response.body ?? ''),
        durationMs: performance.now() - (event.startedAt ?? performance.now()),
      });
    } catch {
      // Observing must never change an answer.
    }
  };
  return {
    before: (request) => {
      request.event.startedAt = performance.now();
    },
    after: report,
    onError: report,
  };
}

/** The server's own body limit, before the request is read in full (413 naming the limit). */
export const bodyOverLimit = (bytes: number, limit: number): InferenceError =>
  new InferenceError(413, `request body is ${bytes} bytes or more, over the server's ${limit}-byte limit; send fewer rows per request or use batch prediction`);

/** The path of a request line, percent-decoded once; 400 when it is not valid percent-encoding. */
export function decodePath(rawPath: string): string | InferenceError {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return new InferenceError(400, `request path is not valid percent-encoding: ${rawPath.slice(0, 200)}`);
  }
}
