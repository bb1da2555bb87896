/**
 * token-classification (transformers' pipelines/token_classification.py, `TokenClassificationPipeline`):
 * named entities, PII, part-of-speech tags. Texts (raw text/plain, {"inputs": text | [texts]},
 * :predict instances) with {"parameters": {"aggregation_strategy", "ignore_labels", "stride"}}; the
 * answer is the pipeline's: [{entity_group, score, word, start, end}] (or {entity, score, index,
 * word, start, end} per token with "none"), start and end counting Unicode code points of the text
 * as Python does. The default strategy is "simple" (Hugging Face's Inference API default; the Python
 * pipeline's own default is "none").
 *
 * A text longer than the model takes is not cut: it is split into overlapping windows of tokens as
 * the pipeline's `stride` does (the fast tokenizer's return_overflowing_tokens: windows start every
 * window − stride tokens, the last one reaches the end), each window gets the model's special
 * tokens, and the windows' entities are merged by `aggregate_overlapping_entities`. Without a
 * `stride` the windows overlap by an eighth of a window (none for "none", whose tokens must not
 * repeat); the Python pipeline would truncate such a text instead.
 */
import { Tensor } from 'onnxruntime-node';
import type { ModelConfig } from '../config.ts';
import { badRequest } from '../errors.ts';
import { inputOf, labelsOf, outputOf, TEXT_CONTENT_TYPES, TOKENIZER_FILES } from './hf-folder.ts';
import type { TaskFolder, TaskInput, TaskModule, TaskResult } from './task.ts';
import { parseItems, v2Answer, type V2Envelope } from './task-inputs.ts';
import { codePointIndex, OffsetTokenizer, type TokenSpans } from './text-offsets.ts';
import { tokenWindows } from './text-windows.ts';
import { textMaxLength } from './texts.ts';
import { AGGREGATION_STRATEGIES, aggregate, aggregateOverlapping, entityLabel, softmaxRows, type AggregationStrategy, type Entity, type PreEntity } from './token-classification/aggregate.ts';

interface TokenClassifier {
  readonly config: ModelConfig;
  readonly tokenizer: OffsetTokenizer;
  readonly labels: readonly string[];
  /** Tokens the model takes, special tokens included. */
  readonly maxLength: number;
  /** Text tokens per window: maxLength less the special tokens. */
  readonly window: number;
  readonly inputIds: string;
  readonly attentionMask?: string;
  readonly tokenTypeIds?: string;
  readonly output: string;
}

interface TokenRequest {
  readonly texts: readonly string[];
  readonly single: boolean;
  readonly predict: boolean;
  readonly strategy: AggregationStrategy;
  readonly ignoreLabels: ReadonlySet<string>;
  readonly stride?: number;
  readonly v2?: V2Envelope;
}

/** The pipeline's warning when first/average/max meet a tokenizer without a continuing-subword prefix. */
const HEURISTIC_WARNING = '299 - "Tokenizer does not support real words, using fallback heuristic"';
/** Windows per session run: bounds the batch a very long text makes. */
const WINDOWS_PER_RUN = 32;
const PARAMETERS = ['aggregation_strategy', 'ignore_labels', 'stride'];

function load(folder: TaskFolder): TokenClassifier {
  const { config, where } = folder;
  const tokenizerJson = folder.json('tokenizer.json');
  if (tokenizerJson === undefined) throw new Error(`${where}: a token-classification model needs its tokenizer.json beside model.onnx`);
  const tokenizerConfig = folder.json('tokenizer_config.json') ?? {};
  const tokenizer = new OffsetTokenizer(tokenizerJson, tokenizerConfig);
  const maxLength = textMaxLength(folder, tokenizerConfig);
  const window = maxLength - tokenizer.prefixIds.length - tokenizer.suffixIds.length;
  if (window < 1) throw new Error(`${where}: maxLength ${maxLength} leaves no room for text beside the ${maxLength - window} special tokens`);
  const labels = labelsOf(folder);
  if (labels === undefined) throw new Error(`${where}: a token-classification model needs its labels: config.json "id2label" (or ModelShip's "labels")`);
  const output = outputOf(folder, ['logits']);
  const classes = folder.signature.outputs.find((o) => o.name === output)?.shape.at(-1);
  if (typeof classes === 'number' && classes > 0 && classes !== labels.length) throw new Error(`${where}: the model scores ${classes} labels but config.json names ${labels.length} (${labels.join(', ')})`);
  return {
    config,
    tokenizer,
    labels,
    maxLength,
    window,
    inputIds: inputOf(folder, config.inputNames?.inputIds, ['input_ids'], 'input_ids', true),
    attentionMask: inputOf(folder, config.inputNames?.attentionMask, ['attention_mask'], 'attention_mask', false),
    tokenTypeIds: inputOf(folder, config.inputNames?.tokenTypeIds, ['token_type_ids'], 'token_type_ids', false),
    output,
  };
}

function parameters(loaded: TokenClassifier, params: Readonly<Record<string, unknown>>): Pick<TokenRequest, 'strategy' | 'ignoreLabels' | 'stride'> {
  const raw = params.aggregation_strategy ?? 'simple';
  const strategy = typeof raw === 'string' ? (raw.toLowerCase() as AggregationStrategy) : undefined;
  if (strategy === undefined || !AGGREGATION_STRATEGIES.includes(strategy)) throw badRequest(`"parameters.aggregation_strategy" must be one of ${AGGREGATION_STRATEGIES.map((s) => `"${s}"`).join(', ')}, got ${JSON.stringify(raw)}`);
  const ignore = params.ignore_labels ?? ['O'];
  if (!Array.isArray(ignore) || !ignore.every((l) => typeof l === 'string')) throw badRequest(`"parameters.ignore_labels" must be a list of label names, got ${JSON.stringify(ignore)}`);
  const stride = params.stride;
  if (stride !== undefined) {
    if (!Number.isInteger(stride) || (stride as number) < 0) throw badRequest(`"parameters.stride" must be a whole number of tokens, 0 or more, got ${JSON.stringify(stride)}`);
    if ((stride as number) >= loaded.window) throw badRequest(`"parameters.stride" is ${String(stride)}, but windows hold ${loaded.window} tokens of text (the model's ${loaded.maxLength} less its special tokens); use a stride below ${loaded.window}`);
    if (strategy === 'none') throw badRequest('"parameters.stride" windows overlap, and aggregation_strategy "none" would answer their shared tokens twice (the pipeline refuses it too); choose "simple", "first", "average" or "max"');
  }
  return { strategy, ignoreLabels: new Set(ignore as string[]), stride: stride as number | undefined };
}

function parse(loaded: TokenClassifier, input: TaskInput): TokenRequest | undefined {
  const request = parseItems(input, 'texts', { task: 'token-classification', parameters: PARAMETERS, maxBatchSize: loaded.config.maxBatchSize });
  if (request === undefined) {
    // A v2 tensor request is the tensor path's; any other JSON is named here.
    const raw = input.kind === 'json' ? (input.route === 'infer' ? input.body.inputs : input.body.instances) : undefined;
    if (input.kind === 'json' && input.route === 'infer' && Array.isArray(raw) && raw.length > 0 && raw.every((t) => typeof t === 'object' && t !== null && 'datatype' in t)) return undefined;
    throw badRequest(`${input.kind === 'json' && input.route === 'predict' ? '"instances"' : '"inputs"'} must be a text or a non-empty list of texts, for example {"inputs": "My name is Clara and I live in Berkeley."}`);
  }
  request.items.forEach((t, i) => {
    if (t.trim() === '') throw badRequest(`${request.single ? 'the text' : `text ${i}`} is empty; send some text to tag`, 'invalid_text');
  });
  return { texts: request.items, single: request.single, predict: request.predict, v2: request.v2, ...parameters(loaded, request.parameters) };
}

/** `gather_pre_entities` for one window's text tokens. */
function preEntities(loaded: TokenClassifier, text: string, spans: TokenSpans, from: number, to: number, scores: readonly Float64Array[]): PreEntity[] {
  const { tokenizer } = loaded;
  const prefix = tokenizer.prefixIds.length;
  const out: PreEntity[] = [];
  for (let k = from; k < to; k++) {
    let word = tokenizer.idToToken(spans.ids[k]);
    const index = prefix + k - from;
    const start = spans.starts[k];
    const end = spans.ends[k];
    const wordRef = text.slice(start, end);
    // Lengths in code points, as Python's len().
    let isSubword = tokenizer.wordAware ? [...word].length !== [...wordRef].length : start > 0 && text[start - 1] !== ' ' && text[start] !== ' ';
    if (spans.ids[k] === tokenizer.unkId) {
      word = wordRef;
      isSubword = false;
    }
    out.push({ word, scores: scores[prefix + k - from], start, end, index, isSubword });
  }
  return out;
}

async function run(loaded: TokenClassifier, request: TokenRequest, context: Parameters<TaskModule['run']>[2]): Promise<TaskResult> {
  const { tokenizer, window } = loaded;
  const stride = request.stride ?? (request.strategy === 'none' ? 0 : Math.floor(window / 8));
  const texts = request.texts.map((text) => {
    const spans = tokenizer.encode(text);
    return { text, spans, windows: tokenWindows(spans.ids.length, window, stride) };
  });
  const rows = texts.flatMap((t, i) => t.windows.map(([from, to]) => ({ text: i, from, to })));
  const prefix = tokenizer.prefixIds;
  const suffix = tokenizer.suffixIds;
  const scores: Float64Array[][] = [];
  for (let first = 0; first < rows.length; first += WINDOWS_PER_RUN) {
    const batch = rows.slice(first, first + WINDOWS_PER_RUN);
    const length = Math.max(...batch.map((r) => r.to - r.from)) + prefix.length + suffix.length;
    const ids = new BigInt64Array(batch.length * length).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(batch.length * length);
    batch.forEach((row, b) => {
      const tokens = [...prefix, ...texts[row.text].spans.ids.slice(row.from, row.to), ...suffix];
      tokens.forEach((id, j) => {
        ids[b * length + j] = BigInt(id);
        mask[b * length + j] = 1n;
      });
    });
    const dims = [batch.length, length];
    const feeds: Record<string, Tensor> = { [loaded.inputIds]: new Tensor('int64', ids, dims) };
    if (loaded.attentionMask !== undefined) feeds[loaded.attentionMask] = new Tensor('int64', mask, dims);
    if (loaded.tokenTypeIds !== undefined) feeds[loaded.tokenTypeIds] = new Tensor('int64', new BigInt64Array(ids.length), dims);
    if (first === 0) context.mark('parsed');
    const output = (await context.run(feeds, [loaded.output]))[loaded.output];
    const labels = output.dims[2];
    if (output.dims.length !== 3 || labels !== loaded.labels.length) throw new Error(`output "${loaded.output}" has shape [${output.dims.join(', ')}], not [windows, tokens, ${loaded.labels.length} labels]`);
    const data = output.data as Float32Array;
    batch.forEach((row, b) => scores.push(softmaxRows(data, b * length * labels, row.to - row.from + prefix.length + suffix.length, labels)));
  }
  context.mark('ran');
  const vocabulary = { labels: loaded.labels, tokensToString: (tokens: readonly string[]) => tokenizer.tokensToString(tokens) };
  let row = 0;
  const classCounts: Record<string, number> = {};
  const answers = texts.map(({ text, spans, windows: parts }) => {
    let entities: Entity[] = [];
    for (const [from, to] of parts) {
      const pre = preEntities(loaded, text, spans, from, to, scores[row++]);
      // Tokens of a later window are numbered in the whole text's sequence.
      const shifted = from === 0 ? pre : pre.map((p) => ({ ...p, index: p.index + from }));
      entities.push(...aggregate(shifted, request.strategy, vocabulary).filter((e) => !request.ignoreLabels.has(entityLabel(e))));
    }
    if (parts.length > 1 && request.strategy !== 'none') entities = aggregateOverlapping(entities);
    const cp = codePointIndex(text);
    return entities.map((e) => {
      classCounts[entityLabel(e)] = (classCounts[entityLabel(e)] ?? 0) + 1;
      const start = cp(e.start);
      const end = cp(e.end);
      return 'entity_group' in e ? { entity_group: e.entity_group, score: e.score, word: e.word, start, end } : { entity: e.entity, score: e.score, index: e.index, word: e.word, start, end };
    });
  });
  const heuristic = request.strategy !== 'none' && request.strategy !== 'simple' && !tokenizer.wordAware;
  // A v2 request gets one BYTES output: each text's entities as JSON.
  const answer = request.v2 !== undefined ? v2Answer(context.model, request.v2, [{ name: 'entities', datatype: 'BYTES', shape: [answers.length], data: answers.map((a) => JSON.stringify(a)) }]) : request.predict ? { predictions: answers } : request.single ? answers[0] : answers;
  return {
    answer,
    headers: heuristic ? { Warning: HEURISTIC_WARNING } : undefined,
    items: request.texts.length,
    classCounts,
    captured: { texts: request.texts },
    signals: answers.map((a, i) => [[...request.texts[i]].length, a.length]),
  };
}

interface AnswerEntity {
  entity_group?: string;
  entity?: string;
  score?: number;
  start?: number | null;
  end?: number | null;
}

/** Golden check of one text's answer: the same entities (label and span) in the same order, scores within `tolerance`. */
function compare(expected: unknown, actual: unknown, tolerance: number): string | undefined {
  if (!Array.isArray(expected) || !Array.isArray(actual)) return 'expected a list of entities';
  const name = (e: AnswerEntity) => e.entity_group ?? e.entity;
  const show = (e: AnswerEntity) => `${name(e)} [${e.start}, ${e.end})`;
  const a = actual as AnswerEntity[];
  const e = expected as AnswerEntity[];
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (i >= a.length) return `entity ${i}, ${show(e[i])}, is missing`;
    if (i >= e.length) return `entity ${i}, ${show(a[i])}, was not expected`;
    if (name(a[i]) !== name(e[i]) || a[i].start !== e[i].start || a[i].end !== e[i].end) return `entity ${i} is ${show(a[i])}, expected ${show(e[i])}`;
    const diff = Math.abs((a[i].score ?? 0) - (e[i].score ?? 0));
    if (!(diff <= tolerance)) return `entity ${i} (${show(e[i])}) scores ${a[i].score}, expected ${e[i].score} (tolerance ${tolerance})`;
  }
  return undefined;
}

export const tokenClassification: TaskModule<TokenClassifier, TokenRequest> = {
  name: 'token-classification',
  sideFiles: [...TOKENIZER_FILES],
  signals: [
    { name: 'text length', kind: 'numeric' },
    { name: 'entities', kind: 'numeric' },
  ],
  detect: (folder) => folder.architecture.endsWith('ForTokenClassification'),
  load,
  contentTypes: () => TEXT_CONTENT_TYPES,
  parse,
  run,
  describe: (loaded) => ({
    labels: loaded.labels,
    max_length: loaded.maxLength,
    window_tokens: loaded.window,
    aggregation_strategies: AGGREGATION_STRATEGIES,
    aggregation_strategy: 'simple',
    word_boundaries: loaded.tokenizer.wordAware,
    offsets: 'unicode code points',
  }),
  compare,
  example: () => ({ inputs: 'My name is Clara and I live in Berkeley, California.', parameters: { aggregation_strategy: 'simple' } }),
};
