/**
 * OpenAI's embeddings API on feature-extraction models: POST /v1/embeddings
 * {model, input, encoding_format, dimensions, user} answers {object: "list", data: [{object:
 * "embedding", index, embedding}], model, usage}. The request's shape and limits follow OpenAI's API
 * reference (openai-openapi `CreateEmbeddingRequest`): input is a string, a list of strings, a list of
 * token ids, or a list of such lists; at most 2048 inputs.
 *
 * The vectors are the ones /v2/models/{name}/infer answers for the same texts: the same tokenizer,
 * session run and pooling. Token ids are fed to the model as they are (no special tokens added).
 * Image embedding models (image-feature-extraction) take image items, `{"image": "data:image/…;base64,…"}`
 * (or bare base64), the shape Jina's and Voyage's multimodal embeddings APIs use; their vectors are
 * the ones /infer answers for the same image with the model's default pooling.
 */
import { Tensor } from 'onnxruntime-node';
import { pendingTaskCapture, sampled } from '../capture.ts';
import { badRequest, InferenceError } from '../errors.ts';
import { observeTask, runSession, type InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';
import { featureExtraction, type TextEmbedder } from '../tasks/feature-extraction.ts';
import { imageFeatureExtraction } from '../tasks/image-feature-extraction.ts';
import { decodeBase64 } from '../tasks/task-inputs.ts';
import { parseTask, runTask } from '../tasks/task-run.ts';
import { pool, textFeeds } from '../tasks/texts.ts';

/** OpenAI's own limit on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048;

export interface EmbeddingsRequest {
  readonly model: string;
  /** Texts, token id lists, or images (exactly one of the three). */
  readonly texts?: readonly string[];
  readonly tokenIds?: readonly (readonly number[])[];
  /** Image items, base64 (a data URL's prefix dropped), checked to decode. */
  readonly images?: readonly string[];
  readonly encoding: 'float' | 'base64';
  readonly dimensions?: number;
}

const FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

const invalid = (message: string, param: string) => new InferenceError(400, message, { param });

const isTokenList = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');

/** The request body, checked; 400 naming the field (OpenAI's `param`) and the fix. */
export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object: {"model": ..., "input": ...}', 'input');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw invalid(`unrecognized request argument ${unknown.map((k) => `"${k}"`).join(', ')}; /v1/embeddings takes model, input, encoding_format, dimensions and user`, unknown[0]);
  const { model, input, encoding_format: encoding = 'float', dimensions, user } = fields;
  if (typeof model !== 'string' || model === '') throw invalid('"model" must name a served model (GET /v1/models lists them)', 'model');
  if (user !== undefined && typeof user !== 'string') throw invalid('"user" must be a string', 'user');
  if (encoding !== 'float' && encoding !== 'base64') throw invalid(`"encoding_format" must be "float" or "base64", got ${JSON.stringify(encoding)}`, 'encoding_format');
  if (dimensions !== undefined && !(Number.isInteger(dimensions) && (dimensions as number) > 0)) throw invalid(`"dimensions" must be a positive integer, got ${JSON.stringify(dimensions)}`, 'dimensions');
  const request = { model, encoding, dimensions: dimensions as number | undefined } as const;
  if (input === undefined) throw invalid('"input" is missing; send a text, a list of texts, or token ids', 'input');
  if (typeof input === 'string') {
    if (input.trim() === '') throw invalid('"input" is an empty text; send some text to embed', 'input');
    return { ...request, texts: [input] };
  }
  if (!Array.isArray(input) || input.length === 0) throw invalid('"input" must be a non-empty text, a non-empty list of texts, or token ids (a list of integers, or a list of such lists)', 'input');
  if (input.length > MAX_EMBEDDING_INPUTS) throw invalid(`"input" holds ${input.length} items, over the limit of ${MAX_EMBEDDING_INPUTS} per request; split it`, 'input');
  if (input.every((v) => typeof v === 'string')) {
    const empty = input.findIndex((v) => (v as string).trim() === '');
    if (empty >= 0) throw invalid(`"input" text ${empty} is empty; send some text in each item`, 'input');
    return { ...request, texts: input as string[] };
  }
  const isImage = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && 'image' in v;
  if (input.some(isImage)) {
    const at = input.findIndex((v) => !isImage(v) || Object.keys(v as object).length !== 1);
    if (at >= 0) throw invalid(`"input" item ${at} is not an image item: send every item as {"image": "data:image/jpeg;base64,..."} (a text and an image cannot share one request)`, 'input');
    const images = input.map((v, i) => {
      const value = (v as { image: unknown }).image;
      decodeBase64(value, `"input" item ${i} "image"`);
      return String(value).replace(/^data:[^;,]*;base64,/, '');
    });
    return { ...request, images };
  }
  if (isTokenList(input)) return { ...request, tokenIds: [input] };
  if (input.every(isTokenList)) return { ...request, tokenIds: input as number[][] };
  const at = input.findIndex((v) => typeof v !== typeof input[0] || (Array.isArray(v) && !isTokenList(v)));
  throw invalid(`"input" mixes kinds or holds something else at index ${Math.max(at, 0)}: send all texts, or all token id lists (non-empty lists of integers)`, 'input');
}

/** The feature-extraction module's loaded embedder (tokenizer, output, pooling), or 400 naming what the model is. */
export function embeddingModel(model: LoadedModel): TextEmbedder {
  const task = model.task;
  if (task?.module !== featureExtraction) {
    const what = task === undefined ? 'a tensor model' : `a ${task.module.name} model`;
    const images = task?.module === imageFeatureExtraction ? ' (it embeds images: send {"image": "data:image/jpeg;base64,..."} items)' : '';
    throw new InferenceError(400, `model "${model.name}" is ${what}${images}; /v1/embeddings serves feature-extraction (text embedding) models and image-feature-extraction models`, { param: 'model' });
  }
  return task.loaded as TextEmbedder;
}

/** 400 unless the model is an image-feature-extraction one, naming what it is. */
function imageEmbeddingModel(model: LoadedModel): void {
  const task = model.task;
  if (task?.module !== imageFeatureExtraction) {
    const what = task === undefined ? 'a tensor model' : `a ${task.module.name} model`;
    throw new InferenceError(400, `model "${model.name}" is ${what}, which does not embed images; send image items to an image-feature-extraction model`, { param: 'input' });
  }
}

/** Token id lists as the model's input tensors (padded with 0 where the mask is 0); 400 for an id outside the vocabulary or a list over the model's length. */
function tokenFeeds(model: LoadedModel, embedder: TextEmbedder, lists: readonly (readonly number[])[]) {
  const { encoder } = embedder.text;
  const vocab = encoder.vocabSize;
  const length = Math.max(...lists.map((l) => l.length));
  const ids = new BigInt64Array(lists.length * length);
  const mask = new BigInt64Array(lists.length * length);
  lists.forEach((list, row) => {
    if (list.length > encoder.maxLength) throw invalid(`input ${row} is ${list.length} tokens, over model "${model.name}"'s maximum of ${encoder.maxLength}; shorten it`, 'input');
    list.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw invalid(`input ${row} token ${j} is ${id}, not a token id of model "${model.name}" (integers 0 to ${vocab - 1})`, 'input');
      ids[row * length + j] = BigInt(id);
      mask[row * length + j] = 1n;
    });
  });
  const { inputIds, attentionMask, tokenTypeIds } = embedder.text;
  const dims = [lists.length, length];
  const feeds: Record<string, Tensor> = { [inputIds]: new Tensor('int64', ids, dims) };
  if (attentionMask !== undefined) feeds[attentionMask] = new Tensor('int64', mask, dims);
  if (tokenTypeIds !== undefined) feeds[tokenTypeIds] = new Tensor('int64', new BigInt64Array(ids.length), dims);
  return { feeds, mask, length, headers: {} };
}

/** Cuts each vector to `dimensions` and L2-normalizes it again (Matryoshka embeddings, as OpenAI's `dimensions` does). */
export function truncateEmbeddings(vectors: number[][], dimensions: number): number[][] {
  return vectors.map((vector) => {
    const cut = vector.slice(0, dimensions);
    const norm = Math.sqrt(cut.reduce((sum, v) => sum + v * v, 0));
    return norm > 1e-12 ? cut.map((v) => Math.fround(v / norm)) : cut;
  });
}

/** A vector as OpenAI's base64 encoding: its float32 values, little-endian, in base64 (what the clients decode with Float32Array / numpy float32). */
export function base64Embedding(vector: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}

/** The sizes `dimensions` may ask for: the model's own, and config.json "matryoshkaDimensions". */
function checkDimensions(model: LoadedModel, full: number, dimensions: number): void {
  if (dimensions === full) return;
  const allowed = model.config.matryoshkaDimensions;
  if (allowed === undefined) throw invalid(`model "${model.name}" does not take "dimensions": its embeddings have ${full} dimensions and its config.json lists no "matryoshkaDimensions" (set it only for a model trained Matryoshka-style); leave "dimensions" out or send ${full}`, 'dimensions');
  if (dimensions > full || !allowed.includes(dimensions)) throw invalid(`"dimensions" is ${dimensions}; model "${model.name}" takes ${[...new Set([...allowed.filter((d) => d < full), full])].sort((a, b) => a - b).join(', ')}`, 'dimensions');
}

export interface EmbeddingsAnswer {
  readonly json: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The request in the /infer task shape, for a shadow version (undefined for token ids). */
  readonly shadowBody?: { readonly inputs: readonly string[] };
}

/** The answer: each vector (cut to `dimensions` where asked), float or base64, and the tokens counted. */
function embeddingsJson(model: LoadedModel, request: EmbeddingsRequest, embeddings: number[][], tokens: number): string {
  let vectors = embeddings;
  const full = vectors[0]?.length ?? 0;
  if (request.dimensions !== undefined) {
    checkDimensions(model, full, request.dimensions);
    if (request.dimensions < full) vectors = truncateEmbeddings(vectors, request.dimensions);
  }
  return JSON.stringify({
    object: 'list',
    data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: request.encoding === 'base64' ? base64Embedding(vector) : vector })),
    model: request.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

/**
 * Image items on an image-feature-extraction version: run as the task runs them on /infer
 * ({"inputs": [base64, …]}: the module's decode, preprocessing, run and default pooling, its
 * capture and metrics), so the vectors are /infer's; no text tokens, so usage counts 0.
 */
async function runImageEmbeddings(model: LoadedModel, request: EmbeddingsRequest, observers?: InferenceObservers): Promise<EmbeddingsAnswer> {
  imageEmbeddingModel(model);
  const inputs = request.images!;
  const { result } = await runTask(model, parseTask(model, { kind: 'json', route: 'infer', body: { inputs } }), observers);
  // One [[…]] per image.
  const embeddings = (result.answer as number[][][]).map((perImage) => perImage[0]);
  return { json: embeddingsJson(model, request, embeddings, 0), headers: {}, shadowBody: { inputs } };
}

/** Runs an embeddings request on a feature-extraction version: tokens, one session run, pooling, the answer. */
export async function runEmbeddings(model: LoadedModel, request: EmbeddingsRequest, observers?: InferenceObservers): Promise<EmbeddingsAnswer> {
  if (request.images !== undefined) return runImageEmbeddings(model, request, observers);
  const embedder = embeddingModel(model);
  const started = performance.now();
  const items = request.texts?.length ?? request.tokenIds!.length;
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && items > maxBatch) throw invalid(`${items} inputs in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}; split it`, 'input');
  // Texts as the feature-extraction task tokenizes them (so the vectors are /infer's), or the ids as they are.
  const input =
    request.texts !== undefined
      ? (() => {
          const { feeds, batch, headers } = textFeeds(embedder.text, request.texts);
          return { feeds, mask: batch.attentionMask, length: batch.length, headers };
        })()
      : tokenFeeds(model, embedder, request.tokenIds!);
  const parsed = performance.now();
  const output = (await runSession(model, input.feeds, [embedder.output]))[embedder.output];
  const ran = performance.now();
  const data = output.data as Float32Array;
  // The same pooling as the feature-extraction task's embedTexts.
  const vectors = output.dims.length === 3 ? pool(data, input.mask, items, input.length, embedder.pooling.mode, embedder.pooling.normalize) : Array.from({ length: items }, (_, i) => Array.from(data.subarray((i * data.length) / items, ((i + 1) * data.length) / items)));
  let tokens = 0;
  for (const m of input.mask) tokens += Number(m);
  const json = embeddingsJson(model, request, vectors, tokens);
  observeTask(observers, model, items, { started, parsed, ran });
  // Captured as the feature-extraction task captures (the texts, the vectors, its drift signals); token ids are not texts and are not captured.
  if (request.texts !== undefined && observers?.onCapture !== undefined && sampled(model, observers.capturePercent ?? 0, observers.random)) {
    observers.onCapture(pendingTaskCapture(model, { texts: request.texts }, JSON.stringify(vectors), request.texts.map((t) => [t.length]), featureExtraction.signals));
  }
  return { json, headers: input.headers, shadowBody: request.texts === undefined ? undefined : { inputs: request.texts } };
}
