/**
 * The routes the core answers: the Open Inference Protocol (v2), TF Serving's :predict, feedback,
 * and the OpenAI- and Cohere/Jina-compatible routes (embeddings, models, rerank), which also live
 * under each model's own base path /openai/{name}/v1 (API Gateway cannot route on a body's "model"). Matched here rather than by a router middleware (@middy/http-router) because every
 * adapter, not only the Lambda one, must route the same way; the CDK API is checked against ROUTES.
 */
import { methodNotAllowed, modelNotFound } from './errors.ts';

export type Route =
  | { readonly kind: 'live' | 'ready' | 'server' }
  | { readonly kind: 'metadata' | 'model-ready' | 'infer' | 'predict'; readonly model: string; readonly version?: string }
  | { readonly kind: 'feedback'; readonly model: string }
  /** `scope`: the model of the /openai/{name}/v1 base path the request came through (the only one it may name). */
  | { readonly kind: 'embeddings'; readonly scope?: string }
  | { readonly kind: 'rerank'; readonly scope?: string }
  | { readonly kind: 'openai-models'; readonly scope?: string }
  | { readonly kind: 'openai-model'; readonly model: string; readonly scope?: string };

export interface RouteDefinition {
  /** The path with {name} and {version} placeholders, as documented and as the API declares it. */
  readonly template: string;
  readonly pattern: RegExp;
  readonly methods: readonly string[];
  readonly route: (match: RegExpExecArray) => Route;
  /**
   * False for the routes API Gateway does not declare: those whose model is named in the body (or
   * that list every model), which a REST API cannot send to the model's own function. The API
   * serves them per model under /openai/{name}/v1 instead. @default true
   */
  readonly onApiGateway?: boolean;
}

/** The OpenAI/Cohere-compatible routes: their errors are OpenAI's {"error": {"message", "type", "param", "code"}}. */
export const COMPATIBLE_PATH = /^\/(?:v1\/(?:embeddings|rerank|models(?:\/[^/:]+)?)|openai\/[^/]+(?:\/.*)?)\/?$/;


export const ROUTES: readonly RouteDefinition[] = [
  { template: '/v2/health/live', pattern: /^\/v2\/health\/live$/, methods: ['GET'], route: () => ({ kind: 'live' }) },
  { template: '/v2/health/ready', pattern: /^\/v2\/health\/ready$/, methods: ['GET'], route: () => ({ kind: 'ready' }) },
  { template: '/v2', pattern: /^\/v2$/, methods: ['GET'], route: () => ({ kind: 'server' }) },
  { template: '/v2/models/{name}', pattern: /^\/v2\/models\/([^/]+)$/, methods: ['GET'], route: (m) => ({ kind: 'metadata', model: m[1] }) },
  { template: '/v2/models/{name}/versions/{version}', pattern: /^\/v2\/models\/([^/]+)\/versions\/([^/]+)$/, methods: ['GET'], route: (m) => ({ kind: 'metadata', model: m[1], version: m[2] }) },
  { template: '/v2/models/{name}/ready', pattern: /^\/v2\/models\/([^/]+)\/ready$/, methods: ['GET'], route: (m) => ({ kind: 'model-ready', model: m[1] }) },
  { template: '/v2/models/{name}/versions/{version}/ready', pattern: /^\/v2\/models\/([^/]+)\/versions\/([^/]+)\/ready$/, methods: ['GET'], route: (m) => ({ kind: 'model-ready', model: m[1], version: m[2] }) },
  { template: '/v2/models/{name}/infer', pattern: /^\/v2\/models\/([^/]+)\/infer$/, methods: ['POST'], route: (m) => ({ kind: 'infer', model: m[1] }) },
  { template: '/v2/models/{name}/versions/{version}/infer', pattern: /^\/v2\/models\/([^/]+)\/versions\/([^/]+)\/infer$/, methods: ['POST'], route: (m) => ({ kind: 'infer', model: m[1], version: m[2] }) },
  { template: '/v2/models/{name}/feedback', pattern: /^\/v2\/models\/([^/]+)\/feedback$/, methods: ['POST'], route: (m) => ({ kind: 'feedback', model: m[1] }) },
  { template: '/v1/models/{name}:predict', pattern: /^\/v1\/models\/([^/:]+):predict$/, methods: ['POST'], route: (m) => ({ kind: 'predict', model: m[1] }) },
  { template: '/v1/embeddings', pattern: /^\/v1\/embeddings$/, methods: ['POST'], route: () => ({ kind: 'embeddings' }), onApiGateway: false },
  { template: '/v1/rerank', pattern: /^\/v1\/rerank$/, methods: ['POST'], route: () => ({ kind: 'rerank' }), onApiGateway: false },
  { template: '/v1/models', pattern: /^\/v1\/models$/, methods: ['GET'], route: () => ({ kind: 'openai-models' }), onApiGateway: false },
  { template: '/v1/models/{name}', pattern: /^\/v1\/models\/([^/:]+)$/, methods: ['GET'], route: (m) => ({ kind: 'openai-model', model: m[1] }) },
  { template: '/openai/{name}/v1/embeddings', pattern: /^\/openai\/([^/]+)\/v1\/embeddings$/, methods: ['POST'], route: (m) => ({ kind: 'embeddings', scope: m[1] }) },
  { template: '/openai/{name}/v1/rerank', pattern: /^\/openai\/([^/]+)\/v1\/rerank$/, methods: ['POST'], route: (m) => ({ kind: 'rerank', scope: m[1] }) },
  { template: '/openai/{name}/v1/models', pattern: /^\/openai\/([^/]+)\/v1\/models$/, methods: ['GET'], route: (m) => ({ kind: 'openai-models', scope: m[1] }) },
  { template: '/openai/{name}/v1/models/{model}', pattern: /^\/openai\/([^/]+)\/v1\/models\/([^/]+)$/, methods: ['GET'], route: (m) => ({ kind: 'openai-model', model: m[2], scope: m[1] }) },
  { template: '/v1/models/{name}/versions/{version}:predict', pattern: /^\/v1\/models\/([^/:]+)\/versions\/([^/:]+):predict$/, methods: ['POST'], route: (m) => ({ kind: 'predict', model: m[1], version: m[2] }) },
];

/** The route a request addresses; 404 for no route, 405 (with the allowed methods) for a wrong method. */
export function matchRoute(method: string, rawPath: string): Route {
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  for (const { pattern, methods, route } of ROUTES) {
    const match = pattern.exec(path);
    if (match === null) continue;
    const upper = method.toUpperCase();
    if (!methods.includes(upper)) throw methodNotAllowed(upper, path, methods);
    return route(match);
  }
  throw modelNotFound(`no route for ${method} ${path}; see GET /v2 and /v2/models/{name}`);
}
