/**
 * Cohere's and Jina's rerank API on cross-encoders: POST /v1/rerank {model, query, documents,
 * top_n, return_documents} answers {results: [{index, relevance_score, document?}], model, usage},
 * most relevant first. The request shape follows Cohere's rerank reference (documents as strings or
 * {"text"} objects, as Cohere v1 and Jina take them); `return_documents` defaults to false, as
 * Cohere's does. Each (query, document) pair is scored as the model's text-pair request on /infer
 * scores it, so the order is the one /infer gives.
 */
import { pendingTaskCapture, sampled } from '../capture.ts';
import { badRequest, InferenceError } from '../errors.ts';
import type { InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';

/** Scores (query, document) pairs in one run: text-pairs.ts `scoreTextPairs`, the text-classification task's pair scores. */
export type PairScoring = (model: LoadedModel, pairs: readonly { text: string; text_pair: string }[], observers?: InferenceObservers) => Promise<{ scores: number[]; tokens: number; headers?: Record<string, string> }>;

/** Cohere's limit on documents per request. */
export const MAX_RERANK_DOCUMENTS = 1000;

export interface RerankRequest {
  readonly model: string;
  readonly query: string;
  readonly documents: readonly string[];
  readonly topN?: number;
  readonly returnDocuments: boolean;
}

const FIELDS = new Set(['model', 'query', 'documents', 'top_n', 'return_documents']);

const invalid = (message: string, param: string) => new InferenceError(400, message, { param });

/** The request body, checked; 400 naming the field and the fix. */
export function parseRerankRequest(body: unknown): RerankRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object: {"model": ..., "query": ..., "documents": [...]}', 'documents');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw invalid(`unrecognized request argument ${unknown.map((k) => `"${k}"`).join(', ')}; /v1/rerank takes model, query, documents, top_n and return_documents`, unknown[0]);
  const { model, query, documents, top_n: topN, return_documents: returnDocuments = false } = fields;
  if (typeof model !== 'string' || model === '') throw invalid('"model" must name a served cross-encoder (GET /v1/models lists the models)', 'model');
  if (typeof query !== 'string' || query.trim() === '') throw invalid('"query" must be a non-empty text', 'query');
  if (!Array.isArray(documents) || documents.length === 0) throw invalid('"documents" must be a non-empty list of texts or {"text": ...} objects', 'documents');
  if (documents.length > MAX_RERANK_DOCUMENTS) throw invalid(`"documents" holds ${documents.length} documents, over the limit of ${MAX_RERANK_DOCUMENTS} per request; split them`, 'documents');
  const texts = documents.map((d, i) => {
    const text = typeof d === 'string' ? d : typeof d === 'object' && d !== null && !Array.isArray(d) ? (d as { text?: unknown }).text : undefined;
    if (typeof text !== 'string') throw invalid(`documents[${i}] must be a text or an object with a "text" string`, 'documents');
    if (text.trim() === '') throw invalid(`documents[${i}] is empty; send some text in each document`, 'documents');
    return text;
  });
  if (topN !== undefined && !(Number.isInteger(topN) && (topN as number) > 0)) throw invalid(`"top_n" must be a positive integer, got ${JSON.stringify(topN)}`, 'top_n');
  if (topN !== undefined && (topN as number) > texts.length) throw invalid(`"top_n" is ${topN}, over the ${texts.length} documents sent; send at most ${texts.length} or leave it out`, 'top_n');
  if (typeof returnDocuments !== 'boolean') throw invalid(`"return_documents" must be true or false, got ${JSON.stringify(returnDocuments)}`, 'return_documents');
  return { model, query, documents: texts, topN: topN as number | undefined, returnDocuments };
}

export interface RerankAnswer {
  readonly json: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The pairs in the /infer task shape, for a shadow version. */
  readonly shadowBody: { readonly inputs: readonly { readonly text: string; readonly text_pair: string }[] };
}

/** Scores every (query, document) pair in one run and answers them sorted by relevance (ties keep the documents' order). */
export async function runRerank(model: LoadedModel, request: RerankRequest, scoreTextPairs: PairScoring, observers?: InferenceObservers): Promise<RerankAnswer> {
  const maxBatch = model.config.maxBatchSize;
  if (maxBatch !== undefined && request.documents.length > maxBatch) throw invalid(`${request.documents.length} documents in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}; split them`, 'documents');
  const pairs = request.documents.map((document) => ({ text: request.query, text_pair: document }));
  const scored = await scoreTextPairs(model, pairs, observers).catch((error: unknown) => {
    // The pair task refuses a model that is not a cross-encoder, naming what it is: the request's "model" is at fault.
    if (error instanceof InferenceError && error.reason === 'input_mismatch') throw new InferenceError(error.statusCode, error.message, { param: 'model', reason: error.reason });
    throw error;
  });
  if (scored.scores.length !== pairs.length) throw badRequest(`model "${model.name}" answered ${scored.scores.length} scores for ${pairs.length} pairs`);
  const ranked = scored.scores.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  const results = ranked.slice(0, request.topN ?? ranked.length).map(({ index, score }) => ({ index, relevance_score: score, ...(request.returnDocuments ? { document: { text: request.documents[index] } } : {}) }));
  const json = JSON.stringify({ results, model: request.model, usage: { total_tokens: scored.tokens } });
  // Captured as the text-classification task captures pairs: the pairs, the /infer answer, its drift signals (class, score, length).
  const task = model.task;
  if (task !== undefined && observers?.onCapture !== undefined && sampled(model, observers.capturePercent ?? 0, observers.random)) {
    const label = String((task.module.describe(task.loaded).labels as readonly string[] | undefined)?.[0] ?? '0');
    const answer = JSON.stringify(scored.scores.map((score) => [{ label, score }]));
    observers.onCapture(pendingTaskCapture(model, { pairs }, answer, scored.scores.map((score, i) => [0, score, pairs[i].text.length + pairs[i].text_pair.length]), task.module.signals));
  }
  return { json, headers: scored.headers ?? {}, shadowBody: { inputs: pairs } };
}
