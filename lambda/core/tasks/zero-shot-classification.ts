/**
 * zero-shot-classification (transformers' pipelines/zero_shot_classification.py): an NLI model
 * scores each (text, hypothesis) pair, the hypothesis being the template filled with one candidate
 * label; every pair of the request runs in one batch. Scores as the pipeline's `postprocess`: a
 * softmax of the entailment logits across the candidate labels, or with multi_label (or a single
 * label) a softmax of entailment against contradiction for each label on its own. The answer is
 * {"sequence", "labels", "scores"}, best first; a list of them for a list of texts.
 */
import { badRequest } from '../errors.ts';
import { labelsOf, outputOf, TOKENIZER_FILES } from './hf-folder.ts';
import { scores as classScores } from './class-scores.ts';
import { pairFeeds } from './text-pairs.ts';
import type { TaskFolder, TaskModule } from './task.ts';
import { textInputs, type TextInputs } from './texts.ts';

/** The pipeline's default hypothesis (`ZeroShotClassificationPipeline.preprocess`). */
export const DEFAULT_HYPOTHESIS_TEMPLATE = 'This example is {}.';
/** Candidate labels one request may send, unless config.json "maxCandidateLabels" says otherwise: each is one more pair to run. */
export const DEFAULT_MAX_CANDIDATE_LABELS = 32;

interface ZeroShotModel {
  readonly text: TextInputs;
  readonly output: string;
  readonly labels: readonly string[];
  readonly entailmentId: number;
  readonly contradictionId: number;
  readonly maxCandidateLabels: number;
  readonly maxBatchSize?: number;
}

interface ZeroShotRequest {
  readonly sequences: readonly string[];
  /** One text sent as such: answered with one object, not a list. */
  readonly single: boolean;
  readonly predict: boolean;
  readonly candidateLabels: readonly string[];
  readonly multiLabel: boolean;
  readonly hypothesisTemplate: string;
}

interface ZeroShotAnswer {
  readonly sequence: string;
  readonly labels: string[];
  readonly scores: number[];
}

/** The NLI labels, in class order; undefined when the export has none. */
const nliLabels = (folder: TaskFolder): string[] | undefined => labelsOf(folder);

/** The pipeline's `entailment_id`: the first label that starts with "entail", any case; -1 when none does. */
const entailmentOf = (labels: readonly string[]): number => labels.findIndex((l) => l.toLowerCase().startsWith('entail'));

const PARAMETERS = ['candidate_labels', 'multi_label', 'hypothesis_template'];

/** candidate_labels as the pipeline's `_parse_labels` reads them: a list, or one string split on commas (each trimmed, empty ones dropped). */
function candidateLabels(value: unknown, max: number): string[] {
  const fix = `send "parameters": {"candidate_labels": ["label", ...]} (or "label, label")`;
  if (value === undefined) throw badRequest(`"parameters.candidate_labels" is missing: zero-shot classification scores the labels you send; ${fix}`, 'invalid_request');
  let labels: string[];
  if (typeof value === 'string') labels = value.split(',').map((l) => l.trim()).filter((l) => l !== '');
  else if (Array.isArray(value) && value.every((l) => typeof l === 'string')) labels = value as string[];
  else throw badRequest(`"parameters.candidate_labels" must be a list of strings or one comma-separated string, got ${JSON.stringify(value)?.slice(0, 80)}`, 'invalid_request');
  if (labels.length === 0) throw badRequest(`"parameters.candidate_labels" is empty; ${fix}`, 'invalid_request');
  const blank = labels.findIndex((l) => l.trim() === '');
  if (blank >= 0) throw badRequest(`"parameters.candidate_labels"[${blank}] is empty; every label must be some text`, 'invalid_request');
  if (labels.length > max) throw badRequest(`${labels.length} candidate labels, over this model's limit of ${max} (each label is one more pair to run); send fewer, or raise config.json "maxCandidateLabels"`, 'batch_too_large');
  return labels;
}

function hypothesisTemplate(value: unknown): string {
  if (value === undefined) return DEFAULT_HYPOTHESIS_TEMPLATE;
  if (typeof value !== 'string') throw badRequest(`"parameters.hypothesis_template" must be a string such as ${JSON.stringify(DEFAULT_HYPOTHESIS_TEMPLATE)}`, 'invalid_request');
  const slots = value.split('{}').length - 1;
  if (slots !== 1) throw badRequest(`"parameters.hypothesis_template" ${JSON.stringify(value)} has ${slots === 0 ? 'no' : slots} "{}"; it needs exactly one, where each label goes (e.g. ${JSON.stringify(DEFAULT_HYPOTHESIS_TEMPLATE)})`, 'invalid_request');
  return value;
}

export const zeroShotClassification: TaskModule<ZeroShotModel, ZeroShotRequest> = {
  name: 'zero-shot-classification',
  sideFiles: [...TOKENIZER_FILES],
  // Per text: its length, the best label's score, and the best label's place among the request's candidate labels (the label itself where a deployment sends a fixed list, as most do).
  signals: [
    { name: 'text length', kind: 'numeric' },
    { name: 'top score', kind: 'numeric' },
    { name: 'predicted candidate', kind: 'categorical' },
  ],
  // An NLI classifier: labels with entailment and contradiction, found as the pipeline finds entailment (a prefix, any case).
  detect(folder) {
    if (!folder.architecture.endsWith('ForSequenceClassification')) return false;
    const labels = nliLabels(folder) ?? [];
    return entailmentOf(labels) >= 0 && labels.some((l) => l.toLowerCase().startsWith('contradict'));
  },
  load(folder) {
    const labels = nliLabels(folder);
    const entailmentId = entailmentOf(labels ?? []);
    if (labels === undefined || entailmentId < 0) throw new Error(`${folder.where}: zero-shot-classification needs an NLI model whose labels include entailment; this model's labels are ${labels === undefined ? 'not given (no id2label in config.json)' : `[${labels.join(', ')}]`}. Serve it as text-classification, or name its labels in config.json "labels"`);
    if (labels.length < 2) throw new Error(`${folder.where}: zero-shot-classification needs entailment and at least one other label (contradiction); this model's labels are [${labels.join(', ')}]`);
    return {
      text: textInputs(folder, 'zero-shot-classification'),
      output: outputOf(folder, ['logits']),
      labels,
      entailmentId,
      // As the pipeline's postprocess: the first class, or the last when entailment is the first (numpy's index -1).
      contradictionId: entailmentId === 0 ? labels.length - 1 : 0,
      maxCandidateLabels: folder.config.maxCandidateLabels ?? DEFAULT_MAX_CANDIDATE_LABELS,
      maxBatchSize: folder.config.maxBatchSize,
    };
  },
  contentTypes: () => [],
  parse(loaded, input) {
    if (input.kind === 'raw') throw badRequest('zero-shot classification needs candidate labels: send JSON {"inputs": "text", "parameters": {"candidate_labels": ["label", ...]}}', 'unsupported_media_type');
    const { body, route } = input;
    const field = route === 'infer' ? '"inputs"' : '"instances"';
    const raw = route === 'infer' ? body.inputs : body.instances;
    const single = typeof raw === 'string';
    const list = single ? [raw] : Array.isArray(raw) && raw.length > 0 && raw.every((v) => typeof v === 'string') ? (raw as string[]) : undefined;
    // Anything else (a v2 tensor request) is not this task's request: the tensor path answers it.
    if (list === undefined) return undefined;
    const empty = list.findIndex((t) => t.trim() === '');
    if (empty >= 0) throw badRequest(`${single ? field : `${field}[${empty}]`} is empty; send the text to classify`, 'invalid_text');
    const parameters = body.parameters ?? {};
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw badRequest('"parameters" must be an object');
    const given = parameters as Record<string, unknown>;
    const unknown = Object.keys(given).filter((k) => !PARAMETERS.includes(k));
    if (unknown.length > 0) throw badRequest(`"parameters" has ${unknown.map((k) => `"${k}"`).join(', ')}, which zero-shot classification does not take (${PARAMETERS.join(', ')})`);
    if (given.multi_label !== undefined && typeof given.multi_label !== 'boolean') throw badRequest(`"parameters.multi_label" must be true or false, got ${JSON.stringify(given.multi_label)}`, 'invalid_request');
    const candidates = candidateLabels(given.candidate_labels, loaded.maxCandidateLabels);
    const pairs = list.length * candidates.length;
    if (loaded.maxBatchSize !== undefined && pairs > loaded.maxBatchSize) throw badRequest(`${list.length} text(s) × ${candidates.length} labels = ${pairs} pairs in one request, over the model's maxBatchSize of ${loaded.maxBatchSize}; send fewer texts or labels per request`, 'batch_too_large');
    return { sequences: list, single, predict: route === 'predict', candidateLabels: candidates, multiLabel: given.multi_label === true, hypothesisTemplate: hypothesisTemplate(given.hypothesis_template) };
  },
  async run(loaded, request, context) {
    const { sequences, candidateLabels: labels } = request;
    // A function, so a label's "$&" or "$1" stays as written (str.format in Python).
    const hypotheses = labels.map((label) => request.hypothesisTemplate.replace('{}', () => label));
    // The pipeline's `_parse_and_tokenize`: a text over the model's length is cut, never the hypothesis (TruncationStrategy.ONLY_FIRST).
    const { feeds, headers } = pairFeeds(loaded.text, sequences.flatMap((text) => hypotheses.map((hypothesis) => ({ text, text_pair: hypothesis }))), 'only_first');
    context.mark('parsed');
    const output = (await context.run(feeds, [loaded.output]))[loaded.output];
    context.mark('ran');
    const logits = output.data as Float32Array;
    const classes = output.dims[output.dims.length - 1];
    const logit = (row: number, label: number, cls: number) => logits[(row * labels.length + label) * classes + cls];
    const perLabel = request.multiLabel || labels.length === 1;
    const classCounts: Record<string, number> = {};
    const signals: number[][] = [];
    const answers: ZeroShotAnswer[] = sequences.map((sequence, row) => {
      const scores = perLabel ? labels.map((_, j) => classScores([logit(row, j, loaded.contradictionId), logit(row, j, loaded.entailmentId)], 'softmax')[1]) : classScores(labels.map((_, j) => logit(row, j, loaded.entailmentId)), 'softmax');
      const order = scores.map((_, j) => j).sort((a, b) => scores[b] - scores[a]);
      classCounts[labels[order[0]]] = (classCounts[labels[order[0]]] ?? 0) + 1;
      signals.push([sequence.length, scores[order[0]], order[0]]);
      return { sequence, labels: order.map((j) => labels[j]), scores: order.map((j) => scores[j]) };
    });
    const answer = request.predict ? { predictions: answers } : request.single ? answers[0] : answers;
    return { answer, headers, items: sequences.length, classCounts, captured: { texts: sequences, candidate_labels: labels, multi_label: request.multiLabel, hypothesis_template: request.hypothesisTemplate }, signals };
  },
  describe: (loaded) => ({
    nli_labels: loaded.labels,
    entailment_label: loaded.labels[loaded.entailmentId],
    contradiction_label: loaded.labels[loaded.contradictionId],
    max_candidate_labels: loaded.maxCandidateLabels,
    hypothesis_template: DEFAULT_HYPOTHESIS_TEMPLATE,
    max_length: loaded.text.encoder.maxLength,
  }),
  compare: compareZeroShot,
  example: () => ({ inputs: 'A puzzle game where falling blocks fill rows.', parameters: { candidate_labels: ['games', 'science', 'sound', 'graphics', 'net'], multi_label: false } }),
};

/**
 * The gate's check of a zero-shot answer ({sequence, labels, scores}, or a list of them): the same
 * labels, each label's score within `tolerance`, and the same best label unless the expected top
 * two are within `tolerance` of each other (a tie either order answers).
 */
export function compareZeroShot(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return `expected ${expected.length} answers, got ${Array.isArray(actual) ? actual.length : JSON.stringify(actual)?.slice(0, 80)}`;
    for (let i = 0; i < expected.length; i++) {
      const problem = compareZeroShot(expected[i], actual[i], tolerance);
      if (problem !== undefined) return `answer ${i}: ${problem}`;
    }
    return undefined;
  }
  const shape = (v: unknown) => (typeof v === 'object' && v !== null && Array.isArray((v as ZeroShotAnswer).labels) && Array.isArray((v as ZeroShotAnswer).scores) ? (v as ZeroShotAnswer) : undefined);
  const [e, a] = [shape(expected), shape(actual)];
  if (e === undefined || a === undefined) return `expected {sequence, labels, scores}, got ${JSON.stringify(actual)?.slice(0, 80)}`;
  if (a.labels.length !== e.labels.length || [...a.labels].sort().join('\u0000') !== [...e.labels].sort().join('\u0000')) return `labels are [${a.labels.join(', ')}], expected [${e.labels.join(', ')}]`;
  for (let i = 0; i < e.labels.length; i++) {
    const score = a.scores[a.labels.indexOf(e.labels[i])];
    if (!(Math.abs(score - e.scores[i]) <= tolerance)) return `the score of ${JSON.stringify(e.labels[i])} is ${score}, expected ${e.scores[i]} (tolerance ${tolerance})`;
  }
  const tie = e.scores.length > 1 && e.scores[0] - e.scores[1] <= tolerance;
  if (!tie && a.labels[0] !== e.labels[0]) return `the best label is ${JSON.stringify(a.labels[0])}, expected ${JSON.stringify(e.labels[0])}`;
  return undefined;
}
