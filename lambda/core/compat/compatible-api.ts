/**
 * The OpenAI- and Cohere/Jina-compatible routes, answered by the core like every other route (so
 * through the one pipeline on every adapter): POST /v1/embeddings, POST /v1/rerank, GET /v1/models
 * and GET /v1/models/{name}, and the same under a model's own base path /openai/{name}/v1, where the
 * body may only name that model (API Gateway routes each such path to the model's own function).
 * Their errors are OpenAI's shape (the pipeline writes them, see openai-errors.ts).
 */
import { assignVersion } from '../ab-assignment.ts';
import { deadlinePassed, InferenceError, payloadTooLarge } from '../errors.ts';
import { parseJsonBody } from '../json.ts';
import type { ModelRepository } from '../model-repository.ts';
import { JSON_HEADERS, jsonResponse, type CoreRequest, type CoreResponse, type Observed } from '../request.ts';
import type { Route } from '../routes.ts';
import type { InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';
import { shadowJobFor, type ShadowJob } from '../shadow.ts';
import { scoreTextPairs } from '../tasks/text-pairs.ts';
import { parseEmbeddingsRequest, runEmbeddings } from './embeddings.ts';
import { parseRerankRequest, runRerank } from './rerank.ts';

export interface CompatibleApiOptions {
  readonly repository: ModelRepository;
  /** The service's loader: the version's session, with the model and version recorded in `observed`. */
  readonly loadModel: (name: string, version: string | undefined, observed: Observed) => Promise<LoadedModel>;
  /** Body limit for models whose config sets none. */
  readonly defaultMaxRequestBytes: number;
  readonly hooks: InferenceObservers & { readonly onShadow?: (job: ShadowJob) => void };
  /** `created` of every listed model (Unix seconds): when this server started serving them. */
  readonly createdAt: number;
}

type CompatibleRoute = Extract<Route, { kind: 'embeddings' } | { kind: 'rerank' } | { kind: 'openai-models' } | { kind: 'openai-model' }>;

const asText = (body: string | Uint8Array | undefined): string => (body === undefined ? '' : typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));

/** A model object as OpenAI's GET /v1/models lists it. */
const modelObject = (id: string, created: number) => ({ id, object: 'model', created, owned_by: 'modelship' });

export class CompatibleApi {
  private readonly options: CompatibleApiOptions;

  constructor(options: CompatibleApiOptions) {
    this.options = options;
  }

  async handle(route: CompatibleRoute, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const { repository, createdAt } = this.options;
    switch (route.kind) {
      case 'openai-models': {
        if (route.scope !== undefined) return jsonResponse({ object: 'list', data: [modelObject((await this.entry(route.scope)).name, createdAt)] });
        const catalog = await repository.catalog();
        const served = [...catalog.values()].filter((e) => e.problem === undefined && e.liveVersion !== undefined);
        return jsonResponse({ object: 'list', data: served.map((e) => modelObject(e.name, createdAt)) });
      }
      case 'openai-model': {
        this.checkScope(route.scope, route.model);
        return jsonResponse(modelObject((await this.entry(route.model)).name, createdAt));
      }
      case 'embeddings':
      case 'rerank':
        return this.run(route, request, observed);
    }
  }

  private async run(route: { readonly kind: 'embeddings' | 'rerank'; readonly scope?: string }, request: CoreRequest, observed: Observed): Promise<CoreResponse> {
    const body = parseJsonBody(asText(request.body));
    if (route.kind === 'embeddings') {
      const parsed = parseEmbeddingsRequest(body);
      const model = await this.modelFor(route.scope, parsed.model, request, observed);
      return this.answer(model, request, await runEmbeddings(model, parsed, this.options.hooks));
    }
    const parsed = parseRerankRequest(body);
    const model = await this.modelFor(route.scope, parsed.model, request, observed);
    return this.answer(model, request, await runRerank(model, parsed, scoreTextPairs, this.options.hooks));
  }

  /** The version that answers (the live one, or an A/B draw), once the body is within its size limit and the deadline has not passed. */
  private async modelFor(scope: string | undefined, name: string, request: CoreRequest, observed: Observed): Promise<LoadedModel> {
    this.checkScope(scope, name);
    const entry = await this.entry(name);
    const model = await this.options.loadModel(entry.name, assignVersion(entry, request.headers?.['x-assignment-key'], this.options.hooks.random), observed);
    const limit = model.config.maxRequestBytes ?? this.options.defaultMaxRequestBytes;
    const bytes = request.bodyBytes ?? Buffer.byteLength(asText(request.body));
    if (bytes > limit) throw payloadTooLarge(bytes, limit, `model "${model.name}"`);
    if (request.deadline !== undefined && Date.now() > request.deadline) throw deadlinePassed('before inference');
    return model;
  }

  /** The answer with the version's headers; a shadow version gets the same inputs in the /infer task shape, off the request path. */
  private answer(model: LoadedModel, request: CoreRequest, answer: { json: string; headers: Readonly<Record<string, string>>; shadowBody?: unknown }): CoreResponse {
    const { hooks } = this.options;
    if (request.deadline !== undefined && Date.now() > request.deadline) throw deadlinePassed('during inference');
    if (answer.shadowBody !== undefined && hooks.onShadow !== undefined) {
      const job = shadowJobFor(model, 'infer', answer.shadowBody, hooks.random);
      if (job !== undefined) hooks.onShadow(job);
    }
    return { statusCode: 200, headers: { ...JSON_HEADERS, 'X-Model-Name': model.name, 'X-Model-Version': String(model.version), ...answer.headers }, body: answer.json };
  }

  /** The catalog entry of a model the body or path names; 404 naming the served ones (OpenAI's model_not_found). */
  private async entry(name: string) {
    try {
      return await this.options.repository.entry(name);
    } catch (error) {
      if (error instanceof InferenceError && error.statusCode === 404) throw new InferenceError(404, `${error.message}; GET /v1/models lists them`, { param: 'model' });
      throw error;
    }
  }

  /** A per-model base path serves its own model only. */
  private checkScope(scope: string | undefined, model: string): void {
    if (scope !== undefined && scope !== model) {
      throw new InferenceError(400, `this base URL (/openai/${scope}/v1) serves model "${scope}" only, and the request names "${model}"; point the client's base URL at /openai/${model}/v1`, { param: 'model' });
    }
  }
}
