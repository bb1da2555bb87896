/**
 * sentence-similarity on a text embedding export (sentence-transformers' files, or a bare *Model
 * with a tokenizer): {"inputs": {"source_sentence", "sentences": [...]}} answers the cosine
 * similarity of the source sentence with each sentence, as Hugging Face's inference API does
 * (api-inference-community, docker_images/sentence_transformers/app/pipelines/
 * sentence_similarity.py: encode both, `util.pytorch_cos_sim(embeddings1, embeddings2).tolist()[0]`).
 * The folder's embeddings are computed as feature-extraction computes them (pooling, normalization),
 * all sentences in one run. A feature-extraction folder answers this shape as well; config.json
 * "task": "sentence-similarity" makes it the folder's only task (its metadata, console form, golden
 * gate and drift signals). :predict takes {"instances": [{"source_sentence", "sentences"}]}.
 */
import { badRequest } from '../errors.ts';
import { compareEmbeddings, cosine, embedTexts, isTextEmbedder, loadTextEmbedder, type TextEmbedder } from './feature-extraction.ts';
import { checkParameters } from './task-inputs.ts';
import type { TaskModule } from './task.ts';
import { SENTENCE_TRANSFORMERS_FILES, TOKENIZER_FILES } from './hf-folder.ts';

/** One request: the pairs to score, each a source sentence and the sentences it is compared with. */
export interface SimilarityRequest {
  readonly pairs: readonly { readonly source: string; readonly sentences: readonly string[] }[];
  readonly predict: boolean;
}

const SHAPE = '{"inputs": {"source_sentence": "a text", "sentences": ["a text", ...]}}';

/** One {"source_sentence", "sentences"} object, checked; 400 naming what is wrong and the shape to send. */
function readPair(value: unknown, where: string): SimilarityRequest['pairs'][number] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${where} must be an object {"source_sentence", "sentences"}; send ${SHAPE}`, 'invalid_request');
  const { source_sentence: source, sentences, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw badRequest(`${where} has ${extra.map((k) => `"${k}"`).join(', ')}; it takes "source_sentence" and "sentences"`, 'invalid_request');
  if (typeof source !== 'string' || source.trim() === '') throw badRequest(`${where}.source_sentence must be a non-empty text; send ${SHAPE}`, 'invalid_text');
  if (!Array.isArray(sentences) || sentences.length === 0) throw badRequest(`${where}.sentences must be a non-empty list of texts; send ${SHAPE}`, 'invalid_text');
  const bad = sentences.findIndex((s) => typeof s !== 'string' || s.trim() === '');
  if (bad >= 0) throw badRequest(`${where}.sentences[${bad}] must be a non-empty text, got ${JSON.stringify(sentences[bad])}`, 'invalid_text');
  return { source, sentences: sentences as string[] };
}

export const sentenceSimilarity: TaskModule<TextEmbedder, SimilarityRequest> = {
  name: 'sentence-similarity',
  sideFiles: [...TOKENIZER_FILES, ...SENTENCE_TRANSFORMERS_FILES],
  signals: [
    { name: 'sentences', kind: 'numeric' },
    { name: 'source length', kind: 'numeric' },
    { name: 'top similarity', kind: 'numeric' },
  ],
  // Never detected: an embedding folder is feature-extraction unless config.json names this task.
  detect: () => false,
  load(folder) {
    if (!isTextEmbedder(folder)) throw new Error(`${folder.where}: sentence-similarity needs a text embedding export (sentence-transformers' modules.json or 1_Pooling/config.json, or a *Model with its tokenizer.json); this folder has ${[...folder.files.keys()].join(', ') || 'no side files'}`);
    return loadTextEmbedder(folder, 'sentence-similarity');
  },
  contentTypes: () => [],
  parse(loaded, input) {
    if (input.kind !== 'json') return undefined;
    const { body, route } = input;
    if (route === 'predict') {
      if (!Array.isArray(body.instances)) return undefined;
      if (body.instances.length === 0) throw badRequest('"instances" is empty; send [{"source_sentence", "sentences"}, ...]', 'invalid_request');
      return checkSize({ pairs: body.instances.map((v, i) => readPair(v, `"instances"[${i}]`)), predict: true }, loaded);
    }
    if (body.inputs === undefined) throw badRequest(`the body has no "inputs"; send ${SHAPE}`, 'invalid_request');
    // A v2 request of tensors is not this task's: the tensor path answers it (and names what is wrong).
    if (Array.isArray(body.inputs) && body.inputs.every((v) => typeof v === 'object' && v !== null && 'datatype' in v)) return undefined;
    checkParameters(body.parameters, { task: 'sentence-similarity', parameters: [] });
    return checkSize({ pairs: [readPair(body.inputs, '"inputs"')], predict: false }, loaded);
  },
  async run(loaded, request, context) {
    // Every text of every pair in one run: the sources first, then each pair's sentences.
    const texts = [...request.pairs.map((p) => p.source), ...request.pairs.flatMap((p) => p.sentences)];
    const { embeddings, headers } = await embedTexts(loaded, texts, context);
    let next = request.pairs.length;
    const answers = request.pairs.map((pair, i) => pair.sentences.map(() => Math.fround(cosine(embeddings[i], embeddings[next++]))));
    return {
      answer: request.predict ? { predictions: answers } : answers[0],
      headers,
      items: request.pairs.length,
      captured: { pairs: request.pairs.map((p) => ({ source_sentence: p.source, sentences: p.sentences })) },
      signals: request.pairs.map((p, i) => [p.sentences.length, p.source.length, Math.max(...answers[i])]),
    };
  },
  describe: (loaded) => ({ max_length: loaded.text.encoder.maxLength, pooling: loaded.pooling.mode, normalize: loaded.pooling.normalize }),
  compare(expected, actual, tolerance) {
    const list = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined);
    const [e, a] = [list(expected), list(actual)];
    if (e === undefined || a === undefined) return compareEmbeddings(expected, actual, tolerance);
    if (e.length !== a.length) return `${a.length} similarities answered, ${e.length} expected`;
    const i = e.findIndex((v, j) => !(Math.abs(v - a[j]) <= tolerance));
    return i < 0 ? undefined : `similarity ${i} is ${a[i]}, expected ${e[i]} (tolerance ${tolerance})`;
  },
  example: () => ({ inputs: { source_sentence: 'a free strategy game', sentences: ['a real-time strategy game of ancient warfare', 'a font family', 'a network packet analyzer'] } }),
};

/** config.json maxBatchSize bounds the texts one request embeds (the sources and all their sentences). */
function checkSize(request: SimilarityRequest, loaded: TextEmbedder): SimilarityRequest {
  const texts = request.pairs.reduce((n, p) => n + 1 + p.sentences.length, 0);
  const max = loaded.config.maxBatchSize;
  if (max !== undefined && texts > max) throw badRequest(`${texts} texts in one request (source sentences and sentences), over the model's maxBatchSize of ${max}`, 'batch_too_large');
  return request;
}
