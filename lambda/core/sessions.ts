/**
 * Loading one model version into an onnxruntime session: fetch the file, verify its deployed
 * sha256 before onnxruntime parses it (a crafted file can crash the process at load), create the
 * session (on the GPU when asked, falling back to CPU), and read its signature.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { InferenceSession } from 'onnxruntime-node';
import type { ModelEntry } from './catalog.ts';
import type { ModelConfig } from './config.ts';
import { describeError, modelUnavailable } from './errors.ts';
import type { CoreLogger } from './logger.ts';
import type { ModelSource } from './model-source.ts';
import { readSignature, type Signature } from './signature.ts';
import { DynamicBatcher, type BatchRun } from './batcher.ts';
import { sideFilesDigest, taskFolder } from './tasks/hf-folder.ts';
import { loadTask } from './tasks/registry.ts';
import type { LoadedTask } from './tasks/task.ts';
import { readModelFolder, type FolderReadOptions } from './model-folder.ts';
import { readTabularModel, type TabularModel } from './tasks/tabular.ts';

export interface LoadedModel {
  readonly name: string;
  readonly version: number;
  readonly config: ModelConfig;
  readonly session: InferenceSession;
  readonly signature: Signature;
  readonly sha256: string;
  readonly loadMs: number;
  /** Of loadMs: fetching the file from the store, and creating the session. */
  readonly fetchMs: number;
  readonly sessionMs: number;
  /** Where the session runs: 'cuda' on a GPU, 'cpu' otherwise. */
  readonly executionProvider: 'cuda' | 'cpu';
  /** Image and text models: the task's module (registry.ts) and what it loaded (undefined: a tensor model). */
  readonly task?: LoadedTask;
  /** Models converted from a native format: their features by name, from conversion.json (undefined: an ONNX model). */
  readonly tabular?: TabularModel;
  /** Runs requests together (config.json dynamicBatching, on servers that batch). */
  readonly batcher?: DynamicBatcher;
}

export interface SessionLoaderOptions extends Omit<FolderReadOptions, 'logger'> {
  readonly source: ModelSource;
  /** onnxruntime session options for every model. @default defaultSessionOptions() */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /**
   * Run sessions on the GPU (onnxruntime's CUDA execution provider), falling back to CPU with a
   * warning and onGpuFallback when the provider or the device is missing. @default false
   */
  readonly gpu?: boolean;
  /** Batch requests of models whose config sets dynamicBatching (the long-running servers). @default false */
  readonly dynamicBatching?: boolean;
  /** Called after each batched run, for metrics. */
  readonly onBatch?: (model: string, version: number, run: BatchRun) => void;
  /** Called when a model asked for the GPU runs on CPU instead. */
  readonly onGpuFallback?: (event: { model: string; version: number; cause: string }) => void;
  /**
   * What was deployed: the sha256 each model file had, by "name/version" (and each config's, by
   * "name/config.json"). A file whose hash differs (replaced under a running version) is refused with
   * 503; the catalog serves a model named here only in the versions and with the config named here.
   * @default - not checked
   */
  readonly expectedSha256?: Readonly<Record<string, string>>;
  readonly logger: CoreLogger;
}

/**
 * Session options for a CPU function: threads from the vCPUs it really has, and no spinning, which
 * would keep cores busy after each call (see FIELD-NOTES.md).
 */
export function defaultSessionOptions(intraOpThreads = 1, allowSpinning = false): InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: allowSpinning ? '1' : '0' } } },
  };
}

/** How many batched runs may run at once: the cores, divided by each run's intra-op threads. */
export function batchInstances(sessionOptions: InferenceSession.SessionOptions | undefined): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, sessionOptions?.intraOpNumThreads ?? 1)));
}

/** Fetches, verifies and opens one version of a model. */
export async function loadSession(entry: ModelEntry, version: number, options: SessionLoaderOptions): Promise<LoadedModel> {
  const { source, logger } = options;
  const started = performance.now();
  const folder = `${entry.name}/${version}`;
  const { path, onnx: bytes, sideFiles, record } = await readModelFolder(entry, version, options).catch((error: unknown) => {
    logger.error('model load failed', { model: entry.name, version, cause: describeError(error) });
    throw error;
  });
  const expectedFiles = options.expectedSha256?.[`${folder}/files`];
  const filesDigest = sideFilesDigest(sideFiles);
  if (expectedFiles !== undefined && expectedFiles !== filesDigest) {
    logger.error('model side files do not match their deployed hash', { model: entry.name, version, digest: filesDigest, expected: expectedFiles, files: [...sideFiles.keys()] });
    throw modelUnavailable(`model "${entry.name}" version ${version}: the files beside model.onnx (${[...sideFiles.keys()].join(', ') || 'none'}) are not the ones it was deployed with; refusing to load changed preprocessing or a changed conversion (redeploy to ship it)`);
  }
  const fetchMs = performance.now() - started;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const expected = options.expectedSha256?.[`${entry.name}/${version}`];
  if (expected !== undefined && expected !== sha256) {
    logger.error('model file does not match its deployed hash', { model: entry.name, version, sha256, expected });
    throw modelUnavailable(`model "${entry.name}" version ${version}: ${path} has sha256 ${sha256}, not the ${expected} it was deployed with; refusing to load a replaced model file (redeploy to ship a new one)`);
  }
  try {
    const sessionStarted = performance.now();
    const { session, executionProvider } = await createSession(bytes, entry.name, version, options);
    const sessionMs = performance.now() - sessionStarted;
    const signature = readSignature(session);
    const where = `${source.location}/${folder}`;
    const tabular = record === undefined ? undefined : readTabularModel(record, entry.config, signature, where);
    const createSideSession = async (side: Uint8Array) => (await createSession(side, entry.name, version, { ...options, gpu: executionProvider === 'cuda' })).session;
    const task = tabular === undefined ? await loadTask(taskFolder({ where, config: entry.config, files: sideFiles, signature, onnx: bytes, createSession: createSideSession })) : undefined;
    const batching = entry.config.dynamicBatching;
    if (batching !== undefined) {
      const fixed = signature.inputs.find((input) => input.shape.length === 0 || input.shape[0] !== -1);
      if (fixed !== undefined) throw new Error(`config.json sets dynamicBatching, but input "${fixed.name}" has a fixed first dimension (${JSON.stringify(fixed.shape)}): requests cannot be concatenated along it`);
    }
    const batcher = batching !== undefined && options.dynamicBatching === true ? new DynamicBatcher(session, batching, (run) => options.onBatch?.(entry.name, version, run), batchInstances(options.sessionOptions)) : undefined;
    const loadMs = performance.now() - started;
    logger.info('model loaded', { model: entry.name, version, sha256, executionProvider, task: task?.module.name, loadMs: Math.round(loadMs), fetchMs: Math.round(fetchMs), sessionMs: Math.round(sessionMs) });
    return { name: entry.name, version, config: entry.config, session, signature, sha256, loadMs, fetchMs, sessionMs, executionProvider, task, tabular, batcher };
  } catch (error) {
    logger.error('model load failed', { model: entry.name, version, cause: describeError(error) });
    throw modelUnavailable(`model "${entry.name}" version ${version} cannot be loaded: ${describeError(error)}`, error);
  }
}

async function createSession(bytes: Uint8Array, model: string, version: number, options: SessionLoaderOptions): Promise<{ session: InferenceSession; executionProvider: 'cuda' | 'cpu' }> {
  const sessionOptions = options.sessionOptions ?? defaultSessionOptions();
  if (options.gpu) {
    try {
      return { session: await InferenceSession.create(bytes, { ...sessionOptions, executionProviders: ['cuda'] }), executionProvider: 'cuda' };
    } catch (error) {
      const cause = describeError(error);
      options.logger.warn('GPU unavailable, running on CPU', { model, version, cause });
      options.onGpuFallback?.({ model, version, cause });
    }
  }
  return { session: await InferenceSession.create(bytes, sessionOptions), executionProvider: 'cpu' };
}
