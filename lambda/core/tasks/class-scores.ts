/**
 * What classifiers share (image-classification, text-classification and the tasks built on them):
 * logits to scores (softmax, sigmoid or none, as transformers' `ClassificationFunction`), labels
 * ranked best first, the answers in Hugging Face's [{label, score}] shape or in v2 (BYTES labels
 * and FP32 scores, or Triton's classification extension "score:index:label"), and the gate's check.
 */
import { badRequest } from '../errors.ts';
import type { Tensor } from 'onnxruntime-node';
import { labelsOf, outputOf } from './hf-folder.ts';
import { topKParameter, v2Answer, type ItemsRequest } from './task-inputs.ts';
import type { TaskContext, TaskFolder, TaskResult, TaskSignal } from './task.ts';

export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

/** What a classifier loads beyond its inputs. */
export interface ClassifierHead {
  readonly labels?: readonly string[];
  readonly output: string;
  readonly functionToApply: ScoreFunction;
  readonly topK: number;
  readonly multiLabel: boolean;
}

/** Labels, the logits output, the score function (sigmoid for a multi-label problem_type) and top_k (config.json's, else `defaultTopK(labels)`). */
export function classifierHead(folder: TaskFolder, defaultTopK: (labels: readonly string[] | undefined) => number): ClassifierHead {
  const labels = labelsOf(folder);
  const multiLabel = folder.hf?.problem_type === 'multi_label_classification';
  return { labels, output: outputOf(folder, ['logits']), functionToApply: folder.config.functionToApply ?? (multiLabel ? 'sigmoid' : 'softmax'), topK: folder.config.topK ?? defaultTopK(labels), multiLabel };
}

export const CLASSIFIER_PARAMETERS = ['top_k', 'function_to_apply'] as const;

/** A classifier request's own parameters: top_k and function_to_apply. */
export function classifierParameters(parameters: Readonly<Record<string, unknown>>): { topK?: number; functionToApply?: ScoreFunction } {
  const fn = parameters.function_to_apply;
  if (fn !== undefined && !['softmax', 'sigmoid', 'none'].includes(fn as string)) throw badRequest(`"parameters.function_to_apply" must be "softmax", "sigmoid" or "none", got ${JSON.stringify(fn)}`);
  return { topK: topKParameter(parameters), functionToApply: fn as ScoreFunction | undefined };
}

export function scores(row: Float32Array | readonly number[], fn: ScoreFunction): number[] {
  const values = Array.from(row);
  if (fn === 'sigmoid') return values.map((v) => 1 / (1 + Math.exp(-v)));
  if (fn === 'none') return values;
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export interface RankedClass {
  readonly label: string;
  readonly score: number;
  readonly index: number;
}

/** The drift signals of a classifier: its predicted class and top score (text tasks add the text's length). */
export const CLASS_SIGNALS: readonly TaskSignal[] = [
  { name: 'predicted class', kind: 'categorical' },
  { name: 'top score', kind: 'numeric' },
];

/**
 * Runs a classifier on its feeds and answers: [{label, score}] per input, best first (one input
 * sent as such unwrapped), {"predictions"} on :predict, or v2.
 */
export async function classify(head: ClassifierHead, request: ItemsRequest<unknown>, feeds: Record<string, Tensor>, context: TaskContext): Promise<Omit<TaskResult, 'captured' | 'signals' | 'headers'> & { ranked: RankedClass[][] }> {
  const { topK, functionToApply } = classifierParameters(request.parameters);
  context.mark('parsed');
  const results = await context.run(feeds, [head.output]);
  context.mark('ran');
  const output = results[head.output];
  const classes = output.dims[output.dims.length - 1];
  const data = output.data as Float32Array;
  const fn = functionToApply ?? head.functionToApply;
  const k = Math.min(topK ?? head.topK, classes);
  // v2 answers keep every class (top_k still applies); the classification extension picks its own k.
  const limit = request.v2 !== undefined && topK === undefined ? classes : k;
  const classCounts: Record<string, number> = {};
  const ranked = Array.from({ length: request.items.length }, (_, i) => {
    const row = scores(data.subarray(i * classes, (i + 1) * classes), fn);
    const list = row.map((score, index) => ({ label: head.labels?.[index] ?? String(index), score, index })).sort((a, b) => b.score - a.score).slice(0, limit);
    classCounts[list[0].label] = (classCounts[list[0].label] ?? 0) + 1;
    return list;
  });
  const shown = ranked.map((r) => r.map(({ label, score }) => ({ label, score })));
  const answer = request.v2 !== undefined ? v2ClassAnswer(head, request, ranked, context) : request.predict ? { predictions: shown } : request.single ? shown[0] : shown;
  return { answer, items: request.items.length, classCounts, ranked };
}

/** A v2 answer of a classifier: BYTES labels and FP32 scores ([inputs, k]), or the classification extension's "score:index:label" strings. */
function v2ClassAnswer(head: ClassifierHead, request: ItemsRequest<unknown>, rows: readonly RankedClass[][], context: TaskContext): Record<string, unknown> {
  const n = rows.length;
  const outputs: Record<string, unknown>[] = [];
  const k = rows[0]?.length ?? 0;
  const wanted = request.v2?.outputs;
  const known = new Set(['label', 'score', head.output]);
  for (const out of wanted ?? []) if (!known.has(out.name)) throw badRequest(`model "${context.model.name}" has no output "${out.name}" (outputs: ${[...known].join(', ')})`, 'input_mismatch');
  const classified = wanted?.filter((o) => o.classification !== undefined) ?? [];
  for (const out of classified) {
    const top = Math.min(out.classification!, k);
    outputs.push({ name: out.name, datatype: 'BYTES', shape: [n, top], data: rows.flatMap((r) => r.slice(0, top).map((c) => `${c.score}:${c.index}:${c.label}`)) });
  }
  const plain = wanted === undefined ? ['label', 'score'] : wanted.filter((o) => o.classification === undefined).map((o) => o.name);
  if (plain.includes('label')) outputs.push({ name: 'label', datatype: 'BYTES', shape: [n, k], data: rows.flatMap((r) => r.map((c) => c.label)) });
  if (plain.includes('score') || plain.includes(head.output)) outputs.push({ name: plain.includes('score') ? 'score' : head.output, datatype: 'FP32', shape: [n, k], data: rows.flatMap((r) => r.map((c) => Math.fround(c.score))) });
  return v2Answer(context.model, request.v2!, outputs);
}

/** What metadata and the console say of a classifier. */
export const describeClassifier = (head: ClassifierHead): Record<string, unknown> => ({ labels: head.labels, top_k: head.topK, function_to_apply: head.functionToApply });

/**
 * The gate's check of one classifier answer ([{label, score}] best first): the same labels in the
 * same order, and scores within `tolerance`.
 */
export function compareClasses(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  const list = (v: unknown) => (Array.isArray(v) ? (v as { label?: unknown; score?: unknown }[]) : undefined);
  const [e, a] = [list(expected), list(actual)];
  if (e === undefined || a === undefined) return `expected a list of {label, score}, got ${JSON.stringify(actual)?.slice(0, 80)}`;
  if (a.length < e.length) return `${a.length} labels answered, ${e.length} expected`;
  for (let i = 0; i < e.length; i++) {
    if (a[i].label !== e[i].label) return `label ${i} is ${JSON.stringify(a[i].label)}, expected ${JSON.stringify(e[i].label)}`;
    if (!(Math.abs(Number(a[i].score) - Number(e[i].score)) <= tolerance)) return `the score of ${JSON.stringify(e[i].label)} is ${a[i].score}, expected ${e[i].score} (tolerance ${tolerance})`;
  }
  return undefined;
}
