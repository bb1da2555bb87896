/**
 * The catalog of models a source holds, and their sessions: each (name, version) is loaded once per
 * process (creating and releasing sessions leaks native memory), lazily or at start, with concurrent
 * first requests sharing one load. A failed load is retried after a pause, never cached for good.
 */
import { createHash } from 'node:crypto';
import { InferenceSession } from 'onnxruntime-node';
import { DEFAULT_MODEL_CONFIG, MODEL_NAME_PATTERN, parseModelConfig, type ModelConfig } from './config.ts';
import { describeError, modelNotFound, modelUnavailable, badRequest } from './errors.ts';
import type { ModelSource } from './model-source.ts';
import { readSignature, type Signature } from './signature.ts';

export const MODEL_FILE = 'model.onnx';
const VERSION_PATTERN = /^[1-9]\d{0,8}$/;

export interface ModelEntry {
  readonly name: string;
  readonly config: ModelConfig;
  /** Versions present in the store, ascending. */
  readonly versions: readonly number[];
  /** The version the plain routes serve, from the config's version policy. */
  readonly liveVersion: number | undefined;
  /** Why this model cannot be served at all (bad config, pinned version missing, no versions). */
  readonly problem?: string;
}

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
}

export interface CoreLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export const silentLogger: CoreLogger = { info() {}, warn() {}, error() {} };

export interface ModelRepositoryOptions {
  readonly source: ModelSource;
  /** onnxruntime session options for every model. @default defaultSessionOptions() */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** Serve only these models (a per-model function). @default every model in the source */
  readonly models?: readonly string[];
  /** Pause before a failed catalog read or model load is tried again. @default 2000 */
  readonly retryAfterMs?: number;
  /** Live version per model, overriding each config's version policy (a function pinned to one version). @default - each config's policy */
  readonly liveVersions?: Readonly<Record<string, number>>;
  /**
   * Run sessions on the GPU (onnxruntime's CUDA execution provider), falling back to CPU with a
   * warning and onGpuFallback when the provider or the device is missing. @default false
   */
  readonly gpu?: boolean;
  /** Called when a model asked for the GPU runs on CPU instead. */
  readonly onGpuFallback?: (event: { model: string; version: number; cause: string }) => void;
  /**
   * The sha256 each model file had when it was deployed, by "name/version". A file whose hash
   * differs (replaced under a running version) is refused with 503. @default - not checked
   */
  readonly expectedSha256?: Readonly<Record<string, string>>;
  /** Called after every model load attempt, for metrics. */
  readonly onModelLoad?: (event: ModelLoadEvent) => void;
  readonly logger?: CoreLogger;
}

export interface ModelLoadEvent {
  readonly model: string;
  readonly version: number;
  /** Set when the load succeeded. */
  readonly loadMs?: number;
  /** Set when it failed. */
  readonly error?: string;
}

/**
 * Session options for a CPU function: threads from the vCPUs it really has, and no spinning, which
 * would keep cores busy after each call (see FIELD-NOTES.md).
 */
export function defaultSessionOptions(intraOpThreads = 1): InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

interface CachedAttempt<T> {
  readonly promise: Promise<T>;
  failedAt?: number;
}

export class ModelRepository {
  readonly source: ModelSource;
  private readonly options: ModelRepositoryOptions;
  private readonly retryAfterMs: number;
  private readonly logger: CoreLogger;
  private catalogAttempt: CachedAttempt<Map<string, ModelEntry>> | undefined;
  private readonly sessions = new Map<string, CachedAttempt<LoadedModel>>();

  constructor(options: ModelRepositoryOptions) {
    this.options = options;
    this.source = options.source;
    this.retryAfterMs = options.retryAfterMs ?? 2000;
    this.logger = options.logger ?? silentLogger;
  }

  /** The models in the store, read once; a store failure answers 503 and is retried after a pause. */
  catalog(): Promise<Map<string, ModelEntry>> {
    this.catalogAttempt = this.reuseOrRetry(this.catalogAttempt, () => this.readCatalog());
    return this.catalogAttempt.promise;
  }

  async entry(name: string): Promise<ModelEntry> {
    const catalog = await this.catalog();
    const entry = MODEL_NAME_PATTERN.test(name) ? catalog.get(name) : undefined;
    if (entry === undefined) {
      const known = [...catalog.keys()].sort();
      throw modelNotFound(`model "${name}" not found; available: ${known.length > 0 ? known.join(', ') : 'none'}`);
    }
    return entry;
  }

  /** Which version a request addresses: the one in its path, or the live one. */
  async resolveVersion(name: string, versionText?: string): Promise<{ entry: ModelEntry; version: number }> {
    const entry = await this.entry(name);
    if (entry.problem !== undefined) throw modelUnavailable(`model "${name}" cannot be served: ${entry.problem}`);
    if (versionText === undefined) return { entry, version: entry.liveVersion! };
    if (!VERSION_PATTERN.test(versionText)) {
      throw badRequest(`version "${versionText}" of model "${name}" is not a positive integer`);
    }
    const version = Number(versionText);
    if (!entry.versions.includes(version)) {
      throw modelNotFound(`model "${name}" has no version ${version}; available: ${entry.versions.join(', ')}`);
    }
    return { entry, version };
  }

  /** The session for (name, version), loading it on first use. */
  async load(name: string, version: number): Promise<LoadedModel> {
    const entry = await this.entry(name);
    const key = `${name}/${version}`;
    const attempt = this.reuseOrRetry(this.sessions.get(key), () => this.reportLoad(entry.name, version, this.loadSession(entry, version)));
    this.sessions.set(key, attempt);
    return attempt.promise;
  }

  /** Loads every served model's live version now (eager start); resolves with the failures, if any. */
  async preload(): Promise<string[]> {
    const catalog = await this.catalog();
    const failures: string[] = [];
    for (const entry of catalog.values()) {
      try {
        if (entry.problem !== undefined) throw new Error(entry.problem);
        await this.load(entry.name, entry.liveVersion!);
      } catch (error) {
        failures.push(`${entry.name}: ${describeError(error)}`);
      }
    }
    return failures;
  }

  private async reportLoad(model: string, version: number, loading: Promise<LoadedModel>): Promise<LoadedModel> {
    try {
      const loaded = await loading;
      this.options.onModelLoad?.({ model, version, loadMs: loaded.loadMs });
      return loaded;
    } catch (error) {
      this.options.onModelLoad?.({ model, version, error: describeError(error) });
      throw error;
    }
  }

  private reuseOrRetry<T>(previous: CachedAttempt<T> | undefined, start: () => Promise<T>): CachedAttempt<T> {
    if (previous !== undefined && (previous.failedAt === undefined || Date.now() - previous.failedAt < this.retryAfterMs)) {
      return previous;
    }
    const attempt: CachedAttempt<T> = { promise: start() };
    attempt.promise.catch(() => {
      attempt.failedAt = Date.now();
    });
    return attempt;
  }

  private async readCatalog(): Promise<Map<string, ModelEntry>> {
    let files: string[];
    try {
      // A function limited to some models lists only their prefixes: its role may read no others.
      const models = this.options.models;
      files = models === undefined ? await this.source.listFiles() : (await Promise.all(models.map((m) => this.source.listFiles(`${m}/`)))).flat();
    } catch (error) {
      this.logger.error('model store unreachable', { location: this.source.location, cause: describeError(error) });
      throw modelUnavailable(`model store ${this.source.location} is unreachable: ${describeError(error)}`, error);
    }
    const versions = new Map<string, Set<number>>();
    const configs = new Set<string>();
    for (const file of files) {
      const parts = file.split('/');
      const name = parts[0];
      if (!MODEL_NAME_PATTERN.test(name)) continue;
      if (this.options.models !== undefined && !this.options.models.includes(name)) continue;
      if (parts.length === 2 && parts[1] === 'config.json') configs.add(name);
      if (parts.length === 3 && parts[2] === MODEL_FILE && VERSION_PATTERN.test(parts[1])) {
        if (!versions.has(name)) versions.set(name, new Set());
        versions.get(name)!.add(Number(parts[1]));
      }
    }
    const catalog = new Map<string, ModelEntry>();
    for (const name of [...new Set([...versions.keys(), ...configs])].sort()) {
      catalog.set(name, await this.readEntry(name, [...(versions.get(name) ?? [])].sort((a, b) => a - b), configs.has(name)));
    }
    this.logger.info('model catalog read', { location: this.source.location, models: [...catalog.keys()] });
    return catalog;
  }

  private async readEntry(name: string, versions: number[], hasConfig: boolean): Promise<ModelEntry> {
    let config = DEFAULT_MODEL_CONFIG;
    try {
      if (hasConfig) {
        const bytes = await this.source.readFile(`${name}/config.json`);
        config = parseModelConfig(bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8'), `${name}/config.json`);
      }
    } catch (error) {
      return { name, config, versions, liveVersion: undefined, problem: describeError(error) };
    }
    if (versions.length === 0) {
      return { name, config, versions, liveVersion: undefined, problem: `no version directory holds a ${MODEL_FILE} (expected ${name}/<version>/${MODEL_FILE})` };
    }
    const override = this.options.liveVersions?.[name];
    const policy = override !== undefined ? { pinned: override } : config.versionPolicy;
    if (policy !== 'latest' && !versions.includes(policy.pinned)) {
      const why = override !== undefined ? `this deployment serves version ${override}` : `${name}/config.json pins version ${policy.pinned}`;
      return { name, config, versions, liveVersion: undefined, problem: `${why}, which is not in the store (have ${versions.join(', ')})` };
    }
    const missing = [...Object.keys(config.abTest?.weights ?? {}).map(Number), ...(config.shadow ? [config.shadow.version] : [])].filter((v) => !versions.includes(v));
    if (missing.length > 0) {
      return { name, config, versions, liveVersion: undefined, problem: `${name}/config.json names version ${missing.join(', ')} (abTest or shadow), which is not in the store (have ${versions.join(', ')})` };
    }
    return { name, config, versions, liveVersion: policy === 'latest' ? versions[versions.length - 1] : policy.pinned };
  }

  private async createSession(bytes: Uint8Array, model: string, version: number): Promise<{ session: InferenceSession; executionProvider: 'cuda' | 'cpu' }> {
    const options = this.options.sessionOptions ?? defaultSessionOptions();
    if (this.options.gpu) {
      try {
        return { session: await InferenceSession.create(bytes, { ...options, executionProviders: ['cuda'] }), executionProvider: 'cuda' };
      } catch (error) {
        const cause = describeError(error);
        this.logger.warn('GPU unavailable, running on CPU', { model, version, cause });
        this.options.onGpuFallback?.({ model, version, cause });
      }
    }
    return { session: await InferenceSession.create(bytes, options), executionProvider: 'cpu' };
  }

  private async loadSession(entry: ModelEntry, version: number): Promise<LoadedModel> {
    const started = performance.now();
    const path = `${entry.name}/${version}/${MODEL_FILE}`;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.source.readFile(path);
    } catch (error) {
      this.logger.error('model store unreachable', { model: entry.name, version, cause: describeError(error) });
      throw modelUnavailable(`model "${entry.name}" version ${version} cannot be read from ${this.source.location}: ${describeError(error)}`, error);
    }
    if (bytes === undefined) {
      throw modelUnavailable(`model "${entry.name}" version ${version}: ${path} is no longer in ${this.source.location}`);
    }
    const fetchMs = performance.now() - started;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const expected = this.options.expectedSha256?.[`${entry.name}/${version}`];
    if (expected !== undefined && expected !== sha256) {
      this.logger.error('model file does not match its deployed hash', { model: entry.name, version, sha256, expected });
      throw modelUnavailable(`model "${entry.name}" version ${version}: ${path} has sha256 ${sha256}, not the ${expected} it was deployed with; refusing to load a replaced model file (redeploy to ship a new one)`);
    }
    try {
      const sessionStarted = performance.now();
      const { session, executionProvider } = await this.createSession(bytes, entry.name, version);
      const sessionMs = performance.now() - sessionStarted;
      const signature = readSignature(session);
      const loadMs = performance.now() - started;
      this.logger.info('model loaded', { model: entry.name, version, sha256, executionProvider, loadMs: Math.round(loadMs), fetchMs: Math.round(fetchMs), sessionMs: Math.round(sessionMs) });
      return { name: entry.name, version, config: entry.config, session, signature, sha256, loadMs, fetchMs, sessionMs, executionProvider };
    } catch (error) {
      this.logger.error('model load failed', { model: entry.name, version, cause: describeError(error) });
      throw modelUnavailable(`model "${entry.name}" version ${version} cannot be loaded: ${describeError(error)}`, error);
    }
  }
}
