/**
 * feature-extraction (transformers' pipelines/feature_extraction.py, with sentence-transformers'
 * Pooling and Normalize modules applied as 1_Pooling/config.json and modules.json say): texts in,
 * one embedding per text out, always number[][] (one text included); a model that already outputs
 * a sentence embedding ([texts, dims]) is answered as it is.
 */
import type { ModelConfig } from '../config.ts';
import { TEXT_CONTENT_TYPES, outputOf, SENTENCE_TRANSFORMERS_FILES, TOKENIZER_FILES } from './hf-folder.ts';
import { CLASSIFIER_PARAMETERS } from './class-scores.ts';
import { parseItems, v2Answer, type ItemsRequest } from './task-inputs.ts';
import type { TaskFolder, TaskModule } from './task.ts';
import { pool, textFeeds, textInputs, type TextInputs } from './texts.ts';
// Used inside functions only, so the two modules importing each other is safe.
import { sentenceSimilarity, type SimilarityRequest } from './sentence-similarity.ts';

export interface TextEmbedder {
  readonly config: ModelConfig;
  readonly text: TextInputs;
  readonly output: string;
  readonly pooling: { readonly mode: 'mean' | 'cls' | 'max'; readonly normalize: boolean };
}

/** Whether a folder is a text embedding export: sentence-transformers' files, or a bare *Model with a tokenizer (or a pooling set in config.json). */
export const isTextEmbedder = (folder: TaskFolder): boolean =>
  folder.files.has('modules.json') || folder.files.has('1_Pooling/config.json') || (folder.files.has('tokenizer.json') && (folder.architecture.endsWith('Model') || folder.config.pooling !== undefined));

/**
 * sentence-transformers' pooling, from 1_Pooling/config.json: `pooling_mode` ("mean", "cls", "max";
 * sentence-transformers 5 and later) or the older `pooling_mode_*_tokens` flags; mean when absent. A
 * mode the server does not compute (weighted mean, last token, mean by the root of the length) is
 * refused at load, naming it, rather than answered as mean.
 */
function poolingMode(pooling: Record<string, unknown> | undefined, file: string): 'mean' | 'cls' | 'max' {
  if (pooling === undefined) return 'mean';
  const named = typeof pooling.pooling_mode === 'string' ? pooling.pooling_mode : undefined;
  const flags = Object.entries(pooling).filter(([key, value]) => key.startsWith('pooling_mode_') && value === true).map(([key]) => key);
  const modes = named !== undefined ? [named] : flags.map((f) => ({ pooling_mode_cls_token: 'cls', pooling_mode_max_tokens: 'max', pooling_mode_mean_tokens: 'mean' })[f] ?? f);
  if (modes.length === 0) return 'mean';
  const [mode] = modes;
  if (modes.length > 1 || !['mean', 'cls', 'max'].includes(mode)) throw new Error(`${file} asks for pooling ${modes.join(' + ')}, which ModelShip does not compute (it pools by mean, cls or max); set "pooling" in the model's config.json to one of those if that is what it was trained with`);
  return mode as 'mean' | 'cls' | 'max';
}

/** The embedder of a folder: tokenizer, output and pooling (config.json's, else 1_Pooling/config.json's, else mean; Normalize from modules.json). */
export function loadTextEmbedder(folder: TaskFolder, task: string): TextEmbedder {
  const pooling = folder.json('1_Pooling/config.json');
  const modules = folder.json('modules.json') as unknown as { type?: string }[] | undefined;
  const mode = folder.config.pooling ?? poolingMode(pooling, `${folder.where}/1_Pooling/config.json`);
  const normalize = folder.config.normalize ?? (Array.isArray(modules) && modules.some((m) => String(m.type).endsWith('.Normalize')));
  return { config: folder.config, text: textInputs(folder, task), output: outputOf(folder, ['sentence_embedding', 'last_hidden_state', 'token_embeddings']), pooling: { mode, normalize } };
}

/** One embedding per text: the model run once on the batch, token embeddings pooled. */
export async function embedTexts(loaded: TextEmbedder, texts: readonly string[], context: Parameters<TaskModule['run']>[2]): Promise<{ embeddings: number[][]; headers: Record<string, string> }> {
  const { feeds, batch, headers } = textFeeds(loaded.text, texts);
  context.mark('parsed');
  const output = (await context.run(feeds, [loaded.output]))[loaded.output];
  context.mark('ran');
  const data = output.data as Float32Array;
  const n = texts.length;
  const embeddings = output.dims.length === 3 ? pool(data, batch.attentionMask, n, batch.length, loaded.pooling.mode, loaded.pooling.normalize) : Array.from({ length: n }, (_, i) => Array.from(data.subarray((i * data.length) / n, ((i + 1) * data.length) / n)));
  return { embeddings, headers };
}

/** Cosine similarity of two vectors (0 when either is zero). */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let [dot, na, nb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** The gate's check of one answer's embeddings (one vector, or a list of them): as many, each of the same size and with cosine ≥ 1 - tolerance to the expected one. */
export function compareEmbeddings(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
  const vectors = (v: unknown): number[][] | undefined => (isVector(v) ? [v] : Array.isArray(v) && v.length > 0 && v.every(isVector) ? (v as number[][]) : undefined);
  const [e, a] = [vectors(expected), vectors(actual)];
  if (e === undefined || a === undefined) return `expected embeddings (lists of numbers), got ${JSON.stringify(actual)?.slice(0, 80)}`;
  if (e.length !== a.length) return `${a.length} embeddings answered, ${e.length} expected`;
  for (let i = 0; i < e.length; i++) {
    if (e[i].length !== a[i].length) return `embedding ${i} has ${a[i].length} dimensions, expected ${e[i].length}`;
    const similarity = cosine(e[i], a[i]);
    if (!(similarity >= 1 - tolerance)) return `embedding ${i}: cosine with the expected one is ${similarity.toFixed(6)}, below ${1 - tolerance}`;
  }
  return undefined;
}

export const featureExtraction: TaskModule<TextEmbedder, ItemsRequest<string> | { readonly similarity: SimilarityRequest }> = {
  name: 'feature-extraction',
  sideFiles: [...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES],
  signals: [{ name: 'text length', kind: 'numeric' }],
  detect: isTextEmbedder,
  load: (folder) => loadTextEmbedder(folder, 'feature-extraction'),
  contentTypes: () => TEXT_CONTENT_TYPES,
  // The classifiers' parameters are taken and ignored, as they always were here.
  parse(loaded, input) {
    // Hugging Face's sentence-similarity shape, which a sentence-transformers export answers too (sentence-similarity.ts).
    const inputs = input.kind === 'json' ? input.body.inputs : undefined;
    if (typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs) && 'source_sentence' in inputs) return { similarity: sentenceSimilarity.parse(loaded, input)! };
    return parseItems(input, 'texts', { task: 'feature-extraction', parameters: CLASSIFIER_PARAMETERS, maxBatchSize: loaded.config.maxBatchSize });
  },
  async run(loaded, request, context) {
    if ('similarity' in request) {
      const result = await sentenceSimilarity.run(loaded, request.similarity, context);
      // Drift signals as this task names them: each text's length.
      const texts = request.similarity.pairs.flatMap((p) => [p.source, ...p.sentences]);
      return { ...result, signals: texts.map((t) => [t.length]) };
    }
    const { embeddings, headers } = await embedTexts(loaded, request.items, context);
    const n = embeddings.length;
    const answer = request.v2 !== undefined ? v2Answer(context.model, request.v2, [{ name: 'embedding', datatype: 'FP32', shape: [n, embeddings[0]?.length ?? 0], data: embeddings.flat() }]) : request.predict ? { predictions: embeddings } : embeddings;
    return { answer, headers, items: n, captured: { texts: request.items }, signals: request.items.map((t) => [t.length]) };
  },
  describe: (loaded) => ({ max_length: loaded.text.encoder.maxLength, pooling: loaded.pooling.mode, normalize: loaded.pooling.normalize }),
  compare: compareEmbeddings,
  example: () => ({ inputs: 'an example text' }),
};
