/**
 * sentence-similarity against sentence-transformers: the expected similarities are what
 * `SentenceTransformer.encode` + `util.cos_sim` answered on the same model
 * (training/text_tasks/sentence_similarity.py, `main`), for a folder whose config.json names the
 * task and for the same folder served as feature-extraction (which answers the shape too).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withConsolePage } from '../../../console-page.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { createTestService, ROOT, startTestLocalServer, TempRepository } from '../../../helpers.ts';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'sentence-similarity');
type Case = { inputs: { source_sentence: string; sentences: string[] }; expected: number[] };
const reference = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { tolerance: number; cases: Case[] };

function assertSimilarities(actual: unknown, expected: readonly number[], what: string): void {
  assert.ok(Array.isArray(actual) && actual.length === expected.length, `${what}: ${JSON.stringify(actual)}`);
  (actual as number[]).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= reference.tolerance, `${what}[${i}]: ${v} vs sentence-transformers' ${expected[i]}`));
}

describe('sentence-similarity', () => {
  let server: LocalStack;
  let dir: string;
  before(async () => {
    // tokenizer.json is a link to the shared one, which the store (no links followed) is given as a file.
    const tokenizer = readFileSync(join(FIXTURE, 'bert', 'tokenizer.json'));
    const repo = new TempRepository('similarity-');
    for (const model of ['similar', 'embed', 'cls', 'last_token']) {
      repo.copy(join(FIXTURE, 'bert'), `${model}/1`);
      rmSync(join(repo.dir, model, '1', 'tokenizer.json'));
      repo.file(`${model}/1/tokenizer.json`, tokenizer);
    }
    repo
      .config('similar', { task: 'sentence-similarity' })
      .config('cls', { task: 'sentence-similarity' })
      .file('cls/1/1_Pooling/config.json', JSON.stringify({ embedding_dimension: 8, pooling_mode: 'cls' }))
      .file('last_token/1/1_Pooling/config.json', JSON.stringify({ embedding_dimension: 8, pooling_mode: 'lasttoken' }))
      .copy(join(ROOT, 'models', 'text_orientation', '1'), 'not_text/1')
      .config('not_text', { task: 'sentence-similarity' });
    dir = repo.dir;
    server = await startTestLocalServer(repo.dir);
  });
  after(() => server.close());
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('answers the cosine similarities sentence-transformers computes (util.cos_sim), non-ASCII and over-long texts included', async () => {
    for (const [i, { inputs, expected }] of reference.cases.entries()) {
      for (const model of ['similar', 'embed']) {
        const { status, body } = await post(`/v2/models/${model}/infer`, { inputs });
        assert.equal(status, 200, JSON.stringify(body));
        assertSimilarities(body, expected, `${model} case ${i}`);
      }
    }
    const predict = await post('/v1/models/similar:predict', { instances: reference.cases.slice(0, 2).map((c) => c.inputs) });
    const predictions = (predict.body as { predictions: number[][] }).predictions;
    reference.cases.slice(0, 2).forEach((c, i) => assertSimilarities(predictions[i], c.expected, `:predict instance ${i}`));
    assert.ok(Math.abs(reference.cases[0].expected[3] - 1) < 1e-6, 'the fixture compares a sentence with itself');
  });

  it('says what it is in its metadata, and reads sentence-transformers 5\'s pooling_mode, refusing one it does not compute', async () => {
    const parameters = ((await (await fetch(`${server.url}/v2/models/similar`)).json()) as { parameters: Record<string, unknown> }).parameters;
    assert.deepEqual([parameters.task, parameters.content_types, parameters.max_length, parameters.pooling, parameters.normalize], ['sentence-similarity', [], 128, 'mean', true]);
    const cls = ((await (await fetch(`${server.url}/v2/models/cls`)).json()) as { parameters: Record<string, unknown> }).parameters;
    assert.equal(cls.pooling, 'cls');
    const clsAnswer = await post('/v2/models/cls/infer', { inputs: reference.cases[0].inputs });
    assert.notDeepEqual(clsAnswer.body, reference.cases[0].expected, 'cls pooling answers otherwise than mean');
    // Load refusals answer 503 over HTTP (the detail goes to the log); the service's error names the problem.
    assert.equal((await post('/v2/models/last_token/infer', { inputs: 'a text' })).status, 503);
    assert.equal((await post('/v2/models/not_text/infer', { inputs: reference.cases[0].inputs })).status, 503);
    const service = createTestService(dir);
    await assert.rejects(service.loadModel('last_token'), /1_Pooling\/config.json asks for pooling lasttoken, which ModelShip does not compute/);
    await assert.rejects(service.loadModel('not_text'), /sentence-similarity needs a text embedding export/);
  });

  it('has a console form: a source sentence and sentences, answered as bars, most similar first', async () => {
    await withConsolePage(server.url, async (page, errors) => {
      await page.waitForSelector('[data-model="similar"] [data-testid="task"]');
      assert.match((await page.textContent('[data-model="similar"]'))!, /answers: the cosine similarity of the source sentence with each sentence/);
      await page.selectOption('#model', 'similar');
      assert.equal(await page.isVisible('#body'), false, 'the fields replace the JSON box');
      assert.equal(await page.inputValue('#source-sentence'), 'a free strategy game', 'the module\'s example');
      const { inputs, expected } = reference.cases[0];
      await page.fill('#source-sentence', inputs.source_sentence);
      await page.fill('#sentences', inputs.sentences.join('\n'));
      await page.click('#send');
      await page.locator('#answer .bar').first().waitFor();
      assert.equal(await page.locator('#answer .bar').count(), inputs.sentences.length);
      assert.equal(await page.locator('#answer .bar').first().getAttribute('data-label'), inputs.sentences[expected.indexOf(Math.max(...expected))]);
      assertSimilarities(JSON.parse((await page.textContent('#response'))!), expected, 'the console\'s answer');
      assert.deepEqual(errors, []);
    });
  });

  it('answers bad input with a 400 that names the problem and the shape to send', async () => {
    const cases: [unknown, RegExp][] = [
      [{ inputs: { sentences: ['a'] } }, /"inputs".source_sentence must be a non-empty text/],
      [{ inputs: { source_sentence: '  ', sentences: ['a'] } }, /source_sentence must be a non-empty text/],
      [{ inputs: { source_sentence: 'a', sentences: [] } }, /"inputs".sentences must be a non-empty list of texts/],
      [{ inputs: { source_sentence: 'a', sentences: ['b', ''] } }, /"inputs".sentences\[1\] must be a non-empty text/],
      [{ inputs: { source_sentence: 'a', sentences: 'b' } }, /sentences must be a non-empty list/],
      [{ inputs: { source_sentence: 'a', sentences: ['b'], extra: 1 } }, /has "extra"; it takes "source_sentence" and "sentences"/],
      [{ inputs: 'just a text' }, /"inputs" must be an object \{"source_sentence", "sentences"\}/],
      [{ inputs: { source_sentence: 'a', sentences: ['b'] }, parameters: { top_k: 2 } }, /"parameters" has "top_k", which this model does not take/],
      [{ nothing: true }, /the body has no "inputs"/],
    ];
    for (const [body, message] of cases) {
      const answer = await post('/v2/models/similar/infer', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match((answer.body as { error: string }).error, message, JSON.stringify(body));
    }
    const empty = await post('/v1/models/similar:predict', { instances: [] });
    assert.equal(empty.status, 400);
    const raw = await fetch(`${server.url}/v2/models/similar/infer`, { method: 'POST', body: Buffer.from([0xff, 0xd8, 0xff]), headers: { 'Content-Type': 'image/jpeg' } });
    assert.equal(raw.status, 415);
  });
});
