/**
 * token-classification against two implementations nobody here wrote, on three small random-weight
 * models of real architectures (BERT with WordPiece, RoBERTa with byte-level BPE, DeBERTa-v2 with
 * SentencePiece BPE; training/text_tasks/token_classification.py builds them):
 * - Python transformers 5.23.0's TokenClassificationPipeline
 *   (src/transformers/pipelines/token_classification.py: `preprocess` with return_overflowing_tokens
 *   and `stride`, `gather_pre_entities`, `aggregate`, `aggregate_words`, `group_entities`,
 *   `group_sub_entities`, `aggregate_overlapping_entities`) and the Rust tokenizers' offset_mapping,
 *   recorded in each model's expected.json: every strategy, ignore_labels, batches, stride windows,
 *   texts with accents, emoji, CJK, tabs and unknown words;
 * - transformers.js 4.3.1's TokenClassificationPipeline, run here on the same folders (strategy
 *   "none", the one it implements, without offsets).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { withConsolePage } from '../../../console-page.ts';
import { startTestLocalServer, TempRepository } from '../../../helpers.ts';
import { InferenceError } from '../../../../lambda/core/errors.ts';
import { OffsetTokenizer } from '../../../../lambda/core/tasks/text-offsets.ts';
import type { TaskContext, TaskFolder } from '../../../../lambda/core/tasks/task.ts';
import { tokenClassification as task } from '../../../../lambda/core/tasks/token-classification.ts';
import { ARCHITECTURES, expectedAnswers, fixtureCopies, openFolder, type Architecture } from '../../../fixtures/token-classification/folders.ts';
import { FIXTURES as FIXTURES_DIR } from '../../../fixtures/token-classification/tokenizers.ts';

type Loaded = ReturnType<typeof task.load> extends infer L ? Awaited<L> : never;
type Entity = { entity?: string; entity_group?: string; score: number; index?: number; word: string; start: number; end: number };

const SCORE_TOLERANCE = 1e-4;

async function answer(loaded: Loaded, context: TaskContext, inputs: unknown, parameters?: unknown, route: 'infer' | 'predict' = 'infer') {
  const body = route === 'infer' ? { inputs, ...(parameters === undefined ? {} : { parameters }) } : { instances: inputs, ...(parameters === undefined ? {} : { parameters }) };
  const request = task.parse(loaded, { kind: 'json', route, body });
  assert.ok(request !== undefined);
  return task.run(loaded, request, context);
}

function rejects(loaded: Loaded, body: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(() => task.parse(loaded, { kind: 'json', route: 'infer', body }), (error: unknown) => error instanceof InferenceError && error.statusCode === 400 && pattern.test(error.message));
}

/** Entities equal: everything but the score identical, scores within the tolerance. */
function assertSameEntities(actual: Entity[], expected: Entity[], where: string): void {
  const strip = (list: Entity[]) => list.map(({ score: _, ...rest }) => rest);
  assert.deepEqual(strip(actual), strip(expected), where);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i].score - e.score) <= SCORE_TOLERANCE, `${where}: entity ${i} scores ${actual[i].score}, Python ${e.score}`));
}

describe('token-classification', () => {
  let copies: ReturnType<typeof fixtureCopies>;
  const models = new Map<Architecture, { folder: TaskFolder; loaded: Loaded; context: TaskContext }>();

  before(async () => {
    copies = fixtureCopies();
    for (const arch of ARCHITECTURES) {
      const { folder, context } = await openFolder(join(copies.dir, arch));
      models.set(arch, { folder, loaded: await task.load(folder), context });
    }
  });
  after(() => copies.remove());

  for (const arch of ARCHITECTURES) {
    describe(arch, () => {
      it('is detected from *ForTokenClassification and describes its labels and length', () => {
        const { folder, loaded } = models.get(arch)!;
        assert.equal(task.detect(folder), true);
        assert.equal(task.detect({ ...folder, architecture: 'BertForSequenceClassification' }), false);
        const described = task.describe(loaded);
        assert.deepEqual(described.labels, Object.values((folder.hf as { id2label: Record<string, string> }).id2label));
        assert.equal(described.max_length, 48);
        assert.equal(described.window_tokens, 46);
      });

      it("gives each token the offsets the Rust tokenizer gives (offset_mapping), in code points", () => {
        const { loaded } = models.get(arch)!;
        const { tokenizer } = loaded;
        for (const expected of expectedAnswers(arch).tokenizer) {
          const spans = tokenizer.encode(expected.text);
          assert.deepEqual([...tokenizer.prefixIds, ...spans.ids, ...tokenizer.suffixIds], expected.ids, expected.text);
          const codePoint = (unit: number) => [...expected.text.slice(0, unit)].length;
          const content = expected.offsets.filter((_, i) => expected.special[i] === 0);
          assert.deepEqual(spans.starts.map((s, i) => [codePoint(s), codePoint(spans.ends[i])]), content, expected.text);
        }
      });

      it("answers as transformers' pipeline: every strategy, ignore_labels, batches and stride windows", async () => {
        const { loaded, context } = models.get(arch)!;
        const { cases } = expectedAnswers(arch);
        assert.ok(cases.length >= 20);
        for (const c of cases) {
          const result = await answer(loaded, context, c.inputs, c.parameters);
          const where = `${arch} ${JSON.stringify(c.parameters)}`;
          if (Array.isArray(c.inputs)) {
            const expected = c.expected as Entity[][];
            const actual = result.answer as Entity[][];
            assert.equal(actual.length, expected.length, where);
            expected.forEach((e, t) => assertSameEntities(actual[t], e, `${where} text ${t}`));
          } else assertSameEntities(result.answer as Entity[], c.expected as Entity[], where);
        }
      });
    });
  }

  it("follows a SentencePiece Unigram tokenizer's offsets as Rust does (Metaspace, NFKC, a Replace by regex)", () => {
    // training/text_tasks/token_classification.py `unigram`: trained by the tokenizers library, its offsets recorded.
    const dir = join(FIXTURES_DIR, 'unigram');
    const tokenizer = new OffsetTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), {});
    const rows = JSON.parse(readFileSync(join(dir, 'offsets.json'), 'utf8')) as { text: string; ids: number[]; offsets: [number, number][] }[];
    assert.ok(rows.length >= 10);
    for (const row of rows) {
      const spans = tokenizer.encode(row.text);
      assert.deepEqual(spans.ids, row.ids, row.text);
      const codePoint = (unit: number) => [...row.text.slice(0, unit)].length;
      assert.deepEqual(spans.starts.map((s, i) => [codePoint(s), codePoint(spans.ends[i])]), row.offsets, row.text);
    }
  });

  it('groups BIOES tags as the pipeline does: E- and S- are labels of their own, only B-/I- open and continue', async () => {
    // The roberta model's labels are BIOES; its fixture (checked above) holds groups the pipeline made of them.
    const grouped = expectedAnswers('roberta').cases.filter((c) => c.parameters.aggregation_strategy === 'simple').flatMap((c) => (Array.isArray(c.inputs) ? (c.expected as Entity[][]).flat() : (c.expected as Entity[])));
    assert.ok(grouped.some((e) => e.entity_group === 'PKG') && grouped.some((e) => e.entity_group === 'VER'));
    const tokens = expectedAnswers('roberta').cases.find((c) => c.parameters.aggregation_strategy === 'none')!.expected as Entity[][];
    assert.ok(tokens.flat().some((e) => e.entity?.startsWith('E-')) && tokens.flat().some((e) => e.entity?.startsWith('S-')), 'the fixture has E- and S- tokens');
  });

  it('tags a text longer than the model in overlapping windows, to its end, not cut off', async () => {
    const { loaded, context } = models.get('bert')!;
    const text = Array.from({ length: 20 }, (_, i) => `Sentence ${i} names Wolfgang, who lives in Berlin.`).join(' ');
    const tokens = loaded.tokenizer.encode(text).ids.length;
    assert.ok(tokens > 3 * loaded.window, `${tokens} tokens`);
    const plain = (await answer(loaded, context, text, { ignore_labels: [] })).answer as Entity[];
    assert.equal(plain.at(-1)!.end, [...text].length, 'the last entity ends where the text ends');
    // The default stride is an eighth of a window.
    const strided = (await answer(loaded, context, text, { ignore_labels: [], stride: Math.floor(loaded.window / 8) })).answer as Entity[];
    assert.deepEqual(plain, strided);
    const tokensAnswer = (await answer(loaded, context, text, { aggregation_strategy: 'none', ignore_labels: [] })).answer as Entity[];
    assert.equal(tokensAnswer.length, tokens, 'with "none" every token is answered once');
    assert.deepEqual(tokensAnswer.map((t) => t.index), Array.from({ length: tokens }, (_, i) => i + 1));
  });

  it('takes a raw text/plain body and :predict instances; counts entities for metrics and drift', async () => {
    const { loaded, context } = models.get('bert')!;
    const text = 'Zoë visited Café Müller in Zürich 😀.';
    const raw = task.parse(loaded, { kind: 'raw', contentType: 'text/plain', body: new TextEncoder().encode(text) })!;
    const result = await task.run(loaded, raw, context);
    const json = (await answer(loaded, context, text)).answer as Entity[];
    assert.deepEqual(result.answer, json);
    assert.equal(result.items, 1);
    assert.deepEqual(result.signals, [[[...text].length, json.length]]);
    const counts: Record<string, number> = {};
    for (const e of json) counts[e.entity_group!] = (counts[e.entity_group!] ?? 0) + 1;
    assert.deepEqual(result.classCounts, counts);
    assert.deepEqual(result.captured, { texts: [text] });
    const predict = await answer(loaded, context, [text, text], undefined, 'predict');
    assert.deepEqual(predict.answer, { predictions: [json, json] });
    // The Open Inference Protocol: texts as one BYTES input, each text's entities as JSON in one BYTES output.
    const v2 = task.parse(loaded, { kind: 'json', route: 'infer', body: { id: 'r1', inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [text] }] } })!;
    assert.deepEqual((await task.run(loaded, v2, context)).answer, { model_name: 'fixture', model_version: '1', id: 'r1', outputs: [{ name: 'entities', datatype: 'BYTES', shape: [1], data: [JSON.stringify(json)] }] });
    // Offsets count code points: each entity's span, read from the text, is its word (uncased, unaccented).
    const plain = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    for (const e of json) assert.equal(plain(e.word), plain([...text].slice(e.start, e.end).join('')));
  });

  it('warns, as the pipeline does, when first/average/max meet a tokenizer without word boundaries', async () => {
    const { loaded, context } = models.get('roberta')!;
    assert.equal(loaded.tokenizer.wordAware, false);
    assert.match((await answer(loaded, context, 'some text', { aggregation_strategy: 'first' })).headers?.Warning ?? '', /fallback heuristic/);
    assert.equal((await answer(loaded, context, 'some text', { aggregation_strategy: 'simple' })).headers, undefined);
    const bert = models.get('bert')!;
    assert.equal((await answer(bert.loaded, bert.context, 'some text', { aggregation_strategy: 'first' })).headers, undefined);
  });

  it('refuses bad requests with 400s that name the problem', () => {
    const { loaded } = models.get('bert')!;
    rejects(loaded, { inputs: '' }, /empty/);
    rejects(loaded, { inputs: ['fine', '  '] }, /text 1 is empty/);
    rejects(loaded, { inputs: 'x', parameters: { aggregation_strategy: 'longest' } }, /"none", "simple", "first", "average", "max", got "longest"/);
    rejects(loaded, { inputs: 'x', parameters: { stride: -1 } }, /stride.*0 or more/);
    rejects(loaded, { inputs: 'x', parameters: { stride: 2.5 } }, /stride.*whole number/);
    rejects(loaded, { inputs: 'x', parameters: { stride: 46 } }, /windows hold 46 tokens.*below 46/);
    rejects(loaded, { inputs: 'x', parameters: { stride: 4, aggregation_strategy: 'none' } }, /"none"/);
    rejects(loaded, { inputs: 'x', parameters: { ignore_labels: 'O' } }, /ignore_labels.*list/);
    rejects(loaded, { inputs: 'x', parameters: { top_k: 3 } }, /"top_k".*aggregation_strategy, ignore_labels, stride/);
    rejects(loaded, { inputs: [1, 2] }, /text or a non-empty list of texts/);
    rejects(loaded, { inputs: [] }, /text or a non-empty list of texts/);
    const limited = { ...loaded, config: { ...loaded.config, maxBatchSize: 1 } };
    rejects(limited, { inputs: ['a', 'b'] }, /maxBatchSize of 1/);
    assert.equal(task.parse(loaded, { kind: 'json', route: 'infer', body: { inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [1, 1], data: [1] }] } }), undefined, 'a v2 tensor request is left to the tensor path');
  });

  it("compares golden answers by span and label, scores within the tolerance", () => {
    const e = [{ entity_group: 'PER', score: 0.9, word: 'clara', start: 11, end: 16 }];
    assert.equal(task.compare(e, [{ ...e[0], score: 0.90005 }], 1e-4), undefined);
    assert.match(task.compare(e, [{ ...e[0], score: 0.8 }], 1e-4) ?? '', /scores 0.8, expected 0.9/);
    assert.match(task.compare(e, [{ ...e[0], end: 15 }], 1e-4) ?? '', /PER \[11, 15\), expected PER \[11, 16\)/);
    assert.match(task.compare(e, [{ ...e[0], entity_group: 'LOC' }], 1e-4) ?? '', /LOC/);
    assert.match(task.compare(e, [], 1e-4) ?? '', /missing/);
    assert.match(task.compare([], e, 1e-4) ?? '', /not expected/);
  });

  describe('against transformers.js 4.3.1 (aggregation_strategy "none")', () => {
    for (const arch of ARCHITECTURES) {
      it(`${arch}: the same labels, token indices and scores`, async () => {
        const { env, pipeline } = await import('@huggingface/transformers');
        env.allowRemoteModels = false;
        env.localModelPath = copies.dir;
        // transformers.js looks for onnx/model.onnx; Optimum writes model.onnx at the root.
        mkdirSync(join(copies.dir, arch, 'onnx'), { recursive: true });
        symlinkSync(join(copies.dir, arch, 'model.onnx'), join(copies.dir, arch, 'onnx', 'model.onnx'));
        const reference = await pipeline('token-classification', arch, { dtype: 'fp32' });
        const { loaded, context } = models.get(arch)!;
        const texts = expectedAnswers(arch).tokenizer.map((t) => t.text).filter((t) => loaded.tokenizer.encode(t).ids.length <= loaded.window);
        assert.ok(texts.length >= 6);
        for (const text of texts) {
          const theirs = (await reference(text, { ignore_labels: [] })) as { entity: string; score: number; index: number; word: string }[];
          const ours = (await answer(loaded, context, text, { aggregation_strategy: 'none', ignore_labels: [] })).answer as Entity[];
          const byIndex = new Map(ours.map((e) => [e.index, e]));
          // transformers.js leaves out tokens that decode to nothing (special and unknown tokens, lone bytes).
          const ids = loaded.tokenizer.encode(text).ids;
          for (const e of ours) if (!theirs.some((t) => t.index === e.index)) assert.equal(loaded.tokenizer.tokenizer.decode([ids[e.index! - 1]], { skip_special_tokens: true }), '', `${arch} ${text}: token ${e.index}`);
          assert.ok(theirs.length >= ours.length / 2, `${arch} ${text}`);
          for (const t of theirs) {
            const e = byIndex.get(t.index);
            assert.ok(e !== undefined, `${arch} ${text}: token ${t.index}`);
            assert.equal(e.entity, t.entity, `${arch} ${text}: token ${t.index}`);
            assert.ok(Math.abs(e.score - t.score) <= SCORE_TOLERANCE, `${arch} ${text}: token ${t.index} scores ${e.score}, transformers.js ${t.score}`);
          }
        }
      });
    }
  });
});

describe('token-classification through the local server (registry, HTTP, every route, the console)', () => {
  let copies: ReturnType<typeof fixtureCopies>;
  let server: LocalStack;
  const repo = new TempRepository('token-classification-');
  before(async () => {
    copies = fixtureCopies();
    for (const arch of ['bert', 'roberta']) cpSync(join(copies.dir, arch), join(repo.dir, `ner_${arch}`, '1'), { recursive: true });
    server = await startTestLocalServer(repo.dir);
  });
  after(async () => {
    await server.close();
    copies.remove();
    rmSync(repo.dir, { recursive: true, force: true });
  });
  const post = async (path: string, body: string, type = 'application/json') => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type } });
    return { status: response.status, headers: response.headers, json: (await response.json()) as any };
  };

  it("answers /infer (JSON and text/plain) and :predict as the pipeline does, detected from the export alone", async () => {
    for (const arch of ['bert', 'roberta'] as const) {
      for (const c of expectedAnswers(arch).cases.filter((x) => x.parameters.stride !== undefined || x.parameters.aggregation_strategy === 'average').slice(0, 4)) {
        const { status, json } = await post(`/v2/models/ner_${arch}/infer`, JSON.stringify({ inputs: c.inputs, parameters: c.parameters }));
        assert.equal(status, 200, JSON.stringify(json));
        (c.expected as Entity[][]).forEach((e, t) => assert.equal(task.compare(e, json[t], SCORE_TOLERANCE), undefined, `${arch} ${JSON.stringify(c.parameters)} text ${t}`));
      }
    }
    const simple = expectedAnswers('bert').cases.find((c) => c.parameters.aggregation_strategy === 'simple' && c.parameters.ignore_labels === undefined && Array.isArray(c.inputs))!;
    const text = (simple.inputs as string[])[3];
    const raw = await post('/v2/models/ner_bert/infer', text, 'text/plain; charset=utf-8');
    assert.equal(raw.status, 200);
    assert.equal(task.compare((simple.expected as Entity[][])[3], raw.json, SCORE_TOLERANCE), undefined);
    const predict = await post('/v1/models/ner_bert:predict', JSON.stringify({ instances: [text] }));
    assert.equal(task.compare((simple.expected as Entity[][])[3], predict.json.predictions[0], SCORE_TOLERANCE), undefined);
    const heuristic = await post('/v2/models/ner_roberta/infer', JSON.stringify({ inputs: text, parameters: { aggregation_strategy: 'max' } }));
    assert.match(heuristic.headers.get('warning') ?? '', /fallback heuristic/);
  });

  it('answers 400 naming the problem, and describes labels and length in its metadata', async () => {
    const bad = await post('/v2/models/ner_bert/infer', JSON.stringify({ inputs: 'x', parameters: { aggregation_strategy: 'longest' } }));
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /must be one of "none", "simple", "first", "average", "max"/);
    const empty = await post('/v2/models/ner_bert/infer', '', 'text/plain');
    assert.equal(empty.status, 400);
    const metadata = (await (await fetch(`${server.url}/v2/models/ner_bert`)).json()) as { parameters: Record<string, unknown> };
    assert.equal(metadata.parameters.task, 'token-classification');
    assert.equal(JSON.stringify(metadata).includes('B-PER'), true);
  });

  it('the console highlights each entity in the text (headless Chromium)', { timeout: 60_000 }, async () => {
    await withConsolePage(server.url, async (page, errors) => {
      await page.waitForSelector('[data-model="ner_bert"]');
      await page.selectOption('#model', 'ner_bert');
      const text = 'Zoë Saldaña visited Café Müller in Zürich 😀 with Wolfgang.';
      await page.fill('#body', text);
      await page.click('#send');
      await page.locator('#answer .entities').waitFor();
      const { json } = await post('/v2/models/ner_bert/infer', text, 'text/plain');
      const marks = await page.locator('#answer mark').evaluateAll((els) => els.map((e) => ({ label: e.getAttribute('data-label'), text: e.firstChild?.textContent })));
      assert.deepEqual(marks, (json as Entity[]).map((e) => ({ label: e.entity_group, text: [...text].slice(e.start, e.end).join('') })));
      assert.ok(marks.length > 0);
      assert.equal((await page.textContent('#answer .entities'))?.replace(/ (PER|ORG|LOC|MISC)/g, ''), text);
      assert.deepEqual(errors, []);
    });
  });
});
