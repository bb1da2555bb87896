/**
 * A model version folder as the task modules read it, Hugging Face export or not: config.json
 * (architectures, id2label, problem_type), the side files every registered module names (tokenizer
 * files, preprocessor_config.json, sentence-transformers' modules.json and 1_Pooling/config.json,
 * TorchServe's index_to_name.json, …), model.onnx's metadata_props, and further ONNX files.
 */
import { createHash } from 'node:crypto';
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import type { Signature } from '../signature.ts';
import { onnxMetadataProps } from './onnx-metadata.ts';
import type { TaskFolder } from './task.ts';

/** One digest of the side files present ("path sha256" lines, sorted): what the deployment recorded and the loader checks. */
export function sideFilesDigest(files: ReadonlyMap<string, Uint8Array>): string {
  const lines = [...files.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([path, bytes]) => `${path} ${createHash('sha256').update(bytes).digest('hex')}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/x-image'] as const;
export const TEXT_CONTENT_TYPES = ['text/plain'] as const;

/** What every text task reads beside model.onnx: the export's config and its tokenizer files. */
export const TOKENIZER_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;
/** sentence-transformers' pooling and normalization modules, read by the text embedding tasks. */
export const SENTENCE_TRANSFORMERS_FILES = ['modules.json', '1_Pooling/config.json'] as const;

/** A side file as a JSON object or list; undefined when absent; throws naming the file when it is not JSON. */
function readJson(files: ReadonlyMap<string, Uint8Array>, path: string, where: string): Record<string, unknown> | undefined {
  const bytes = files.get(path);
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error('not a JSON object or list');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${where}/${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export interface TaskFolderParts {
  readonly where: string;
  readonly config: ModelConfig;
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly signature: Signature;
  /** model.onnx's bytes, for its metadata_props. */
  readonly onnx: Uint8Array;
  /** Opens ONNX bytes as a session with the version's session options. */
  readonly createSession: (bytes: Uint8Array) => Promise<InferenceSession>;
}

/** The folder the modules see; its JSON and metadata are read once, on first use. */
export function taskFolder(parts: TaskFolderParts): TaskFolder {
  const { where, config, files, signature } = parts;
  const parsed = new Map<string, Record<string, unknown> | undefined>();
  const json = (path: string) => {
    if (!parsed.has(path)) parsed.set(path, readJson(files, path, where));
    return parsed.get(path);
  };
  const hf = json('config.json');
  // Read now, so the model's bytes are not kept for later: the walk skips the graph in one step.
  const metadata = onnxMetadataProps(parts.onnx, `${where}/model.onnx`);
  return {
    where,
    config,
    hf,
    architecture: Array.isArray(hf?.architectures) ? String(hf.architectures[0]) : '',
    files,
    json,
    signature,
    metadata: () => metadata,
    openSession: async (path) => {
      const bytes = files.get(path);
      if (bytes === undefined) throw new Error(`${where}/${path} is not in the folder (or no registered task lists it in its sideFiles, so it was not read and hash-checked)`);
      return parts.createSession(bytes);
    },
  };
}

/** Class names, index i naming class i: config.json "labels", else id2label, else TorchServe's index_to_name.json. */
export function labelsOf(folder: TaskFolder): string[] | undefined {
  if (folder.config.labels !== undefined) return [...folder.config.labels];
  const table = (folder.hf?.id2label as Record<string, unknown> | undefined) ?? folder.json('index_to_name.json');
  if (table === undefined) return undefined;
  const entries = Object.entries(table).map(([k, v]) => [Number(k), Array.isArray(v) ? String(v[v.length - 1]) : String(v)] as const);
  if (entries.some(([k]) => !Number.isInteger(k) || k < 0)) throw new Error(`${folder.where}: id2label / index_to_name.json keys must be class indices`);
  const labels: string[] = [];
  for (const [k, v] of entries) labels[k] = v;
  return Array.from(labels, (l, i) => l ?? String(i));
}

/** The output an answer comes from: config.json "outputName", else the first of `preferred` the model has, else its first. */
export function outputOf(folder: TaskFolder, preferred: readonly string[]): string {
  const outputs = folder.signature.outputs.map((o) => o.name);
  const name = folder.config.outputName ?? preferred.find((o) => outputs.includes(o)) ?? outputs[0];
  if (!outputs.includes(name)) throw new Error(`${folder.where}: config.json "outputName" is "${name}", not one of the model's outputs (${outputs.join(', ')})`);
  return name;
}

/**
 * The model input for a role: the one config.json names (which must exist), else the first of
 * `candidates` the model has; throws naming the inputs there are when a required one is missing.
 */
export function inputOf(folder: TaskFolder, wanted: string | undefined, candidates: readonly string[], what: string, required: true): string;
export function inputOf(folder: TaskFolder, wanted: string | undefined, candidates: readonly string[], what: string, required: false): string | undefined;
export function inputOf(folder: TaskFolder, wanted: string | undefined, candidates: readonly string[], what: string, required: boolean): string | undefined {
  const inputs = folder.signature.inputs.map((i) => i.name);
  const outputs = folder.signature.outputs.map((o) => o.name);
  if (wanted !== undefined) {
    if (!inputs.includes(wanted) && !outputs.includes(wanted)) throw new Error(`${folder.where}: config.json names ${what} "${wanted}", which the model does not have (inputs ${inputs.join(', ')}; outputs ${outputs.join(', ')})`);
    return wanted;
  }
  const found = candidates.find((c) => inputs.includes(c));
  if (found === undefined && required) throw new Error(`${folder.where}: the model has no ${what} input (looked for ${candidates.join(', ')}; it has ${inputs.join(', ')}); name it in config.json "inputNames"`);
  return found;
}
