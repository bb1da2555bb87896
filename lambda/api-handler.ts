/**
 * The API Gateway adapter: REST API (v1) and HTTP API (v2) proxy events in, one core call, the
 * proxy result out. Everything HTTP-generic is a middy middleware; everything about models is the
 * core's.
 */
import middy from '@middy/core';
import httpCors from '@middy/http-cors';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import { describeError, InferenceError, isInferenceError, reasonForStatus, type ErrorReason } from './core/errors.ts';
import type { Observed, RequestHandler } from './core/inference-service.ts';
import type { CoreLogger } from './core/model-repository.ts';

export type ApiEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

export interface ApiHandlerOptions {
  /** Origins allowed by CORS. @default - CORS off: no CORS headers, no preflight answers */
  readonly corsOrigins?: string[];
  /** Answer 504 this long before the function's own timeout. @default 1000 */
  readonly timeoutEarlyInMillis?: number;
  /** Answers larger than this are refused with a message pointing to batch mode. @default 6 MiB less headroom for headers, Lambda's response limit */
  readonly maxResponseBytes?: number;
  readonly logger?: CoreLogger;
  /** Called once per request with its outcome, sizes and duration (metrics, the local console). */
  readonly onResponse?: (observation: RequestObservation) => void;
  /** Middlewares that wrap everything else (the Lambda entry's Powertools tracer, logger and metrics). */
  readonly outerMiddlewares?: middy.MiddlewareObj<SizedEvent, APIGatewayProxyResult, Error, Context>[];
}

/** What one request did, for metrics: never the payload. */
export interface RequestObservation {
  /** The model that answered, when the request named one that exists. */
  readonly model?: string;
  readonly version?: number;
  readonly method: string;
  readonly path: string;
  readonly statusCode: number;
  /** Why it failed (4xx and 5xx). */
  readonly reason?: ErrorReason;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** From the handler's start to its answer. */
  readonly durationMs: number;
}

/** Size of the body as received. */
const rawBodyBytes = Symbol('rawBodyBytes');
/** What the core observed (model, version, failure reason), for onResponse. */
const observedBy = Symbol('observed');
/** When the handler started on this event (performance.now()). */
const startedAt = Symbol('startedAt');
type SizedEvent = ApiEvent & { [rawBodyBytes]?: number; [observedBy]?: Observed; [startedAt]?: number };

/** Requests using the binary tensor extension carry a JSON header then raw bytes: not JSON. */
const isBinaryRequest = (event: ApiEvent) => event.headers?.['inference-header-content-length'] !== undefined;

const isRestEvent = (event: ApiEvent): event is APIGatewayProxyEvent => 'httpMethod' in event;

function requestLine(event: ApiEvent): { method: string; path: string } {
  if (isRestEvent(event)) return { method: event.httpMethod, path: event.path };
  const { http, stage } = event.requestContext;
  // HTTP APIs put a named stage in front of the route path; $default has none.
  const prefix = stage && stage !== '$default' ? `/${stage}` : '';
  const path = prefix !== '' && event.rawPath.startsWith(`${prefix}/`) ? event.rawPath.slice(prefix.length) : event.rawPath;
  return { method: http.method, path };
}

/** Measures the raw body, for the request size limits. */
const measureBody = (): middy.MiddlewareObj<SizedEvent> => ({
  before: (request) => {
    const { body, isBase64Encoded } = request.event;
    request.event[rawBodyBytes] = body == null ? 0 : isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
  },
});

/**
 * Gives every error the Open Inference Protocol's body, {"error": "..."}, before middy's error
 * handler writes it out.
 */
const openInferenceErrors = (): middy.MiddlewareObj<SizedEvent> => ({
  onError: (request) => {
    const error = request.error as (Error & { statusCode?: number }) | undefined;
    let problem: InferenceError;
    if (isInferenceError(error)) problem = error;
    else if (error?.name === 'TimeoutError') {
      problem = new InferenceError(504, 'the request ran too long and was stopped before the function timeout; send fewer rows or use batch prediction');
    } else if (typeof error?.statusCode === 'number' && error.statusCode < 500) {
      problem = new InferenceError(error.statusCode, error.message);
    } else return; // unexpected: middy's handler answers a generic 500 and logs it
    const wrapped = Object.assign(new Error(JSON.stringify({ error: problem.message })), {
      statusCode: problem.statusCode,
      expose: true,
      headers: problem.headers,
      reason: problem.reason,
    });
    request.error = wrapped;
  },
});

/**
 * Reports each request's outcome to onResponse. Added first, so its after and onError run last,
 * when the answer (an error's included) is final.
 */
const observeResponses = (onResponse: (observation: RequestObservation) => void): middy.MiddlewareObj<SizedEvent, APIGatewayProxyResult> => {
  const report = (request: middy.Request<SizedEvent, APIGatewayProxyResult>) => {
    const { event, response } = request;
    const statusCode = response?.statusCode ?? 500;
    const body = response?.body ?? '';
    const observed = event[observedBy];
    const error = request.error as { reason?: ErrorReason; name?: string } | null | undefined;
    const reason = statusCode < 400 ? undefined : (observed?.reason ?? error?.reason ?? (error?.name === 'TimeoutError' ? 'timeout' : reasonForStatus(statusCode)));
    const { method, path } = requestLine(event);
    try {
      onResponse({
        model: observed?.model,
        version: observed?.version,
        method,
        path,
        statusCode,
        reason,
        requestBytes: event[rawBodyBytes] ?? 0,
        responseBytes: response?.isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body),
        durationMs: performance.now() - (event[startedAt] ?? performance.now()),
      });
    } catch {
      // Observing must never change an answer.
    }
  };
  return {
    before: (request) => {
      request.event[startedAt] = performance.now();
    },
    after: report,
    onError: report,
  };
};

export function createApiHandler(service: RequestHandler, options: ApiHandlerOptions = {}) {
  const logger = options.logger;
  const timeoutEarly = options.timeoutEarlyInMillis ?? 1000;
  const maxResponseBytes = options.maxResponseBytes ?? 6 * 1024 * 1024 - 16 * 1024;
  const lambdaHandler = async (event: SizedEvent, context: Context): Promise<APIGatewayProxyResult> => {
    const { method, path } = requestLine(event);
    // Any content type is accepted (curl -d sends form-encoded): the core parses the text as JSON.
    // A binary tensor request stays bytes.
    let body: string | Buffer | undefined = event.body === null || event.body === '' ? undefined : event.body;
    if (body !== undefined && (event.isBase64Encoded || isBinaryRequest(event))) {
      const bytes = Buffer.from(body, event.isBase64Encoded ? 'base64' : 'utf8');
      body = isBinaryRequest(event) ? bytes : bytes.toString('utf8');
    }
    // Inference must finish before middy's early timeout, itself ahead of the function's.
    const deadline = Date.now() + context.getRemainingTimeInMillis() - 2 * timeoutEarly;
    const response = await service.handle({ method, path, headers: event.headers as Record<string, string>, body, bodyBytes: event[rawBodyBytes], deadline });
    event[observedBy] = response.observed;
    const binary = typeof response.body !== 'string';
    // API Gateway carries binary answers base64-encoded (a third larger) in the Lambda response.
    const bytes = binary ? Math.ceil(response.body.length / 3) * 4 : Buffer.byteLength(response.body as string);
    if (bytes > maxResponseBytes) {
      throw new InferenceError(413, `the answer would be ${bytes} bytes, over the ${maxResponseBytes}-byte limit of a Lambda response; ask for fewer outputs ("outputs") or rows per request, use binary outputs, or use batch prediction`, { reason: 'response_too_large' });
    }
    if (binary) return { statusCode: response.statusCode, headers: response.headers, body: Buffer.from(response.body as Uint8Array).toString('base64'), isBase64Encoded: true };
    return { statusCode: response.statusCode, headers: response.headers, body: response.body as string };
  };

  const handler = middy<SizedEvent, APIGatewayProxyResult, Error, Context>({
    timeoutEarlyInMillis: timeoutEarly,
  })
    .use(options.outerMiddlewares ?? [])
    .use(options.onResponse === undefined ? [] : [observeResponses(options.onResponse)])
    // before: in the order added; after and onError: in reverse. So the security and CORS headers
    // are added last, to every answer, errors included; openInferenceErrors shapes an error before
    // httpErrorHandler writes it.
    .use(httpHeaderNormalizer())
    .use(httpSecurityHeaders())
    .use(options.corsOrigins !== undefined ? [httpCors({ origins: options.corsOrigins })] : [])
    .use(
      httpErrorHandler({
        // Errors the caller caused are answered, not logged as failures; only unexpected ones are.
        logger: logger === undefined ? false : (error: unknown) => {
          if (((error as { statusCode?: number }).statusCode ?? 500) >= 500) logger.error('unhandled error', { cause: describeError(error) });
        },
        fallbackMessage: JSON.stringify({ error: 'internal error; see the function logs' }),
      }),
    )
    .use(openInferenceErrors())
    // No JSON body parser middleware: @middy/http-json-body-parser runs a reviver on every value
    // (its prototype guard), which takes ~460 ms for a 1.2 MB tensor against ~40 ms for the whole
    // inference, and calls a custom reviver without the source text, so INT64 values past 2^53
    // would be rounded. The core parses the body text itself (parseJsonBody: native JSON.parse,
    // with the exact-integer reviver only when the text may need it). Parsed JSON never merges
    // into other objects, so a "__proto__" key cannot pollute prototypes.
    .use(measureBody())
    .handler(lambdaHandler);
  return handler;
}
