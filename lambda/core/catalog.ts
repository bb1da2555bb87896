/**
 * The model catalog: which models a source holds, their configs, their versions, and which version
 * the plain routes serve (the version policy). Reading it never loads a session.
 */
import { DEFAULT_MODEL_CONFIG, MODEL_NAME_PATTERN, parseModelConfig, type ModelConfig } from './config.ts';
import { badRequest, describeError, modelNotFound, modelUnavailable } from './errors.ts';
import type { CoreLogger } from './logger.ts';
import type { ModelSource } from './model-source.ts';

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

export interface CatalogOptions {
  readonly source: ModelSource;
  /** Serve only these models (a per-model function lists only their prefixes). @default every model in the source */
  readonly models?: readonly string[];
  /** Live version per model, overriding each config's version policy (a function pinned to one version). @default - each config's policy */
  readonly liveVersions?: Readonly<Record<string, number>>;
  readonly logger: CoreLogger;
}

/** Reads the catalog from a source: every model's config, versions and live version. */
export async function readCatalog(options: CatalogOptions): Promise<Map<string, ModelEntry>> {
  const { source, models } = options;
  let files: string[];
  try {
    // A function limited to some models lists only their prefixes: its role may read no others.
    files = models === undefined ? await source.listFiles() : (await Promise.all(models.map((m) => source.listFiles(`${m}/`)))).flat();
  } catch (error) {
    options.logger.error('model store unreachable', { location: source.location, cause: describeError(error) });
    throw modelUnavailable(`model store ${source.location} is unreachable: ${describeError(error)}`, error);
  }
  const versions = new Map<string, Set<number>>();
  const configs = new Set<string>();
  for (const file of files) {
    const parts = file.split('/');
    const name = parts[0];
    if (!MODEL_NAME_PATTERN.test(name)) continue;
    if (models !== undefined && !models.includes(name)) continue;
    if (parts.length === 2 && parts[1] === 'config.json') configs.add(name);
    if (parts.length === 3 && parts[2] === MODEL_FILE && VERSION_PATTERN.test(parts[1])) {
      if (!versions.has(name)) versions.set(name, new Set());
      versions.get(name)!.add(Number(parts[1]));
    }
  }
  const catalog = new Map<string, ModelEntry>();
  for (const name of [...new Set([...versions.keys(), ...configs])].sort()) {
    const config = configs.has(name) ? await readConfig(source, name) : DEFAULT_MODEL_CONFIG;
    const sorted = [...(versions.get(name) ?? [])].sort((a, b) => a - b);
    catalog.set(name, typeof config === 'string' ? { name, config: DEFAULT_MODEL_CONFIG, versions: sorted, liveVersion: undefined, problem: config } : applyVersionPolicy(name, config, sorted, options.liveVersions?.[name]));
  }
  options.logger.info('model catalog read', { location: source.location, models: [...catalog.keys()] });
  return catalog;
}

/** A model's config, or the problem that keeps it from being read. */
async function readConfig(source: ModelSource, name: string): Promise<ModelConfig | string> {
  try {
    const bytes = await source.readFile(`${name}/config.json`);
    return parseModelConfig(bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8'), `${name}/config.json`);
  } catch (error) {
    return describeError(error);
  }
}

/**
 * The version policy: the live version is the pinned one (by the deployment, else by the config)
 * or the latest; versions the config names for A/B tests or shadowing must exist.
 */
export function applyVersionPolicy(name: string, config: ModelConfig, versions: readonly number[], override?: number): ModelEntry {
  const unservable = (problem: string): ModelEntry => ({ name, config, versions, liveVersion: undefined, problem });
  if (versions.length === 0) return unservable(`no version directory holds a ${MODEL_FILE} (expected ${name}/<version>/${MODEL_FILE})`);
  const policy = override !== undefined ? { pinned: override } : config.versionPolicy;
  if (policy !== 'latest' && !versions.includes(policy.pinned)) {
    const why = override !== undefined ? `this deployment serves version ${override}` : `${name}/config.json pins version ${policy.pinned}`;
    return unservable(`${why}, which is not in the store (have ${versions.join(', ')})`);
  }
  const missing = [...Object.keys(config.abTest?.weights ?? {}).map(Number), ...(config.shadow ? [config.shadow.version] : [])].filter((v) => !versions.includes(v));
  if (missing.length > 0) {
    return unservable(`${name}/config.json names version ${missing.join(', ')} (abTest or shadow), which is not in the store (have ${versions.join(', ')})`);
  }
  return { name, config, versions, liveVersion: policy === 'latest' ? versions[versions.length - 1] : policy.pinned };
}

/** The entry of a model named in a request, or 404 listing the models there are. */
export function findEntry(catalog: ReadonlyMap<string, ModelEntry>, name: string): ModelEntry {
  const entry = MODEL_NAME_PATTERN.test(name) ? catalog.get(name) : undefined;
  if (entry === undefined) {
    const known = [...catalog.keys()].sort();
    throw modelNotFound(`model "${name}" not found; available: ${known.length > 0 ? known.join(', ') : 'none'}`);
  }
  return entry;
}

/** Which version a request addresses: the one in its path, or the live one. */
export function resolveVersion(entry: ModelEntry, versionText?: string): number {
  if (entry.problem !== undefined) throw modelUnavailable(`model "${entry.name}" cannot be served: ${entry.problem}`);
  if (versionText === undefined) return entry.liveVersion!;
  if (!VERSION_PATTERN.test(versionText)) throw badRequest(`version "${versionText}" of model "${entry.name}" is not a positive integer`);
  const version = Number(versionText);
  if (!entry.versions.includes(version)) throw modelNotFound(`model "${entry.name}" has no version ${version}; available: ${entry.versions.join(', ')}`);
  return version;
}
