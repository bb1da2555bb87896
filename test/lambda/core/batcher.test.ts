/**
 * Dynamic batching on real sessions: concurrent requests run together and every answer is
 * bit-identical to the same request run alone (tabular samples and a convolution); requests that
 * differ in shape or outputs never share a run; a model with a fixed first dimension is refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { DynamicBatcher, type BatchRun } from '../../../lambda/core/batcher.ts';
import { createTestService, emfRecords, metricValues, readGolden, SAMPLES_DIR, spawnServer, startTestLocalServer, TempRepository } from '../../helpers.ts';

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

  it('runs at most one batch per instance at once, and lets the queue grow into larger batches meanwhile', async () => {
    const session = await InferenceSession.create(readFileSync(join(SAMPLES_DIR, 'breast_cancer_classifier', '1', 'model.onnx')), { intraOpNumThreads: 1 });
    const input = readGolden('breast_cancer_classifier').inputs[0];
    const row = (r: number) => ({ [input.name]: new Tensor('float32', Float32Array.from(input.data.slice(r * 30, r * 30 + 30) as number[]), [1, 30]) });
    for (const instances of [1, 2]) {
      let running = 0;
      let most = 0;
      // The real session, counted: how many runs overlap.
      const counted = { run: async (...args: Parameters<InferenceSession['run']>) => {
        most = Math.max(most, ++running);
        try { return await session.run(...args); } finally { running--; }
      } } as unknown as InferenceSession;
      const runs: BatchRun[] = [];
      const batcher = new DynamicBatcher(counted, { maxBatchSize: 8, maxQueueDelayMicroseconds: 50_000, preferredBatchSizes: [4] }, (run) => runs.push(run), instances);
      const answers = await Promise.all(Array.from({ length: 20 }, (_, r) => batcher.run(row(r % 10), [...session.outputNames])));
      assert.equal(most, instances, `${instances} instance(s): runs at once`);
      assert.equal(runs.reduce((n, r) => n + r.rows, 0), 20, 'every row ran once');
      assert.ok(runs.every((r) => r.rows <= 8), `never over maxBatchSize: ${runs.map((r) => r.rows).join(', ')}`);
      // The first run starts at the preferred size; the rest queue behind the busy instances and run as full batches.
      assert.equal(runs.length < 20 / 4, true, `batches of ${runs.map((r) => r.rows).join(', ')}`);
      const alone = await Promise.all(Array.from({ length: 20 }, (_, r) => session.run(row(r % 10), session.outputNames)));
      assert.deepEqual(answers.map((a) => [...(a[session.outputNames[1]].data as Float32Array)]), alone.map((a) => [...(a[session.outputNames[1]].data as Float32Array)]));
    }
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

describe('dynamic batching on the SageMaker container', () => {
  it('publishes batch size, queue delay and batches run to CloudWatch with PutMetricData (SageMaker reads no EMF from container logs)', { timeout: 60_000 }, async () => {
    // A CloudWatch stand-in: a real HTTP endpoint that records the SDK's PutMetricData calls (AWS JSON 1.0).
    const calls: { target: string; body: { Namespace: string; MetricData: { MetricName: string; Dimensions: { Name: string; Value: string }[]; Values: number[]; Counts: number[]; Unit: string }[] } }[] = [];
    const cloudWatch = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c)).on('end', () => {
        calls.push({ target: String(req.headers['x-amz-target']), body: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => cloudWatch.listen(0, '127.0.0.1', resolve));
    const repo = new TempRepository('batching-sagemaker-').sample('breast_cancer_classifier').config('breast_cancer_classifier', batching);
    const { child, url, output } = await spawnServer('serve-sagemaker.ts', {
      MODEL_DIR: repo.dir, MODEL_NAME: 'breast_cancer_classifier', PUBLISH_METRICS: 'cloudwatch',
      AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${(cloudWatch.address() as AddressInfo).port}`, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret',
    });
    try {
      const bodies = rowsOf('breast_cancer_classifier', 30).map((r) => JSON.stringify(r));
      const statuses = await Promise.all(bodies.map((body) => fetch(`${url}/invocations`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then((r) => r.status)));
      assert.ok(statuses.every((s) => s === 200), statuses.join(','));
      // The minute's metrics are sent at shutdown too.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    } finally {
      child.kill();
      cloudWatch.close();
    }
    assert.equal(calls.length, 1, output());
    assert.equal(calls[0].target, 'GraniteServiceVersion20100801.PutMetricData');
    assert.equal(calls[0].body.Namespace, 'ModelShip');
    const metric = (name: string) => calls[0].body.MetricData.find((d) => d.MetricName === name)!;
    for (const name of ['BatchSize', 'QueueDelay', 'BatchesRun']) assert.deepEqual(metric(name).Dimensions, [{ Name: 'Model', Value: 'breast_cancer_classifier' }, { Name: 'Version', Value: '1' }], name);
    const sizes = metric('BatchSize');
    const runsCount = metric('BatchesRun').Counts.reduce((a, b) => a + b, 0);
    assert.equal(sizes.Values.reduce((n, v, i) => n + v * sizes.Counts[i], 0), 30, 'every row in exactly one run');
    assert.equal(sizes.Counts.reduce((a, b) => a + b, 0), runsCount);
    assert.ok(runsCount < 30, `${runsCount} runs for 30 concurrent requests`);
    assert.equal(metric('QueueDelay').Unit, 'Microseconds');
    // One delay per run, rounded to 0.1 ms; under load it includes the wait for a free instance.
    assert.equal(metric('QueueDelay').Counts.reduce((a, b) => a + b, 0), runsCount);
    assert.ok(metric('QueueDelay').Values.every((v) => v >= 0 && v % 100 === 0), metric('QueueDelay').Values.join(','));
  });
});
