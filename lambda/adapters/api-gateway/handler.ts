/**
 * The API Gateway adapter: a REST API (v1) or HTTP API (v2) proxy event becomes one HttpRequest,
 * the shared pipeline answers it, and the answer becomes one proxy result. Headers are lower-cased
 * and base64 bodies decoded here, once.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { RequestHandler } from '../../core/request.ts';
import { createHttpPipeline, decodePath, type HttpPipelineOptions, type HttpRequest, type HttpResponse } from '../http/pipeline.ts';

export type ApiEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

/** Lambda's synchronous response limit, less headroom for the headers. */
export const LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024 - 16 * 1024;

export interface ApiGatewayHandlerOptions extends Omit<HttpPipelineOptions, 'binaryAsBase64' | 'timeoutEarlyInMillis' | 'maxResponseBytes' | 'responseLimitName'> {
  /** Answer 504 this long before the function's own timeout. @default 1000 */
  readonly timeoutEarlyInMillis?: number;
  /** Answers larger than this are refused with a message pointing to batch mode. @default 6 MiB less 16 KiB, Lambda's response limit */
  readonly maxResponseBytes?: number;
}

const isRestEvent = (event: ApiEvent): event is APIGatewayProxyEvent => 'httpMethod' in event;

/** The event as the pipeline's request. */
export function fromApiEvent(event: ApiEvent, context: Context, timeoutEarlyInMillis: number): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  let method: string;
  let path: string | ReturnType<typeof decodePath>;
  if (isRestEvent(event)) {
    method = event.httpMethod;
    // REST APIs deliver the path still percent-encoded.
    path = decodePath(event.path);
  } else {
    const { http, stage } = event.requestContext;
    method = http.method;
    // HTTP APIs deliver rawPath decoded, with a named stage in front of the route path ($default has none).
    const prefix = stage && stage !== '$default' ? `/${stage}` : '';
    path = prefix !== '' && event.rawPath.startsWith(`${prefix}/`) ? event.rawPath.slice(prefix.length) : event.rawPath;
  }
  const text = event.body ?? undefined;
  const body = text === undefined || text === '' ? undefined : event.isBase64Encoded ? Buffer.from(text, 'base64') : text;
  return {
    method,
    path: typeof path === 'string' ? path : '/',
    headers,
    body,
    bodyBytes: body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    requestId: context.awsRequestId,
    // Inference must finish before the pipeline's early timeout, itself ahead of the function's.
    deadline: Date.now() + context.getRemainingTimeInMillis() - 2 * timeoutEarlyInMillis,
    rejection: typeof path === 'string' ? undefined : path,
  };
}

/** The pipeline's answer as a proxy result: binary bodies travel base64-encoded, as API Gateway expects. */
export function toProxyResult(response: HttpResponse): APIGatewayProxyResult {
  if (typeof response.body === 'string') return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  return { statusCode: response.statusCode, headers: response.headers, body: Buffer.from(response.body).toString('base64'), isBase64Encoded: true };
}

export function createApiGatewayHandler(handler: RequestHandler, options: ApiGatewayHandlerOptions = {}) {
  const timeoutEarlyInMillis = options.timeoutEarlyInMillis ?? 1000;
  const pipeline = createHttpPipeline(handler, { ...options, timeoutEarlyInMillis, maxResponseBytes: options.maxResponseBytes ?? LAMBDA_RESPONSE_LIMIT_BYTES, responseLimitName: 'a Lambda response', binaryAsBase64: true });
  return async function apiGatewayHandler(event: ApiEvent, context: Context): Promise<APIGatewayProxyResult> {
    return toProxyResult(await pipeline(fromApiEvent(event, context, timeoutEarlyInMillis), context));
  };
}
