/**
 * Texts into token tensors with @huggingface/tokenizers (the tokenizer of Transformers.js, pure
 * JavaScript) from an export's tokenizer.json and tokenizer_config.json, and token embeddings back
 * into one embedding per text (mean, CLS or max pooling, optional L2 normalization), as
 * sentence-transformers' Pooling and Normalize modules do.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Tensor } from 'onnxruntime-node';
import { badRequest } from '../errors.ts';
import { inputOf } from './hf-folder.ts';
import type { TaskFolder } from './task.ts';

/** Two texts classified together (an NLI premise and hypothesis, a query and a document): transformers' {"text", "text_pair"}. */
export interface TextPair {
  readonly text: string;
  readonly text_pair: string;
}

/** How a pair over the model's maximum is cut (the Rust tokenizers' TruncationStrategy). */
export type PairTruncation = 'only_first' | 'longest_first';

export interface TextBatch {
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly tokenTypeIds: BigInt64Array;
  /** Tokens per text after padding (the tensors are [texts, length]). */
  readonly length: number;
  /** Each text's token count before truncation. */
  readonly tokenCounts: readonly number[];
  /** Indices of the texts that were cut to maxLength. */
  readonly truncated: readonly number[];
}

export class TextEncoder {
  private readonly tokenizer: Tokenizer;
  /** The pad token's id (tokenizer_config.json pad_token, else 0). */
  readonly padId: number;
  readonly maxLength: number;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, maxLength: number) {
    this.tokenizer = new Tokenizer(tokenizerJson as object, (tokenizerConfig ?? {}) as object);
    this.maxLength = maxLength;
    const config = (tokenizerConfig ?? {}) as { pad_token?: string | { content?: string } };
    const padToken = typeof config.pad_token === 'string' ? config.pad_token : config.pad_token?.content;
    this.padId = (padToken === undefined ? undefined : this.tokenizer.token_to_id(padToken)) ?? 0;
  }

  /**
   * Token ids of one text, cut to maxLength when asked. The library has no truncation option, so it
   * is done here as the Rust tokenizers' "longest first" does for one text: the text's own tokens
   * are cut, and the special tokens the post-processor wraps them in are kept.
   */
  private encodeOne(text: string, truncate: boolean): { ids: number[]; typeIds: number[]; count: number; truncated: boolean } {
    const full = this.tokenizer.encode(text, { add_special_tokens: true, return_token_type_ids: true });
    const count = full.ids.length;
    if (count <= this.maxLength) return { ids: full.ids, typeIds: full.token_type_ids ?? [], count, truncated: false };
    if (!truncate) return { ids: full.ids, typeIds: [], count, truncated: true };
    const content = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const specials = count - content.length;
    let prefix = 0;
    while (prefix < specials && full.ids[prefix] !== content[0]) prefix++;
    const keep = Math.max(0, this.maxLength - specials);
    const ids = [...full.ids.slice(0, prefix), ...content.slice(0, keep), ...full.ids.slice(prefix + content.length)];
    const typeIds = full.token_type_ids === undefined ? [] : [...full.token_type_ids.slice(0, prefix), ...full.token_type_ids.slice(prefix, prefix + keep), ...full.token_type_ids.slice(prefix + content.length)];
    return { ids, typeIds, count, truncated: true };
  }

  private vocab?: number;

  /** Token ids run from 0 to vocabSize - 1 (the added tokens included). */
  get vocabSize(): number {
    if (this.vocab === undefined) {
      let top = -1;
      for (const id of this.tokenizer.get_vocab(true).values()) if (id > top) top = id;
      this.vocab = top + 1;
    }
    return this.vocab;
  }

  /**
   * Token ids of a pair as the tokenizer's template joins them (BERT's "[CLS] A [SEP] B [SEP]" with
   * type ids 0 then 1, RoBERTa's "<s> A </s></s> B </s>", …), cut to maxLength when asked as the Rust
   * tokenizers cut pairs (tokenizers/src/utils/truncation.rs, `truncate_encodings`): "only_first"
   * cuts the end of the first text (what the zero-shot pipeline asks for), "longest_first" cuts the
   * longer one, and both evenly once neither fits alone. The template's special tokens are kept.
   */
  private encodePair(text: string, pair: string, strategy: PairTruncation, truncate: boolean): { ids: number[]; typeIds: number[]; count: number; truncated: boolean } {
    const full = this.tokenizer.encode(text, { text_pair: pair, add_special_tokens: true, return_token_type_ids: true });
    const count = full.ids.length;
    const typeIds = full.token_type_ids ?? [];
    if (count <= this.maxLength) return { ids: full.ids, typeIds, count, truncated: false };
    if (!truncate) return { ids: full.ids, typeIds, count, truncated: true };
    const first = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const second = this.tokenizer.encode(pair, { add_special_tokens: false }).ids;
    const budget = this.maxLength - (count - first.length - second.length);
    let [keepFirst, keepSecond] = [first.length, second.length];
    if (strategy === 'only_first') {
      keepFirst = budget - second.length;
      if (keepFirst < 1) throw badRequest(`the pair's second text is ${second.length} tokens, more than the ${budget} the model's ${this.maxLength} leave beside the first; shorten it`, 'text_too_long');
    } else {
      const swap = keepFirst > keepSecond;
      let [short, long] = swap ? [keepSecond, keepFirst] : [keepFirst, keepSecond];
      long = short > budget ? short : Math.max(short, budget - short);
      if (short + long > budget) [short, long] = [Math.floor(budget / 2), Math.floor(budget / 2) + (budget % 2)];
      [keepFirst, keepSecond] = swap ? [long, short] : [short, long];
    }
    const at = (ids: readonly number[], sub: readonly number[], from: number) => {
      for (let i = from; i + sub.length <= ids.length; i++) if (sub.every((v, j) => ids[i + j] === v)) return i;
      throw new Error('the tokenizer joined a pair in a way its parts cannot be found in');
    };
    const start1 = at(full.ids, first, 0);
    const start2 = at(full.ids, second, start1 + first.length);
    const pick = (values: readonly number[]) => [...values.slice(0, start1 + keepFirst), ...values.slice(start1 + first.length, start2 + keepSecond), ...values.slice(start2 + second.length)];
    return { ids: pick(full.ids), typeIds: typeIds.length === 0 ? [] : pick(typeIds), count, truncated: true };
  }

  /** A batch of text pairs as [pairs, longest] tensors (see encodePair); 400 for an empty text, or a pair too long when `truncate` is false. */
  encodePairs(pairs: readonly TextPair[], strategy: PairTruncation, truncate: boolean): TextBatch {
    return this.batch(
      pairs.map((p, i) => {
        for (const [key, value] of [['text', p.text], ['text_pair', p.text_pair]] as const) if (typeof value !== 'string' || value.trim() === '') throw badRequest(`pair ${i} "${key}" is empty; send some text in both "text" and "text_pair"`, 'invalid_text');
        const one = this.encodePair(p.text, p.text_pair, strategy, truncate);
        if (one.truncated && !truncate) throw badRequest(`pair ${i} is ${one.count} tokens, over the model's maximum of ${this.maxLength} (config.json "truncation": "reject"); shorten it`, 'text_too_long');
        return one;
      }),
    );
  }

  /** A batch of texts as [texts, longest] tensors, padded with the tokenizer's pad token; 400 for an empty text, or one too long when `truncate` is false. */
  encode(texts: readonly string[], truncate: boolean): TextBatch {
    const encoded = texts.map((text, i) => {
      if (typeof text !== 'string' || text.trim() === '') throw badRequest(`text ${i} is empty; send some text to ${texts.length === 1 ? 'classify or embed' : 'each input'}`, 'invalid_text');
      const one = this.encodeOne(text, truncate);
      if (one.truncated && !truncate) throw badRequest(`text ${i} is ${one.count} tokens, over the model's maximum of ${this.maxLength} (config.json "truncation": "reject"); shorten it`, 'text_too_long');
      return one;
    });
    return this.batch(encoded);
  }

  /** Encoded texts or pairs padded into [rows, longest] tensors with the tokenizer's pad token. */
  private batch(encoded: readonly { ids: number[]; typeIds: number[]; count: number; truncated: boolean }[]): TextBatch {
    const length = Math.max(1, ...encoded.map((e) => e.ids.length));
    const size = encoded.length * length;
    const inputIds = new BigInt64Array(size).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(size);
    const tokenTypeIds = new BigInt64Array(size);
    encoded.forEach((e, row) => {
      for (let j = 0; j < e.ids.length; j++) {
        inputIds[row * length + j] = BigInt(e.ids[j]);
        attentionMask[row * length + j] = 1n;
        tokenTypeIds[row * length + j] = BigInt(e.typeIds[j] ?? 0);
      }
    });
    return { inputIds, attentionMask, tokenTypeIds, length, tokenCounts: encoded.map((e) => e.count), truncated: encoded.flatMap((e, i) => (e.truncated ? [i] : [])) };
  }
}

/** Token embeddings [texts, length, dims] into one per text, over the tokens the mask keeps. */
export function pool(hidden: Float32Array, mask: BigInt64Array, texts: number, length: number, mode: 'mean' | 'cls' | 'max', normalize: boolean): number[][] {
  const dims = hidden.length / (texts * length);
  const out: number[][] = [];
  for (let t = 0; t < texts; t++) {
    const vector = new Array<number>(dims).fill(mode === 'max' ? Number.NEGATIVE_INFINITY : 0);
    let kept = 0;
    for (let j = 0; j < length; j++) {
      if (mask[t * length + j] === 0n) continue;
      if (mode === 'cls' && kept > 0) break;
      kept++;
      const base = (t * length + j) * dims;
      for (let d = 0; d < dims; d++) vector[d] = mode === 'max' ? Math.max(vector[d], hidden[base + d]) : vector[d] + hidden[base + d];
    }
    if (mode === 'mean' && kept > 0) for (let d = 0; d < dims; d++) vector[d] /= kept;
    if (normalize) {
      const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
      if (norm > 1e-12) for (let d = 0; d < dims; d++) vector[d] /= norm;
    }
    out.push(vector.map((v) => Math.fround(v)));
  }
  return out;
}

/** A text model's tokenizer and the inputs its tensors go to, read from the folder when it loads. */
export interface TextInputs {
  readonly encoder: TextEncoder;
  readonly inputIds: string;
  readonly attentionMask?: string;
  readonly tokenTypeIds?: string;
  /** config.json "truncation": cut texts over maxLength (and say so), or refuse them. */
  readonly truncate: boolean;
}

/** Tokens a text model takes: config.json "maxLength", else the export's max_position_embeddings or the tokenizer's model_max_length, at most 512. */
export function textMaxLength(folder: TaskFolder, tokenizerConfig: Readonly<Record<string, unknown>>): number {
  const { config, hf } = folder;
  const limits = [typeof hf?.max_position_embeddings === 'number' ? hf.max_position_embeddings : undefined, typeof tokenizerConfig.model_max_length === 'number' && tokenizerConfig.model_max_length < 1e6 ? tokenizerConfig.model_max_length : undefined];
  return config.maxLength ?? Math.min(512, ...limits.filter((l): l is number => l !== undefined));
}

/**
 * The tokenizer (tokenizer.json, which must be there, and tokenizer_config.json) and the model's
 * token inputs; maxLength from config.json, else the export's max_position_embeddings or the
 * tokenizer's model_max_length, at most 512.
 */
export function textInputs(folder: TaskFolder, task: string): TextInputs {
  const { config, where } = folder;
  const tokenizerJson = folder.json('tokenizer.json');
  if (tokenizerJson === undefined) throw new Error(`${where}: a ${task} model needs its tokenizer.json beside model.onnx`);
  const tokenizerConfig = folder.json('tokenizer_config.json') ?? {};
  const maxLength = textMaxLength(folder, tokenizerConfig);
  return {
    encoder: new TextEncoder(tokenizerJson, tokenizerConfig, maxLength),
    inputIds: inputOf(folder, config.inputNames?.inputIds, ['input_ids'], 'input_ids', true),
    attentionMask: inputOf(folder, config.inputNames?.attentionMask, ['attention_mask'], 'attention_mask', false),
    tokenTypeIds: inputOf(folder, config.inputNames?.tokenTypeIds, ['token_type_ids'], 'token_type_ids', false),
    truncate: config.truncation !== 'reject',
  };
}

/** Texts as the model's feeds, and the batch they came from; X-Truncated-Inputs names the texts cut. */
export function textFeeds(text: TextInputs, texts: readonly string[]): { feeds: Record<string, Tensor>; batch: TextBatch; headers: Record<string, string> } {
  const batch = text.encoder.encode(texts, text.truncate);
  const dims = [texts.length, batch.length];
  const feeds: Record<string, Tensor> = { [text.inputIds]: new Tensor('int64', batch.inputIds, dims) };
  if (text.attentionMask !== undefined) feeds[text.attentionMask] = new Tensor('int64', batch.attentionMask, dims);
  if (text.tokenTypeIds !== undefined) feeds[text.tokenTypeIds] = new Tensor('int64', batch.tokenTypeIds, dims);
  return { feeds, batch, headers: batch.truncated.length > 0 ? { 'X-Truncated-Inputs': batch.truncated.join(',') } : {} };
}
