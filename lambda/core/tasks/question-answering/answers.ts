/**
 * Extractive question answering after the model: start and end logits of each window into answers,
 * as transformers' QuestionAnsweringPipeline does it (src/transformers/pipelines/question_answering.py,
 * v4.57, the last release that has it): `select_starts_ends` (question and special tokens masked,
 * [CLS] kept; softmax of start and end over the window; the null score from [CLS] for
 * handle_impossible_answer, then [CLS] masked), `decode_spans` (every span with start ≤ end shorter
 * than max_answer_len, scored start × end, the best kept) and `postprocess` (top_k * 2 + 10 spans per
 * window when aligning to words; each span widened to whole words with the encoding's word ids
 * (`get_indices`); answers of the same text, ignoring case, merged by adding their scores, across
 * windows; the null answer added with the lowest null score over the windows; sorted by score).
 *
 * One difference, on purpose: spans that score 0 (start after end, too long) are never answered. The
 * pipeline can return a few of them when top_k asks for more spans than the context has, in an
 * order numpy's argpartition leaves undefined.
 */
import type { WordSpans } from '../text-offsets.ts';

export interface QaAnswer {
  readonly score: number;
  readonly start: number;
  readonly end: number;
  readonly answer: string;
}

export interface QaOptions {
  readonly topK: number;
  readonly maxAnswerLen: number;
  readonly handleImpossibleAnswer: boolean;
  readonly alignToWords: boolean;
}

/** One window as the model saw it: which of its positions hold which context tokens. */
export interface QaWindow {
  /** Tokens in the window (specials, question and context). */
  readonly length: number;
  /** Position in the window of its first context token. */
  readonly contextAt: number;
  /** The context tokens it holds, [from, to) of the context's encoding. */
  readonly from: number;
  readonly to: number;
  /** Positions holding the [CLS] token, kept as answerable (some models point there for "no answer"). */
  readonly cls: readonly number[];
}

/** Softmax over the positions a window may answer from; -10000 elsewhere, as the pipeline masks. */
function probabilities(logits: ArrayLike<number>, allowed: Uint8Array): Float64Array {
  const n = allowed.length;
  const out = new Float64Array(n);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) max = Math.max(max, allowed[i] === 1 ? logits[i] : -10000);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.exp((allowed[i] === 1 ? logits[i] : -10000) - max);
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/** The answers to one question over its windows, from each window's start and end logits (padding after the window's length ignored). */
export function answersFromWindows(context: string, encoding: WordSpans, windows: readonly QaWindow[], starts: readonly ArrayLike<number>[], ends: readonly ArrayLike<number>[], options: QaOptions, codePoints: (utf16: number) => number): QaAnswer[] {
  const preTopK = options.alignToWords ? options.topK * 2 + 10 : options.topK;
  const answers: { score: number; start: number; end: number; answer: string; key: string }[] = [];
  let minNullScore = 1_000_000;
  windows.forEach((window, w) => {
    const allowed = new Uint8Array(window.length);
    for (let i = 0; i < window.to - window.from; i++) allowed[window.contextAt + i] = 1;
    for (const i of window.cls) allowed[i] = 1;
    const startP = probabilities(starts[w], allowed);
    const endP = probabilities(ends[w], allowed);
    if (options.handleImpossibleAnswer) minNullScore = Math.min(minNullScore, startP[0] * endP[0]);
    startP[0] = endP[0] = 0;
    const spans: [number, number, number][] = [];
    for (let s = 0; s < window.length; s++) {
      if (allowed[s] === 0 || startP[s] === 0) continue;
      for (let e = s; e < Math.min(window.length, s + options.maxAnswerLen); e++) {
        const score = startP[s] * endP[e];
        if (allowed[e] === 1 && score > 0) spans.push([s, e, score]);
      }
    }
    spans.sort((a, b) => b[2] - a[2]);
    for (const [s, e, score] of spans.slice(0, preTopK)) {
      const first = window.from + s - window.contextAt;
      const last = window.from + e - window.contextAt;
      const [from, to] = options.alignToWords ? wordSpan(encoding, window, first, last) : [encoding.starts[first], encoding.ends[last]];
      const text = context.slice(from, to);
      const key = text.toLowerCase();
      const same = answers.find((a) => a.key === key);
      if (same !== undefined) same.score += score;
      else answers.push({ score, start: from, end: to, answer: text, key });
    }
  });
  if (options.handleImpossibleAnswer) answers.push({ score: minNullScore, start: 0, end: 0, answer: '', key: '' });
  // Array.prototype.sort is stable, as Python's sorted is.
  return answers
    .sort((a, b) => b.score - a.score)
    .slice(0, options.topK)
    .map((a) => ({ score: a.score, start: codePoints(a.start), end: codePoints(a.end), answer: a.answer }));
}

/**
 * The characters of the words the first and last tokens belong to, as `get_indices` finds them with
 * `token_to_word` and `word_to_chars`: the word's tokens within this window only.
 */
function wordSpan(encoding: WordSpans, window: QaWindow, first: number, last: number): [number, number] {
  let a = first;
  while (a > window.from && encoding.words[a - 1] === encoding.words[first]) a--;
  let b = last;
  while (b + 1 < window.to && encoding.words[b + 1] === encoding.words[last]) b++;
  return [encoding.starts[a], encoding.ends[b]];
}
