/**
 * A model version folder read as it stands, Hugging Face export or not: config.json (architectures,
 * id2label, problem_type), the tokenizer files, preprocessor_config.json, sentence-transformers'
 * modules.json and 1_Pooling/config.json, TorchServe's index_to_name.json. From them and ModelShip's
 * own config the task is inferred and its preprocessing built, once, when the version loads.
 */
import { createHash } from 'node:crypto';
import type { Signature } from '../signature.ts';
import { TASKS, type ModelConfig, type Task } from '../config.ts';
import { imageSpec, type ImageSpec } from './images.ts';
import { TextEncoder } from './texts.ts';

/** The files beside model.onnx that change what a version does; their hashes are checked like the model's. */
export const SIDE_FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'modules.json', '1_Pooling/config.json', 'index_to_name.json'] as const;

/** One digest of the side files present ("path sha256" lines, sorted): what the deployment recorded and the loader checks. */
export function sideFilesDigest(files: ReadonlyMap<string, Uint8Array>): string {
  const lines = [...files.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([path, bytes]) => `${path} ${createHash('sha256').update(bytes).digest('hex')}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/x-image'] as const;
export const TEXT_CONTENT_TYPES = ['text/plain'] as const;

/** What an image or text model does with a request, built when it loads. */
export interface TaskModel {
  readonly task: Task;
  /** The content types it takes as a raw body. */
  readonly contentTypes: readonly string[];
  /** Class names, index i naming class i (classifiers). */
  readonly labels?: readonly string[];
  readonly multiLabel: boolean;
  readonly functionToApply: 'softmax' | 'sigmoid' | 'none';
  readonly topK: number;
  /** The output the answer comes from. */
  readonly output: string;
  readonly image?: ImageSpec & { readonly input: string };
  readonly text?: { readonly encoder: TextEncoder; readonly inputIds: string; readonly attentionMask?: string; readonly tokenTypeIds?: string; readonly truncate: boolean };
  readonly pooling?: { readonly mode: 'mean' | 'cls' | 'max'; readonly normalize: boolean };
  /** Where each setting came from, for metadata and errors. */
  readonly sources: readonly string[];
}

const json = (files: ReadonlyMap<string, Uint8Array>, path: string, where: string): Record<string, unknown> | undefined => {
  const bytes = files.get(path);
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error('not a JSON object or list');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${where}/${path} is not valid JSON: ${(error as Error).message}`);
  }
};

/** The task: ModelShip's config, else the export's architecture, else sentence-transformers' files. */
function inferTask(config: ModelConfig, hf: Record<string, unknown> | undefined, files: ReadonlyMap<string, Uint8Array>): Task | undefined {
  if (config.task !== undefined && (TASKS as readonly string[]).includes(config.task)) return config.task as Task;
  const architecture = Array.isArray(hf?.architectures) ? String(hf.architectures[0]) : '';
  if (architecture.endsWith('ForImageClassification')) return 'image-classification';
  if (architecture.endsWith('ForSequenceClassification')) return 'text-classification';
  if (files.has('modules.json') || files.has('1_Pooling/config.json')) return 'feature-extraction';
  if (files.has('tokenizer.json') && (architecture.endsWith('Model') || config.pooling !== undefined)) return 'feature-extraction';
  return undefined;
}

function labelsFrom(config: ModelConfig, hf: Record<string, unknown> | undefined, files: ReadonlyMap<string, Uint8Array>, where: string): string[] | undefined {
  if (config.labels !== undefined) return [...config.labels];
  const table = (hf?.id2label as Record<string, unknown> | undefined) ?? json(files, 'index_to_name.json', where);
  if (table === undefined) return undefined;
  const entries = Object.entries(table).map(([k, v]) => [Number(k), Array.isArray(v) ? String(v[v.length - 1]) : String(v)] as const);
  if (entries.some(([k]) => !Number.isInteger(k) || k < 0)) throw new Error(`${where}: id2label / index_to_name.json keys must be class indices`);
  const labels: string[] = [];
  for (const [k, v] of entries) labels[k] = v;
  return Array.from(labels, (l, i) => l ?? String(i));
}

/**
 * The task model of a version, or undefined for a tensor model. Throws (the version is then
 * unavailable, with this message) when the folder is inconsistent: a text task without a
 * tokenizer, an image size nobody states, inputs the model does not have.
 */
export function readTaskModel(config: ModelConfig, files: ReadonlyMap<string, Uint8Array>, signature: Signature, where: string): TaskModel | undefined {
  const hf = json(files, 'config.json', where);
  const task = inferTask(config, hf, files);
  if (task === undefined) return undefined;
  const inputs = new Map(signature.inputs.map((i) => [i.name, i]));
  const outputs = signature.outputs.map((o) => o.name);
  const pick = (wanted: string | undefined, candidates: readonly string[], what: string, required = true): string | undefined => {
    if (wanted !== undefined) {
      if (!inputs.has(wanted) && !outputs.includes(wanted)) throw new Error(`${where}: config.json names ${what} "${wanted}", which the model does not have (inputs ${[...inputs.keys()].join(', ')}; outputs ${outputs.join(', ')})`);
      return wanted;
    }
    const found = candidates.find((c) => inputs.has(c));
    if (found === undefined && required) throw new Error(`${where}: the model has no ${what} input (looked for ${candidates.join(', ')}; it has ${[...inputs.keys()].join(', ')}); name it in config.json "inputNames"`);
    return found;
  };
  const sources: string[] = [];
  for (const file of files.keys()) sources.push(file);
  const outputName = config.outputName ?? (task === 'feature-extraction' ? ['sentence_embedding', 'last_hidden_state', 'token_embeddings'].find((o) => outputs.includes(o)) : outputs.includes('logits') ? 'logits' : undefined) ?? outputs[0];
  if (!outputs.includes(outputName)) throw new Error(`${where}: config.json "outputName" is "${outputName}", not one of the model's outputs (${outputs.join(', ')})`);
  const multiLabel = hf?.problem_type === 'multi_label_classification';
  const common = { task, multiLabel, output: outputName, functionToApply: config.functionToApply ?? (multiLabel ? 'sigmoid' : 'softmax'), sources } as const;
  if (task === 'image-classification') {
    const input = config.inputNames?.image ?? (inputs.has('pixel_values') ? 'pixel_values' : signature.inputs.length === 1 ? signature.inputs[0].name : undefined);
    if (input === undefined || !inputs.has(input)) throw new Error(`${where}: which input takes the image? The model has ${[...inputs.keys()].join(', ')}; name it in config.json "inputNames": {"image": ...}`);
    const spec = imageSpec(json(files, 'preprocessor_config.json', where), config, inputs.get(input)!.shape, `${where}/preprocessor_config.json`);
    const labels = labelsFrom(config, hf, files, where);
    return { ...common, contentTypes: IMAGE_CONTENT_TYPES, labels, topK: config.topK ?? Math.min(5, labels?.length ?? 5), image: { ...spec, input } };
  }
  const tokenizerJson = json(files, 'tokenizer.json', where);
  if (tokenizerJson === undefined) throw new Error(`${where}: a ${task} model needs its tokenizer.json beside model.onnx`);
  const tokenizerConfig = json(files, 'tokenizer_config.json', where) ?? {};
  const limits = [config.maxLength, typeof hf?.max_position_embeddings === 'number' ? hf.max_position_embeddings : undefined, typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6 ? tokenizerConfig.model_max_length : undefined];
  const maxLength = config.maxLength ?? Math.min(512, ...limits.filter((l): l is number => l !== undefined));
  const text = {
    encoder: new TextEncoder(tokenizerJson, tokenizerConfig, maxLength),
    inputIds: pick(config.inputNames?.inputIds, ['input_ids'], 'input_ids')!,
    attentionMask: pick(config.inputNames?.attentionMask, ['attention_mask'], 'attention_mask', false),
    tokenTypeIds: pick(config.inputNames?.tokenTypeIds, ['token_type_ids'], 'token_type_ids', false),
    truncate: config.truncation !== 'reject',
  };
  if (task === 'text-classification') {
    const labels = labelsFrom(config, hf, files, where);
    return { ...common, contentTypes: TEXT_CONTENT_TYPES, labels, topK: config.topK ?? labels?.length ?? 5, text };
  }
  const pooling = json(files, '1_Pooling/config.json', where);
  const modules = files.has('modules.json') ? (JSON.parse(Buffer.from(files.get('modules.json')!).toString('utf8')) as { type?: string }[]) : [];
  const mode = config.pooling ?? (pooling?.pooling_mode_cls_token === true ? 'cls' : pooling?.pooling_mode_max_tokens === true ? 'max' : 'mean');
  const normalize = config.normalize ?? (Array.isArray(modules) && modules.some((m) => String(m.type).endsWith('.Normalize')));
  return { ...common, contentTypes: TEXT_CONTENT_TYPES, topK: 0, text, pooling: { mode, normalize } };
}
