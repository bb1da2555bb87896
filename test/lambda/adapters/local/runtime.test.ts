import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rowsFromCaptures } from '../../../../lambda/jobs/drift.ts';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import type { CaptureRecord } from '../../../../lambda/core/capture.ts';
import type { LocalRuntime } from '../../../../lambda/adapters/local/runtime.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { emfRecords, metricValues, readGolden, startTestLocalServer, SAMPLES_DIR, TempRepository } from '../../../helpers.ts';

const IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];
const f32 = (values: number[]) => Array.from(new Float32Array(values));

/** The samples, with capture on for iris (every request) and diabetes (records of at most 1 KiB). */
function repositoryWithCapture(): string {
  return new TempRepository('capture-').sample().config('iris_forest', { capture: { percent: 100 } }).config('diabetes_regressor', { capture: { percent: 100, maxRecordBytes: 1024 } }).dir;
}

describe('local server: metric records and data capture', () => {
  let server: LocalStack;
  let runtime: LocalRuntime;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'local-runtime-'));
    server = await startTestLocalServer(repositoryWithCapture(), { dataDir, flushIntervalMs: 60_000, maxRequestBytes: 64 * 1024 });
    runtime = server.runtime;
  });
  after(() => server.close());

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { method: 'POST', body, headers });

  it('captures requests and answers, JSON and binary, v2 and :predict, and reads them back as drift rows', async () => {
    const json = await post('/v2/models/iris_forest/infer', JSON.stringify({ id: 'r-1', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4], data: IRIS_ROWS.flat() }] }));
    assert.equal(json.status, 200);
    const jsonAnswer = (await json.json()) as { outputs: { name: string; data: number[] }[] };
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] }));
    const binary = await post('/v2/models/iris_forest/infer', Buffer.concat([header, Buffer.from(new Float32Array([5.9, 3.0, 4.2, 1.5]).buffer)]), { 'Inference-Header-Content-Length': String(header.length), 'Content-Type': 'application/octet-stream' });
    assert.equal(binary.status, 200);
    const predict = await post('/v1/models/iris_forest:predict', JSON.stringify({ instances: [[4.9, 3.1, 1.5, 0.1]] }));
    assert.equal(predict.status, 200);
    await runtime.flush();

    const file = join(dataDir, capturePrefix('iris_forest', 1, new Date()), 'captures.jsonl');
    const text = readFileSync(file, 'utf8');
    const records = text.trim().split('\n').map((line) => JSON.parse(line) as CaptureRecord & { modelship: string });
    assert.equal(records.length, 3);
    assert.deepEqual(records.map((r) => [r.modelship, r.model, r.version, r.kind, r.id]), [
      ['capture', 'iris_forest', 1, 'infer', 'r-1'],
      ['capture', 'iris_forest', 1, 'infer', undefined],
      ['capture', 'iris_forest', 1, 'predict', undefined],
    ]);
    assert.ok(records.every((r) => !Number.isNaN(Date.parse(r.capturedAt))));
    // The request as the model saw it (float32), the answer as the caller got it.
    assert.deepEqual(records[0].request.inputs, [{ name: 'features', datatype: 'FP32', shape: [2, 4], data: f32(IRIS_ROWS.flat()) }]);
    assert.deepEqual(records[0].response.outputs.map((o) => [o.name, o.data]), jsonAnswer.outputs.map((o) => [o.name, o.data]));
    assert.deepEqual(records[1].request.inputs[0].data, f32([5.9, 3.0, 4.2, 1.5]), 'binary tensors are captured as values');
    assert.deepEqual(records[2].response.outputs[0].data, [0], ':predict answers are captured as tensors');
    // Round trip into the drift job's reader: one row per captured row.
    assert.deepEqual(rowsFromCaptures(text, file), [...IRIS_ROWS.map(f32), f32([5.9, 3.0, 4.2, 1.5]), f32([4.9, 3.1, 1.5, 0.1])]);
  });

  it('skips (and counts) records over the model\'s maxRecordBytes, and never captures models without capture', async () => {
    const golden = readGolden('diabetes_regressor');
    const rows = 40; // 40 rows of 10 features: well over 1 KiB as JSON
    const response = await post('/v2/models/diabetes_regressor/infer', JSON.stringify({ inputs: [{ ...golden.inputs[0], shape: [rows, 10], data: golden.inputs[0].data.slice(0, rows * 10) }] }));
    assert.equal(response.status, 200, 'the request is answered all the same');
    assert.equal((await post('/v2/models/digits_mlp/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8], data: new Array(64).fill(0) }] }))).status, 200);
    await runtime.flush();
    const records = emfRecords(readFileSync(runtime.metricsFile(), 'utf8'));
    assert.deepEqual(metricValues(records, 'CaptureSkipped', { Model: 'diabetes_regressor', Version: '1' }), [1]);
    assert.deepEqual(metricValues(records, 'CapturedRecords', { Model: 'digits_mlp' }), [], 'capture is off unless configured');
    assert.throws(() => readFileSync(join(dataDir, capturePrefix('digits_mlp', 1, new Date()), 'captures.jsonl')), /ENOENT/);
  });

  it('writes the function\'s metric records: requests, bytes each way, latency, classes, failures by reason', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[1] }] });
    const ok = await post('/v2/models/breast_cancer_classifier/infer', JSON.stringify({ inputs: [{ ...readGolden('breast_cancer_classifier').inputs[0], shape: [1, 30], data: readGolden('breast_cancer_classifier').inputs[0].data.slice(0, 30) }] }));
    const okText = await ok.text();
    const bad: [string, string | Buffer, string][] = [
      ['/v2/models/iris_forest/infer', '{"inputs": [', 'invalid_json'],
      ['/v2/models/iris_forest/infer', body.replace('[1,4]', '[2,4]'), 'wrong_shape'],
      ['/v2/models/iris_forest/infer', body.replace('FP32', 'INT32'), 'wrong_datatype'],
      ['/v2/models/iris_forest/infer', body.replace('"features"', '"petals"'), 'input_mismatch'],
      ['/v2/models/iris_forest/infer', body.replace('6.7', '"x"'), 'invalid_value'],
      ['/v2/models/nope/infer', body, 'not_found'],
    ];
    for (const [path, payload] of bad) assert.equal((await post(path, payload)).status >= 400, true);
    assert.equal((await fetch(`${server.url}/v2/models/iris_forest/infer`)).status, 405);
    await runtime.flush();
    const records = emfRecords(readFileSync(runtime.metricsFile(), 'utf8'));
    assert.ok(records.every((r) => r.namespace === 'ModelShip'));
    for (const [, , reason] of bad) {
      const model = reason === 'not_found' ? '(none)' : 'iris_forest';
      assert.deepEqual(metricValues(records, 'BadRequests', { Model: model, Reason: reason }), [1], reason);
    }
    assert.deepEqual(metricValues(records, 'BadRequests', { Model: '(none)', Reason: 'method_not_allowed' }), [1], 'routing fails before any model is named');
    const cancer = { Model: 'breast_cancer_classifier' };
    assert.deepEqual(metricValues(records, 'Requests', cancer, { exact: true }), [1]);
    assert.deepEqual(metricValues(records, 'RequestBytes', cancer, { exact: true }).length, 1);
    assert.deepEqual(metricValues(records, 'ResponseBytes', cancer, { exact: true }), [Buffer.byteLength(okText)]);
    assert.deepEqual(metricValues(records, 'ResponseBytes', { ...cancer, Version: '1' }, { exact: true }), [Buffer.byteLength(okText)], 'per version too');
    assert.equal(metricValues(records, 'InferenceTime', cancer, { exact: true }).length, 1);
    assert.equal(metricValues(records, 'InferenceTime', { ...cancer, Version: '1' }, { exact: true }).length, 1, 'latency per version too');
    const label = (JSON.parse(okText) as { outputs: { data: number[] }[] }).outputs[0].data[0];
    assert.deepEqual(metricValues(records, 'PredictedClass', { ...cancer, Version: '1', Class: ['malignant', 'benign'][label] }), [1]);
    const diabetesMeans = metricValues(records, 'PredictionMean', { Model: 'diabetes_regressor', Version: '1' });
    assert.equal(diabetesMeans.length, 1, 'regressors publish their mean prediction');
    assert.equal(records.find((r) => r.values.RequestBytes !== undefined)?.units.RequestBytes, 'Bytes');
  });

  it('lists many values of a metric in one record, at most 99 to a record (EMF allows 100)', async () => {
    const local = await startTestLocalServer(SAMPLES_DIR, { flushIntervalMs: 60_000 });
    try {
      const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[0] }] });
      for (let i = 0; i < 120; i++) assert.equal((await fetch(`${local.url}/v2/models/iris_forest/infer`, { method: 'POST', body })).status, 200);
      await local.runtime.flush();
      const records = emfRecords(readFileSync(local.runtime.metricsFile(), 'utf8'));
      const iris = { Model: 'iris_forest' };
      const withLatency = records.filter((r) => r.values.InferenceTime !== undefined && r.dimensions.Model === 'iris_forest' && r.dimensions.Version === undefined);
      assert.deepEqual(withLatency.map((r) => r.values.InferenceTime.length), [99, 21]);
      assert.ok(metricValues(records, 'InferenceTime', iris, { exact: true }).every((ms) => ms > 0));
      assert.deepEqual(metricValues(records, 'Requests', iris, { exact: true }), [120], 'counts are summed');
      assert.deepEqual(new Set(metricValues(records, 'RequestBytes', iris, { exact: true })), new Set([Buffer.byteLength(body)]));
    } finally {
      await local.close();
    }
  });

  it('leaves out the observers turned off (MODELSHIP_OBSERVE): no metric records, console statistics or captures', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'observe-off-'));
    const local = await startTestLocalServer(repositoryWithCapture(), { dataDir, flushIntervalMs: 60_000, observe: { metrics: false, stats: false, capture: false } });
    try {
      const response = await fetch(`${local.url}/v2/models/iris_forest/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[0] }] }) });
      assert.equal(response.status, 200);
      await local.runtime.flush();
      assert.deepEqual(readdirSync(dataDir), ['metrics'], 'no captures');
      const names = new Set(emfRecords(readFileSync(local.runtime.metricsFile(), 'utf8')).flatMap((r) => Object.keys(r.values)));
      assert.deepEqual([...names], ['ModelLoadTime'], 'model loads only: they are not per request');
      assert.equal(local.runtime.stats.snapshot(5, Date.now() + 1000).lastMinute.requests, 0);
    } finally {
      await local.close();
    }
    const on = await startTestLocalServer(repositoryWithCapture(), { dataDir: mkdtempSync(join(tmpdir(), 'observe-on-')), flushIntervalMs: 60_000 });
    try {
      await fetch(`${on.url}/v2/models/iris_forest/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[0] }] }) });
      await on.runtime.flush();
      assert.deepEqual(readdirSync(on.runtime.options.dataDir).sort(), ['captures', 'metrics'], 'the same request with every observer on');
      assert.ok(emfRecords(readFileSync(on.runtime.metricsFile(), 'utf8')).some((r) => r.values.Requests !== undefined));
      assert.equal(on.runtime.stats.snapshot(5, Date.now() + 1000).lastMinute.requests, 1);
    } finally {
      await on.close();
    }
  });

  it('never fails a request when captures cannot be written: the records are dropped and counted', async () => {
    // The data folder sits under a plain file: no folder can be made there, even by root.
    const notAFolder = join(mkdtempSync(join(tmpdir(), 'blocked-')), 'file');
    writeFileSync(notAFolder, '');
    const local = await startTestLocalServer(repositoryWithCapture(), { dataDir: join(notAFolder, 'data'), flushIntervalMs: 60_000 });
    const blocked = local.runtime;
    try {
      const response = await fetch(`${local.url}/v2/models/iris_forest/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[0] }] }) });
      assert.equal(response.status, 200);
      await blocked.flush();
      assert.ok(blocked.writer.dropped >= 2, `dropped ${blocked.writer.dropped}: the capture and the metric records`);
    } finally {
      await local.close();
    }
  });
});
