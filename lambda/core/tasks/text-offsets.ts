/**
 * Token ids with the character span each token came from, and the word it belongs to, as the Rust
 * tokenizers' `Encoding` gives them (`offsets`, `word_ids`): what question answering and token
 * classification need to answer spans of the original text. @huggingface/tokenizers (the pure-JS
 * tokenizer we serve with) returns ids only, so this runs its normalizer, pre-tokenizer and model
 * step by step, keeping track of where each piece came from:
 *
 * - the normalizer is applied per character, each normalized character aligned to the original one
 *   (as tokenizers' NormalizedString aligns them: "é" stripped to "e" spans "é"; the spaces BERT puts
 *   around a CJK character span that character);
 * - each pre-token is a word (Rust's word ids), found in the normalized text in order;
 * - WordPiece tokens span their characters without the "##" prefix, an unknown word spans the word;
 * - byte-level BPE tokens span the bytes they encode, widened to whole characters (a character split
 *   over two tokens gives both its span), and with `trim_offsets` lose their leading and trailing
 *   spaces (tokenizers/src/pre_tokenizers/byte_level.rs, `process_offsets`).
 *
 * Offsets are UTF-16 code units into the original string (JavaScript's indexing); `codePoints` turns
 * them into Python's code point indices. Added tokens written in the text itself ("[SEP]" typed by a
 * user) are tokenized as text, not as the special token.
 */
import { Tokenizer } from '@huggingface/tokenizers';

export interface OffsetEncoding {
  readonly ids: readonly number[];
  /** [start, end) of each token in the original text, UTF-16 code units. */
  readonly offsets: readonly (readonly [number, number])[];
  /** The word (pre-token) each token belongs to, numbered from 0. */
  readonly words: readonly number[];
}

/** Where a pair's special tokens go, from the post-processor (BERT: [CLS] a [SEP] b [SEP]; RoBERTa: <s> a </s></s> b </s>). */
export interface PairTemplate {
  readonly before: readonly number[];
  readonly between: readonly number[];
  readonly after: readonly number[];
  /** Token type ids of the parts: before, first, between, second, after. */
  readonly types: { readonly before: readonly number[]; readonly first: number; readonly between: readonly number[]; readonly second: number; readonly after: readonly number[] };
}

type Mode = { readonly kind: 'wordpiece'; readonly prefix: string } | { readonly kind: 'bytelevel'; readonly trimOffsets: boolean };

/** GPT-2's reversible map of bytes to printable characters (openai/gpt-2 src/encoder.py, `bytes_to_unicode`), inverted. */
const UNICODE_TO_BYTE: ReadonlyMap<string, number> = (() => {
  const printable = [...range(33, 126), ...range(161, 172), ...range(174, 255)];
  const map = new Map<string, number>();
  let next = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable.includes(b) ? b : 256 + next++), b);
  return map;
})();

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function describeTokenizer(json: Record<string, unknown>): string {
  const model = (json.model as { type?: string } | undefined)?.type ?? 'no model';
  const pre = (json.pre_tokenizer as { type?: string } | null | undefined)?.type ?? 'no pre-tokenizer';
  return `${model} model with ${pre}`;
}

function preTokenizerTypes(node: unknown): string[] {
  if (node === null || typeof node !== 'object') return [];
  const { type, pretokenizers } = node as { type?: string; pretokenizers?: unknown[] };
  return type === 'Sequence' && Array.isArray(pretokenizers) ? pretokenizers.flatMap(preTokenizerTypes) : type === undefined ? [] : [type];
}

export class OffsetTokenizer {
  readonly tokenizer: Tokenizer;
  private readonly mode: Mode;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly unkId: number;

  /** Throws, naming the tokenizer, when its kind is one whose offsets are not tracked here. */
  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const model = tokenizerJson.model as { type?: string; continuing_subword_prefix?: string; unk_token?: string };
    const pre = preTokenizerTypes(tokenizerJson.pre_tokenizer);
    const post = tokenizerJson.post_processor as { type?: string; trim_offsets?: boolean; processors?: { type?: string; trim_offsets?: boolean }[] } | null;
    if (model?.type === 'WordPiece') this.mode = { kind: 'wordpiece', prefix: model.continuing_subword_prefix ?? '##' };
    else if (model?.type === 'BPE' && pre.includes('ByteLevel')) {
      const trim = [post, ...(post?.processors ?? [])].some((p) => p !== null && p !== undefined && (p.type === 'RobertaProcessing' || p.type === 'ByteLevel') && p.trim_offsets !== false);
      this.mode = { kind: 'bytelevel', trimOffsets: trim };
    } else throw new Error(`character offsets are tracked for WordPiece (BERT) and byte-level BPE (RoBERTa, GPT-2) tokenizers; this tokenizer.json has a ${describeTokenizer(tokenizerJson)}`);
    this.vocab = this.tokenizer.get_vocab(true);
    this.unkId = this.tokenizer.model?.unk_token_id ?? 0;
  }

  /** The id of a token (special ones included), or undefined. */
  id(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** A text's tokens without special tokens, each with its span of `text` and its word. */
  encode(text: string): OffsetEncoding {
    const { normalized, from, to } = this.normalize(text);
    const pieces: string[] = this.tokenizer.pre_tokenizer === null ? [normalized] : this.tokenizer.pre_tokenizer.pre_tokenize_text(normalized);
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    const words: number[] = [];
    let cursor = 0;
    pieces.forEach((piece, word) => {
      const surface = this.mode.kind === 'bytelevel' ? Buffer.from(Array.from(piece, (c) => UNICODE_TO_BYTE.get(c) ?? 0)).toString('utf8') : piece;
      const at = normalized.indexOf(surface, cursor);
      if (at < 0) throw new Error(`tokenizer offsets: piece ${JSON.stringify(surface)} not found in the normalized text`);
      cursor = at + surface.length;
      const tokens: string[] = this.tokenizer.model!([piece]);
      const spans = this.mode.kind === 'wordpiece' ? wordPieceSpans(tokens, surface, this.mode.prefix, this.tokenizer.model!.unk_token) : byteLevelSpans(tokens, surface, this.mode.trimOffsets);
      tokens.forEach((token, i) => {
        const [start, end] = spans[i];
        ids.push(this.vocab.get(token) ?? this.unkId);
        // A span of normalized characters → the original characters they came from.
        offsets.push(end > start ? [from[at + start], to[at + end - 1]] : [from[at + start] ?? to[at + start - 1], from[at + start] ?? to[at + start - 1]]);
        words.push(word);
      });
    });
    return { ids, offsets, words };
  }

  /** The post-processor's layout of a pair, found by running it on two placeholder tokens. */
  pairTemplate(): PairTemplate {
    const processor = this.tokenizer.post_processor;
    if (processor === null) return { before: [], between: [], after: [], types: { before: [], first: 0, between: [], second: 1, after: [] } };
    const first = '\u0000first';
    const second = '\u0000second';
    const { tokens, token_type_ids: types = [] } = processor(([first] as string[]), [second], true) as { tokens: string[]; token_type_ids?: number[] };
    const a = tokens.indexOf(first);
    const b = tokens.indexOf(second);
    const ids = (part: string[]) => part.map((t) => {
      const id = this.vocab.get(t);
      if (id === undefined) throw new Error(`the post-processor adds "${t}", which the vocabulary lacks`);
      return id;
    });
    const type = (i: number) => types[i] ?? 0;
    return {
      before: ids(tokens.slice(0, a)),
      between: ids(tokens.slice(a + 1, b)),
      after: ids(tokens.slice(b + 1)),
      types: { before: range(0, a - 1).map(type), first: type(a), between: range(a + 1, b - 1).map(type), second: type(b), after: range(b + 1, tokens.length - 1).map(type) },
    };
  }

  /**
   * The normalized text, and for each of its UTF-16 units the [from, to) of the original character it
   * came from. The normalizer runs per character; what it drops is not in the normalized text.
   */
  private normalize(text: string): { normalized: string; from: number[]; to: number[] } {
    const normalizer = this.tokenizer.normalizer;
    if (normalizer === null) return { normalized: text, from: range(0, text.length - 1), to: range(1, text.length) };
    const parts: string[] = [];
    const from: number[] = [];
    const to: number[] = [];
    let index = 0;
    for (const char of text) {
      const out = normalizer.normalize(char);
      parts.push(out);
      for (let k = 0; k < out.length; k++) {
        from.push(index);
        to.push(index + char.length);
      }
      index += char.length;
    }
    return { normalized: parts.join(''), from, to };
  }
}

/** Spans of WordPiece tokens within their word: each token's characters without the continuation prefix; an unknown word is one token over the whole word. */
function wordPieceSpans(tokens: readonly string[], word: string, prefix: string, unk: string | undefined): [number, number][] {
  if (tokens.length === 1 && tokens[0] === unk) return [[0, word.length]];
  let at = 0;
  return tokens.map((token, i) => {
    const length = (i > 0 && token.startsWith(prefix) ? token.slice(prefix.length) : token).length;
    const span: [number, number] = [at, at + length];
    at += length;
    return span;
  });
}

/** Spans of byte-level tokens within their word: the bytes each encodes, widened to whole characters; spaces trimmed as RoBERTa's post-processor does. */
function byteLevelSpans(tokens: readonly string[], word: string, trimOffsets: boolean): [number, number][] {
  // For each byte of the word's UTF-8, the [start, end) of its character in UTF-16 units.
  const charStart: number[] = [];
  const charEnd: number[] = [];
  let unit = 0;
  for (const char of word) {
    const bytes = Buffer.byteLength(char, 'utf8');
    for (let k = 0; k < bytes; k++) {
      charStart.push(unit);
      charEnd.push(unit + char.length);
    }
    unit += char.length;
  }
  let byte = 0;
  return tokens.map((token) => {
    const chars = [...token];
    const first = byte;
    byte += chars.length;
    let start = charStart[first] ?? unit;
    let end = charEnd[byte - 1] ?? unit;
    if (trimOffsets) {
      const space = 'Ġ';
      let leading = 0;
      while (leading < chars.length && chars[leading] === space) leading++;
      let trailing = 0;
      while (trailing < chars.length && chars[chars.length - 1 - trailing] === space) trailing++;
      if (leading > 0) start = Math.min(start + leading, end);
      if (trailing > 0 && end >= trailing) end = Math.max(end - trailing, start);
    }
    return [start, end];
  });
}

/** For each UTF-16 index of `text` (and its length), the code point index Python would give. */
export function codePointIndex(text: string): (utf16: number) => number {
  if (!/[\uD800-\uDFFF]/.test(text)) return (utf16) => utf16;
  const table = new Uint32Array(text.length + 1);
  let points = 0;
  for (let i = 0; i < text.length; i++) {
    table[i] = points;
    const code = text.charCodeAt(i);
    if (!(code >= 0xd800 && code <= 0xdbff && i + 1 < text.length)) points++;
  }
  table[text.length] = points;
  return (utf16) => table[utf16];
}
