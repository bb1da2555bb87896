/**
 * Extractive question answering (`*ForQuestionAnswering` exports: start_logits and end_logits), as
 * transformers' QuestionAnsweringPipeline answers (src/transformers/pipelines/question_answering.py):
 * {"inputs": {"question", "context"} | [...], "parameters": {top_k, doc_stride, max_answer_len,
 * max_question_len, max_seq_len, handle_impossible_answer, align_to_words}} → {score, start, end,
 * answer} (a list of them when top_k > 1; one per input for a list of inputs), start and end counting
 * code points of the context as Python does.
 *
 * `preprocess`: the question, then the context cut into windows of max_seq_len tokens that overlap
 * by doc_stride, as the fast tokenizer cuts them (truncation "only_second" with overflowing tokens).
 * All windows of a request run in batches of up to WINDOWS_PER_RUN; `postprocess` is answers.ts.
 * max_question_len, which the pipeline reads only with a slow tokenizer (squad_convert_examples_to_features
 * cuts the question to it), cuts the question's tokens when it is sent; by default the question is
 * whole, as the fast pipeline keeps it.
 */
import { Tensor } from 'onnxruntime-node';
import { badRequest } from '../errors.ts';
import type { TaskContext, TaskFolder, TaskInput, TaskModule, TaskResult } from './task.ts';
import { codePointIndex, OffsetTokenizer, type PairTemplate, type WordSpans } from './text-offsets.ts';
import { tokenWindows } from './text-windows.ts';
import { answersFromWindows, type QaAnswer, type QaOptions, type QaWindow } from './question-answering/answers.ts';
import { TOKENIZER_FILES } from './hf-folder.ts';

/** Windows per session run: bounds the batch's memory on long contexts. */
const WINDOWS_PER_RUN = 16;
/** Windows per request: bounds its time (a 6 MB context would otherwise make tens of thousands of runs). */
export const MAX_WINDOWS = 512;
const DEFAULT_MAX_ANSWER_LEN = 15;
/** The pipeline's cap on its default max_seq_len. */
const PIPELINE_MAX_SEQ_LEN = 384;

export interface QaLoaded {
  readonly tokenizer: OffsetTokenizer;
  readonly template: PairTemplate;
  readonly specials: number;
  readonly clsId?: number;
  readonly padId: number;
  readonly inputs: { readonly inputIds: string; readonly attentionMask?: string; readonly tokenTypeIds?: string; readonly int32: boolean };
  readonly outputs: { readonly start: string; readonly end: string };
  /** The default max_seq_len: the tokenizer's model_max_length, at most 384, as the pipeline sets it; never past what the model's positions allow. */
  readonly maxSeqLen: number;
  /** The most tokens a window may have (the model's position table). */
  readonly maxLength: number;
}

export interface QaItem {
  readonly question: string;
  readonly context: string;
}

export interface QaRequest {
  readonly items: readonly QaItem[];
  /** One {"question", "context"} sent as such: its answer is not wrapped in a list. */
  readonly single: boolean;
  /** :predict answers {"predictions": [...]}. */
  readonly predict: boolean;
  readonly options: QaOptions;
  readonly docStride?: number;
  readonly maxSeqLen: number;
  readonly maxQuestionLen?: number;
}

const PARAMETERS = ['top_k', 'doc_stride', 'max_answer_len', 'max_question_len', 'max_seq_len', 'handle_impossible_answer', 'align_to_words'] as const;

const tokenOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string' ? (value as { content: string }).content : undefined);

function positiveInteger(value: unknown, name: string, fix: string, min = 1): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < min) throw badRequest(`"parameters.${name}" must be an integer of at least ${min}, got ${JSON.stringify(value)}; ${fix}`, 'invalid_value');
  return value as number;
}

function flag(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`"parameters.${name}" must be true or false, got ${JSON.stringify(value)}`, 'invalid_value');
  return value;
}

function item(value: unknown, where: string): QaItem {
  const example = '{"question": "...", "context": "..."}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${where} must be an object ${example}, got ${Array.isArray(value) ? 'a list' : JSON.stringify(value)?.slice(0, 40)}`, 'invalid_text');
  const { question, context, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw badRequest(`${where} has ${extra.map((k) => `"${k}"`).join(', ')}; a question is ${example}`, 'invalid_text');
  if (question === undefined) throw badRequest(`${where} has no "question"; send ${example}`, 'invalid_text');
  if (context === undefined) throw badRequest(`${where} has a question but no "context"; send the text to find the answer in as "context"`, 'invalid_text');
  for (const [name, text] of [['question', question], ['context', context]] as const) {
    if (typeof text !== 'string') throw badRequest(`${where}'s "${name}" must be a string, got ${JSON.stringify(text)?.slice(0, 40)}`, 'invalid_text');
    if (text.trim() === '') throw badRequest(`${where}'s "${name}" is empty; send ${name === 'question' ? 'the question to answer' : 'the text to find the answer in'}`, 'invalid_text');
  }
  return { question: question as string, context: context as string };
}

/** Whether a JSON body is a v2 tensor request ({"inputs": [{"name", "datatype", ...}]}), which the tensor path answers. */
const isV2 = (inputs: unknown): boolean => Array.isArray(inputs) && inputs.length > 0 && inputs.every((i) => typeof i === 'object' && i !== null && 'datatype' in i && 'name' in i);

export const questionAnswering: TaskModule<QaLoaded, QaRequest> = {
  name: 'question-answering',
  sideFiles: [...TOKENIZER_FILES],
  signals: [
    { name: 'context_length', kind: 'numeric' },
    { name: 'answer_length', kind: 'numeric' },
    { name: 'score', kind: 'numeric' },
  ],

  detect(folder) {
    const outputs = folder.signature.outputs.map((o) => o.name);
    return folder.architecture.endsWith('ForQuestionAnswering') || (folder.files.has('tokenizer.json') && outputs.includes('start_logits') && outputs.includes('end_logits'));
  },

  load(folder) {
    const tokenizerJson = folder.json('tokenizer.json');
    if (tokenizerJson === undefined) throw new Error(`${folder.where}: a question-answering model needs its tokenizer.json beside model.onnx`);
    const tokenizerConfig = folder.json('tokenizer_config.json') ?? {};
    let tokenizer: OffsetTokenizer;
    try {
      tokenizer = new OffsetTokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new Error(`${folder.where}: question answering answers character spans, and ${(error as Error).message}`);
    }
    const inputNames = new Map(folder.signature.inputs.map((i) => [i.name, i]));
    const outputNames = folder.signature.outputs.map((o) => o.name);
    const wanted = folder.config.inputNames ?? {};
    const input = (name: string | undefined, fallback: string, required: boolean): string | undefined => {
      const chosen = name ?? fallback;
      if (inputNames.has(chosen)) return chosen;
      if (required || name !== undefined) throw new Error(`${folder.where}: the model has no input "${chosen}" (it has ${[...inputNames.keys()].join(', ')}); name it in config.json "inputNames"`);
      return undefined;
    };
    const inputIds = input(wanted.inputIds, 'input_ids', true)!;
    const kind = inputNames.get(inputIds)!.datatype.ort;
    if (kind !== 'int64' && kind !== 'int32') throw new Error(`${folder.where}: input "${inputIds}" is ${kind}; token ids must be int64 or int32`);
    for (const output of ['start_logits', 'end_logits']) {
      if (!outputNames.includes(output)) throw new Error(`${folder.where}: a question-answering model answers from outputs start_logits and end_logits; this one has ${outputNames.join(', ')}`);
    }
    const hf = folder.hf ?? {};
    // RoBERTa-style position ids start after the padding index, so their table holds two fewer positions.
    const positions = typeof hf.max_position_embeddings === 'number' ? hf.max_position_embeddings - (/roberta|camembert|longformer|xlm-roberta/i.test(String(hf.model_type ?? folder.architecture)) ? 2 : 0) : Number.POSITIVE_INFINITY;
    const maxLength = Math.min(positions, folder.config.maxLength ?? Number.POSITIVE_INFINITY);
    const modelMax = typeof tokenizerConfig.model_max_length === 'number' ? tokenizerConfig.model_max_length : Number.POSITIVE_INFINITY;
    const maxSeqLen = Math.min(modelMax, PIPELINE_MAX_SEQ_LEN, maxLength);
    const template = tokenizer.pairTemplate();
    const specials = template.before.length + template.between.length + template.after.length;
    if (maxSeqLen < specials + 2) throw new Error(`${folder.where}: windows of ${maxSeqLen} tokens leave no room for a question and a context`);
    const cls = tokenOf(tokenizerConfig.cls_token);
    const pad = tokenOf(tokenizerConfig.pad_token);
    return {
      tokenizer,
      template,
      specials,
      clsId: cls === undefined ? undefined : tokenizer.id(cls),
      padId: (pad === undefined ? undefined : tokenizer.id(pad)) ?? 0,
      inputs: { inputIds, attentionMask: input(wanted.attentionMask, 'attention_mask', false), tokenTypeIds: input(wanted.tokenTypeIds, 'token_type_ids', false), int32: kind === 'int32' },
      outputs: { start: 'start_logits', end: 'end_logits' },
      maxSeqLen,
      maxLength,
    };
  },

  contentTypes: () => [],

  parse(loaded, input: TaskInput) {
    if (input.kind === 'raw') throw badRequest('a question-answering model takes JSON: {"inputs": {"question": "...", "context": "..."}}', 'invalid_request');
    const body = input.body;
    const example = '{"inputs": {"question": "...", "context": "..."}}';
    let raw: unknown;
    if (input.route === 'predict') {
      if (!Array.isArray(body.instances)) throw badRequest(`:predict takes {"instances": [{"question": "...", "context": "..."}]}`, 'invalid_request');
      raw = body.instances;
    } else {
      if (isV2(body.inputs)) return undefined;
      if (body.inputs === undefined) throw badRequest(`send ${example}`, 'invalid_request');
      raw = body.inputs;
    }
    const single = !Array.isArray(raw);
    const list = single ? [raw] : (raw as unknown[]);
    if (list.length === 0) throw badRequest(`"inputs" is an empty list; send at least one ${example.slice(11, -1)}`, 'invalid_request');
    const items = list.map((value, i) => item(value, single ? '"inputs"' : `input ${i}`));

    const parameters = body.parameters ?? {};
    if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw badRequest('"parameters" must be an object');
    const given = parameters as Record<string, unknown>;
    const unknown = Object.keys(given).filter((k) => !(PARAMETERS as readonly string[]).includes(k));
    if (unknown.length > 0) throw badRequest(`"parameters" has ${unknown.map((k) => `"${k}"`).join(', ')}, which question answering does not take (${PARAMETERS.join(', ')})`);
    const maxSeqLen = positiveInteger(given.max_seq_len, 'max_seq_len', `windows must hold the ${loaded.specials} special tokens, a question and some context, and at most the model's ${loaded.maxLength} tokens`, loaded.specials + 2) ?? loaded.maxSeqLen;
    if (maxSeqLen > loaded.maxLength) throw badRequest(`"parameters.max_seq_len" is ${maxSeqLen}, over the model's ${loaded.maxLength} tokens; send at most ${loaded.maxLength}`, 'invalid_value');
    const docStride = positiveInteger(given.doc_stride, 'doc_stride', 'it is how many tokens consecutive windows of a long context share', 0);
    if (docStride !== undefined && docStride > maxSeqLen) throw badRequest(`"parameters.doc_stride" (${docStride}) is larger than max_seq_len (${maxSeqLen}); send a smaller doc_stride`, 'invalid_value');
    return {
      items,
      single,
      predict: input.route === 'predict',
      maxSeqLen,
      docStride,
      maxQuestionLen: positiveInteger(given.max_question_len, 'max_question_len', 'it is how many tokens of the question are kept'),
      options: {
        topK: positiveInteger(given.top_k, 'top_k', 'it is how many answers to return') ?? 1,
        maxAnswerLen: positiveInteger(given.max_answer_len, 'max_answer_len', 'it is the longest answer in tokens') ?? DEFAULT_MAX_ANSWER_LEN,
        handleImpossibleAnswer: flag(given.handle_impossible_answer, 'handle_impossible_answer') ?? false,
        alignToWords: flag(given.align_to_words, 'align_to_words') ?? true,
      },
    };
  },

  async run(loaded, request, context: TaskContext): Promise<TaskResult> {
    const prepared = request.items.map((one, i) => prepare(loaded, request, one, request.items.length === 1 ? 'the question' : `question ${i}`));
    const all = prepared.flatMap((p, i) => p.windows.map((w) => ({ item: i, window: w })));
    if (all.length > MAX_WINDOWS) throw badRequest(`the context${request.items.length > 1 ? 's' : ''} make ${all.length} windows of ${request.maxSeqLen} tokens, over the ${MAX_WINDOWS} a request may run; send a shorter context, fewer questions, or a smaller "doc_stride"`, 'text_too_long');
    context.mark('parsed');
    const starts = prepared.map(() => [] as Float32Array[]);
    const ends = prepared.map(() => [] as Float32Array[]);
    for (let at = 0; at < all.length; at += WINDOWS_PER_RUN) {
      const chunk = all.slice(at, at + WINDOWS_PER_RUN);
      const length = Math.max(...chunk.map((c) => c.window.ids.length));
      const feeds = windowFeeds(loaded, chunk.map((c) => c.window), length);
      const out = await context.run(feeds, [loaded.outputs.start, loaded.outputs.end]);
      const start = out[loaded.outputs.start].data as Float32Array;
      const end = out[loaded.outputs.end].data as Float32Array;
      chunk.forEach(({ item: i }, row) => {
        starts[i].push(start.subarray(row * length, (row + 1) * length));
        ends[i].push(end.subarray(row * length, (row + 1) * length));
      });
    }
    context.mark('ran');
    const answers = prepared.map((p, i) => answersFromWindows(p.item.context, p.encoding, p.windows.map((w) => w.window), starts[i], ends[i], request.options, codePointIndex(p.item.context)));
    const shaped = answers.map((a) => (request.options.topK > 1 ? a : (a[0] ?? null)));
    return {
      answer: request.predict ? { predictions: shaped } : request.single ? shaped[0] : shaped,
      items: request.items.length,
      captured: request.items.map((i) => ({ question: i.question, context: i.context })),
      signals: request.items.map((one, i) => {
        const top: QaAnswer | undefined = answers[i][0];
        return [[...one.context].length, top === undefined ? 0 : top.end - top.start, top?.score ?? 0];
      }),
    };
  },

  describe(loaded) {
    return {
      task: 'question-answering',
      maxLength: loaded.maxLength === Number.POSITIVE_INFINITY ? undefined : loaded.maxLength,
      parameters: { top_k: 1, max_seq_len: loaded.maxSeqLen, doc_stride: defaultStride(loaded.maxSeqLen), max_answer_len: DEFAULT_MAX_ANSWER_LEN, handle_impossible_answer: false, align_to_words: true },
    };
  },

  compare(expected, actual, tolerance) {
    const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
    const want = list(expected);
    const got = list(actual);
    if (want.length !== got.length) return `${got.length} answer(s), expected ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as Partial<QaAnswer> | null;
      const g = got[i] as Partial<QaAnswer> | null;
      if (w === null || g === null || typeof w !== 'object' || typeof g !== 'object') {
        if (w !== g) return `answer ${i} is ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`;
        continue;
      }
      if (w.answer !== g.answer || w.start !== g.start || w.end !== g.end) return `answer ${i} is ${JSON.stringify(g.answer)} at ${g.start}–${g.end}, expected ${JSON.stringify(w.answer)} at ${w.start}–${w.end}`;
      if (typeof w.score !== 'number' || typeof g.score !== 'number' || Math.abs(w.score - g.score) > tolerance) return `answer ${i} ${JSON.stringify(g.answer)} scores ${g.score}, expected ${w.score} (tolerance ${tolerance})`;
    }
    return undefined;
  },

  example: () => ({
    inputs: { question: 'Who founded Debian?', context: 'Debian was founded by Ian Murdock in 1993. Its packages are built by volunteers.' },
    parameters: { top_k: 1 },
  }),
};

/** The pipeline's default doc_stride: half a window, at most 128. */
const defaultStride = (maxSeqLen: number): number => Math.min(Math.floor(maxSeqLen / 2), 128);

interface PreparedWindow {
  readonly ids: readonly number[];
  readonly types: readonly number[];
  readonly window: QaWindow;
}

/** One question's windows over its context, as the fast tokenizer makes them (truncation only_second, stride, overflowing tokens). */
function prepare(loaded: QaLoaded, request: QaRequest, one: QaItem, which: string): { item: QaItem; encoding: WordSpans; windows: PreparedWindow[] } {
  let question = loaded.tokenizer.encode(one.question).ids;
  if (question.length === 0) throw badRequest(`${which} has no tokens; send words`, 'invalid_text');
  if (request.maxQuestionLen !== undefined) question = question.slice(0, request.maxQuestionLen);
  const encoding = loaded.tokenizer.encodeWords(one.context);
  if (encoding.ids.length === 0) throw badRequest(`the context of ${which} has no tokens; send the text to find the answer in`, 'invalid_text');
  const { template, specials } = loaded;
  const room = request.maxSeqLen - specials - question.length;
  const stride = request.docStride ?? defaultStride(request.maxSeqLen);
  if (room <= 0) throw badRequest(`${which} is ${question.length} tokens, which leaves no room for the context in windows of max_seq_len ${request.maxSeqLen} (${specials} special tokens); shorten it, cap it with "max_question_len", or raise "max_seq_len" (at most ${loaded.maxLength})`, 'text_too_long');
  if (encoding.ids.length > room && stride >= room) throw badRequest(`"doc_stride" ${stride} must be below the ${room} context tokens each window holds (max_seq_len ${request.maxSeqLen} − ${question.length} question tokens − ${specials} special tokens); send a smaller "doc_stride" or a larger "max_seq_len"`, 'invalid_value');
  const cls = loaded.clsId;
  const windows = tokenWindows(encoding.ids.length, room, stride).map(([from, to]): PreparedWindow => {
    const part = encoding.ids.slice(from, to);
    const ids = [...template.before, ...question, ...template.between, ...part, ...template.after];
    const types = [...template.types.before, ...question.map(() => template.types.first), ...template.types.between, ...part.map(() => template.types.second), ...template.types.after];
    const contextAt = template.before.length + question.length + template.between.length;
    return { ids, types, window: { length: ids.length, contextAt, from, to, cls: cls === undefined ? [] : ids.flatMap((id, i) => (id === cls ? [i] : [])) } };
  });
  return { item: one, encoding, windows };
}

/** The windows as a padded batch [windows, length]: token ids (padded with the pad token), attention mask and token types, in the id type the model takes. */
function windowFeeds(loaded: QaLoaded, windows: readonly PreparedWindow[], length: number): Record<string, Tensor> {
  const size = windows.length * length;
  const ids = new Array<number>(size).fill(loaded.padId);
  const mask = new Array<number>(size).fill(0);
  const types = new Array<number>(size).fill(0);
  windows.forEach((window, row) => {
    for (let j = 0; j < window.ids.length; j++) {
      ids[row * length + j] = window.ids[j];
      mask[row * length + j] = 1;
      types[row * length + j] = window.types[j];
    }
  });
  const tensor = (values: number[]) => (loaded.inputs.int32 ? new Tensor('int32', Int32Array.from(values), [windows.length, length]) : new Tensor('int64', BigInt64Array.from(values, BigInt), [windows.length, length]));
  const feeds: Record<string, Tensor> = { [loaded.inputs.inputIds]: tensor(ids) };
  if (loaded.inputs.attentionMask !== undefined) feeds[loaded.inputs.attentionMask] = tensor(mask);
  if (loaded.inputs.tokenTypeIds !== undefined) feeds[loaded.inputs.tokenTypeIds] = tensor(types);
  return feeds;
}
