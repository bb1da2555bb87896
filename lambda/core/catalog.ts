/**
 * The model catalog: which models a source holds, their configs, their versions, and which version
 * the plain routes serve (the version policy). Reading it never loads a session.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_MODEL_CONFIG, MODEL_NAME_PATTERN, parseModelConfig, type ModelConfig } from './config.ts';
import { badModelConfig, badRequest, describeError, modelNotFound, storeUnreachable } from './errors.ts';
import type { CoreLogger } from './logger.ts';
import { isModelFile } from './model-folder.ts';
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
  /** Versions in the store that this deployment was not deployed with: refused (404), never loaded. */
  readonly undeployed?: readonly number[];
  /** Each version's files, relative to its folder, from the store's listing: what a load reads. */
  readonly files?: ReadonlyMap<number, ReadonlySet<string>>;
}

export interface CatalogOptions {
  readonly source: ModelSource;
  /** Serve only these models (a per-model function lists only their prefixes). @default every model in the source */
  readonly models?: readonly string[];
  /** Live version per model, overriding each config's version policy (a function pinned to one version). @default - each config's policy */
  readonly liveVersions?: Readonly<Record<string, number>>;
  /**
   * What was deployed, by "<name>/<version>" (each model file's sha256) and "<name>/config.json" (the
   * config's sha256, or "none" when the model had no config). A model named here is served only in
   * the versions named here, and only with the config it was deployed with. @default - anything in the store
   */
  readonly deployed?: Readonly<Record<string, string>>;
  /** Native model files that make a folder a version (lambda/convert/registry.ts's NATIVE_MODEL_FILES). @default - none: only model.onnx */
  readonly nativeModelFiles?: readonly string[];
  readonly logger: CoreLogger;
}

/** The hash recorded for a model deployed without a config.json. */
export const NO_CONFIG = 'none';

/** Reads the catalog from a source: every model's config, versions and live version. */
export async function readCatalog(options: CatalogOptions): Promise<Map<string, ModelEntry>> {
  const { source, models } = options;
  let files: string[];
  try {
    // A function limited to some models lists only their prefixes: its role may read no others.
    files = models === undefined ? await source.listFiles() : (await Promise.all(models.map((m) => source.listFiles(`${m}/`)))).flat();
  } catch (error) {
    options.logger.error('model store unreachable', { location: source.location, cause: describeError(error) });
    throw storeUnreachable(`model store ${source.location} is unreachable: ${describeError(error)}`, error);
  }
  const versions = new Map<string, Set<number>>();
  const versionFiles = new Map<string, Map<number, Set<string>>>();
  const configs = new Set<string>();
  for (const file of files) {
    const parts = file.split('/');
    const name = parts[0];
    if (!MODEL_NAME_PATTERN.test(name)) continue;
    if (models !== undefined && !models.includes(name)) continue;
    if (parts.length === 2 && parts[1] === 'config.json') configs.add(name);
    if (parts.length >= 3 && VERSION_PATTERN.test(parts[1])) {
      const byVersion = versionFiles.get(name) ?? versionFiles.set(name, new Map()).get(name)!;
      const version = Number(parts[1]);
      (byVersion.get(version) ?? byVersion.set(version, new Set()).get(version)!).add(parts.slice(2).join('/'));
    }
    // <name>/<version>/model.onnx, Optimum's <name>/<version>/onnx/model.onnx, a native model (model.json, ...), or a
    // pickle (a version, so that loading it is refused by name).
    const modelFile = parts.length >= 3 && isModelFile(parts.slice(2).join('/'), options.nativeModelFiles);
    if (modelFile && VERSION_PATTERN.test(parts[1])) {
      if (!versions.has(name)) versions.set(name, new Set());
      versions.get(name)!.add(Number(parts[1]));
    }
  }
  const catalog = new Map<string, ModelEntry>();
  for (const name of [...new Set([...versions.keys(), ...configs])].sort()) {
    const read = configs.has(name) ? await readConfig(source, name) : { config: DEFAULT_MODEL_CONFIG, sha256: NO_CONFIG };
    let sorted = [...(versions.get(name) ?? [])].sort((a, b) => a - b);
    let undeployed: number[] | undefined;
    const deployedVersions = deployedVersionsOf(options.deployed, name);
    if (deployedVersions !== undefined) {
      undeployed = sorted.filter((v) => !deployedVersions.has(v));
      sorted = sorted.filter((v) => deployedVersions.has(v));
    }
    const expectedConfig = options.deployed?.[`${name}/config.json`];
    let entry: ModelEntry;
    if (read.problem !== undefined) entry = { name, config: DEFAULT_MODEL_CONFIG, versions: sorted, liveVersion: undefined, problem: read.problem };
    else if (expectedConfig !== undefined && expectedConfig !== read.sha256) {
      options.logger.error('model config does not match its deployed hash', { model: name, sha256: read.sha256, expected: expectedConfig });
      const now = read.sha256 === NO_CONFIG ? 'is gone' : `has sha256 ${read.sha256}`;
      const then = expectedConfig === NO_CONFIG ? 'none was deployed' : `it was deployed with ${expectedConfig}`;
      entry = { name, config: DEFAULT_MODEL_CONFIG, versions: sorted, liveVersion: undefined, problem: `${name}/config.json ${now}, but ${then}; refusing a config changed after deploy (redeploy to ship it)` };
    } else entry = applyVersionPolicy(name, read.config, sorted, options.liveVersions?.[name]);
    const files = versionFiles.get(name);
    catalog.set(name, { ...entry, ...(undeployed !== undefined && undeployed.length > 0 ? { undeployed } : {}), ...(files !== undefined ? { files } : {}) });
  }
  options.logger.info('model catalog read', { location: source.location, models: [...catalog.keys()] });
  return catalog;
}

/** A model's config and the sha256 of its file, or the problem that keeps it from being read. */
async function readConfig(source: ModelSource, name: string): Promise<{ config: ModelConfig; sha256: string; problem?: undefined } | { problem: string; config?: undefined; sha256?: undefined }> {
  try {
    const bytes = await source.readFile(`${name}/config.json`);
    const config = parseModelConfig(bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8'), `${name}/config.json`);
    return { config, sha256: bytes === undefined ? NO_CONFIG : createHash('sha256').update(bytes).digest('hex') };
  } catch (error) {
    return { problem: describeError(error) };
  }
}

/** The versions of a model the deployment names, or undefined when it names none of them (not pinned). */
function deployedVersionsOf(deployed: Readonly<Record<string, string>> | undefined, name: string): Set<number> | undefined {
  if (deployed === undefined) return undefined;
  const versions = Object.keys(deployed).filter((key) => key.startsWith(`${name}/`)).map((key) => key.slice(name.length + 1)).filter((v) => VERSION_PATTERN.test(v)).map(Number);
  return versions.length > 0 ? new Set(versions) : undefined;
}

/**
 * The version policy: the live version is the pinned one (by the deployment, else by the config)
 * or the latest; versions the config names for A/B tests or shadowing must exist.
 */
export function applyVersionPolicy(name: string, config: ModelConfig, versions: readonly number[], override?: number): ModelEntry {
  const unservable = (problem: string): ModelEntry => ({ name, config, versions, liveVersion: undefined, problem });
  if (versions.length === 0) return unservable(`no version directory holds a ${MODEL_FILE} or a native model file (expected ${name}/<version>/${MODEL_FILE})`);
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
  if (entry.problem !== undefined) throw badModelConfig(`model "${entry.name}" cannot be served: ${entry.problem}`);
  if (versionText === undefined) return entry.liveVersion!;
  if (!VERSION_PATTERN.test(versionText)) throw badRequest(`version "${versionText}" of model "${entry.name}" is not a positive integer`);
  const version = Number(versionText);
  if (entry.undeployed?.includes(version)) {
    throw modelNotFound(`model "${entry.name}" version ${version} is in the store but was not deployed here; deployed: ${entry.versions.join(', ')} (redeploy to ship it)`);
  }
  if (!entry.versions.includes(version)) throw modelNotFound(`model "${entry.name}" has no version ${version}; available: ${entry.versions.join(', ')}`);
  return version;
}
