/**
 * Question answering on small random-weight models of real architectures (BERT with bert-base-uncased's
 * WordPiece, RoBERTa and DeBERTa with GPT-2's byte-level BPE), built and exported by
 * training/text_tasks/question_answering.py into test/fixtures/question-answering/. Random weights give
 * arbitrary but deterministic answers, which is all equality needs. Checked against:
 * - the Python transformers pipeline (4.57.6, QuestionAnsweringPipeline in
 *   src/transformers/pipelines/question_answering.py: `preprocess` windows with doc_stride,
 *   `postprocess` / `select_starts_ends` / `decode_spans`, handle_impossible_answer's min_null_score,
 *   answers merged across windows), recorded by that script's `main` in expected.json;
 * - the fast tokenizer's offsets and word ids (the same script, offsets.json);
 * - transformers.js 4.3.1's QuestionAnsweringPipeline, run here on the same folders.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { withConsolePage } from '../../../console-page.ts';
import { parseModelConfig } from '../../../../lambda/core/config.ts';
import { InferenceError } from '../../../../lambda/core/errors.ts';
import { readSignature } from '../../../../lambda/core/signature.ts';
import { questionAnswering, type QaLoaded } from '../../../../lambda/core/tasks/question-answering.ts';
import type { TaskFolder, TaskInput } from '../../../../lambda/core/tasks/task.ts';
import { codePointIndex } from '../../../../lambda/core/tasks/text-offsets.ts';
import { evaluateTaskAnswers, type TaskGoldenFile } from '../../../../lambda/jobs/golden-gate.ts';
import { driftReport, rowsFromCaptures, taskBaseline } from '../../../../lambda/jobs/drift.ts';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import { runTaskGolden } from '../../../../lambda/jobs/task-golden.ts';
import { tokenWindows } from '../../../../lambda/core/tasks/text-windows.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { scoreLines } from '../../../../lambda/jobs/batch-job.ts';
import { createTestService, ROOT, spawnServer, startTestLocalServer, TempRepository } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'question-answering');
const TOLERANCE = 1e-4;

interface Case {
  readonly name: string;
  readonly model: 'bert' | 'roberta' | 'deberta';
  readonly question: string;
  readonly context: string;
  readonly parameters: Record<string, unknown>;
  readonly windows: number;
  readonly expected: unknown;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { cases: Case[] };
const OFFSETS = JSON.parse(readFileSync(join(FIXTURES, 'offsets.json'), 'utf8')) as Record<string, { text: string; ids: number[]; offsets: [number, number][]; words: (number | null)[] }[]>;

/** A version folder as the loader hands it to a module: side files read, the session's signature. */
async function readFolder(dir: string, files = questionAnswering.sideFiles): Promise<{ folder: TaskFolder; session: InferenceSession }> {
  const session = await InferenceSession.create(join(dir, 'model.onnx'));
  const present = new Map<string, Uint8Array>();
  for (const file of files) {
    try {
      present.set(file, readFileSync(join(dir, file)));
    } catch {
      // absent side file
    }
  }
  const json = (path: string) => (present.has(path) ? (JSON.parse(Buffer.from(present.get(path)!).toString('utf8')) as Record<string, unknown>) : undefined);
  const hf = json('config.json');
  const folder: TaskFolder = {
    where: dir,
    config: parseModelConfig(undefined, dir),
    hf,
    architecture: Array.isArray(hf?.architectures) ? String(hf.architectures[0]) : '',
    files: present,
    json,
    signature: readSignature(session),
    metadata: () => ({}),
    openSession: (path) => InferenceSession.create(join(dir, path)),
  };
  return { folder, session };
}

const models = new Map<string, { loaded: QaLoaded; session: InferenceSession; batches: number[] }>();
async function model(name: string) {
  if (!models.has(name)) {
    const { folder, session } = await readFolder(join(FIXTURES, name));
    assert.equal(questionAnswering.detect(folder), true);
    models.set(name, { loaded: await questionAnswering.load(folder), session, batches: [] });
  }
  return models.get(name)!;
}

/** Parses and runs a request body as the core does, counting the windows each session run got. */
async function ask(name: string, body: Record<string, unknown>): Promise<{ answer: unknown; windows: number; signals: readonly (readonly number[])[] }> {
  const m = await model(name);
  const request = questionAnswering.parse(m.loaded, { kind: 'json', route: 'infer', body });
  assert.ok(request !== undefined);
  let windows = 0;
  const result = await questionAnswering.run(m.loaded, request, {
    model: { name, version: 1 },
    run: async (feeds: Record<string, Tensor>, outputs?: readonly string[]) => {
      windows += feeds.input_ids.dims[0];
      return m.session.run(feeds, outputs as string[]) as Promise<Record<string, Tensor>>;
    },
    mark: () => undefined,
  });
  return { answer: result.answer, windows, signals: result.signals };
}

async function rejects(name: string, input: TaskInput | Record<string, unknown>, pattern: RegExp): Promise<void> {
  const m = await model(name);
  const taskInput = 'kind' in input ? (input as TaskInput) : ({ kind: 'json', route: 'infer', body: input } as TaskInput);
  await assert.rejects(
    async () => {
      const request = questionAnswering.parse(m.loaded, taskInput);
      await questionAnswering.run(m.loaded, request!, { model: { name, version: 1 }, run: async (feeds, outputs) => m.session.run(feeds, outputs as string[]) as Promise<Record<string, Tensor>>, mark: () => undefined });
    },
    (error: unknown) => {
      assert.ok(error instanceof InferenceError, String(error));
      assert.equal(error.statusCode, 400);
      assert.match(error.message, pattern, error.message);
      return true;
    },
  );
}

describe('question answering: character offsets of tokens', () => {
  for (const name of ['bert', 'roberta']) {
    it(`${name}: ids, offsets (code points) and word ids equal the Rust fast tokenizer's, non-ASCII texts included`, async () => {
      const { loaded } = await model(name);
      for (const row of OFFSETS[name]) {
        const encoding = loaded.tokenizer.encodeWords(row.text);
        const points = codePointIndex(row.text);
        assert.deepEqual(encoding.ids, row.ids, row.text);
        assert.deepEqual(encoding.starts.map((a, i) => [points(a), points(encoding.ends[i])]), row.offsets, row.text);
        assert.deepEqual(encoding.words, row.words, row.text);
      }
    });
  }

  it('cuts windows as the Rust tokenizers do (Encoding::truncate with a stride)', () => {
    assert.deepEqual(tokenWindows(5, 8, 2), [[0, 5]]);
    assert.deepEqual(tokenWindows(10, 4, 1), [[0, 4], [3, 7], [6, 10]]);
    assert.deepEqual(tokenWindows(10, 4, 0), [[0, 4], [4, 8], [8, 10]]);
    assert.deepEqual(tokenWindows(9, 4, 3), [[0, 4], [1, 5], [2, 6], [3, 7], [4, 8], [5, 9]]);
    assert.throws(() => tokenWindows(9, 4, 4), /stride of 4/);
  });
});

describe('question answering: answers equal the Python transformers pipeline', () => {
  for (const c of EXPECTED.cases) {
    it(`${c.model}: ${c.name}`, async () => {
      const { answer, windows } = await ask(c.model, { inputs: { question: c.question, context: c.context }, parameters: c.parameters });
      assert.equal(windows, c.windows, 'windows over the context');
      const expected = (c.parameters.top_k as number | undefined) ?? 1;
      // The pipeline unwraps a one-answer list even when top_k > 1; ModelShip answers a list whenever top_k > 1.
      const wanted = expected > 1 && !Array.isArray(c.expected) ? [c.expected] : c.expected;
      const difference = questionAnswering.compare(wanted, answer, TOLERANCE);
      assert.equal(difference, undefined, `${difference}\n got ${JSON.stringify(answer)}\n expected ${JSON.stringify(wanted)}`);
    });
  }

  it('answers a list of questions with one answer each, as the pipeline does for each alone', async () => {
    const [a, b] = ['short top_k 3', 'long default stride'].map((name) => EXPECTED.cases.find((c) => c.name === name)!);
    const { answer, windows } = await ask('bert', { inputs: [{ question: a.question, context: a.context }, { question: b.question, context: b.context }], parameters: { top_k: 3 } });
    assert.equal(windows, a.windows + b.windows);
    const answers = answer as unknown[];
    assert.equal(answers.length, 2);
    assert.equal(questionAnswering.compare(a.expected, answers[0], TOLERANCE), undefined);
    assert.equal(questionAnswering.compare(b.expected, answers[1], TOLERANCE), undefined);
  });

  it('gives drift signals per question: context length, answer length (code points) and score', async () => {
    const c = EXPECTED.cases.find((x) => x.name === 'non-ascii')!;
    const { answer, signals } = await ask('bert', { inputs: { question: c.question, context: c.context } });
    const top = answer as { score: number; start: number; end: number };
    assert.deepEqual(signals, [[[...c.context].length, top.end - top.start, top.score]]);
  });
});

describe('question answering: bad requests are 400s naming the fix', () => {
  const context = 'Debian was founded by Ian Murdock in 1993.';
  it('refuses a question without a context, empty texts and unknown shapes', async () => {
    await rejects('bert', { inputs: { question: 'Who?' } }, /has a question but no "context"/);
    await rejects('bert', { inputs: { question: '', context } }, /"question" is empty/);
    await rejects('bert', { inputs: { question: 'Who?', context: '   ' } }, /"context" is empty/);
    await rejects('bert', { inputs: [{ question: 'Who?', context }, { context }] }, /input 1 has no "question"/);
    await rejects('bert', { inputs: 'Who founded Debian?' }, /must be an object \{"question"/);
    await rejects('bert', { inputs: [] }, /empty list/);
    await rejects('bert', { question: 'Who?', context }, /send \{"inputs": \{"question"/);
    await rejects('bert', { kind: 'raw', contentType: 'text/plain', body: Buffer.from('Who?') }, /takes JSON/);
  });

  it('refuses bad parameters, naming each', async () => {
    const inputs = { question: 'Who founded Debian?', context };
    await rejects('bert', { inputs, parameters: { top_k: 0 } }, /"parameters.top_k" must be an integer of at least 1, got 0; it is how many answers/);
    await rejects('bert', { inputs, parameters: { top_k: 1.5 } }, /top_k/);
    await rejects('bert', { inputs, parameters: { doc_stride: -1 } }, /"parameters.doc_stride" must be an integer of at least 0/);
    await rejects('bert', { inputs, parameters: { max_answer_len: 0 } }, /"parameters.max_answer_len" must be an integer of at least 1, got 0; it is the longest answer in tokens/);
    await rejects('bert', { inputs, parameters: { handle_impossible_answer: 'yes' } }, /must be true or false/);
    await rejects('bert', { inputs, parameters: { max_seq_len: 1000 } }, /over the model's 128 tokens; send at most 128/);
    await rejects('bert', { inputs, parameters: { doc_stride: 100, max_seq_len: 64 } }, /doc_stride" \(100\) is larger than max_seq_len \(64\)/);
    await rejects('bert', { inputs, parameters: { aggregation_strategy: 'simple' } }, /"aggregation_strategy", which question answering does not take \(top_k, doc_stride/);
  });

  it('refuses a doc_stride that leaves windows no new tokens, and a question too long for its windows', async () => {
    const long = EXPECTED.cases.find((c) => c.name === 'long default stride')!.context;
    // 24 tokens a window: 3 special tokens and the question's 7, 14 for the context.
    await rejects('bert', { inputs: { question: 'Who founded the Debian project?', context: long }, parameters: { max_seq_len: 24, doc_stride: 14 } }, /"doc_stride" 14 must be below the 14 context tokens each window holds \(max_seq_len 24 − 7 question tokens − 3 special tokens\); send a smaller "doc_stride" or a larger "max_seq_len"/);
    const { windows } = await ask('bert', { inputs: { question: 'Who founded the Debian project?', context: long }, parameters: { max_seq_len: 24, doc_stride: 13 } });
    assert.ok(windows > 200, `${windows} windows of one new token each`);
    await rejects('bert', { inputs: { question: 'Who founded the Debian project, and who named it after whom, and when?', context: long }, parameters: { max_seq_len: 16, doc_stride: 2 } }, /the question is \d+ tokens, which leaves no room for the context in windows of max_seq_len 16 .*"max_question_len"/);
    // A context that fits takes any stride, as the tokenizer only cuts what does not fit.
    const { answer } = await ask('bert', { inputs: { question: 'Who?', context }, parameters: { max_seq_len: 40, doc_stride: 39 } });
    assert.equal(typeof (answer as { answer: string }).answer, 'string');
  });

  it('refuses a request that would run more windows than a request may', async () => {
    const long = EXPECTED.cases.find((c) => c.name === 'long default stride')!.context;
    await rejects('bert', { inputs: Array.from({ length: 3 }, () => ({ question: 'Who?', context: long })), parameters: { max_seq_len: 24, doc_stride: 18 } }, /make \d+ windows of 24 tokens, over the 512 a request may run; send a shorter context, fewer questions, or a smaller "doc_stride"/);
  });

  it('leaves v2 tensor requests to the tensor path', async () => {
    const { loaded } = await model('bert');
    assert.equal(questionAnswering.parse(loaded, { kind: 'json', route: 'infer', body: { inputs: [{ name: 'input_ids', datatype: 'INT64', shape: [1, 2], data: [101, 102] }] } }), undefined);
  });
});

describe('question answering: load', () => {
  it('refuses a model without start_logits and end_logits, naming its outputs', async () => {
    const { folder } = await readFolder(join(ROOT, 'models', 'debian_sections', '1'));
    assert.equal(questionAnswering.detect(folder), false);
    assert.throws(() => questionAnswering.load(folder), /answers from outputs start_logits and end_logits; this one has logits/);
  });

  it('describes its defaults: max length and the pipeline parameters', async () => {
    const { loaded } = await model('roberta');
    assert.deepEqual(questionAnswering.describe(loaded), {
      task: 'question-answering',
      maxLength: 128,
      parameters: { top_k: 1, max_seq_len: 128, doc_stride: 64, max_answer_len: 15, handle_impossible_answer: false, align_to_words: true },
    });
  });

  it('the golden comparison names what differs', () => {
    const answer = { score: 0.5, start: 3, end: 9, answer: 'Murdoc' };
    assert.equal(questionAnswering.compare(answer, { ...answer, score: 0.50005 }, 1e-4), undefined);
    assert.match(questionAnswering.compare(answer, { ...answer, score: 0.6 }, 1e-4)!, /scores 0.6, expected 0.5/);
    assert.match(questionAnswering.compare(answer, { ...answer, end: 10 }, 1e-4)!, /at 3–10, expected "Murdoc" at 3–9/);
    assert.match(questionAnswering.compare([answer], [answer, answer], 1e-4)!, /2 answer\(s\), expected 1/);
  });
});

describe('question answering: equal to transformers.js on the same folders', () => {
  const temp = mkdtempSync(join(tmpdir(), 'qa-transformersjs-'));
  after(() => rmSync(temp, { recursive: true, force: true }));

  // transformers.js has top_k only: no windows, no max_answer_len (every span), no word alignment (it
  // decodes the span's tokens), no merging of equal answers, no start or end. So the requests here fit
  // one window, ask for spans of any length unaligned, in contexts with no repeated words; the span
  // ModelShip answers is decoded to tokens and compared with transformers.js's decoded answer. And it
  // masks every special token of the context, [UNK] included, where the pipeline masks only the question
  // and the tokens the tokenizer adds: the BERT contexts here have no unknown token (an emoji would be).
  const questions = (name: string) => [
    { question: 'Who founded Debian?', context: 'Ian Murdock founded Debian in 1993 while studying at Purdue University.' },
    { question: 'Where did Zoë move?', context: `Zoë moved to Zürich; later São Paulo${name === 'bert' ? '' : ' 🎉'} and 東京 welcomed her café.` },
  ];
  for (const name of ['bert', 'roberta', 'deberta']) {
    it(`${name}: the same spans and scores within ${TOLERANCE}, top_k 1 and 3`, async () => {
      const { env, pipeline } = await import('@huggingface/transformers');
      env.allowRemoteModels = false;
      env.localModelPath = temp;
      const dir = join(temp, name);
      mkdirSync(join(dir, 'onnx'), { recursive: true });
      for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) symlinkSync(join(FIXTURES, name, file), join(dir, file));
      symlinkSync(join(FIXTURES, name, 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
      const answerer = await pipeline('question-answering', name, { dtype: 'fp32' });
      const { loaded } = await model(name);
      for (const { question, context } of questions(name)) {
        for (const topK of [1, 3]) {
          const theirs = (await answerer(question, context, { top_k: topK })) as { answer: string; score: number } | { answer: string; score: number }[];
          const ours = (await ask(name, { inputs: { question, context }, parameters: { top_k: topK, max_answer_len: 128, align_to_words: false } })).answer as { answer: string; score: number; start: number; end: number } | { answer: string; score: number; start: number; end: number }[];
          const theirList = Array.isArray(theirs) ? theirs : [theirs];
          const ourList = Array.isArray(ours) ? ours : [ours];
          assert.equal(ourList.length, theirList.length);
          const encoding = loaded.tokenizer.encode(context);
          const points = codePointIndex(context);
          ourList.forEach((a, i) => {
            // The token spans whose characters are ours (a character split over byte-level tokens belongs to each of them).
            const decoded: string[] = [];
            for (let first = 0; first < encoding.ids.length; first++) {
              if (points(encoding.starts[first]) !== a.start) continue;
              for (let last = first; last < encoding.ids.length; last++) {
                if (points(encoding.ends[last]) === a.end) decoded.push(answerer.tokenizer.decode(encoding.ids.slice(first, last + 1), { skip_special_tokens: true }));
              }
            }
            assert.ok(decoded.includes(theirList[i].answer), `${question} top_k ${topK} answer ${i}: transformers.js ${JSON.stringify(theirList[i])}, ours ${JSON.stringify(a)} decodes as ${JSON.stringify(decoded)}`);
            assert.ok(Math.abs(a.score - theirList[i].score) <= TOLERANCE, `${question} top_k ${topK} answer ${i}: score ${a.score} vs ${theirList[i].score}`);
          });
        }
      }
      await answerer.dispose();
    });
  }
});

describe('question answering: through the local server (registry, HTTP, every route)', () => {
  let server: LocalStack;
  const repo = new TempRepository('qa-');
  before(async () => {
    for (const name of ['bert', 'roberta']) {
      for (const file of ['model.onnx', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) repo.file(`qa_${name}/1/${file}`, readFileSync(join(FIXTURES, name, file)));
    }
    server = await startTestLocalServer(repo.dir);
  });
  after(async () => {
    await server.close();
    rmSync(repo.dir, { recursive: true, force: true });
  });
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return { status: response.status, json: (await response.json()) as any };
  };

  it('answers /infer and :predict as the pipeline does, detected from the export alone', async () => {
    for (const c of EXPECTED.cases.filter((x) => ['long stride 30 seq 64 impossible', 'roberta non-ascii'].includes(x.name))) {
      const { status, json } = await post(`/v2/models/qa_${c.model}/infer`, { inputs: { question: c.question, context: c.context }, parameters: c.parameters });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(questionAnswering.compare(c.expected, json, TOLERANCE), undefined, JSON.stringify(json));
    }
    const c = EXPECTED.cases.find((x) => x.name === 'short default')!;
    const { status, json } = await post('/v1/models/qa_bert:predict', { instances: [{ question: c.question, context: c.context }] });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(questionAnswering.compare(c.expected, json.predictions[0], TOLERANCE), undefined, JSON.stringify(json));
  });

  it('answers 400 naming the problem, and says what it takes in its metadata', async () => {
    const missing = await post('/v2/models/qa_bert/infer', { inputs: { question: 'Who?' } });
    assert.equal(missing.status, 400);
    assert.match(missing.json.error, /has a question but no "context"/);
    const stride = await post('/v2/models/qa_roberta/infer', { inputs: { question: 'Who?', context: 'Ian. '.repeat(100) }, parameters: { max_seq_len: 20, doc_stride: 16 } });
    assert.equal(stride.status, 400);
    assert.match(stride.json.error, /"doc_stride" 16 must be below the 14 context tokens each window holds \(max_seq_len 20 − 2 question tokens − 4 special tokens\)/);
    const metadata = (await (await fetch(`${server.url}/v2/models/qa_roberta`)).json()) as { parameters: Record<string, unknown> };
    assert.equal(metadata.parameters.task, 'question-answering');
    assert.equal(metadata.parameters.maxLength ?? metadata.parameters.max_length, 128);
  });

  it('scores JSON lines in batch: {"question", "context"} rows in one run, {"inputs", "parameters"} lines as requests, a bad line as its error', async () => {
    const [a, b] = ['short top_k 3', 'long default stride'].map((name) => EXPECTED.cases.find((c) => c.name === name)!);
    const d = EXPECTED.cases.find((c) => c.name === 'short default')!;
    const lines = [
      JSON.stringify({ question: d.question, context: d.context }),
      JSON.stringify({ inputs: { question: a.question, context: a.context }, parameters: a.parameters }),
      JSON.stringify({ question: 'Who?' }),
      JSON.stringify({ inputs: { question: b.question, context: b.context }, parameters: b.parameters }),
    ].join('\n');
    const { results, errors } = await scoreLines(createTestService(repo.dir), 'qa_bert', lines, 1, 'jsonl', undefined, 16);
    const byLine = new Map(results.map((r) => [JSON.parse(r.text).line as number, JSON.parse(r.text) as { prediction?: unknown; response?: unknown }]));
    assert.equal(questionAnswering.compare(d.expected, byLine.get(1)!.prediction, TOLERANCE), undefined);
    assert.equal(questionAnswering.compare(a.expected, byLine.get(2)!.response, TOLERANCE), undefined);
    assert.equal(questionAnswering.compare(b.expected, byLine.get(4)!.response, TOLERANCE), undefined);
    assert.equal(errors.length, 1);
    assert.match(errors[0].text, /"line":3.*has a question but no \\"context\\"/);
  });

  it('the console asks a question about a context and highlights the answer in it (headless Chromium)', { timeout: 60_000 }, async () => {
    await withConsolePage(server.url, async (page, errors) => {
      await page.waitForSelector('[data-model="qa_roberta"]');
      await page.selectOption('#model', 'qa_roberta');
      const example = questionAnswering.example(undefined as never) as { inputs: { question: string; context: string } };
      assert.equal(await page.inputValue('#body'), example.inputs.context, 'the context in the text box');
      assert.equal(await page.inputValue('[data-testid="qa-question"]'), example.inputs.question);
      const context = 'Zoë moved to Zürich; later São Paulo 🎉 and 東京 welcomed her café.';
      await page.fill('#body', context);
      await page.fill('[data-testid="qa-question"]', 'Where did Zoë move?');
      await page.fill('[name="top_k"]', '3');
      await page.click('#send');
      await page.locator('[data-testid="qa-answer"]').waitFor();
      const { json } = await post('/v2/models/qa_roberta/infer', { inputs: { question: 'Where did Zoë move?', context }, parameters: { top_k: 3 } });
      assert.equal(await page.textContent('[data-testid="qa-answer"]'), json[0].answer);
      assert.equal(await page.textContent('.qa-context'), context);
      assert.equal(await page.locator('#answer .bar').count(), 3);
      assert.deepEqual(errors, []);
    });
  });
});

describe('question answering: the model trained on Debian package records (test/fixtures/question-answering/repository/debian_qa)', () => {
  const REPOSITORY = join(FIXTURES, 'repository');
  const version = join(REPOSITORY, 'debian_qa', '1');

  it('passes its golden gate: every held-out request answered as the Python pipeline answered it (training/text_tasks/train_question_answering.py)', async () => {
    const { folder, session } = await readFolder(version);
    const loaded = await questionAnswering.load(folder);
    const golden = JSON.parse(readFileSync(join(version, 'golden.json'), 'utf8')) as TaskGoldenFile & { requests: Record<string, unknown>[] };
    const answers: unknown[] = [];
    for (const body of golden.requests) {
      const request = questionAnswering.parse(loaded, { kind: 'json', route: 'infer', body })!;
      answers.push((await questionAnswering.run(loaded, request, { model: { name: 'debian_qa', version: 1 }, run: (feeds, outputs) => session.run(feeds, outputs as string[]) as Promise<Record<string, Tensor>>, mark: () => undefined })).answer);
    }
    const result = evaluateTaskAnswers({ ...golden, minAgreement: 1 }, answers, questionAnswering.compare);
    assert.deepEqual(result.problems, []);
    assert.equal(result.metrics.accuracy, 1);
    // The gate the pre-traffic hook runs (task-golden.ts), on this version and on one whose weights changed.
    const repo = new TempRepository('qa-gate-').copy(join(REPOSITORY, 'debian_qa'), 'debian_qa').copy(join(REPOSITORY, 'debian_qa'), 'changed').copy(join(FIXTURES, 'bert', 'model.onnx'), 'changed/1/model.onnx');
    try {
      const service = createTestService(repo.dir);
      assert.deepEqual(await runTaskGolden(service, 'debian_qa', 1), { passed: true, problems: [], metrics: { accuracy: 1 } });
      const changed = await runTaskGolden(service, 'changed', 1);
      assert.equal(changed.passed, false);
      assert.match(changed.problems[0], /answers agree with golden on \d+\.\d% of 60 requests, below 99\.5%/);
    } finally {
      rmSync(repo.dir, { recursive: true, force: true });
    }
    const evaluation = JSON.parse(readFileSync(join(version, 'evaluation.json'), 'utf8')) as { metrics: { exact_match: number; f1: number } };
    assert.ok(evaluation.metrics.f1 > 0.5, `held-out F1 ${evaluation.metrics.f1}`);
  });

  it('captures questions with their answers and drift signals; the drift job flags contexts far longer than the reference traffic', async () => {
    const repo = new TempRepository('qa-capture-').copy(join(REPOSITORY, 'debian_qa'), 'debian_qa').config('debian_qa', { capture: { percent: 100 } });
    const dataDir = mkdtempSync(join(tmpdir(), 'qa-capture-data-'));
    const server = await startTestLocalServer(repo.dir, { dataDir, flushIntervalMs: 60_000 });
    try {
      const golden = JSON.parse(readFileSync(join(version, 'golden.json'), 'utf8')) as { requests: { inputs: { question: string; context: string } }[] };
      const questions = golden.requests.map((r) => r.inputs);
      const ask = (items: { question: string; context: string }[]) => fetch(`${server.url}/v2/models/debian_qa/infer`, { method: 'POST', body: JSON.stringify({ inputs: items }), headers: { 'Content-Type': 'application/json' } });
      const answers = (await (await ask(questions)).json()) as { score: number; start: number; end: number }[];
      await server.runtime.flush();
      const file = join(dataDir, capturePrefix('debian_qa', 1, new Date()), 'captures.jsonl');
      const [record] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual([record.kind, record.task, record.request.length, record.drift.rows.length], ['task', 'question-answering', questions.length, questions.length]);
      assert.deepEqual(record.request[0], questions[0]);
      assert.deepEqual(record.drift.signals.map((x: { name: string }) => x.name), ['context_length', 'answer_length', 'score']);
      assert.deepEqual(record.drift.rows[1], [[...questions[1].context].length, answers[1].end - answers[1].start, answers[1].score]);
      // The held-out questions' signals as the reference (a version's baseline.json would hold the training traffic's); contexts five times as long drift from it.
      const baseline = taskBaseline(questionAnswering.signals, record.drift.rows);
      assert.ok(driftReport(baseline, record.drift.rows).every((f) => !f.drifted));
      const long = questions.slice(0, 20).map((q) => ({ question: q.question, context: Array.from({ length: 5 }, () => q.context).join(' ') }));
      assert.equal((await ask(long)).status, 200);
      await server.runtime.flush();
      const rows = rowsFromCaptures(readFileSync(file, 'utf8').trim().split('\n').slice(-1).join('\n'), 'captures');
      const shifted = driftReport(baseline, rows);
      assert.ok(shifted.find((f) => f.name === 'context_length')!.drifted, JSON.stringify(shifted));
    } finally {
      await server.close();
      rmSync(repo.dir, { recursive: true, force: true });
    }
  });

  it('answers the README\'s request as the README shows (served as the README says: MODEL_DIR=…/repository npm start)', { timeout: 60_000 }, async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```sh\n(curl [^`]*?\/v2\/models\/debian_qa\/[^`]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.length > 0, 'the README shows a question-answering request');
    const server = await spawnServer('serve.ts', { MODEL_DIR: REPOSITORY });
    try {
      for (const block of blocks) {
        const lines = block.trimEnd().split('\n');
        const shownAt = lines.findIndex((l) => l.startsWith('# '));
        const command = lines.slice(0, shownAt).join('\n').replace('http://127.0.0.1:8083', server.url);
        const shown = JSON.parse(lines.slice(shownAt).map((l) => l.slice(2)).join('')) as unknown;
        const { stdout } = await promisify(execFile)('sh', ['-c', command]);
        const served = JSON.parse(stdout) as unknown;
        assert.equal(questionAnswering.compare(shown, served, 5e-5), undefined, `README: ${command}\nserved ${stdout}`);
      }
    } finally {
      server.child.kill('SIGTERM');
    }
  });
});
