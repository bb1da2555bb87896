/**
 * The models a process serves: the catalog (read once) and each version's session (loaded once per
 * process: creating and releasing sessions leaks native memory), lazily or at start, with concurrent
 * first requests sharing one load. A failed read or load is retried after a pause, never cached for good.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { findEntry, readCatalog, resolveVersion, type ModelEntry } from './catalog.ts';
import { describeError } from './errors.ts';
import { silentLogger, type CoreLogger } from './logger.ts';
import type { ModelSource } from './model-source.ts';
import { RetryCache } from './retry-cache.ts';
import { loadSession, type LoadedModel, type SessionLoaderOptions } from './sessions.ts';

export interface ModelRepositoryOptions extends Omit<SessionLoaderOptions, 'logger'> {
  readonly source: ModelSource;
  /** Serve only these models (a per-model function). @default every model in the source */
  readonly models?: readonly string[];
  /** Pause before a failed catalog read or model load is tried again. @default 2000 */
  readonly retryAfterMs?: number;
  /** Live version per model, overriding each config's version policy (a function pinned to one version). @default - each config's policy */
  readonly liveVersions?: Readonly<Record<string, number>>;
  /** onnxruntime session options for every model. @default defaultSessionOptions() */
  readonly sessionOptions?: InferenceSession.SessionOptions;
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

export class ModelRepository {
  readonly source: ModelSource;
  private readonly options: ModelRepositoryOptions;
  private readonly logger: CoreLogger;
  private readonly catalogs: RetryCache<Map<string, ModelEntry>>;
  private readonly sessions: RetryCache<LoadedModel>;

  constructor(options: ModelRepositoryOptions) {
    this.options = options;
    this.source = options.source;
    this.logger = options.logger ?? silentLogger;
    this.catalogs = new RetryCache(options.retryAfterMs ?? 2000);
    this.sessions = new RetryCache(options.retryAfterMs ?? 2000);
  }

  /** The models in the store, read once; a store failure answers 503 and is retried after a pause. */
  catalog(): Promise<Map<string, ModelEntry>> {
    return this.catalogs.get('catalog', () => readCatalog({ source: this.source, models: this.options.models, nativeModelFiles: this.options.nativeModelFiles, liveVersions: this.options.liveVersions, deployed: this.options.expectedSha256, logger: this.logger }));
  }

  /** A model's catalog entry, or 404 naming the models there are. */
  async entry(name: string): Promise<ModelEntry> {
    return findEntry(await this.catalog(), name);
  }

  /** Which version a request addresses: the one in its path, or the live one. */
  async resolveVersion(name: string, versionText?: string): Promise<{ entry: ModelEntry; version: number }> {
    const entry = await this.entry(name);
    return { entry, version: resolveVersion(entry, versionText) };
  }

  /** The session for (name, version), loading it on first use. */
  async load(name: string, version: number): Promise<LoadedModel> {
    const entry = await this.entry(name);
    return this.sessions.get(`${entry.name}/${version}`, () => this.reportLoad(entry.name, version, loadSession(entry, version, { ...this.options, logger: this.logger })));
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
}
