/**
 * Dynamic batching on real sessions: concurrent requests run together and every answer is
 * bit-identical to the same request run alone (tabular samples and a convolution); requests that
 * differ in shape or outputs never share a run; a model with a fixed first dimension is refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { BatchRun } from '../../../lambda/core/batcher.ts';
import { createTestService, emfRecords, metricValues, readGolden, startTestLocalServer, TempRepository } from '../../helpers.ts';

const batching = { dynamicBatching: { maxBatchSize: 16, maxQueueDelayMicroseconds: 5000 } };

function services() {
  const repo = new TempRepository('batching-').sample('breast_cancer_classifier').sample('digits_mlp').fixture('conv_large').fixture('fixed_batch')
    .config('breast_cancer_classifier', batching).config('digits_mlp', batching).config('conv_large', batching).config('fixed_batch', batching);
  const runs: (BatchRun & { model: string })[] = [];
  const batched = createTestService(repo.dir, { dynamicBatching: true, onBatch: (model, _version, run) => runs.push({ model, ...run }) });
  const alone = createTestService(repo.dir);
  return { batched, alone, runs };
}

const rowsOf = (name: string, count: number) => {
  const input = readGolden(name).inputs[0];
  const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, (_, r) => ({ inputs: [{ ...input, shape: [1, ...input.shape.slice(1)], data: input.data.slice(r * width, (r + 1) * width) }] }));
};

describe('dynamic batching', () => {
  it('runs concurrent requests together, each answer bit-identical to running it alone', async () => {
    const { batched, alone, runs } = services();
    for (const name of ['breast_cancer_classifier', 'digits_mlp']) {
      const requests = rowsOf(name, 40);
      const [modelB, modelA] = [await batched.loadModel(name), await alone.loadModel(name)];
      const together = await Promise.all(requests.map((r) => batched.infer(modelB, r)));
      const separately = [];
      for (const r of requests) separately.push(await alone.infer(modelA, r));
      assert.deepEqual(together, separately, name);
      const mine = runs.filter((r) => r.model === name);
      assert.ok(mine.some((r) => r.requests > 1), `${name}: batches of ${mine.map((r) => r.requests).join(', ')}`);
      assert.ok(mine.every((r) => r.rows <= 16), 'never over maxBatchSize');
      assert.equal(mine.reduce((n, r) => n + r.requests, 0), 40, 'every request ran once');
    }
    const pixels = (seed: number) => ({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], data: Array.from({ length: 3 * 320 * 320 }, (_, i) => ((i * 7919 + seed * 104729) % 1000) / 1000) }] });
    const convRequests = Array.from({ length: 6 }, (_, i) => pixels(i));
    const [convB, convA] = [await batched.loadModel('conv_large'), await alone.loadModel('conv_large')];
    const convTogether = await Promise.all(convRequests.map((r) => batched.infer(convB, r)));
    for (const [i, r] of convRequests.entries()) assert.equal(convTogether[i], await alone.infer(convA, r), `conv request ${i}`);
    assert.ok(runs.some((r) => r.model === 'conv_large' && r.requests > 1));
  });

  it('never mixes requests that ask for different outputs or carry more rows than maxBatchSize', async () => {
    const { batched, alone } = services();
    const [modelB, modelA] = [await batched.loadModel('breast_cancer_classifier'), await alone.loadModel('breast_cancer_classifier')];
    const requests = rowsOf('breast_cancer_classifier', 8).map((r, i) => (i % 2 === 0 ? r : { ...r, outputs: [{ name: 'probabilities' }] }));
    const big = { inputs: [{ ...readGolden('breast_cancer_classifier').inputs[0] }] };
    const together = await Promise.all([...requests, big].map((r) => batched.infer(modelB, r)));
    const separately = [];
    for (const r of [...requests, big]) separately.push(await alone.infer(modelA, r));
    assert.deepEqual(together, separately);
    assert.deepEqual(JSON.parse(together[1]).outputs.map((o: { name: string }) => o.name), ['probabilities']);
  });

  it('keeps failures per request: when a batched run fails, each request runs alone and only the one at fault fails', async () => {
    const repo = new TempRepository('batching-failure-').fixture('gather_lookup').config('gather_lookup', batching);
    const runs: BatchRun[] = [];
    const service = createTestService(repo.dir, { dynamicBatching: true, onBatch: (_m, _v, run) => runs.push(run) });
    const model = await service.loadModel('gather_lookup');
    const request = (index: number) => ({ inputs: [{ name: 'index', datatype: 'INT64', shape: [1, 1], data: [index] }] });
    const answers = await Promise.allSettled([0, 1, 7, 2].map((i) => service.infer(model, request(i))));
    assert.deepEqual(answers.map((a) => a.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(answers.filter((a) => a.status === 'fulfilled').map((a) => JSON.parse((a as PromiseFulfilledResult<string>).value).outputs[0].data), [[10], [20], [30]]);
    const failure = (answers[2] as PromiseRejectedResult).reason as { statusCode: number; message: string };
    assert.equal(failure.statusCode, 400);
    assert.match(failure.message, /rejected the input: .*idx=7/);
    assert.ok(runs.some((r) => r.requests > 1), 'they were queued together');
  });

  it('refuses at load a model whose first dimension is fixed, naming the input', async () => {
    const { batched } = services();
    await assert.rejects(batched.loadModel('fixed_batch'), (error: Error) => error.message.includes('input "x" has a fixed first dimension ([1,2])') && (error as { statusCode?: number }).statusCode === 503);
  });
});

describe('dynamic batching on the local server', () => {
  it('publishes batch size, queue delay and batches run per model, and the console\'s stats show them', async () => {
    const repo = new TempRepository('batching-local-').sample('breast_cancer_classifier').config('breast_cancer_classifier', batching);
    const server = await startTestLocalServer(repo.dir, { flushIntervalMs: 60_000 });
    try {
      const bodies = rowsOf('breast_cancer_classifier', 30).map((r) => JSON.stringify(r));
      const answers = await Promise.all(bodies.map((body) => fetch(`${server.url}/v2/models/breast_cancer_classifier/infer`, { method: 'POST', body }).then((r) => r.status)));
      assert.ok(answers.every((s) => s === 200));
      await server.runtime.flush();
      const records = emfRecords(readFileSync(server.runtime.metricsFile(), 'utf8'));
      const dims = { Model: 'breast_cancer_classifier', Version: '1' };
      const runsCount = metricValues(records, 'BatchesRun', dims).reduce((a, b) => a + b, 0);
      const sizes = metricValues(records, 'BatchSize', dims);
      assert.equal(sizes.length, runsCount);
      assert.equal(sizes.reduce((a, b) => a + b, 0), 30, 'every row in exactly one run');
      assert.ok(runsCount < 30, `${runsCount} runs for 30 concurrent requests`);
      assert.equal(metricValues(records, 'QueueDelay', dims).length, runsCount);
      const stats = (await (await fetch(`${server.url}/console/api/stats`)).json()) as { batching: Record<string, { batches: number; requests: number }> };
      assert.deepEqual([stats.batching.breast_cancer_classifier.batches, stats.batching.breast_cancer_classifier.requests], [runsCount, 30]);
    } finally {
      await server.close();
    }
  });
});
