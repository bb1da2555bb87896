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
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { env, pipeline, softmax } from '@huggingface/transformers';
import type { Tensor } from 'onnxruntime-node';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { scoreTextPairs } from '../../../../lambda/core/tasks/text-pairs.ts';
import { scoreLines } from '../../../../lambda/jobs/batch-job.ts';
import { runTaskGolden } from '../../../../lambda/jobs/task-golden.ts';
import { TextEncoder } from '../../../../lambda/core/tasks/texts.ts';
import { withConsolePage } from '../../../console-page.ts';
import { createTestService, ROOT, startTestLocalServer } from '../../../helpers.ts';
import { fixtureTokenizer, layOutTextPairFixtures, TEXT_PAIRS_DIR, type TextPairModel } from './text-pairs-fixtures.ts';

const exec = promisify(execFile);
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

/** Labels identical (in order), scores within 1e-4. */
function assertZeroShot(actual: ZeroShotAnswer, wanted: ZeroShotAnswer, what: string): void {
  assert.equal(actual.sequence, wanted.sequence, what);
  assert.deepEqual(actual.labels, wanted.labels, `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(wanted)}`);
  actual.scores.forEach((s, i) => assert.ok(Math.abs(s - wanted.scores[i]) <= 1e-4, `${what}: score of ${actual.labels[i]} ${s}, expected ${wanted.scores[i]}`));
}

function assertLabels(actual: Label[], wanted: Label[], what: string): void {
  assert.deepEqual(actual.map((l) => l.label), wanted.map((l) => l.label), `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(wanted)}`);
  actual.forEach((l, i) => assert.ok(Math.abs(l.score - wanted[i].score) <= 1e-4, `${what}: score of ${l.label} ${l.score}, expected ${wanted[i].score}`));
}

describe('zero-shot-classification and text pairs through the local server', () => {
  let server: LocalStack;
  let dir: string;
  let transformersJs: string;
  before(async () => {
    ({ dir, transformersJs } = layOutTextPairFixtures({ 'deberta-nli': { task: 'zero-shot-classification' } }));
    // The same folders served as other tasks and limits.
    const alias = (from: string, to: string, config: Record<string, unknown>) => {
      cpSync(join(dir, from, '1'), join(dir, to, '1'), { recursive: true });
      writeFileSync(join(dir, to, 'config.json'), JSON.stringify(config));
    };
    for (const name of ['bert-nli', 'xlmr-nli', 'deberta-nli']) alias(name, `${name}-pairs`, { task: 'text-classification' });
    alias('bert-nli', 'bert-nli-3', { maxCandidateLabels: 3 });
    alias('xlmr-reranker-identity', 'not-nli', { task: 'zero-shot-classification' });
    server = await startTestLocalServer(dir);
    env.allowRemoteModels = false;
    env.localModelPath = transformersJs;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(transformersJs, { recursive: true, force: true });
  });
  const infer = async (model: string, body: unknown) => {
    const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  };

  it('detects NLI exports (entailment and contradiction, any case) as zero-shot and says so in metadata', async () => {
    for (const [name, entailment, contradiction] of [['bert-nli', 'entailment', 'contradiction'], ['xlmr-nli', 'ENTAILMENT', 'CONTRADICTION'], ['deberta-nli', 'entailment', 'not_entailment']]) {
      const metadata = (await (await fetch(`${server.url}/v2/models/${name}`)).json()) as any;
      const described = JSON.stringify(metadata);
      assert.match(described, /zero-shot-classification/, name);
      assert.match(described, new RegExp(`"entailment_label":"${entailment}"`), described);
      assert.match(described, new RegExp(`"contradiction_label":"${contradiction}"`), described);
    }
  });

  it('answers as transformers.js ZeroShotClassificationPipeline on the same folders (labels identical, scores within 1e-4)', async () => {
    for (const name of ['bert-nli', 'xlmr-nli', 'deberta-nli'] as const) {
      const classifier = await pipeline('zero-shot-classification', name, { dtype: 'fp32' });
      // transformers.js cuts pairs longest-first, the Python pipeline only the text: long texts are checked against Python below.
      for (const { request } of expected.models[name].zeroShot!.filter((c) => Array.isArray(c.request.parameters.candidate_labels) && [c.request.inputs].flat().every((t) => t.length < 300))) {
        const p = request.parameters;
        const theirs = (await classifier(request.inputs, p.candidate_labels as string[], { multi_label: (p.multi_label as boolean) ?? false, hypothesis_template: (p.hypothesis_template as string) ?? 'This example is {}.' })) as ZeroShotAnswer | ZeroShotAnswer[];
        const ours = await infer(name, request);
        assert.equal(ours.status, 200, JSON.stringify(ours.body));
        assert.equal(Array.isArray(ours.body), Array.isArray(theirs), `${name}: one text answers one object, a list a list`);
        [theirs].flat().forEach((t, i) => assertZeroShot([ours.body].flat()[i], t, `${name} ${JSON.stringify(p)}`));
      }
      await classifier.dispose();
    }
  });

  it('answers as the Python pipeline where transformers.js differs: comma-separated labels, a long text cut ONLY_FIRST, one label', async () => {
    for (const name of ['bert-nli', 'xlmr-nli', 'deberta-nli'] as const) {
      for (const { request, answer } of expected.models[name].zeroShot!) {
        const ours = await infer(name, request);
        assert.equal(ours.status, 200, JSON.stringify(ours.body));
        [answer].flat().forEach((a, i) => assertZeroShot([ours.body].flat()[i], a, `${name} ${JSON.stringify(request.parameters)}`));
        // bert-nli and deberta-nli have 128 positions (the long text is cut: its pairs are named), xlmr-nli 514.
        const long = [request.inputs].flat().some((t) => t.length > 600);
        assert.equal(ours.headers.get('x-truncated-inputs'), long && name !== 'xlmr-nli' ? '0,1' : null, `${name}: the pairs cut are named`);
      }
    }
  });

  it('classifies text pairs as transformers.js\'s tokenizer and model with its softmax, and as the Python pipeline', async () => {
    for (const name of ['bert-nli', 'xlmr-nli', 'deberta-nli'] as const) {
      const classifier = await pipeline('text-classification', name, { dtype: 'fp32' });
      const pairs = expected.models[name].pairs!;
      const short = pairs.filter((c) => !c.truncated && !Array.isArray(c.request.inputs)).map((c) => c.request.inputs as { text: string; text_pair: string });
      const inputs = classifier.tokenizer(short.map((p) => p.text), { text_pair: short.map((p) => p.text_pair), padding: true, truncation: true });
      const logits = (await classifier.model(inputs)).logits;
      const labels = (classifier.model.config as any).id2label as Record<number, string>;
      const ours = await infer(`${name}-pairs`, { inputs: short });
      assert.equal(ours.status, 200, JSON.stringify(ours.body));
      short.forEach((_, i) => {
        const row = Array.from(logits[i].data as Float32Array);
        const theirs = softmax(row).map((score: number, j: number) => ({ label: labels[j], score })).sort((a: Label, b: Label) => b.score - a.score);
        assertLabels(ours.body[i], theirs, `${name} pair ${i}`);
      });
      await classifier.dispose();
      for (const { request, answer, truncated } of pairs) {
        const one = await infer(`${name}-pairs`, request);
        assert.equal(one.status, 200, JSON.stringify(one.body));
        if (Array.isArray(request.inputs)) (answer as Label[][]).forEach((a, i) => assertLabels(one.body[i], a, `${name} batch ${i}`));
        else assertLabels(one.body, answer as Label[], `${name} ${JSON.stringify(request.inputs).slice(0, 60)}`);
        if (truncated === true && name !== 'xlmr-nli') assert.equal(one.headers.get('x-truncated-inputs'), '0');
      }
    }
  });

  it('scores a one-label cross-encoder as its export says: raw (Identity) as CrossEncoder.predict, sigmoid by default as the pipeline', async () => {
    const identity = expected.models['xlmr-reranker-identity'];
    const raw = await infer('xlmr-reranker-identity', { inputs: identity.crossEncoder!.pairs });
    assert.equal(raw.status, 200, JSON.stringify(raw.body));
    raw.body.forEach((answer: Label[], i: number) => {
      assert.equal(answer.length, 1);
      assert.ok(Math.abs(answer[0].score - identity.crossEncoder!.scores[i]) <= 1e-4, `${answer[0].score} vs CrossEncoder.predict ${identity.crossEncoder!.scores[i]}`);
    });
    // Python's pipeline ignores sentence-transformers' files: sigmoid for one label, asked for with function_to_apply.
    for (const { request, answer } of identity.pairs!.filter((c) => !Array.isArray(c.request.inputs))) {
      const sigmoid = await infer('xlmr-reranker-identity', { ...request, parameters: { function_to_apply: 'sigmoid' } });
      assertLabels(sigmoid.body, answer as Label[], 'sigmoid');
    }
    const evaluation = JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, 'debian-reranker', 'evaluation.json'), 'utf8')) as { pairs: { text: string; text_pair: string; score: number }[] };
    const trained = await infer('debian-reranker', { inputs: evaluation.pairs.map(({ text, text_pair }) => ({ text, text_pair })) });
    assert.equal(trained.status, 200, JSON.stringify(trained.body));
    trained.body.forEach((answer: Label[], i: number) => assert.ok(Math.abs(answer[0].score - evaluation.pairs[i].score) <= 1e-4, `debian-reranker pair ${i}: ${answer[0].score} vs CrossEncoder.predict ${evaluation.pairs[i].score}`));
  });

  it('gives /v1/rerank one batched score per pair with the tokens fed (scoreTextPairs), and refuses models that are not cross-encoders', async () => {
    const service = createTestService(dir);
    const model = await service.repository.load('debian-reranker', 1);
    const evaluation = JSON.parse(readFileSync(join(TEXT_PAIRS_DIR, 'debian-reranker', 'evaluation.json'), 'utf8')) as { pairs: { text: string; text_pair: string; score: number }[] };
    const pairs = evaluation.pairs.slice(0, 6).map(({ text, text_pair }) => ({ text, text_pair }));
    const { scores, tokens } = await scoreTextPairs(model, pairs);
    scores.forEach((s, i) => assert.ok(Math.abs(s - evaluation.pairs[i].score) <= 1e-4));
    const counted = pairs.reduce((sum, p) => sum + encoder('bert-nli', 512).encodePairs([p], 'longest_first', true).tokenCounts[0], 0);
    assert.equal(tokens, counted);
    assert.deepEqual(await scoreTextPairs(model, []), { scores: [], tokens: 0 });
    await assert.rejects(scoreTextPairs(await service.repository.load('bert-nli-pairs', 1), pairs), /3 labels .* reranking needs a cross-encoder with one label/);
    await assert.rejects(scoreTextPairs(await service.repository.load('bert-nli', 1), pairs), /zero-shot-classification; reranking needs a cross-encoder/);
  });

  it('answers :predict instances with the same answers as {"predictions"}, and keeps labels as written', async () => {
    const parameters = { candidate_labels: ['games $&', 'science $1'], hypothesis_template: 'About {}.' };
    const texts = ['A puzzle game.', 'A star chart.'];
    const answers = (await infer('bert-nli', { inputs: texts, parameters })).body as ZeroShotAnswer[];
    assert.deepEqual([...answers[0].labels].sort(), ['games $&', 'science $1']);
    // One label scores entailment against contradiction of the pair (text, hypothesis): the hypothesis holds the label as written.
    const one = (await infer('bert-nli', { inputs: texts[0], parameters: { candidate_labels: ['games $&'], hypothesis_template: 'About {}.' } })).body as ZeroShotAnswer;
    const pair = (await infer('bert-nli-pairs', { inputs: { text: texts[0], text_pair: 'About games $&.' } })).body as Label[];
    const p = (label: string) => pair.find((l) => l.label === label)!.score;
    assert.ok(Math.abs(one.scores[0] - p('entailment') / (p('entailment') + p('contradiction'))) < 1e-6, `${one.scores[0]} vs the pair's`);
    const response = await fetch(`${server.url}/v1/models/bert-nli:predict`, { method: 'POST', body: JSON.stringify({ instances: texts, parameters }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { predictions: answers });
    const pairs = [{ text: 'games', text_pair: 'a puzzle game' }];
    const predicted = await fetch(`${server.url}/v1/models/debian-reranker:predict`, { method: 'POST', body: JSON.stringify({ instances: pairs }), headers: { 'Content-Type': 'application/json' } });
    assert.deepEqual(await predicted.json(), { predictions: (await infer('debian-reranker', { inputs: pairs })).body });
  });

  it('refuses bad requests with 400 naming the problem', async () => {
    const text = 'A puzzle game with falling blocks.';
    const cases: [string, unknown, RegExp][] = [
      ['bert-nli', { inputs: text }, /candidate_labels" is missing/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: [] } }, /candidate_labels" is empty/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ' , ,' } }, /candidate_labels" is empty/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ['games', ' '] } }, /candidate_labels"\[1\] is empty/],
      ['bert-nli', { inputs: '  ', parameters: { candidate_labels: ['games'] } }, /"inputs" is empty/],
      ['bert-nli', { inputs: [text, ''], parameters: { candidate_labels: ['games'] } }, /"inputs"\[1\] is empty/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ['games'], hypothesis_template: 'About games.' } }, /has no "\{\}"/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ['games'], hypothesis_template: '{} or {}' } }, /has 2 "\{\}"/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ['games'], multi_label: 'yes' } }, /multi_label" must be true or false/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: ['games'], top_k: 2 } }, /"top_k", which zero-shot classification does not take/],
      ['bert-nli', { inputs: text, parameters: { candidate_labels: Array.from({ length: 33 }, (_, i) => `label ${i}`) } }, /33 candidate labels, over this model's limit of 32 .*maxCandidateLabels/],
      ['bert-nli-3', { inputs: text, parameters: { candidate_labels: 'a, b, c, d' } }, /4 candidate labels, over this model's limit of 3/],
      ['bert-nli-pairs', { inputs: { text, text_pair: '' } }, /pair 0 "text_pair" is empty/],
      ['bert-nli-pairs', { inputs: { text, pair: 'x' } }, /"inputs" has "pair"; a pair is \{"text": \.\.\., "text_pair": \.\.\.\}/],
      ['bert-nli-pairs', { inputs: [{ text, text_pair: 3 }] }, /"inputs"\[0\] must be \{"text": string, "text_pair": string\}/],
    ];
    for (const [model, body, message] of cases) {
      const { status, body: answer } = await infer(model, body);
      assert.equal(status, 400, `${JSON.stringify(body).slice(0, 100)}: ${JSON.stringify(answer)}`);
      assert.match(String(answer.error), message, JSON.stringify(body).slice(0, 100));
    }
  });

  it('refuses at load a model forced to zero-shot whose labels have no entailment, naming its labels', async () => {
    const { status, body } = await infer('not-nli', { inputs: 'x', parameters: { candidate_labels: ['a'] } });
    assert.equal(status, 503, JSON.stringify(body));
    const service = createTestService(dir);
    await assert.rejects(service.repository.load('not-nli', 1), /zero-shot-classification needs an NLI model whose labels include entailment; this model's labels are \[LABEL_0\]/);
  });
});

describe('zero-shot-classification: drift signals, the golden gate\'s compare, describe and example', () => {
  it('gives per text its length, top score and best candidate, and compares answers by label within the tolerance', async () => {
    const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli']);
    try {
      const model = await createTestService(dir).repository.load('bert-nli', 1);
      const task = model.task!;
      assert.equal(task.module.name, 'zero-shot-classification');
      const context = { model: { name: 'bert-nli', version: 1 }, run: (feeds: Record<string, Tensor>, outputs?: readonly string[]) => model.session.run(feeds, outputs as string[]), mark: () => undefined };
      const texts = ['The team won the final match in extra time.', 'Prices of memory chips rose again.'];
      const request = task.module.parse(task.loaded, { kind: 'json', route: 'infer', body: { inputs: texts, parameters: { candidate_labels: 'sports, economy, software' } } });
      const result = await task.module.run(task.loaded, request, context);
      const answers = result.answer as ZeroShotAnswer[];
      assert.deepEqual(result.signals, answers.map((a, i) => [texts[i].length, a.scores[0], ['sports', 'economy', 'software'].indexOf(a.labels[0])]));
      assert.deepEqual(task.module.signals.map((s) => s.kind), ['numeric', 'numeric', 'categorical']);
      assert.equal(result.items, 2);
      assert.deepEqual(result.captured, { texts, candidate_labels: ['sports', 'economy', 'software'], multi_label: false, hypothesis_template: 'This example is {}.' });
      assert.equal(task.module.compare(answers, answers, 1e-4), undefined);
      const shifted = answers.map((a) => ({ ...a, scores: a.scores.map((s, i) => (i === 1 ? s + 0.01 : s)) }));
      assert.match(task.module.compare(answers, shifted, 1e-4)!, /answer 0: the score of "\w+" is .* expected/);
      const relabelled = [{ ...answers[0], labels: ['sports', 'economy', 'cooking'] }, answers[1]];
      assert.match(task.module.compare(relabelled, answers, 1e-4)!, /labels are \[/);
      assert.deepEqual(task.module.describe(task.loaded), { nli_labels: ['contradiction', 'neutral', 'entailment'], entailment_label: 'entailment', contradiction_label: 'contradiction', max_candidate_labels: 32, hypothesis_template: 'This example is {}.', max_length: 128 });
      const example = task.module.example(task.loaded) as { inputs: string; parameters: Record<string, unknown> };
      const answered = await task.module.run(task.loaded, task.module.parse(task.loaded, { kind: 'json', route: 'infer', body: example }), context);
      assert.deepEqual([...(answered.answer as ZeroShotAnswer).labels].sort(), [...(example.parameters.candidate_labels as string[])].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(transformersJs, { recursive: true, force: true });
    }
  });
});

describe('the README\'s zero-shot and text-pair commands', () => {
  it('answer as shown, run against the models scripts/samples/text-pair-fixtures.ts writes', async () => {
    // The README serves these on port 8082 (test/readme.test.ts runs the samples' commands on 8080).
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    const commands: { command: string; shown?: string }[] = [];
    for (let i = 0; i < readme.length; i++) {
      if (!readme[i].startsWith('curl ') || !readme[i].includes('127.0.0.1:8082')) continue;
      let command = readme[i];
      while (command.trimEnd().endsWith('\\') || (command.match(/'/g)?.length ?? 0) % 2 === 1) command += `\n${readme[++i]}`;
      let shown: string | undefined;
      if (/^# [[{]/.test(readme[i + 1] ?? '')) {
        shown = readme[++i].slice(2).trim();
        while ((readme[i + 1] ?? '').startsWith('#  ')) shown += readme[++i].slice(2).trim();
      }
      commands.push({ command, shown });
    }
    assert.ok(commands.length >= 3, `found ${commands.length} commands`);
    const { dir, transformersJs } = layOutTextPairFixtures();
    const server = await startTestLocalServer(dir);
    try {
      for (const { command, shown } of commands) {
        const { stdout } = await exec('sh', ['-c', command.replaceAll('http://127.0.0.1:8082', server.url)]);
        const answer = JSON.parse(stdout) as unknown;
        assert.ok(shown !== undefined, command);
        // Labels and texts exactly; numbers to the digits shown.
        const match = (a: unknown, s: unknown, at: string): void => {
          if (typeof s === 'number') {
            const digits = (String(s).split('.')[1] ?? '').length;
            assert.ok(Math.abs((a as number) - s) <= 0.5 * 10 ** -digits + 1e-9, `${at}: ${a} shown as ${s}`);
          } else if (Array.isArray(s)) {
            assert.ok(Array.isArray(a) && a.length === s.length, `${at}: ${JSON.stringify(a)}`);
            s.forEach((v, i) => match((a as unknown[])[i], v, `${at}[${i}]`));
          } else if (typeof s === 'object' && s !== null) {
            for (const [k, v] of Object.entries(s)) match((a as Record<string, unknown>)[k], v, `${at}.${k}`);
          } else assert.equal(a, s, at);
        };
        match(answer, JSON.parse(shown!), command.slice(0, 60));
      }
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(transformersJs, { recursive: true, force: true });
    }
  });
});

describe('zero-shot and text pairs in batch jobs', () => {
  it('scores JSON Lines of zero-shot requests and of pairs, each line as /infer answers it, a bad line named', async () => {
    const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli', 'debian-reranker']);
    try {
      const service = createTestService(dir);
      const request = { inputs: 'A puzzle game with falling blocks.', parameters: { candidate_labels: ['games', 'fonts'] } };
      const zeroShot = await scoreLines(service, 'bert-nli', [JSON.stringify(request), JSON.stringify({ inputs: 'x', parameters: { candidate_labels: [] } })].join('\n'), 1, 'jsonl', undefined, 8);
      assert.deepEqual(JSON.parse(zeroShot.results[0].text).response, JSON.parse(await service.infer(await service.loadModel('bert-nli'), request)));
      assert.match(zeroShot.errors[0].text, /"line":2.*candidate_labels\\" is empty/);
      const pairs = [{ text: 'games', text_pair: 'multiplayer puzzle game' }, { text: 'fonts', text_pair: 'TrueType font family' }];
      const scored = await scoreLines(service, 'debian-reranker', pairs.map((p) => JSON.stringify(p)).join('\n'), 1, 'jsonl', undefined, 8);
      const direct = JSON.parse(await service.infer(await service.loadModel('debian-reranker'), { inputs: pairs })) as Label[][];
      assert.deepEqual(scored.results.map((r) => JSON.parse(r.text).prediction), direct);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(transformersJs, { recursive: true, force: true });
    }
  });
});

describe('zero-shot and text pairs in the local console (headless Chromium)', () => {
  it('sends the candidate labels, multi-label and template from the zero-shot form, and a pair from the second text box; bars per label', async () => {
    const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli', 'debian-reranker']);
    const server = await startTestLocalServer(dir);
    try {
      await withConsolePage(server.url, async (page, errors) => {
        await page.waitForSelector('[data-model="bert-nli"]');
        await page.selectOption('#model', 'bert-nli');
        assert.equal(await page.inputValue('#body'), 'A puzzle game where falling blocks fill rows.');
        await page.fill('[name="candidate_labels"]', 'games, fonts, networking');
        await page.check('[name="multi_label"]');
        await page.fill('[name="hypothesis_template"]', 'This package is about {}.');
        await page.click('#send');
        await page.locator('#answer .bar').first().waitFor();
        const expected = (await (await fetch(`${server.url}/v2/models/bert-nli/infer`, { method: 'POST', body: JSON.stringify({ inputs: 'A puzzle game where falling blocks fill rows.', parameters: { candidate_labels: 'games, fonts, networking', multi_label: true, hypothesis_template: 'This package is about {}.' } }), headers: { 'Content-Type': 'application/json' } })).json()) as ZeroShotAnswer;
        const bars = await page.locator('#answer .bar').evaluateAll((els) => els.map((e) => [e.getAttribute('data-label'), e.querySelector('em')?.textContent]));
        assert.deepEqual(bars, expected.labels.map((l, i) => [l, expected.scores[i].toFixed(3)]));

        await page.selectOption('#model', 'debian-reranker');
        await page.fill('#body', 'games');
        await page.fill('[name="text_pair"]', 'multiplayer puzzle game with cute monsters');
        await page.click('#send');
        await page.locator('#answer .bar').first().waitFor();
        const pair = (await (await fetch(`${server.url}/v2/models/debian-reranker/infer`, { method: 'POST', body: JSON.stringify({ inputs: { text: 'games', text_pair: 'multiplayer puzzle game with cute monsters' } }), headers: { 'Content-Type': 'application/json' } })).json()) as Label[];
        assert.equal(await page.textContent('#answer .bar em'), pair[0].score.toFixed(3));
        assert.deepEqual(errors, []);
      });
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(transformersJs, { recursive: true, force: true });
    }
  });
});

describe('zero-shot in the golden gate', () => {
  it('passes a version whose answers are the Python pipeline\'s, and fails one against answers it does not give', async () => {
    const { dir, transformersJs } = layOutTextPairFixtures({}, ['bert-nli']);
    try {
      const cases = expected.models['bert-nli'].zeroShot!;
      const golden = { task: 'zero-shot-classification', requests: cases.map((c) => c.request), expected: cases.map((c) => c.answer), tolerance: 1e-4 };
      writeFileSync(join(dir, 'bert-nli', '1', 'golden.json'), JSON.stringify(golden));
      const passed = await runTaskGolden(createTestService(dir), 'bert-nli', 1);
      assert.equal(passed.passed, true, passed.problems.join('; '));
      // One expected answer off by more than the tolerance: below the default 99.5% agreement.
      const off = structuredClone(golden);
      (off.expected[0] as ZeroShotAnswer).scores[0] += 0.01;
      writeFileSync(join(dir, 'bert-nli', '1', 'golden.json'), JSON.stringify(off));
      const failed = await runTaskGolden(createTestService(dir), 'bert-nli', 1);
      assert.equal(failed.passed, false);
      assert.match(failed.problems.join('; '), /score of/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(transformersJs, { recursive: true, force: true });
    }
  });
});
