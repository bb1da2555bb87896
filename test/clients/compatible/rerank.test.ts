/**
 * The Cohere/Jina rerank API as their clients call it: a plain fetch of POST /v1/rerank in the shape
 * their API references document ({model, query, documents, top_n, return_documents}; documents as
 * strings, Cohere's way, or {"text"} objects, Jina's), against the local server serving two
 * cross-encoders: the reranker trained on Debian descriptions (sigmoid scores) and a random-weight
 * XLM-R CrossEncoder with sentence-transformers' Identity activation (raw scores). The order and the
 * scores are those /v2/models/{name}/infer answers for the same (query, document) pairs.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { SAMPLES_DIR, startTestLocalServer } from '../../helpers.ts';
import { layOutTextPairFixtures } from '../../lambda/core/tasks/text-pairs-fixtures.ts';

const QUERY = 'games';
const DOCUMENTS = ['a chess engine with a graphical board', 'TrueType font family for programming', 'multiplayer puzzle game with cute monsters', 'tools to capture and analyse network packets', 'a first-person shooter set in space'];

interface RerankAnswer {
  results: { index: number; relevance_score: number; document?: { text: string } }[];
  model: string;
  usage: { total_tokens: number };
}

describe('Cohere/Jina-style rerank against the local server', () => {
  let local: LocalStack;
  const rerank = async (body: unknown): Promise<{ status: number; json: any }> => {
    // As Cohere's and Jina's HTTP APIs are called: JSON, a bearer token (which the local server ignores).
    const response = await fetch(`${local.url}/v1/rerank`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json', Authorization: 'Bearer unused' }, body: JSON.stringify(body) });
    return { status: response.status, json: await response.json() };
  };
  /** Each document's score as /infer answers its pair (text-classification, one label). */
  const inferScores = async (model: string, documents: readonly string[]): Promise<number[]> => {
    const response = await fetch(`${local.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs: documents.map((d) => ({ text: QUERY, text_pair: d })) }) });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { label: string; score: number }[][];
    return answer.map((labels) => {
      assert.equal(labels.length, 1, 'a cross-encoder answers one score per pair');
      return labels[0].score;
    });
  };
  before(async () => {
    const { dir } = layOutTextPairFixtures({}, ['debian-reranker', 'xlmr-reranker-identity', 'bert-nli']);
    cpSync(join(SAMPLES_DIR, 'debian_embeddings'), join(dir, 'debian_embeddings'), { recursive: true });
    local = await startTestLocalServer(dir);
  });
  after(() => local?.close());

  for (const model of ['debian-reranker', 'xlmr-reranker-identity']) {
    it(`${model}: ranks the documents as /infer scores their pairs, most relevant first`, async () => {
      const scores = await inferScores(model, DOCUMENTS);
      const order = scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index);
      const { status, json } = await rerank({ model, query: QUERY, documents: DOCUMENTS });
      assert.equal(status, 200, JSON.stringify(json));
      const answer = json as RerankAnswer;
      assert.equal(answer.model, model);
      assert.deepEqual(answer.results, order.map(({ index, score }) => ({ index, relevance_score: score })));
      assert.ok(Number.isInteger(answer.usage.total_tokens) && answer.usage.total_tokens > DOCUMENTS.length * 3);
    });
  }

  it('ranks the game descriptions first with the trained reranker', async () => {
    const { json } = await rerank({ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS, top_n: 2 });
    assert.deepEqual((json as RerankAnswer).results.map((r) => r.index).sort(), [2, 4].sort());
  });

  it('takes top_n and return_documents (Cohere), and {"text"} documents (Jina)', async () => {
    const cohere = (await rerank({ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS, top_n: 2, return_documents: true })).json as RerankAnswer;
    const jina = (await rerank({ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS.map((text) => ({ text })), top_n: 2, return_documents: true })).json as RerankAnswer;
    assert.equal(cohere.results.length, 2);
    assert.deepEqual(jina, cohere);
    for (const r of cohere.results) assert.deepEqual(r.document, { text: DOCUMENTS[r.index] });
    const full = (await rerank({ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS })).json as RerankAnswer;
    assert.deepEqual(cohere.results.map((r) => r.index), full.results.slice(0, 2).map((r) => r.index));
  });

  it('answers 400 in OpenAI\'s error shape for bad requests and models that are not cross-encoders', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS, top_n: 6 }, 'top_n', /^"top_n" is 6, over the 5 documents sent; send at most 5 or leave it out$/],
      [{ model: 'debian-reranker', query: QUERY, documents: [] }, 'documents', /^"documents" must be a non-empty list/],
      [{ model: 'debian-reranker', query: QUERY, documents: ['fine', ''] }, 'documents', /^documents\[1\] is empty/],
      [{ model: 'debian-reranker', query: ' ', documents: DOCUMENTS }, 'query', /^"query" must be a non-empty text$/],
      [{ model: 'debian-reranker', query: QUERY, documents: [{ title: 'x' }] }, 'documents', /^documents\[0\] must be a text or an object with a "text" string$/],
      [{ model: 'debian-reranker', query: QUERY, documents: DOCUMENTS, rank_fields: ['title'] }, 'rank_fields', /^unrecognized request argument "rank_fields"/],
      [{ model: 'debian_embeddings', query: QUERY, documents: DOCUMENTS }, 'model', /^model "debian_embeddings" is feature-extraction; reranking needs a cross-encoder/],
      [{ model: 'bert-nli', query: QUERY, documents: DOCUMENTS }, 'model', /^model "bert-nli" is zero-shot-classification; reranking needs a cross-encoder/],
    ];
    for (const [body, param, message] of cases) {
      const { status, json } = await rerank(body);
      assert.equal(status, 400, JSON.stringify(json));
      assert.equal(json.error.type, 'invalid_request_error');
      assert.equal(json.error.param, param, json.error.message);
      assert.match(json.error.message, message);
    }
    const missing = await rerank({ model: 'nope', query: QUERY, documents: DOCUMENTS });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'model_not_found');
  });
});
