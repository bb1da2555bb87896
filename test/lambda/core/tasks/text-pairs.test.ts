/**
 * zero-shot-classification and text pairs (cross-encoders) on small random-weight BERT, XLM-R and
 * DeBERTa-v2 exports with real tokenizers, and a reranker trained on Debian package descriptions
 * (training/text_tasks/text_pairs.py, debian_reranker.py). Answers through the local server (the
 * one request path every adapter shares) are compared with independent implementations run on the
 * same folders: transformers.js 4.3.1's ZeroShotClassificationPipeline, and its tokenizer and model
 * for pairs (its TextClassificationPipeline takes no pairs); where transformers.js lacks a behaviour
 * (comma-separated labels, ONLY_FIRST truncation, sigmoid for one label, a CrossEncoder's named
 * activation), the Python answers recorded in test/fixtures/text-pairs/expected.json:
 * transformers 5.23.0 pipelines/zero_shot_classification.py (`ZeroShotClassificationArgumentHandler`,
 * `ZeroShotClassificationPipeline.postprocess`), pipelines/text_classification.py
 * (`TextClassificationPipeline.preprocess`/`postprocess`), sentence-transformers 6.2.0
 * `CrossEncoder.predict`, and the Rust tokenizers' pair truncation.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TextEncoder } from '../../../../lambda/core/tasks/texts.ts';
import { fixtureTokenizer, TEXT_PAIRS_DIR, type TextPairModel } from './text-pairs-fixtures.ts';

type ZeroShotAnswer = { sequence: string; labels: string[]; scores: number[] };
type Label = { label: string; score: number };
interface Expected {
  models: Record<string, {
    zeroShot?: { request: { inputs: string | string[]; parameters: Record<string, unknown> }; answer: ZeroShotAnswer | ZeroShotAnswer[] }[];
    pairs?: { request: { inputs: unknown; parameters?: Record<string, unknown> }; answer: Label[] | Label[][]; truncated?: boolean }[];
    encodings?: { text: string; text_pair: string; truncation?: 'only_first' | 'longest_first'; max_length?: number; input_ids: number[]; token_type_ids: number[] | null }[];
    crossEncoder?: { pairs: { text: string; text_pair: string }[]; scores: number[] };
  }>;
}
const expected = JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, 'expected.json'), 'utf8')) as Expected;

const encoders = new Map<string, TextEncoder>();
function encoder(name: TextPairModel, maxLength: number): TextEncoder {
  const key = `${name} ${maxLength}`;
  if (!encoders.has(key)) encoders.set(key, new TextEncoder(JSON.parse(fixtureTokenizer(name).toString('utf8')), JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, name, 'tokenizer_config.json'), 'utf8')), maxLength));
  return encoders.get(key)!;
}

describe('text pairs: tokenization', () => {
  it('joins pairs with the tokenizer template and cuts them as the Rust tokenizers do (ONLY_FIRST, LONGEST_FIRST)', () => {
    for (const name of ['bert-nli', 'xlmr-nli'] as const) {
      const encodings = expected.models[name].encodings!;
      assert.ok(encodings.some((e) => e.truncation === 'only_first') && encodings.some((e) => e.truncation === 'longest_first'));
      for (const e of encodings) {
        const batch = encoder(name, e.max_length ?? 512).encodePairs([{ text: e.text, text_pair: e.text_pair }], e.truncation ?? 'longest_first', true);
        assert.deepEqual(Array.from(batch.inputIds, Number), e.input_ids, `${name} ${e.truncation ?? 'whole'}: ${e.text.slice(0, 30)} / ${e.text_pair.slice(0, 30)}`);
        if (e.token_type_ids !== null) assert.deepEqual(Array.from(batch.tokenTypeIds, Number), e.token_type_ids, `${name} type ids`);
        assert.deepEqual(batch.truncated, e.truncation === undefined ? [] : [0]);
      }
    }
  });

  it('refuses a pair ONLY_FIRST cannot fit (the second text alone is over the length), and empty texts', () => {
    const bert = encoder('bert-nli', 16);
    assert.throws(() => bert.encodePairs([{ text: 'a text', text_pair: 'a hypothesis that is far too long to leave room for the first text at all' }], 'only_first', true), /second text is \d+ tokens/);
    assert.throws(() => bert.encodePairs([{ text: ' ', text_pair: 'x' }], 'longest_first', true), /pair 0 "text" is empty/);
    assert.throws(() => bert.encodePairs([{ text: 'x', text_pair: 'a much longer second text than the sixteen tokens this encoder allows for the two texts and its three special tokens' }], 'longest_first', false), /over the model's maximum of 16/);
  });
});
