/**
 * The local server wired as `npm start` runs it: the runtime (metrics, captures, feedback, shadow,
 * console statistics) built first, the repository and service given its hooks at construction, and
 * the console and the pipeline in front. The entry and the tests build it the same way.
 */
import type { BatchRun } from '../core/batcher.ts';
import type { CoreLogger } from '../core/logger.ts';
import type { ModelLoadEvent, ModelRepository } from '../core/model-repository.ts';
import { InferenceService } from '../core/inference-service.ts';
import { createHttpPipeline } from '../adapters/http/pipeline.ts';
import { LocalConsole } from '../adapters/local/console.ts';
import { LocalRuntime, type LocalRuntimeOptions } from '../adapters/local/runtime.ts';
import { apiKeyCheck, startLocalServer, type LocalServer } from '../adapters/local/server.ts';
import { SigV4Verifier, type SigV4Credentials } from '../adapters/local/sigv4.ts';

export interface LocalStackOptions extends LocalRuntimeOptions {
  /** Builds the repository with the runtime's hooks (model loads, batched runs) and dynamic batching on: the local server is long-running. */
  readonly repository: (hooks: { onModelLoad: (event: ModelLoadEvent) => void; onBatch: (model: string, version: number, run: BatchRun) => void; dynamicBatching: true }) => ModelRepository;
  /** Body limit for models whose config sets none. @default 6 MiB */
  readonly maxRequestBytes?: number;
  /** The server's own body limit, checked before a body is read in full. @default maxRequestBytes */
  readonly maxBodyBytes?: number;
  /** Require this key in the x-api-key header. @default - no key */
  readonly apiKey?: string;
  /** Require AWS Signature Version 4 with these credentials, as API Gateway's IAM authorization does (AUTH=iam). @default - no signature */
  readonly iam?: { readonly credentials: SigV4Credentials; /** @default 'us-east-1' */ readonly region?: string };
  /** Origins allowed by CORS, and to send state-changing requests. @default - none: only the server's own pages */
  readonly corsOrigins?: string[];
  /** @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** The time each request may take. @default 30000 */
  readonly timeoutMs?: number;
  readonly logger: CoreLogger;
}

export interface LocalStack {
  readonly url: string;
  readonly server: LocalServer;
  readonly runtime: LocalRuntime;
  readonly repository: ModelRepository;
  readonly service: InferenceService;
  readonly console: LocalConsole;
  /** Stops the server, then writes out what the runtime buffered. */
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const runtime = new LocalRuntime(options);
  const repository = options.repository({ onModelLoad: runtime.onModelLoad, onBatch: runtime.onBatch, dynamicBatching: true });
  const service = new InferenceService({ repository, defaultMaxRequestBytes: options.maxRequestBytes, logger: options.logger, hooks: runtime.serviceHooks(repository) });
  const localConsole = new LocalConsole(service, runtime.stats, runtime.batches);
  const keyCheck = options.apiKey === undefined ? undefined : apiKeyCheck(options.apiKey);
  const server = await startLocalServer({
    pipeline: createHttpPipeline(service, { logger: options.logger, onResponse: runtime.onResponse, authorize: keyCheck?.authorize, corsOrigins: options.corsOrigins }),
    routes: (method, path, authorized) => localConsole.route(method, path, authorized),
    authorized: keyCheck?.authorized,
    corsOrigins: options.corsOrigins,
    signatures: options.iam === undefined ? undefined : new SigV4Verifier({ credentials: options.iam.credentials, region: options.iam.region, service: 'execute-api' }),
    port: options.port,
    host: options.host,
    maxBodyBytes: options.maxBodyBytes ?? options.maxRequestBytes,
    timeoutMs: options.timeoutMs,
  });
  return {
    url: server.url,
    server,
    runtime,
    repository,
    service,
    console: localConsole,
    close: async () => {
      await server.close();
      await runtime.close();
    },
  };
}
