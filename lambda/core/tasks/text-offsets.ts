/**
 * Tokens with their character offsets in the original text, and the word each belongs to, as Hugging
 * Face's Rust tokenizers give them (`return_offsets_mapping`, `Encoding.word_ids`), for the JavaScript
 * tokenizer we serve with (@huggingface/tokenizers), which gives ids and tokens but no offsets. Token
 * classification and question answering both answer spans of the original text from these.
 *
 * How: the text is normalized here again, one character (or base character with its combining
 * marks) at a time, each normalized character remembering the original range it came from — what
 * the Rust NormalizedString's alignments hold (tokenizers/src/tokenizer/normalizer.rs; BertNormalizer
 * in normalizers/bert.rs, Prepend, Replace, Strip, Lowercase, NFD/NFKD/NFC/NFKC; Metaspace's
 * replacement and prefix from pre_tokenizers/metaspace.rs). Each token's surface (its string less
 * the continuing-subword prefix, its bytes for byte-level and byte-fallback tokens) is then found in
 * order in the normalized text's UTF-8 bytes; the bytes it covers give the characters, and their
 * alignments the original range. A token over part of a character (byte-level BPE, byte fallback)
 * gets that whole character, as in Rust. Byte-level post-processors' trim_offsets then drop leading
 * and trailing spaces (processors/byte_level.rs, `process_offsets`). Word ids, when asked for, are
 * the pre-tokenizer's pieces found in order in the same normalized text. Offsets here are UTF-16
 * code units; `codePointIndex` turns them into Python's code point indices when a task answers.
 *
 * Checked against Rust's offset_mapping (test/lambda/core/tasks/token-classification.test.ts) for
 * WordPiece with BertNormalizer, byte-level BPE with trim_offsets, SentencePiece BPE with Prepend,
 * Replace and byte fallback, and a Unigram tokenizer with Metaspace, NFKC and a Replace by regex;
 * offsets and word ids of BERT and RoBERTa against Rust's in test/lambda/core/tasks/question-answering.test.ts.
 * Precompiled (SentencePiece's compiled table) is followed as NFKC with whitespace folded, which no
 * test here checks: no pinned package ships such a tokenizer.json.
 */
import { Tokenizer } from '@huggingface/tokenizers';

/** One text's tokens, without the special tokens a post-processor adds. */
export interface TokenSpans {
  readonly ids: readonly number[];
  readonly tokens: readonly string[];
  /** Offsets into the original text, UTF-16 code units, end exclusive. */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/** Token spans with the word (pre-token) each token belongs to, numbered from 0 (Rust's word ids). */
export interface WordSpans extends TokenSpans {
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

type Json = Record<string, unknown>;

/** A normalized text: its characters (code points) and, for each, the original range it came from. */
interface Aligned {
  chars: string[];
  from: number[];
  to: number[];
}

const WHITESPACE = /^\p{White_Space}$/u;
const OTHER = /^\p{C}$/u;
const MARK = /^\p{M}$/u;
const PUNCTUATION = /^[\p{P}!-/:-@[-`{-~]$/u;

const isChinese = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);

/** The original text split into units: a code point and the combining marks after it (what NFC/NFKC compose), with their ranges. */
function units(text: string): Aligned {
  const chars: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  let i = 0;
  for (const ch of text) {
    chars.push(ch);
    from.push(i);
    i += ch.length;
    to.push(i);
  }
  return { chars, from, to };
}

/** Each character replaced by `map`'s characters (none removes it), every new character aligned to the old one's range. */
function mapChars(text: Aligned, map: (ch: string, index: number) => string): Aligned {
  const out: Aligned = { chars: [], from: [], to: [] };
  text.chars.forEach((ch, k) => {
    for (const c of map(ch, k)) {
      out.chars.push(c);
      out.from.push(text.from[k]);
      out.to.push(text.to[k]);
    }
  });
  return out;
}

/** Unicode normalization over base characters with their marks (composition needs them together). */
function unicodeNormalize(text: Aligned, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): Aligned {
  const out: Aligned = { chars: [], from: [], to: [] };
  let k = 0;
  while (k < text.chars.length) {
    let end = k + 1;
    while (end < text.chars.length && MARK.test(text.chars[end])) end++;
    const unit = [...text.chars.slice(k, end).join('').normalize(form)];
    // Unchanged in length, each character keeps its own range (Rust aligns them one to one); else the unit's.
    const same = unit.length === end - k;
    unit.forEach((c, j) => {
      out.chars.push(c);
      out.from.push(same ? text.from[k + j] : text.from[k]);
      out.to.push(same ? text.to[k + j] : text.to[end - 1]);
    });
    k = end;
  }
  return out;
}

function replaceAll(text: Aligned, pattern: string | RegExp, content: string): Aligned {
  const joined = text.chars.join('');
  // Character index of each UTF-16 index of `joined`.
  const charAt: number[] = [];
  text.chars.forEach((c, k) => { for (let j = 0; j < c.length; j++) charAt.push(k); });
  const out: Aligned = { chars: [], from: [], to: [] };
  const regex = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu') : new RegExp(pattern.source, 'gu');
  let last = 0;
  const copy = (fromUnit: number, toUnit: number) => {
    if (fromUnit >= toUnit) return;
    for (let k = charAt[fromUnit]; k <= charAt[toUnit - 1]; k++) {
      out.chars.push(text.chars[k]);
      out.from.push(text.from[k]);
      out.to.push(text.to[k]);
    }
  };
  for (const match of joined.matchAll(regex)) {
    const start = match.index;
    const end = start + match[0].length;
    copy(last, start);
    if (end > start) {
      // The replacement takes the range of the match's last character, as Rust's NormalizedString::replace aligns it.
      const b = charAt[end - 1];
      for (const c of content) {
        out.chars.push(c);
        out.from.push(text.from[b]);
        out.to.push(text.to[b]);
      }
    }
    last = end;
  }
  copy(last, joined.length);
  return out;
}

function prepend(text: Aligned, prefix: string): Aligned {
  if (text.chars.length === 0) return text;
  const cs = [...prefix];
  return { chars: [...cs, ...text.chars], from: [...cs.map(() => text.from[0]), ...text.from], to: [...cs.map(() => text.to[0]), ...text.to] };
}

function strip(text: Aligned, left: boolean, right: boolean): Aligned {
  let a = 0;
  let b = text.chars.length;
  while (left && a < b && WHITESPACE.test(text.chars[a])) a++;
  while (right && b > a && WHITESPACE.test(text.chars[b - 1])) b--;
  return { chars: text.chars.slice(a, b), from: text.from.slice(a, b), to: text.to.slice(a, b) };
}

/** One normalizer of tokenizer.json applied with alignments; throws naming a type this cannot follow. */
function normalize(text: Aligned, config: Json | null | undefined): Aligned {
  if (config === null || config === undefined) return text;
  switch (config.type) {
    case 'Sequence':
      return (config.normalizers as Json[]).reduce(normalize, text);
    case 'BertNormalizer': {
      const clean = config.clean_text !== false;
      const chinese = config.handle_chinese_chars !== false;
      const lowercase = config.lowercase !== false;
      const stripAccents = (config.strip_accents ?? lowercase) === true;
      // One pass in Rust's order (clean, CJK spacing, accents, lowercase); ASCII, most of any text, without the Unicode tests.
      return mapChars(text, (ch) => {
        const cp = ch.codePointAt(0)!;
        if (cp < 0x80) {
          if (clean && (ch === '\t' || ch === '\n' || ch === '\r')) return ' ';
          if (clean && (cp < 0x20 || cp === 0x7f)) return '';
          return lowercase && cp >= 0x41 && cp <= 0x5a ? String.fromCharCode(cp + 32) : ch;
        }
        let out = ch;
        if (clean) {
          if (cp === 0xfffd || OTHER.test(ch)) return '';
          if (WHITESPACE.test(ch)) return ' ';
        }
        if (chinese && isChinese(cp)) return ` ${ch} `;
        if (stripAccents) out = [...out.normalize('NFD')].filter((c) => !MARK.test(c)).join('');
        return lowercase ? out.toLowerCase() : out;
      });
    }
    case 'Lowercase':
      return mapChars(text, (ch) => ch.toLowerCase());
    case 'StripAccents':
      return mapChars(text, (ch) => (MARK.test(ch) ? '' : ch));
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return unicodeNormalize(text, config.type);
    // SentencePiece's compiled normalization table (XLM-R, DeBERTa-v3, T5): NFKC with whitespace
    // folded, which is what nmt_nfkc compiles; the table itself is not read.
    case 'Precompiled':
      return mapChars(unicodeNormalize(text, 'NFKC'), (ch) => (WHITESPACE.test(ch) ? ' ' : OTHER.test(ch) && ch !== ' ' ? '' : ch));
    case 'Replace': {
      const pattern = config.pattern as { String?: string; Regex?: string };
      return replaceAll(text, pattern.String ?? new RegExp(pattern.Regex ?? ''), String(config.content ?? ''));
    }
    case 'Prepend':
      return prepend(text, String(config.prepend ?? ''));
    case 'Strip':
      return strip(text, config.strip_left !== false, config.strip_right !== false);
    default:
      throw new Error(`tokenizer.json's normalizer ${String(config.type)} is not one whose character offsets ModelShip can follow`);
  }
}

/** What a pre-tokenizer changes in the characters themselves (Metaspace's ▁), with alignments; the others only split. */
function preTokenizeChars(text: Aligned, config: Json | null | undefined): Aligned {
  if (config === null || config === undefined) return text;
  if (config.type === 'Sequence') return (config.pretokenizers as Json[]).reduce(preTokenizeChars, text);
  if (config.type !== 'Metaspace') return text;
  const replacement = String(config.replacement ?? '▁');
  const replaced = replaceAll(text, ' ', replacement);
  const scheme = config.prepend_scheme ?? (config.add_prefix_space === false ? 'never' : 'always');
  return scheme !== 'never' && replaced.chars[0] !== replacement ? prepend(replaced, replacement) : replaced;
}

/** The first config of `type` in a config or its Sequence (under `key`). */
function findType(config: Json | null | undefined, type: string, key: string): Json | undefined {
  if (config === null || config === undefined) return undefined;
  if (config.type === type) return config;
  if (!Array.isArray(config[key])) return undefined;
  for (const c of config[key] as Json[]) {
    const found = findType(c, type, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

const hasType = (config: Json | null | undefined, type: string, key: string): boolean => findType(config, type, key) !== undefined;

/** GPT-2's bytes_to_unicode, inverted: the character byte-level BPE writes for each byte → the byte. */
function byteLevelDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]), b]));
}

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new globalThis.TextEncoder();
const lossy = new globalThis.TextDecoder('utf-8');
const strict = new globalThis.TextDecoder('utf-8', { fatal: true });

export class OffsetTokenizer {
  readonly tokenizer: Tokenizer;
  /** The model's continuing-subword prefix ("##" for WordPiece): words have real boundaries (transformers' `is_subword` test). */
  readonly continuingPrefix: string;
  readonly unkId: number | undefined;
  /** Ids the post-processor puts before and after one text ([CLS] … [SEP]). */
  readonly prefixIds: readonly number[];
  readonly suffixIds: readonly number[];
  readonly padId: number;
  private readonly normalizer: Json | null;
  private readonly preTokenizer: Json | null;
  private byteLevel: Map<string, number> | undefined;
  private readonly byteFallback: boolean;
  private readonly endOfWordSuffix: string;
  private readonly trimOffsets: boolean;
  private readonly wordPiece: boolean;
  private readonly added: Map<string, string>;
  private readonly byteLevelDecoder: boolean;
  private readonly byteFallbackDecoder: boolean;
  private readonly byteLevelPieces: boolean;
  /** Metaspace's replacement when it splits words at it (Rust's `split`, which the JavaScript pre-tokenizer does not do). */
  private readonly metaspaceSplit: string | undefined;

  constructor(tokenizerJson: Json, tokenizerConfig: Json) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const model = (tokenizerJson.model ?? {}) as Json;
    this.normalizer = (tokenizerJson.normalizer ?? null) as Json | null;
    this.preTokenizer = (tokenizerJson.pre_tokenizer ?? null) as Json | null;
    const post = (tokenizerJson.post_processor ?? null) as Json | null;
    this.wordPiece = model.type === 'WordPiece';
    this.continuingPrefix = typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '';
    this.endOfWordSuffix = typeof model.end_of_word_suffix === 'string' ? model.end_of_word_suffix : '';
    this.byteFallback = model.byte_fallback === true;
    this.byteLevelPieces = hasType(this.preTokenizer, 'ByteLevel', 'pretokenizers');
    this.byteLevel = this.byteLevelPieces ? byteLevelDecoder() : undefined;
    const metaspace = findType(this.preTokenizer, 'Metaspace', 'pretokenizers');
    this.metaspaceSplit = metaspace !== undefined && metaspace.split !== false ? String(metaspace.replacement ?? '▁') : undefined;
    this.trimOffsets = [post].concat(Array.isArray(post?.processors) ? (post.processors as Json[]) : []).some((p) => p !== null && (p.type === 'ByteLevel' || p.type === 'RobertaProcessing') && p.trim_offsets !== false);
    const decoder = (tokenizerJson.decoder ?? null) as Json | null;
    this.byteLevelDecoder = decoder?.type === 'ByteLevel';
    this.byteFallbackDecoder = hasType(decoder, 'ByteFallback', 'decoders');
    if (this.byteLevelDecoder && this.byteLevel === undefined) this.byteLevel = byteLevelDecoder();
    const unk = typeof model.unk_token === 'string' ? model.unk_token : undefined;
    this.unkId = unk === undefined ? undefined : this.tokenizer.token_to_id(unk);
    normalize(units('probe'), this.normalizer); // at load: throws naming a normalizer whose offsets this cannot follow
    // Added tokens are split off before normalization; those marked normalized are matched normalized.
    this.added = new Map(((tokenizerJson.added_tokens ?? []) as Json[]).map((t) => [String(t.content), t.normalized === true ? this.normalized(String(t.content)).chars.join('') : String(t.content)]));
    const probe = 'a';
    const full = this.tokenizer.encode(probe, { add_special_tokens: true }).ids;
    const content = this.tokenizer.encode(probe, { add_special_tokens: false }).ids;
    let at = 0;
    while (at <= full.length - content.length && content.some((id: number, k: number) => full[at + k] !== id)) at++;
    this.prefixIds = full.slice(0, at);
    this.suffixIds = full.slice(at + content.length);
    const pad = (tokenizerConfig.pad_token as string | { content?: string } | undefined) ?? undefined;
    const padToken = typeof pad === 'string' ? pad : pad?.content;
    this.padId = (padToken === undefined ? undefined : this.tokenizer.token_to_id(padToken)) ?? 0;
  }

  /** Whether the tokenizer marks word boundaries (a continuing-subword prefix), as transformers asks of it. */
  get wordAware(): boolean {
    return this.continuingPrefix !== '';
  }

  private normalized(text: string): Aligned {
    return preTokenizeChars(normalize(units(text), this.normalizer), this.preTokenizer);
  }

  /** The bytes a token stands for in the normalized text. */
  private surface(token: string, first: boolean): Uint8Array {
    const fallback = this.byteFallback ? BYTE_FALLBACK.exec(token) : null;
    if (fallback !== null) return Uint8Array.of(parseInt(fallback[1], 16));
    const added = this.added.get(token);
    if (added !== undefined) return utf8.encode(added);
    if (this.byteLevel !== undefined) return Uint8Array.from([...token].map((c) => this.byteLevel!.get(c) ?? 0x3f));
    let s = token;
    if (this.continuingPrefix !== '' && !first && s.startsWith(this.continuingPrefix) && s.length > this.continuingPrefix.length) s = s.slice(this.continuingPrefix.length);
    if (this.endOfWordSuffix !== '' && s.endsWith(this.endOfWordSuffix)) s = s.slice(0, -this.endOfWordSuffix.length);
    return utf8.encode(s);
  }

  /** The id of a token (added and special ones included), or undefined. */
  id(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** The text's tokens (no special tokens) and where each comes from in the text. */
  encode(text: string): TokenSpans {
    return this.spans(text, false);
  }

  /** `encode`, with the word (pre-token) of each token, as Rust's `Encoding.word_ids`. */
  encodeWords(text: string): WordSpans {
    return this.spans(text, true) as WordSpans;
  }

  private spans(text: string, withWords: boolean): TokenSpans | WordSpans {
    const encoding = this.tokenizer.encode(text, { add_special_tokens: false });
    const ids = encoding.ids;
    const tokens = encoding.tokens;
    const base = normalize(units(text), this.normalizer);
    const norm = preTokenizeChars(base, this.preTokenizer);
    // The normalized character where each token starts, for its word.
    const startChars: number[] = [];
    // The normalized text's UTF-8 bytes, and the character each byte belongs to.
    const bytes: number[] = [];
    const charOf: number[] = [];
    norm.chars.forEach((c, k) => {
      const unit = c.charCodeAt(0);
      if (c.length === 1 && unit < 0x80) {
        bytes.push(unit);
        charOf.push(k);
        return;
      }
      for (const b of utf8.encode(c)) {
        bytes.push(b);
        charOf.push(k);
      }
    });
    const starts: number[] = [];
    const ends: number[] = [];
    let at = 0;
    const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
    const matchesAt = (pos: number, s: Uint8Array) => {
      if (pos + s.length > bytes.length) return false;
      for (let j = 0; j < s.length; j++) if (bytes[pos + j] !== s[j]) return false;
      return true;
    };
    const find = (s: Uint8Array): number => {
      let pos = at;
      while (pos < bytes.length && !matchesAt(pos, s) && isSpace(bytes[pos])) pos++;
      if (matchesAt(pos, s)) return pos;
      for (let p = at; p + s.length <= bytes.length; p++) if (matchesAt(p, s)) return p;
      return -1;
    };
    const span = (startByte: number, endByte: number): [number, number] => {
      if (endByte <= startByte) {
        const k = Math.min(charOf[startByte] ?? norm.chars.length, norm.chars.length);
        const offset = k < norm.chars.length ? norm.from[k] : (norm.to[norm.to.length - 1] ?? 0);
        return [offset, offset];
      }
      return [norm.from[charOf[startByte]], norm.to[charOf[endByte - 1]]];
    };
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === this.unkId) {
        // An unknown word: WordPiece gives one per pre-tokenized word (a punctuation mark, or a run
        // up to whitespace or punctuation); BPE and Unigram one per character.
        let pos = at;
        while (pos < bytes.length && isSpace(bytes[pos])) pos++;
        let end = pos;
        const charAtPos = (p: number) => norm.chars[charOf[p]];
        if (pos < bytes.length) {
          if (!this.wordPiece || PUNCTUATION.test(charAtPos(pos))) {
            const k = charOf[pos];
            while (end < bytes.length && charOf[end] === k) end++;
          } else {
            while (end < bytes.length && !isSpace(bytes[end]) && !PUNCTUATION.test(charAtPos(end))) end++;
          }
        }
        [starts[i], ends[i]] = span(pos, end);
        startChars[i] = charOf[pos] ?? norm.chars.length;
        at = end;
        continue;
      }
      const first = i === 0 || !tokens[i].startsWith(this.continuingPrefix);
      const s = this.surface(tokens[i], first);
      const pos = find(s);
      if (pos < 0) {
        [starts[i], ends[i]] = span(at, at);
        startChars[i] = charOf[at] ?? norm.chars.length;
        continue;
      }
      [starts[i], ends[i]] = span(pos, pos + s.length);
      startChars[i] = charOf[pos] ?? norm.chars.length;
      at = pos + s.length;
      if (this.trimOffsets) {
        const chars = [...tokens[i]];
        const space = (c: string) => c === 'Ġ' || WHITESPACE.test(c);
        let leading = 0;
        while (leading < chars.length && space(chars[leading])) leading++;
        let trailing = 0;
        while (trailing < chars.length && space(chars[chars.length - 1 - trailing])) trailing++;
        if (leading > 0) starts[i] = Math.min(starts[i] + leading, ends[i]);
        if (trailing > 0 && ends[i] >= trailing) ends[i] = Math.max(ends[i] - trailing, starts[i]);
      }
    }
    return withWords ? { ids, tokens, starts, ends, words: this.words(base, norm, startChars) } : { ids, tokens, starts, ends };
  }

  /**
   * Each token's word: the pre-tokenizer's pieces of the normalized text, found in order in it (the
   * Metaspace ▁ included), each token in the last piece starting at or before its first character.
   */
  private words(base: Aligned, norm: Aligned, startChars: readonly number[]): number[] {
    const joined = norm.chars.join('');
    const input = base.chars.join('');
    let pieces: string[] = this.tokenizer.pre_tokenizer === null ? [input] : this.tokenizer.pre_tokenizer.pre_tokenize_text(input);
    if (this.metaspaceSplit !== undefined) {
      const mark = this.metaspaceSplit;
      pieces = pieces.flatMap((p) => p.split(mark).map((part, k) => (k === 0 ? part : mark + part)).filter((part) => part !== ''));
    }
    // The character index of each UTF-16 index of `joined`.
    const charAt: number[] = [];
    norm.chars.forEach((c, k) => {
      for (let j = 0; j < c.length; j++) charAt.push(k);
    });
    const pieceStarts: number[] = [];
    let cursor = 0;
    for (const piece of pieces) {
      let surface = this.byteLevelPieces ? lossy.decode(Uint8Array.from([...piece].map((c) => this.byteLevel!.get(c) ?? 0x3f))) : piece;
      let at = joined.indexOf(surface, cursor);
      // ByteLevel's add_prefix_space puts a space before the text that the normalized text lacks.
      if (at < 0 && surface.startsWith(' ')) {
        surface = surface.slice(1);
        at = joined.indexOf(surface, cursor);
      }
      if (at < 0) throw new Error(`tokenizer offsets: the pre-tokenizer's piece ${JSON.stringify(surface)} is not in the normalized text`);
      pieceStarts.push(charAt[at] ?? norm.chars.length);
      cursor = at + surface.length;
    }
    let word = 0;
    return startChars.map((c) => {
      while (word + 1 < pieceStarts.length && pieceStarts[word + 1] <= c) word++;
      return word;
    });
  }

  /** The post-processor's layout of a pair, found by running it on two placeholder tokens. */
  pairTemplate(): PairTemplate {
    const processor = this.tokenizer.post_processor;
    if (processor === null) return { before: [], between: [], after: [], types: { before: [], first: 0, between: [], second: 1, after: [] } };
    const first = '\u0000first';
    const second = '\u0000second';
    const { tokens, token_type_ids: types = [] } = processor([first], [second], true) as { tokens: string[]; token_type_ids?: number[] };
    const a = tokens.indexOf(first);
    const b = tokens.indexOf(second);
    const ids = (part: string[]) =>
      part.map((t) => {
        const id = this.id(t);
        if (id === undefined) throw new Error(`the post-processor adds "${t}", which the vocabulary lacks`);
        return id;
      });
    const type = (i: number) => types[i] ?? 0;
    const indices = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, k) => type(from + k));
    return {
      before: ids(tokens.slice(0, a)),
      between: ids(tokens.slice(a + 1, b)),
      after: ids(tokens.slice(b + 1)),
      types: { before: indices(0, a), first: type(a), between: indices(a + 1, b), second: type(b), after: indices(b + 1, tokens.length) },
    };
  }

  /**
   * transformers' convert_tokens_to_string: the tokenizer's decoder over the tokens, else joined by
   * spaces. Two decoders are done here as Rust does them, where the JavaScript ones differ on bytes
   * that are not whole characters: ByteLevel (all the tokens' bytes decoded at once, each invalid
   * sequence one U+FFFD, a token with a character outside the byte alphabet taken as its own UTF-8;
   * decoders/byte_level.rs) and ByteFallback (a run of <0xNN> tokens decoded
   * together, or one U+FFFD per byte when the run is not valid UTF-8, decoders/byte_fallback.rs).
   */
  tokensToString(tokens: readonly string[]): string {
    const decoder = this.tokenizer.decoder;
    if (decoder === null) return tokens.join(' ');
    if (this.byteLevelDecoder) {
      // A token with any character outside the byte alphabet (an already decoded word) counts as its own UTF-8.
      const bytes = tokens.flatMap((t) => {
        const mapped = [...t].map((c) => this.byteLevel!.get(c));
        return mapped.every((b) => b !== undefined) ? (mapped as number[]) : [...utf8.encode(t)];
      });
      return lossy.decode(Uint8Array.from(bytes));
    }
    if (!this.byteFallbackDecoder) return decoder.decode([...tokens]);
    const merged: string[] = [];
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      try {
        merged.push(strict.decode(Uint8Array.from(run)));
      } catch {
        merged.push(...run.map(() => '\uFFFD'));
      }
      run = [];
    };
    for (const token of tokens) {
      const byte = BYTE_FALLBACK.exec(token);
      if (byte !== null) run.push(parseInt(byte[1], 16));
      else {
        flush();
        merged.push(token);
      }
    }
    flush();
    return decoder.decode(merged);
  }

  /** transformers' convert_ids_to_tokens for one id. */
  idToToken(id: number): string {
    return this.tokenizer.id_to_token(id) ?? '';
  }
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
