/**
 * zero-shot-image-classification (transformers' pipelines/zero_shot_image_classification.py): an
 * image and candidate labels in, [{label, score}] best first out. Each label becomes a text by the
 * hypothesis template ("This is a photo of {}." by default, the Python pipeline's; transformers.js's
 * default lacks the full stop), the texts are tokenized (padded to the longest, or to max_length for
 * SigLIP, as both pipelines do), and the scores are the softmax over CLIP's logit_scale-scaled
 * logits, or the sigmoid of SigLIP's (scaled, plus its logit_bias), per image.
 *
 * Two export layouts: one file (model.onnx taking input_ids and pixel_values, answering
 * logits_per_image, as Optimum exports CLIPModel), or the two towers transformers.js ships
 * (text_model.onnx beside model.onnx, the vision tower; config.json states "logitScale", and
 * "logitBias" for SigLIP, which neither tower holds).
 *
 * The text embeddings of a label set are cached (bounded LRU): the towers then run the vision tower
 * alone. A one-file export's graph needs text on every run, so a cached label set is run with a
 * one-text placeholder and the logits computed from the cached text embeddings, with the scale
 * (and bias) the graph's own logits were fitted to on a first run and checked against.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import { badRequest } from '../errors.ts';
import { compareClasses, scores, type ScoreFunction } from './class-scores.ts';
import { IMAGE_CONTENT_TYPES } from './hf-folder.ts';
import { imageInput } from './image-classification.ts';
import { DUAL_ENCODER, EXAMPLE_PNG_BASE64 } from './image-feature-extraction.ts';
import { capturedImages, imageTensor, outputSize, type ImageSpec } from './images.ts';
import { parseItems, v2Answer, type ItemsRequest } from './task-inputs.ts';
import type { TaskContext, TaskFolder, TaskModule } from './task.ts';
import { TextEncoder } from './texts.ts';

const DEFAULT_TEMPLATE = 'This is a photo of {}.';
/** Label sets whose text embeddings are kept, and the floats they may hold in all (16 MB: a Lambda's memory is the model's). */
const CACHE_SETS = 64;
const CACHE_FLOATS = 4_000_000;
/** Labels one request may ask about. */
const MAX_LABELS = 1000;

/**
 * Text embeddings by label texts, least recently used dropped first once there are more than
 * `sets` sets or `floats` floats in all (a Map keeps insertion order; a hit is re-inserted last).
 * A dependency for these few lines was not worth it.
 */
export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  private floats = 0;
  private readonly sets: number;
  private readonly maxFloats: number;
  constructor(sets: number, maxFloats: number) {
    this.sets = sets;
    this.maxFloats = maxFloats;
  }
  get(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: Float32Array): void {
    if (value.length > this.maxFloats) return;
    this.delete(key);
    this.entries.set(key, value);
    this.floats += value.length;
    while (this.entries.size > this.sets || this.floats > this.maxFloats) this.delete(this.entries.keys().next().value!);
  }
  private delete(key: string): void {
    const value = this.entries.get(key);
    if (value === undefined) return;
    this.entries.delete(key);
    this.floats -= value.length;
  }
  get size(): number {
    return this.entries.size;
  }
}

interface TextSide {
  readonly encoder: TextEncoder;
  readonly inputIds: string;
  readonly attentionMask?: string;
  /** SigLIP pads every text to max_length, as it was trained. */
  readonly padToMax: boolean;
}

export interface ZeroShotImage {
  readonly config: ModelConfig;
  readonly input: string;
  readonly image: ImageSpec;
  readonly family: 'clip' | 'siglip';
  readonly scoreFunction: ScoreFunction;
  readonly text: TextSide;
  readonly imageEmbeds: string;
  /** One file: its logits and text embeddings outputs. */
  readonly oneFile?: { readonly logits: string; readonly textEmbeds: string };
  /** Two towers: the text tower and the logit scale and bias config.json gives. */
  readonly towers?: { readonly session: InferenceSession; readonly textEmbeds: string; readonly scale: number; readonly bias: number };
  /** Normalized text embeddings [labels × dims] by label texts. */
  readonly cache: EmbeddingCache;
  /** One file: the scale and bias its logits showed (undefined until fitted; null when they could not be). */
  calibration?: { readonly scale: number; readonly bias: number } | null;
  readonly placeholder: Readonly<Record<string, Tensor>>;
}

const isSiglip = (folder: TaskFolder): boolean => /siglip/i.test(String(folder.hf?.model_type ?? folder.architecture));

function detect(folder: TaskFolder): boolean {
  const inputs = folder.signature.inputs.map((i) => i.name);
  const outputs = folder.signature.outputs.map((o) => o.name);
  if (!inputs.includes('pixel_values')) return false;
  if (inputs.includes('input_ids')) return outputs.includes('logits_per_image');
  return folder.files.has('text_model.onnx') && DUAL_ENCODER.test(folder.architecture);
}

function textSide(folder: TaskFolder, inputs: readonly string[], siglip: boolean): TextSide {
  const tokenizer = folder.json('tokenizer.json');
  if (tokenizer === undefined) throw new Error(`${folder.where}: a zero-shot-image-classification model needs its tokenizer.json beside model.onnx (the candidate labels are tokenized)`);
  const tokenizerConfig = folder.json('tokenizer_config.json') ?? {};
  const textConfig = folder.hf?.text_config as Record<string, unknown> | undefined;
  const modelMax = typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6 ? tokenizerConfig.model_max_length : undefined;
  const positions = typeof textConfig?.max_position_embeddings === 'number' ? textConfig.max_position_embeddings : undefined;
  const maxLength = folder.config.maxLength ?? modelMax ?? positions ?? (siglip ? 64 : 77);
  const inputIds = folder.config.inputNames?.inputIds ?? 'input_ids';
  if (!inputs.includes(inputIds)) throw new Error(`${folder.where}: the text side has no "${inputIds}" input (it has ${inputs.join(', ')}); name it in config.json "inputNames"`);
  const mask = folder.config.inputNames?.attentionMask ?? 'attention_mask';
  return { encoder: new TextEncoder(tokenizer, tokenizerConfig, maxLength), inputIds, attentionMask: inputs.includes(mask) ? mask : undefined, padToMax: siglip };
}

/** Token tensors for the label texts: padded to the longest, or (SigLIP) to max_length with the pad token. */
function textFeeds(text: TextSide, texts: readonly string[]): Record<string, Tensor> {
  const batch = text.encoder.encode(texts, true);
  const length = text.padToMax ? Math.max(batch.length, text.encoder.maxLength) : batch.length;
  let { inputIds, attentionMask } = batch;
  if (length !== batch.length) {
    inputIds = new BigInt64Array(texts.length * length).fill(BigInt(text.encoder.padId));
    attentionMask = new BigInt64Array(texts.length * length);
    for (let t = 0; t < texts.length; t++) {
      inputIds.set(batch.inputIds.subarray(t * batch.length, (t + 1) * batch.length), t * length);
      attentionMask.set(batch.attentionMask.subarray(t * batch.length, (t + 1) * batch.length), t * length);
    }
  }
  const feeds: Record<string, Tensor> = { [text.inputIds]: new Tensor('int64', inputIds, [texts.length, length]) };
  if (text.attentionMask !== undefined) feeds[text.attentionMask] = new Tensor('int64', attentionMask, [texts.length, length]);
  return feeds;
}

function load(folder: TaskFolder): Promise<ZeroShotImage> | ZeroShotImage {
  const siglip = isSiglip(folder);
  const family = siglip ? 'siglip' : 'clip';
  const scoreFunction: ScoreFunction = folder.config.functionToApply ?? (siglip ? 'sigmoid' : 'softmax');
  const { input, image } = imageInput(folder);
  const inputs = folder.signature.inputs.map((i) => i.name);
  const outputs = folder.signature.outputs.map((o) => o.name);
  const common = { config: folder.config, input, image, family, scoreFunction, cache: new EmbeddingCache(CACHE_SETS, CACHE_FLOATS) } as const;
  const pick = (names: readonly string[], candidates: readonly string[], what: string, file: string): string => {
    const found = candidates.find((c) => names.includes(c));
    if (found === undefined) throw new Error(`${folder.where}: ${file} has no ${what} output (looked for ${candidates.join(', ')}; it has ${names.join(', ')})`);
    return found;
  };
  if (inputs.includes('input_ids')) {
    const text = textSide(folder, inputs, siglip);
    const logits = pick(outputs, ['logits_per_image'], 'logits', 'model.onnx');
    const oneFile = { logits, textEmbeds: pick(outputs, ['text_embeds'], 'text embeddings', 'model.onnx') };
    return { ...common, text, oneFile, imageEmbeds: pick(outputs, ['image_embeds'], 'image embeddings', 'model.onnx'), placeholder: textFeeds(text, ['a']) };
  }
  return (async () => {
    if (!folder.files.has('text_model.onnx')) throw new Error(`${folder.where}: model.onnx takes no text (inputs ${inputs.join(', ')}) and there is no text_model.onnx beside it: a zero-shot-image-classification export is one file taking input_ids and pixel_values, or two towers (model.onnx the vision tower, text_model.onnx the text tower)`);
    const scale = folder.config.logitScale;
    if (scale === undefined) throw new Error(`${folder.where}: a two-tower ${family === 'clip' ? 'CLIP' : 'SigLIP'} export holds no logit scale; set "logitScale" in config.json (exp(logit_scale): 100 for OpenAI's CLIP${family === 'siglip' ? ', and "logitBias"' : ''})`);
    if (family === 'siglip' && folder.config.logitBias === undefined) throw new Error(`${folder.where}: a two-tower SigLIP export holds no logit bias; set "logitBias" in config.json (the model's logit_bias)`);
    const session = await folder.openSession('text_model.onnx');
    const text = textSide(folder, session.inputNames, siglip);
    const textEmbeds = pick(session.outputNames, ['text_embeds', 'pooler_output'], 'text embeddings', 'text_model.onnx');
    return { ...common, text, towers: { session, textEmbeds, scale, bias: folder.config.logitBias ?? 0 }, imageEmbeds: pick(outputs, ['image_embeds', 'pooler_output'], 'image embeddings', 'model.onnx'), placeholder: {} };
  })();
}

/** Rows of a [rows, dims] tensor, each L2-normalized (CLIPModel and SiglipModel normalize before the dot product). */
function normalizedRows(data: Float32Array, rows: number): Float32Array {
  const dims = data.length / rows;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let d = 0; d < dims; d++) sum += data[r * dims + d] ** 2;
    const n = Math.sqrt(sum) || 1;
    for (let d = 0; d < dims; d++) out[r * dims + d] = data[r * dims + d] / n;
  }
  return out;
}

/** Dot products [images × labels] of normalized embeddings. */
function similarities(images: Float32Array, n: number, texts: Float32Array, labels: number): Float64Array {
  const dims = images.length / n;
  const out = new Float64Array(n * labels);
  for (let i = 0; i < n; i++) for (let j = 0; j < labels; j++) {
    let dot = 0;
    for (let d = 0; d < dims; d++) dot += images[i * dims + d] * texts[j * dims + d];
    out[i * labels + j] = dot;
  }
  return out;
}

/**
 * The scale and bias a one-file export applies, fitted to its logits by least squares (CLIP: no
 * bias), and kept only when they reproduce every logit to 1e-4 (relative): otherwise null, and that
 * model is always run with its label texts.
 */
function fit(dots: Float64Array, logits: Float32Array, withBias: boolean): { scale: number; bias: number } | null {
  const n = dots.length;
  let [sx, sy, sxx, sxy] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    sx += dots[i];
    sy += logits[i];
    sxx += dots[i] * dots[i];
    sxy += dots[i] * logits[i];
  }
  const denominator = withBias ? n * sxx - sx * sx : sxx;
  if (!(Math.abs(denominator) > 1e-12)) return null;
  const scale = withBias ? (n * sxy - sx * sy) / denominator : sxy / sxx;
  const bias = withBias ? (sy - scale * sx) / n : 0;
  for (let i = 0; i < n; i++) if (Math.abs(scale * dots[i] + bias - logits[i]) > 1e-4 * (1 + Math.abs(logits[i]))) return null;
  return { scale, bias };
}

export interface ZeroShotRequest extends ItemsRequest<Uint8Array> {
  readonly labels: readonly string[];
  readonly template: string;
}

function labelsParameter(value: unknown, fallback: readonly string[] | undefined): string[] {
  if (value === undefined) {
    if (fallback !== undefined) return [...fallback];
    throw badRequest('no candidate labels: send "parameters": {"candidate_labels": ["cat", "dog", ...]} with the image in JSON ({"inputs": <base64 image>}), or set "labels" in config.json as the default set');
  }
  const list = typeof value === 'string' ? value.split(',').map((l) => l.trim()).filter((l) => l !== '') : value;
  if (!Array.isArray(list) || list.length === 0) throw badRequest(`"parameters.candidate_labels" must be a non-empty list of labels, got ${JSON.stringify(value)}`);
  if (list.length > MAX_LABELS) throw badRequest(`"parameters.candidate_labels" has ${list.length} labels, over the limit of ${MAX_LABELS}; split the request`);
  list.forEach((l, i) => {
    if (typeof l !== 'string' || l.trim() === '') throw badRequest(`"parameters.candidate_labels"[${i}] must be a non-empty string, got ${JSON.stringify(l)}`);
  });
  return list as string[];
}

function templateParameter(value: unknown): string {
  if (value === undefined) return DEFAULT_TEMPLATE;
  if (typeof value !== 'string' || value.split('{}').length !== 2) throw badRequest(`"parameters.hypothesis_template" must be a string with one "{}" where the label goes (default ${JSON.stringify(DEFAULT_TEMPLATE)}), got ${JSON.stringify(value)}`);
  return value;
}

/** Scores [images][labels] for a request: text embeddings cached by label texts. */
async function zeroShotScores(loaded: ZeroShotImage, pixels: Tensor, texts: readonly string[], context: TaskContext): Promise<{ scores: number[][]; cached: boolean }> {
  const n = pixels.dims[0];
  const key = JSON.stringify(texts);
  let textEmbeddings = loaded.cache.get(key);
  const cached = textEmbeddings !== undefined;
  let logits: ArrayLike<number>;
  if (loaded.towers !== undefined) {
    const { towers } = loaded;
    if (textEmbeddings === undefined) {
      const output = (await towers.session.run(textFeeds(loaded.text, texts), [towers.textEmbeds]))[towers.textEmbeds];
      textEmbeddings = normalizedRows(output.data as Float32Array, texts.length);
      loaded.cache.set(key, textEmbeddings);
    }
    context.mark('parsed');
    const images = (await context.run({ [loaded.input]: pixels }, [loaded.imageEmbeds]))[loaded.imageEmbeds];
    context.mark('ran');
    logits = similarities(normalizedRows(images.data as Float32Array, n), n, textEmbeddings, texts.length).map((dot) => towers.scale * dot + towers.bias);
  } else if (textEmbeddings !== undefined && loaded.calibration) {
    const { scale, bias } = loaded.calibration;
    context.mark('parsed');
    const images = (await context.run({ [loaded.input]: pixels, ...loaded.placeholder }, [loaded.imageEmbeds]))[loaded.imageEmbeds];
    context.mark('ran');
    logits = similarities(normalizedRows(images.data as Float32Array, n), n, textEmbeddings, texts.length).map((dot) => scale * dot + bias);
  } else {
    const oneFile = loaded.oneFile!;
    context.mark('parsed');
    const out = await context.run({ [loaded.input]: pixels, ...textFeeds(loaded.text, texts) }, [oneFile.logits, oneFile.textEmbeds, loaded.imageEmbeds]);
    context.mark('ran');
    logits = out[oneFile.logits].data as Float32Array;
    textEmbeddings = normalizedRows(out[oneFile.textEmbeds].data as Float32Array, texts.length);
    loaded.cache.set(key, textEmbeddings);
    if (loaded.calibration === undefined && texts.length * n >= 2) {
      const dots = similarities(normalizedRows(out[loaded.imageEmbeds].data as Float32Array, n), n, textEmbeddings, texts.length);
      loaded.calibration = fit(dots, logits as Float32Array, loaded.family === 'siglip');
    }
  }
  const rows = Array.from({ length: n }, (_, i) => scores(Array.from({ length: texts.length }, (_, j) => Math.fround(logits[i * texts.length + j])), loaded.scoreFunction));
  return { scores: rows, cached };
}

export const zeroShotImageClassification: TaskModule<ZeroShotImage, ZeroShotRequest> = {
  name: 'zero-shot-image-classification',
  sideFiles: ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'text_model.onnx'],
  signals: [
    { name: 'top label', kind: 'categorical' },
    { name: 'top score', kind: 'numeric' },
  ],
  detect,
  load,
  contentTypes: () => IMAGE_CONTENT_TYPES,
  parse(loaded, input) {
    const request = parseItems(input, 'images', { task: 'zero-shot-image-classification', parameters: ['candidate_labels', 'hypothesis_template'], maxBatchSize: loaded.config.maxBatchSize });
    if (request === undefined) return undefined;
    return { ...request, labels: labelsParameter(request.parameters.candidate_labels, loaded.config.labels), template: templateParameter(request.parameters.hypothesis_template) };
  },
  async run(loaded, request, context) {
    const pixels = await imageTensor(loaded.image, request.items, request.single);
    const texts = request.labels.map((label) => request.template.replace('{}', label));
    const { scores: rows } = await zeroShotScores(loaded, pixels, texts, context);
    // Best first; equal scores keep the labels' order (Python's sorted and JS's sort are both stable).
    const ranked = rows.map((row) => row.map((score, index) => ({ label: request.labels[index], score, index })).sort((a, b) => b.score - a.score));
    const shown = ranked.map((r) => r.map(({ label, score }) => ({ label, score })));
    const n = ranked.length;
    const k = request.labels.length;
    const answer =
      request.v2 !== undefined
        ? v2Answer(context.model, request.v2, [
            { name: 'label', datatype: 'BYTES', shape: [n, k], data: ranked.flatMap((r) => r.map((c) => c.label)) },
            { name: 'score', datatype: 'FP32', shape: [n, k], data: ranked.flatMap((r) => r.map((c) => Math.fround(c.score))) },
          ])
        : request.predict
          ? { predictions: shown }
          : request.single
            ? shown[0]
            : shown;
    // Per-label metrics only for config.json's labels: a client's own labels would be unbounded metric dimensions (each a CloudWatch metric, billed).
    const known = new Set(loaded.config.labels ?? []);
    const classCounts: Record<string, number> = {};
    for (const r of ranked) if (known.has(r[0].label)) classCounts[r[0].label] = (classCounts[r[0].label] ?? 0) + 1;
    return {
      answer,
      items: n,
      classCounts,
      captured: () => ({ ...capturedImages(request.items, loaded.config, { name: loaded.input, tensor: pixels }), candidate_labels: request.labels, hypothesis_template: request.template }),
      // The top label as its index among the request's candidate labels (stable when callers send one label set, as in production).
      signals: ranked.map((r) => [r[0].index, r[0].score]),
    };
  },
  describe: (loaded) => ({
    input_size: outputSize(loaded.image),
    family: loaded.family,
    function_to_apply: loaded.scoreFunction,
    layout: loaded.towers !== undefined ? 'two towers (model.onnx vision, text_model.onnx text)' : 'one file',
    ...(loaded.config.labels === undefined ? {} : { labels: loaded.config.labels }),
    hypothesis_template: DEFAULT_TEMPLATE,
    max_length: loaded.text.encoder.maxLength,
    cached_label_sets: loaded.cache.size,
  }),
  compare: compareClasses,
  example: (loaded) => ({ inputs: EXAMPLE_PNG_BASE64, parameters: { candidate_labels: loaded.config.labels?.slice(0, 3) ?? ['a diagram', 'a photo', 'a drawing'] } }),
};
