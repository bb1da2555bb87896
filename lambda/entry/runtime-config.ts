/**
 * The runtime's settings, read from the environment once at start and checked, for every entry
 * (Lambda handlers, local server, SageMaker container, CLI), and the model store and service they
 * wire from them. Nothing outside entry/ reads process.env.
 */
import { availableParallelism } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { LAMBDA_PAYLOAD_LIMIT_BYTES } from '../core/config.ts';
import { InferenceService, type ServiceHooks } from '../core/inference-service.ts';
import type { NativeConverter } from '../core/conversion-record.ts';
import type { CoreLogger } from '../core/logger.ts';
import { ModelRepository, type DeploymentManifestRef, type ModelRepositoryOptions } from '../core/model-repository.ts';
import { defaultSessionOptions } from '../core/sessions.ts';
import type { ModelSource } from '../core/model-source.ts';
import { NATIVE_MODEL_FILES } from '../convert/files.ts';
import { DirectorySource } from '../stores/directory-source.ts';
import { S3Source } from '../stores/s3-source.ts';

export interface RuntimeConfig {
  /** Directory model repository (MODEL_DIR). */
  readonly modelDir?: string;
  /** S3 model repository (MODEL_BUCKET, MODEL_PREFIX). */
  readonly modelBucket?: string;
  readonly modelPrefix: string;
  /** S3-compatible endpoint (S3_ENDPOINT), path-style addressing. */
  readonly s3Endpoint?: string;
  /** Only these models (MODEL_NAMES, comma-separated). */
  readonly modelNames?: string[];
  /** Live version of the one model served (MODEL_VERSION), overriding its config's policy. */
  readonly modelVersion?: number;
  /** Live version of each model served (MODEL_VERSIONS, {"<name>": version}: the batch functions). */
  readonly modelVersions?: Readonly<Record<string, number>>;
  /** Load every model's live version at start (PRELOAD_MODELS=true). */
  readonly preload: boolean;
  /** MAX_REQUEST_BYTES, default 6 MiB. */
  readonly maxRequestBytes: number;
  /** ORT_INTRA_OP_THREADS, default the vCPUs available. */
  readonly intraOpThreads: number;
  /** onnxruntime's intra-op threads spin between runs (ORT_ALLOW_SPINNING). @default false */
  readonly allowSpinning: boolean;
  /** STORE_TIMEOUT_MS: each S3 request's response timeout (3 attempts). @default 10000 */
  readonly storeTimeoutMs: number;
  /** MODEL_SHA256S: {"<name>/<version>": sha256} recorded at deploy; loads that differ are refused. */
  readonly expectedSha256?: Record<string, string>;
  /**
   * MODEL_MANIFEST and MODEL_MANIFEST_SHA256: the deployment manifest (a path under the model
   * repository) holding the pin when it is too large for the environment, and its sha256.
   */
  readonly deploymentManifest?: DeploymentManifestRef;
  /** AWS_REGION, for an S3-compatible endpoint. @default 'us-east-1' */
  readonly region: string;
  /**
   * The per-request observers that are on (MODELSHIP_OBSERVE: a comma list, or "none"): metrics
   * (per-request and per-inference metric records), log (the Lambda function's per-inference log
   * line), stats (the local console's live statistics), capture (data capture sampling). Turning
   * one off trades its signal for throughput; `npm run bench` prints each one's cost.
   * @default all four
   */
  readonly observe: ReadonlySet<Observer>;
}

export class RuntimeConfigError extends Error {}

export const OBSERVERS = ['metrics', 'log', 'stats', 'capture'] as const;
export type Observer = (typeof OBSERVERS)[number];

function observers(env: NodeJS.ProcessEnv): ReadonlySet<Observer> {
  const text = env.MODELSHIP_OBSERVE?.trim();
  if (text === undefined || text === '' || text === 'all') return new Set(OBSERVERS);
  if (text === 'none') return new Set();
  const words = text.split(',').map((w) => w.trim()).filter((w) => w !== '');
  const unknown = words.filter((w) => !(OBSERVERS as readonly string[]).includes(w));
  if (unknown.length > 0) throw new RuntimeConfigError(`MODELSHIP_OBSERVE takes "all", "none" or a comma list of ${OBSERVERS.join(', ')}; "${unknown.join('", "')}" is none of them`);
  return new Set(words as Observer[]);
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new RuntimeConfigError(`${name} must be a positive integer, got "${text}"`);
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const text = env[name]?.toLowerCase();
  if (text === undefined || text === '') return fallback;
  if (['true', '1', 'yes'].includes(text)) return true;
  if (['false', '0', 'no'].includes(text)) return false;
  throw new RuntimeConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function parseJsonEnv(env: NodeJS.ProcessEnv, name: string, what: string): unknown {
  try {
    return JSON.parse(env[name]!);
  } catch {
    throw new RuntimeConfigError(`${name} must be ${what}`);
  }
}

/**
 * @param defaults.intraOpThreads onnxruntime's intra-op threads when ORT_INTRA_OP_THREADS is unset:
 *   the vCPUs for a function, which runs one request at a time; 1 for the long-running servers,
 *   whose requests in flight already keep the cores busy (npm run bench, part t: on 2 vCPUs,
 *   2 threads per run cost the container 18% of its small-request throughput and gained nothing on a
 *   convolution).
 */
export function readRuntimeConfig(env: NodeJS.ProcessEnv, defaults: { modelDir?: string; preload?: boolean; intraOpThreads?: number } = {}): RuntimeConfig {
  const modelBucket = env.MODEL_BUCKET || undefined;
  const modelDir = env.MODEL_DIR || (modelBucket === undefined ? defaults.modelDir : undefined);
  if (modelDir !== undefined && modelBucket !== undefined) {
    throw new RuntimeConfigError('set either MODEL_DIR (a directory) or MODEL_BUCKET (S3), not both');
  }
  if (modelDir === undefined && modelBucket === undefined) {
    throw new RuntimeConfigError('no model repository: set MODEL_DIR to a directory, or MODEL_BUCKET (and MODEL_PREFIX) for S3');
  }
  const names = env.MODEL_NAMES?.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const modelVersion = env.MODEL_VERSION ? positiveInt(env, 'MODEL_VERSION', 0) : undefined;
  if (modelVersion !== undefined && names?.length !== 1) {
    throw new RuntimeConfigError('MODEL_VERSION needs exactly one model in MODEL_NAMES');
  }
  let modelVersions: Record<string, number> | undefined;
  if (env.MODEL_VERSIONS) {
    const parsed = parseJsonEnv(env, 'MODEL_VERSIONS', 'a JSON object of "<model>": version');
    if (typeof parsed !== 'object' || parsed === null || Object.values(parsed).some((v) => !Number.isInteger(v) || (v as number) < 1)) {
      throw new RuntimeConfigError('MODEL_VERSIONS must be a JSON object of "<model>": version (a positive integer)');
    }
    modelVersions = parsed as Record<string, number>;
  }
  let expectedSha256: Record<string, string> | undefined;
  if (env.MODEL_SHA256S) {
    try {
      expectedSha256 = JSON.parse(env.MODEL_SHA256S) as Record<string, string>;
    } catch {
      throw new RuntimeConfigError('MODEL_SHA256S must be a JSON object of "<model>/<version>": sha256');
    }
  }
  const manifestPath = env.MODEL_MANIFEST || undefined;
  const manifestSha256 = env.MODEL_MANIFEST_SHA256 || undefined;
  if ((manifestPath === undefined) !== (manifestSha256 === undefined)) {
    throw new RuntimeConfigError('MODEL_MANIFEST and MODEL_MANIFEST_SHA256 go together: the deployment manifest\'s path under the repository and its sha256');
  }
  if (manifestSha256 !== undefined && !/^[0-9a-f]{64}$/.test(manifestSha256)) throw new RuntimeConfigError(`MODEL_MANIFEST_SHA256 must be a sha256 in hex (64 characters), got "${manifestSha256}"`);
  if (manifestPath !== undefined && expectedSha256 !== undefined) throw new RuntimeConfigError('set either MODEL_SHA256S (the pin itself) or MODEL_MANIFEST (where it is), not both');
  return {
    modelVersions,
    deploymentManifest: manifestPath === undefined ? undefined : { path: manifestPath, sha256: manifestSha256! },
    region: env.AWS_REGION ?? 'us-east-1',
    expectedSha256,
    storeTimeoutMs: positiveInt(env, 'STORE_TIMEOUT_MS', 10_000),
    modelVersion,
    modelDir,
    modelBucket,
    modelPrefix: env.MODEL_PREFIX ?? '',
    s3Endpoint: env.S3_ENDPOINT || undefined,
    modelNames: names !== undefined && names.length > 0 ? names : undefined,
    preload: flag(env, 'PRELOAD_MODELS', defaults.preload ?? false),
    maxRequestBytes: positiveInt(env, 'MAX_REQUEST_BYTES', LAMBDA_PAYLOAD_LIMIT_BYTES),
    intraOpThreads: positiveInt(env, 'ORT_INTRA_OP_THREADS', defaults.intraOpThreads ?? availableParallelism()),
    allowSpinning: flag(env, 'ORT_ALLOW_SPINNING', false),
    observe: observers(env),
  };
}

export interface RepositoryHooks extends Pick<ModelRepositoryOptions, 'onModelLoad' | 'dynamicBatching' | 'onBatch'> {
  /**
   * Converts a native model (model.json, model.ubj, model.txt) found without its converted model.onnx,
   * once, when it loads: given by the long-running servers (npm start, the SageMaker container) and
   * the CLI. A Lambda function is given none and never converts at cold start: it serves the
   * model.onnx that cdk synth staged. @default - a native file without model.onnx is refused
   */
  readonly convertNative?: NativeConverter;
  /** Wraps the S3 client (the Powertools tracer records its calls). */
  readonly instrumentS3Client?: (client: S3Client) => S3Client;
}

/**
 * The model store's S3 client. Bounded: 3 attempts with the SDK's exponential backoff, each with
 * connect and response timeouts, so an unreachable or hung store answers 503 quickly instead of
 * hanging requests. Its credentials come from the SDK's default provider chain, which reads them
 * again when it is created (after a SnapStart restore, a new client: lambda/entry/api.ts).
 */
export function createS3Client(config: RuntimeConfig, instrument: (client: S3Client) => S3Client = (c) => c): S3Client {
  return instrument(new S3Client({
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ connectionTimeout: Math.min(2000, config.storeTimeoutMs), requestTimeout: config.storeTimeoutMs, throwOnRequestTimeout: true }),
    ...(config.s3Endpoint === undefined ? {} : { endpoint: config.s3Endpoint, forcePathStyle: true, region: config.region }),
  }));
}

export function createModelSource(config: RuntimeConfig, instrument: (client: S3Client) => S3Client = (c) => c): ModelSource {
  if (config.modelDir !== undefined) return new DirectorySource(config.modelDir);
  return new S3Source({ bucket: config.modelBucket!, prefix: config.modelPrefix, client: createS3Client(config, instrument) });
}

export function createRepository(config: RuntimeConfig, logger?: CoreLogger, hooks: RepositoryHooks = {}): ModelRepository {
  return new ModelRepository({
    onModelLoad: hooks.onModelLoad,
    dynamicBatching: hooks.dynamicBatching,
    onBatch: hooks.onBatch,
    source: createModelSource(config, hooks.instrumentS3Client),
    models: config.modelNames,
    expectedSha256: config.expectedSha256,
    deploymentManifest: config.deploymentManifest,
    liveVersions: config.modelVersion !== undefined ? { ...config.modelVersions, [config.modelNames![0]]: config.modelVersion } : config.modelVersions,
    sessionOptions: defaultSessionOptions(config.intraOpThreads, config.allowSpinning),
    nativeModelFiles: NATIVE_MODEL_FILES,
    convertNative: hooks.convertNative,
    logger,
  });
}

export function createService(config: RuntimeConfig, repository: ModelRepository, logger?: CoreLogger, hooks?: ServiceHooks): InferenceService {
  return new InferenceService({ repository, defaultMaxRequestBytes: config.maxRequestBytes, logger, hooks });
}
