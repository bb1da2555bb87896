/**
 * The models a process serves: the catalog (read once) and each version's session (loaded once per
 * process: creating and releasing sessions leaks native memory), lazily or at start, with concurrent
 * first requests sharing one load. A failed read or load is retried after a pause, never cached for good.
 */
import { createHash } from 'node:crypto';
import type { InferenceSession } from 'onnxruntime-node';
import { findEntry, readCatalog, resolveVersion, type ModelEntry } from './catalog.ts';
import { describeError, modelUnavailable, storeUnreachable } from './errors.ts';
import { silentLogger, type CoreLogger } from './logger.ts';
import type { ModelSource } from './model-source.ts';
import { RetryCache } from './retry-cache.ts';
import { loadSession, type LoadedModel, type SessionLoaderOptions } from './sessions.ts';
import { goldenFeeds, warmUp } from './warm-up.ts';

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
  /**
   * The deployment manifest: a JSON object in the source holding what expectedSha256 would (every
   * deployed version's model and side-file hashes, each config's), read and checked against its
   * own sha256 before the catalog. Used where the pin is too large for the environment.
   * @default - the pin is expectedSha256, or none
   */
  readonly deploymentManifest?: DeploymentManifestRef;
  /** Called after every model load attempt, for metrics. */
  readonly onModelLoad?: (event: ModelLoadEvent) => void;
  readonly logger?: CoreLogger;
}

/** Where a deployment manifest is (a path in the model source) and the sha256 it must have. */
export interface DeploymentManifestRef {
  readonly path: string;
  readonly sha256: string;
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
    return this.catalogs.get('catalog', async () => {
      const deployed = await this.deployed();
      // A deployment manifest is the deployment's whole truth: without a list of models, it names them.
      const models = this.options.models ?? (this.options.deploymentManifest !== undefined && deployed !== undefined ? modelsNamedIn(deployed) : undefined);
      return readCatalog({ source: this.source, models, nativeModelFiles: this.options.nativeModelFiles, liveVersions: this.options.liveVersions, deployed, logger: this.logger });
    });
  }

  /** The pin: the deployment manifest's content once read and verified, else expectedSha256. */
  private pin?: Readonly<Record<string, string>>;

  private async deployed(): Promise<Readonly<Record<string, string>> | undefined> {
    const manifest = this.options.deploymentManifest;
    if (manifest === undefined) return this.options.expectedSha256;
    if (this.pin !== undefined) return this.pin;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.source.readFile(manifest.path);
    } catch (error) {
      this.logger.error('model store unreachable', { location: this.source.location, manifest: manifest.path, cause: describeError(error) });
      throw storeUnreachable(`the deployment manifest ${manifest.path} cannot be read from ${this.source.location}: ${describeError(error)}`, error);
    }
    if (bytes === undefined) throw storeUnreachable(`the deployment manifest ${manifest.path} is not in ${this.source.location} (redeploy to write it)`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== manifest.sha256) {
      this.logger.error('deployment manifest does not match its deployed hash', { manifest: manifest.path, sha256, expected: manifest.sha256 });
      throw modelUnavailable(`the deployment manifest ${manifest.path} has sha256 ${sha256}, not the ${manifest.sha256} it was deployed with; refusing to serve from a changed manifest (redeploy to ship it)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw modelUnavailable(`the deployment manifest ${manifest.path} is not a JSON object of "<model>/<version>": sha256`);
    }
    this.pin = parsed as Record<string, string>;
    return this.pin;
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
    const expectedSha256 = await this.deployed();
    return this.sessions.get(`${entry.name}/${version}`, () => this.reportLoad(entry.name, version, loadSession(entry, version, { ...this.options, expectedSha256, logger: this.logger })));
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

  /**
   * What a SnapStart snapshot should hold, done now: the catalog read, every served version (each
   * deployed version of each model) downloaded, hash-checked and loaded, and each run once on the
   * first row of its golden inputs, or a zero input of its shape where it has none (warm-up; those
   * run on golden rows are listed). Resolves with what failed to load; a warm-up that fails is
   * reported apart (a zero input can be outside a model's domain: its load still stands).
   */
  async prepareSnapshot(): Promise<{ loaded: string[]; failures: string[]; warmUpFailures: string[]; warmedOnGolden: string[] }> {
    const catalog = await this.catalog();
    const loaded: string[] = [];
    const failures: string[] = [];
    const warmUpFailures: string[] = [];
    const warmedOnGolden: string[] = [];
    for (const entry of catalog.values()) {
      if (entry.problem !== undefined) {
        failures.push(`${entry.name}: ${entry.problem}`);
        continue;
      }
      const undeployed = new Set(entry.undeployed ?? []);
      for (const version of entry.versions.filter((v) => !undeployed.has(v))) {
        let model: LoadedModel;
        try {
          model = await this.load(entry.name, version);
        } catch (error) {
          failures.push(`${entry.name}/${version}: ${describeError(error)}`);
          continue;
        }
        loaded.push(`${entry.name}/${version}`);
        try {
          const golden = goldenFeeds(model, await this.readGolden(entry.name, version));
          if (golden !== undefined) warmedOnGolden.push(`${entry.name}/${version}`);
          await warmUp(model, golden);
        } catch (error) {
          warmUpFailures.push(`${entry.name}/${version}: ${describeError(error)}`);
        }
      }
    }
    return { loaded, failures, warmUpFailures, warmedOnGolden };
  }

  /** A version's golden.json, parsed; undefined when it has none or it is not JSON (warm-up then uses zeros). */
  private async readGolden(name: string, version: number): Promise<unknown> {
    const bytes = await this.source.readFile(`${name}/${version}/golden.json`).catch(() => undefined);
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return undefined;
    }
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

/** The models a pin names ("<name>/<version>", "<name>/config.json", ...; names hold no "/"). */
function modelsNamedIn(pin: Readonly<Record<string, string>>): string[] {
  return [...new Set(Object.keys(pin).map((key) => key.slice(0, key.indexOf('/'))))].sort();
}
