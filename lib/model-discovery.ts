/**
 * Reads the model repository at synth time: which models exist, their versions, and their config,
 * validated with the same schema the runtime uses.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_CONFIG } from '../lambda/core/catalog.ts';
import { MODEL_NAME_PATTERN, parseModelConfig, type ModelConfig } from '../lambda/core/config.ts';
import { CONVERSION_FILE, parseConversionRecord, PICKLE_FILES } from '../lambda/core/conversion-record.ts';
import { pinnedSideFiles } from '../lambda/core/model-folder.ts';
import { sideFilesDigest } from '../lambda/core/tasks/hf-folder.ts';
import { IMAGE_EMBEDDING_ARCHITECTURE } from '../lambda/core/tasks/image-feature-extraction.ts';
import { convertNativeModel, NATIVE_MODEL_FILES } from '../lambda/convert/registry.ts';

export interface DiscoveredModel {
  readonly name: string;
  readonly versions: readonly number[];
  /** The version the live alias serves, from the config's version policy. */
  readonly liveVersion: number;
  readonly config: ModelConfig;
  /** sha256 of each version's model.onnx at synth, recorded so a replaced file is refused at load. */
  readonly sha256: Readonly<Record<number, string>>;
  /** sha256 of config.json at synth ("none" without one), recorded so a config changed after deploy is refused. */
  readonly configSha256: string;
  /** Digest of each version's side files (a Hugging Face export's config, tokenizer, preprocessing), checked like the model file. */
  readonly filesSha256: Readonly<Record<number, string>>;
  /** Whether the live version is a text model (it carries a tokenizer.json): the API gives it the OpenAI/Cohere-compatible routes. */
  readonly takesText: boolean;
  /** Whether the live version is an image embedding model (config.json task image-feature-extraction, or an image encoder's architecture): it gets the OpenAI-compatible /v1/embeddings base URL too. */
  readonly embedsImages: boolean;
  /** Versions that carry a baseline.json (training statistics for drift). */
  readonly baselineVersions: readonly number[];
  /** Native models converted at synth: written beside their source in the staged repository (stageModels). */
  readonly conversions: readonly StagedConversion[];
}

/** A native model's conversion that synth writes beside its source in the staged repository: a Lambda function never converts at cold start. */
export interface StagedConversion {
  readonly version: number;
  readonly onnx: Uint8Array;
  /** conversion.json's text, as `modelship convert` writes it. */
  readonly record: string;
}

/** What a version folder serves, once staged: its ONNX model's bytes, and its files beside it (a conversion's written ones included). */
interface VersionFiles {
  readonly onnx: Uint8Array;
  readonly side: ReadonlyMap<string, Uint8Array>;
  readonly staged?: StagedConversion;
}

/** A version folder's model file: model.onnx, or Optimum's onnx/model.onnx. */
function modelFile(versionDir: string): string | undefined {
  return [join(versionDir, 'model.onnx'), join(versionDir, 'onnx', 'model.onnx')].find((f) => existsSync(f));
}

const isVersionFolder = (versionDir: string): boolean => modelFile(versionDir) !== undefined || [...NATIVE_MODEL_FILES, ...PICKLE_FILES].some((f) => existsSync(join(versionDir, f)));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A Hugging Face config.json's first architecture, or '' (absent or unreadable: the loader names that problem, not synth). */
function architectureOf(bytes: Uint8Array | undefined): string {
  try {
    const architectures = (JSON.parse(Buffer.from(bytes ?? []).toString('utf8')) as { architectures?: unknown }).architectures;
    return Array.isArray(architectures) ? String(architectures[0]) : '';
  } catch {
    return '';
  }
}

/**
 * Reads a version folder as the runtime will: an ONNX model, or a native one converted here (the
 * same converter, so the same bytes) unless `modelship convert` already wrote a conversion that
 * matches its source. What the runtime would refuse fails synth here, naming the file and the fix.
 */
function readVersion(versionDir: string, version: number): VersionFiles {
  const pickle = PICKLE_FILES.find((f) => existsSync(join(versionDir, f)));
  if (pickle !== undefined) throw new Error(`${join(versionDir, pickle)} is a Python pickle, which ModelShip never reads (loading one runs its code): export the model to ONNX with skl2onnx as model.onnx, or save a tree booster with its native save_model as model.json or model.ubj (XGBoost) or model.txt (LightGBM)`);
  const natives = NATIVE_MODEL_FILES.filter((f) => existsSync(join(versionDir, f)));
  if (natives.length > 1) throw new Error(`${versionDir} holds ${natives.join(' and ')}: a version folder holds one model file; keep one`);
  const present = (files: readonly string[]) => new Map(files.filter((f) => existsSync(join(versionDir, f))).map((f) => [f, readFileSync(join(versionDir, f)) as Uint8Array]));
  const side = present(pinnedSideFiles(NATIVE_MODEL_FILES));
  const onnxFile = modelFile(versionDir);
  const native = natives[0];
  if (native === undefined) return { onnx: readFileSync(onnxFile!), side };
  const sourceSha = sha256(side.get(native)!);
  if (onnxFile !== undefined) {
    const recordBytes = side.get(CONVERSION_FILE);
    if (recordBytes === undefined) throw new Error(`${versionDir} holds ${native} and model.onnx but no ${CONVERSION_FILE}: two model files in one version folder; delete model.onnx (synth converts ${native}) or write both again with modelship convert`);
    const record = parseConversionRecord(recordBytes, join(versionDir, CONVERSION_FILE));
    if (record.source.file !== native || record.source.sha256 !== sourceSha) throw new Error(`${onnxFile} was converted from ${record.source.file} with sha256 ${record.source.sha256}, but ${join(versionDir, native)} has sha256 ${sourceSha}: it is stale or from another model; run modelship convert (or delete model.onnx and ${CONVERSION_FILE})`);
    return { onnx: readFileSync(onnxFile), side };
  }
  let conversion;
  try {
    conversion = convertNativeModel(native, side.get(native)!);
  } catch (error) {
    throw new Error(`${versionDir}/${(error as Error).message}`, { cause: error });
  }
  const record = `${JSON.stringify(conversion.record, null, 2)}\n`;
  side.set(CONVERSION_FILE, Buffer.from(record));
  return { onnx: conversion.onnx, side, staged: { version, onnx: conversion.onnx, record } };
}

export function discoverModels(modelsDir: string): DiscoveredModel[] {
  if (!existsSync(modelsDir)) throw new Error(`model repository ${modelsDir} does not exist; put models at ${modelsDir}/<name>/<version>/model.onnx`);
  const models: DiscoveredModel[] = [];
  for (const name of readdirSync(modelsDir).sort()) {
    const dir = join(modelsDir, name);
    if (!statSync(dir).isDirectory() || name.startsWith('.') || name.startsWith('_')) continue;
    if (!MODEL_NAME_PATTERN.test(name)) {
      throw new Error(`${dir}: model name "${name}" must match ${MODEL_NAME_PATTERN} (letters, digits, _ . -, up to 64)`);
    }
    const versions = readdirSync(dir)
      .filter((v) => /^[1-9]\d*$/.test(v) && isVersionFolder(join(dir, v)))
      .map(Number)
      .sort((a, b) => a - b);
    if (versions.length === 0) throw new Error(`${dir}: no version directory holds a model.onnx or a native model (${NATIVE_MODEL_FILES.join(', ')}) (expected ${dir}/<version>/model.onnx)`);
    const configFile = join(dir, 'config.json');
    const config = parseModelConfig(existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined, configFile);
    const policy = config.versionPolicy;
    const liveVersion = policy === 'latest' ? versions[versions.length - 1] : policy.pinned;
    if (!versions.includes(liveVersion)) {
      throw new Error(`${configFile}: field "versionPolicy" pins version ${liveVersion}, but ${dir} has versions ${versions.join(', ')}`);
    }
    const read = versions.map((v) => readVersion(join(dir, String(v)), v));
    const sha256 = Object.fromEntries(versions.map((v, i) => [v, createHash('sha256').update(read[i].onnx).digest('hex')]));
    // The side files' digest covers a converted model's source and conversion.json; its sha256, the written model.onnx.
    const filesSha256 = Object.fromEntries(versions.map((v, i) => [v, sideFilesDigest(read[i].side)]));
    const conversions = read.flatMap((r) => (r.staged === undefined ? [] : [r.staged]));
    const baselineVersions = versions.filter((v) => existsSync(join(dir, String(v), 'baseline.json')));
    const configSha256 = existsSync(configFile) ? createHash('sha256').update(readFileSync(configFile)).digest('hex') : NO_CONFIG;
    const live = read[versions.indexOf(liveVersion)].side;
    const takesText = live.has('tokenizer.json');
    const embedsImages = !takesText && (config.task === 'image-feature-extraction' || (config.task === undefined && IMAGE_EMBEDDING_ARCHITECTURE.test(architectureOf(live.get('config.json')))));
    models.push({ name, versions, liveVersion, config, sha256, filesSha256, takesText, embedsImages, configSha256, baselineVersions, conversions });
  }
  if (models.length === 0) throw new Error(`model repository ${modelsDir} holds no models; add ${modelsDir}/<name>/1/model.onnx`);
  return models;
}

/**
 * The repository as it is uploaded: ./models itself when nothing was converted, else a copy under
 * `buildDir` with each conversion's model.onnx and conversion.json beside its source (./models is
 * left as it is: conversions are build output). The copy's folder is named by its content's digest
 * and written under a temporary name, then renamed: synths side by side never see a half-written one.
 */
export function stageModels(modelsDir: string, models: readonly DiscoveredModel[], buildDir: string): string {
  if (models.every((m) => m.conversions.length === 0)) return modelsDir;
  const digest = createHash('sha256');
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile()) digest.update(`${prefix}${entry.name} ${sha256(readFileSync(join(dir, entry.name)))}\n`);
    }
  };
  walk(modelsDir, '');
  for (const model of models) for (const c of model.conversions) digest.update(`${model.name}/${c.version} ${sha256(c.onnx)} ${sha256(Buffer.from(c.record))}\n`);
  const outDir = join(buildDir, `models-${digest.digest('hex').slice(0, 16)}`);
  if (existsSync(outDir)) return outDir;
  const temporary = `${outDir}.${process.pid}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  cpSync(modelsDir, temporary, { recursive: true });
  for (const model of models) {
    for (const { version, onnx, record } of model.conversions) {
      writeFileSync(join(temporary, model.name, String(version), 'model.onnx'), onnx);
      writeFileSync(join(temporary, model.name, String(version), CONVERSION_FILE), record);
    }
  }
  try {
    renameSync(temporary, outDir);
  } catch (error) {
    // Another synth staged the same content first: use its copy.
    rmSync(temporary, { recursive: true, force: true });
    if (!existsSync(outDir)) throw error;
  }
  return outDir;
}
