/**
 * Data capture and metrics of the compatible routes: /v1/embeddings captures as the
 * feature-extraction task captures /infer (its texts, the vectors, the text length for drift), and
 * /v1/rerank as the text-classification task captures pairs (the pairs, their scores, class, score
 * and length for drift); token ids, which are not texts, are not captured. Each run is one metrics record.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PendingCapture } from '../../../../lambda/core/capture.ts';
import type { InferenceRecord } from '../../../../lambda/core/session-run.ts';
import { createTestService, TempRepository } from '../../../helpers.ts';
import { layOutTextPairFixtures } from '../tasks/text-pairs-fixtures.ts';

describe('capture and metrics on the compatible routes', () => {
  it('captures embeddings and rerank requests with their drift signals, and counts each run', async () => {
    const repo = new TempRepository('compat-capture-').sample('debian_embeddings').copy(join(layOutTextPairFixtures({}, ['debian-reranker']).dir, 'debian-reranker'), 'debian-reranker');
    const captures: PendingCapture[] = [];
    const records: InferenceRecord[] = [];
    const service = createTestService(repo.dir, {}, { onCapture: (c) => captures.push(c), onInference: (r) => records.push(r), capturePercent: 100 });
    const post = (path: string, body: unknown) => service.handle({ method: 'POST', path, body: JSON.stringify(body) });

    const embedded = await post('/v1/embeddings', { model: 'debian_embeddings', input: ['a chess engine', 'a font'] });
    assert.equal(embedded.statusCode, 200);
    const vectors = (JSON.parse(embedded.body as string) as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
    const ranked = await post('/v1/rerank', { model: 'debian-reranker', query: 'games', documents: ['a chess engine', 'a font'] });
    assert.equal(ranked.statusCode, 200);
    const scores = (JSON.parse(ranked.body as string) as { results: { index: number; relevance_score: number }[] }).results.sort((a, b) => a.index - b.index).map((r) => r.relevance_score);
    assert.equal((await post('/v1/embeddings', { model: 'debian_embeddings', input: [[1, 2, 3]] })).statusCode, 200);

    assert.deepEqual(captures.map((c) => c.model), ['debian_embeddings', 'debian-reranker']);
    const [embedding, rerank] = captures.map((c) => JSON.parse(c.encode()));
    assert.equal(embedding.task, 'feature-extraction');
    assert.deepEqual(embedding.request, { texts: ['a chess engine', 'a font'] });
    assert.deepEqual(embedding.response, vectors);
    assert.deepEqual(embedding.drift, { signals: [{ name: 'text length', kind: 'numeric' }], rows: [[14], [6]] });
    assert.equal(rerank.task, 'text-classification');
    assert.deepEqual(rerank.request, { pairs: [{ text: 'games', text_pair: 'a chess engine' }, { text: 'games', text_pair: 'a font' }] });
    assert.deepEqual(rerank.response, scores.map((score) => [{ label: 'LABEL_0', score }]));
    assert.deepEqual(rerank.drift.signals.map((s: { name: string }) => s.name), ['predicted class', 'top score', 'text length']);
    assert.deepEqual(rerank.drift.rows, [[0, scores[0], 19], [0, scores[1], 11]]);
    assert.deepEqual(records.map((r) => [r.model, r.batchSize]), [['debian_embeddings', 2], ['debian-reranker', 2], ['debian_embeddings', 1]]);
  });
});
