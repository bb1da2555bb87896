/**
 * Reads the model repository at synth time: which models exist, their versions, and their config,
 * validated with the same schema the runtime uses.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NO_CONFIG } from '../lambda/core/catalog.ts';
import { MODEL_NAME_PATTERN, parseModelConfig, type ModelConfig } from '../lambda/core/config.ts';
import { SIDE_FILES, sideFilesDigest } from '../lambda/core/tasks/hf-folder.ts';

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
  /** Versions that carry a baseline.json (training statistics for drift). */
  readonly baselineVersions: readonly number[];
}

/** A version folder's model file: model.onnx, or Optimum's onnx/model.onnx. */
function modelFile(versionDir: string): string | undefined {
  return [join(versionDir, 'model.onnx'), join(versionDir, 'onnx', 'model.onnx')].find((f) => existsSync(f));
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
      .filter((v) => /^[1-9]\d*$/.test(v) && modelFile(join(dir, v)) !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    if (versions.length === 0) throw new Error(`${dir}: no version directory holds a model.onnx (expected ${dir}/<version>/model.onnx)`);
    const configFile = join(dir, 'config.json');
    const config = parseModelConfig(existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined, configFile);
    const policy = config.versionPolicy;
    const liveVersion = policy === 'latest' ? versions[versions.length - 1] : policy.pinned;
    if (!versions.includes(liveVersion)) {
      throw new Error(`${configFile}: field "versionPolicy" pins version ${liveVersion}, but ${dir} has versions ${versions.join(', ')}`);
    }
    const sha256 = Object.fromEntries(versions.map((v) => [v, createHash('sha256').update(readFileSync(modelFile(join(dir, String(v)))!)).digest('hex')]));
    const filesSha256 = Object.fromEntries(versions.map((v) => [v, sideFilesDigest(new Map(SIDE_FILES.filter((f) => existsSync(join(dir, String(v), f))).map((f) => [f, readFileSync(join(dir, String(v), f))])))]));
    const baselineVersions = versions.filter((v) => existsSync(join(dir, String(v), 'baseline.json')));
    const configSha256 = existsSync(configFile) ? createHash('sha256').update(readFileSync(configFile)).digest('hex') : NO_CONFIG;
    models.push({ name, versions, liveVersion, config, sha256, filesSha256, configSha256, baselineVersions });
  }
  if (models.length === 0) throw new Error(`model repository ${modelsDir} holds no models; add ${modelsDir}/<name>/1/model.onnx`);
  return models;
}
