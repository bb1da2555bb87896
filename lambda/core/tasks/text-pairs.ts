/**
 * Text pairs: two texts a model reads together (an NLI premise and hypothesis, a query and a
 * document), as transformers' text-classification pipeline takes them ({"text", "text_pair"},
 * pipelines/text_classification.py `preprocess`), tokenized with the tokenizer's pair template and
 * run in one batch. A cross-encoder (one label) answers its score through the activation its export
 * names; `scoreTextPairs` is what the rerank route calls.
 */
import type { Tensor } from 'onnxruntime-node';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import { badRequest } from '../errors.ts';
import type { ScoreFunction } from './class-scores.ts';
import { observeTask, runSession, type InferenceObservers } from '../session-run.ts';
import type { LoadedModel } from '../sessions.ts';
import type { TaskContext, TaskFolder } from './task.ts';
import type { PairTruncation, TextBatch, TextInputs, TextPair } from './texts.ts';

/** sentence-transformers' CrossEncoder files: config_sentence_transformers.json (v5+) beside config.json. */
export const CROSS_ENCODER_FILES = ['config_sentence_transformers.json'] as const;

/** Pairs as the model's feeds; X-Truncated-Inputs names the pairs cut. */
export function pairFeeds(text: TextInputs, pairs: readonly TextPair[], strategy: PairTruncation): { feeds: Record<string, Tensor>; batch: TextBatch; headers: Record<string, string> } {
  const batch = text.encoder.encodePairs(pairs, strategy, text.truncate);
  const dims = [pairs.length, batch.length];
  const feeds: Record<string, Tensor> = { [text.inputIds]: new OrtTensor('int64', batch.inputIds, dims) };
  if (text.attentionMask !== undefined) feeds[text.attentionMask] = new OrtTensor('int64', batch.attentionMask, dims);
  if (text.tokenTypeIds !== undefined) feeds[text.tokenTypeIds] = new OrtTensor('int64', batch.tokenTypeIds, dims);
  return { feeds, batch, headers: batch.truncated.length > 0 ? { 'X-Truncated-Inputs': batch.truncated.join(',') } : {} };
}

const isPair = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value) && ('text_pair' in value || 'text' in value);

/**
 * {"text", "text_pair"} or a list of them as pairs (with whether one was sent as such), or
 * undefined when `value` holds no pair; 400 naming the pair whose texts are not strings.
 */
export function parsePairs(value: unknown, field: string): { pairs: TextPair[]; single: boolean } | undefined {
  const single = isPair(value);
  const list = single ? [value] : Array.isArray(value) && value.length > 0 && value.every(isPair) ? value : undefined;
  if (list === undefined) return undefined;
  const pairs = list.map((p, i) => {
    const { text, text_pair: textPair, ...rest } = p as Record<string, unknown>;
    const where = single ? field : `${field}[${i}]`;
    if (Object.keys(rest).length > 0) throw badRequest(`${where} has ${Object.keys(rest).map((k) => `"${k}"`).join(', ')}; a pair is {"text": ..., "text_pair": ...}`);
    if (typeof text !== 'string' || typeof textPair !== 'string') throw badRequest(`${where} must be {"text": string, "text_pair": string}`, 'invalid_text');
    return { text, text_pair: textPair };
  });
  return { pairs, single };
}

const ACTIVATIONS: Readonly<Record<string, ScoreFunction>> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'none',
  'torch.nn.modules.activation.Softmax': 'softmax',
};

/**
 * The activation a sentence-transformers CrossEncoder export names for its scores: "activation_fn"
 * in config_sentence_transformers.json (sentence-transformers 5 and later), config.json's
 * "sentence_transformers": {"activation_fn"} (v4), or config.json's
 * "sbert_ce_default_activation_function" (v2 and v3); undefined when the export names none.
 * Throws naming an activation that has no score function here.
 */
export function crossEncoderActivation(folder: TaskFolder): ScoreFunction | undefined {
  const st = folder.json('config_sentence_transformers.json');
  const fromHf = folder.hf?.sentence_transformers as Record<string, unknown> | undefined;
  const named = st?.activation_fn ?? fromHf?.activation_fn ?? folder.hf?.sbert_ce_default_activation_function;
  if (named === undefined || named === null) return undefined;
  const fn = ACTIVATIONS[String(named)];
  if (fn === undefined) throw new Error(`${folder.where}: the CrossEncoder's activation_fn is ${JSON.stringify(named)}; ModelShip applies ${Object.keys(ACTIVATIONS).join(', ')} (set config.json "functionToApply" to one of softmax, sigmoid, none)`);
  return fn;
}

/** What pairScores needs of a loaded pair classifier (text-classification's loaded model). */
export interface PairScorer {
  readonly text: TextInputs;
  readonly output: string;
  readonly labels?: readonly string[];
  readonly functionToApply: ScoreFunction;
}

const isPairScorer = (loaded: unknown): loaded is PairScorer => typeof loaded === 'object' && loaded !== null && 'text' in loaded && 'output' in loaded && 'functionToApply' in loaded;

/** A pair scorer's scores: one per pair, through its activation, and the tokens fed (attention-mask ones). */
export async function pairScores(scorer: PairScorer, pairs: readonly TextPair[], run: TaskContext['run']): Promise<{ scores: number[]; tokens: number; headers: Record<string, string> }> {
  const { feeds, batch, headers } = pairFeeds(scorer.text, pairs, 'longest_first');
  const output = (await run(feeds, [scorer.output]))[scorer.output];
  let tokens = 0;
  for (const m of batch.attentionMask) tokens += Number(m);
  return { scores: Array.from(output.data as Float32Array, (v) => oneLabelScore(v, scorer.functionToApply)), tokens, headers };
}

/**
 * Relevance scores of (query, document) pairs in one batched run, for POST /v1/rerank: a one-label
 * cross-encoder's score through its activation (sigmoid unless its export says otherwise), the
 * same number text-classification answers for {"text": query, "text_pair": document}; `tokens`
 * counts the tokens fed, for usage. 400 (input_mismatch) when the version is not a one-label
 * text-classification model; 400 for an empty text.
 */
export async function scoreTextPairs(model: LoadedModel, pairs: readonly TextPair[], observers?: InferenceObservers): Promise<{ scores: number[]; tokens: number; headers?: Record<string, string> }> {
  const task = model.task;
  const loaded = task?.loaded;
  if (task === undefined || task.module.name !== 'text-classification' || !isPairScorer(loaded)) throw badRequest(`model "${model.name}" is ${task?.module.name ?? 'a tensor model'}; reranking needs a cross-encoder (a text-classification model with one label)`, 'input_mismatch');
  const classes = loaded.labels?.length ?? 0;
  if (classes !== 1) throw badRequest(`model "${model.name}" classifies pairs into ${classes} labels (${(loaded.labels ?? []).join(', ')}); reranking needs a cross-encoder with one label, whose score ranks documents`, 'input_mismatch');
  if (pairs.length === 0) return { scores: [], tokens: 0 };
  const started = performance.now();
  const times = { started, parsed: started, ran: started };
  const result = await pairScores(loaded, pairs, async (feeds, outputs) => {
    times.parsed = performance.now();
    const out = await runSession(model, feeds, [...(outputs ?? [loaded.output])]);
    times.ran = performance.now();
    return out;
  });
  observeTask(observers, model, pairs.length, times);
  return result;
}

/** A one-label model's logit as its score: sigmoid (transformers' default for one label), raw, or softmax (always 1). */
export const oneLabelScore = (logit: number, fn: ScoreFunction): number => (fn === 'sigmoid' ? 1 / (1 + Math.exp(-logit)) : fn === 'none' ? logit : 1);
