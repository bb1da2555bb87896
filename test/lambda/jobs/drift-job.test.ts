import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runDriftJob } from '../../../lambda/jobs/drift-job.ts';
import type { Baseline, FeatureBaseline } from '../../../lambda/jobs/drift.ts';
import { S3BatchStore } from '../../../lambda/stores/batch-store.ts';
import { CAPTURE_MARKER } from '../../../lambda/observability/capture-sink.ts';
import { capturePrefix } from '../../../lambda/core/capture-layout.ts';
import { silentLogger } from '../../../lambda/core/logger.ts';
import { powertoolsSink } from '../../../lambda/observability/telemetry.ts';
import { createTestService, emfRecords, metricValues, readGolden, SAMPLES_DIR, startTestS3, type TestS3 } from '../../helpers.ts';

const MODEL = 'breast_cancer_classifier';
const NOW = new Date('2026-11-22T12:00:00Z');
const HOUR = 3_600_000;

/**
 * Capture lines as the Lambda function writes them: the real core, sampling every request, runs
 * each row and encodes its capture record; `at` stamps capturedAt.
 */
async function captureLines(rows: number[][], at: Date): Promise<string[]> {
  const lines: string[] = [];
  const service = createTestService(SAMPLES_DIR, {}, {
    capturePercent: 100,
    onCapture: (capture) => lines.push(capture.encode(CAPTURE_MARKER).replace(/"capturedAt":"[^"]+"/, `"capturedAt":"${at.toISOString()}"`)),
  });
  const model = await service.loadModel(MODEL);
  for (let i = 0; i < rows.length; i += 10) {
    const batch = rows.slice(i, i + 10);
    await service.infer(model, { inputs: [{ name: 'features', datatype: 'FP32', shape: [batch.length, 30], data: batch.flat() }] });
  }
  return lines;
}

describe('scheduled drift job, against S3', () => {
  let s3: TestS3;
  let heldOut: number[][];
  let shifted: number[][];
  before(async () => {
    s3 = await startTestS3();
    await s3.upload(SAMPLES_DIR, 'models/');
    const golden = readGolden(MODEL);
    heldOut = Array.from({ length: golden.inputs[0].shape[0] }, (_, r) => golden.inputs[0].data.slice(r * 30, r * 30 + 30) as number[]);
    const baseline = JSON.parse(readFileSync(join(SAMPLES_DIR, MODEL, '1', 'baseline.json'), 'utf8')) as Baseline;
    const radius = baseline.features.find((f) => f.name === 'mean radius')! as FeatureBaseline;
    const std = (radius.quantiles[84] - radius.quantiles[16]) / 2;
    shifted = heldOut.map((row) => row.map((v, i) => (i === radius.index ? v + 2 * std : v)));
  });
  after(() => s3.close());

  /** Writes capture objects as Firehose delivers them: JSON Lines under captures/<model>/<version>/<date>/. */
  async function deliver(bucketPrefix: string, lines: string[], at: Date, name: string) {
    const key = `${bucketPrefix}${capturePrefix(MODEL, 1, at)}${name}`;
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: `${lines.join('\n')}\n` }));
  }

  async function run(capturesRoot: string) {
    const lines: string[] = [];
    // As deployed, models sit under models/ and captures under captures/; each test keeps its
    // captures apart under its own root folder, which this view of the bucket hides from the job.
    const base = new S3BatchStore(s3.client, 'models');
    const store = {
      read: (key: string) => base.read(key.startsWith('captures/') ? `${capturesRoot}${key}` : key),
      list: async (prefix: string) => (prefix.startsWith('captures/') ? (await base.list(`${capturesRoot}${prefix}`)).map((k) => k.slice(capturesRoot.length)) : base.list(prefix)),
    };
    const results = await runDriftJob([{ model: MODEL, psiThreshold: 0.2, windowHours: 24, minRows: 100 }], {
      store,
      modelPrefix: 'models/',
      sink: powertoolsSink((record) => lines.push(record)),
      logger: silentLogger,
      now: NOW,
    });
    return { results, records: emfRecords(lines.join('\n')) };
  }

  it('stays quiet on traffic like the training data', async () => {
    await deliver('quiet/', await captureLines(heldOut, new Date(NOW.getTime() - 2 * HOUR)), NOW, 'stream-1-a');
    const { results, records } = await run('quiet/');
    const [drift] = results;
    assert.deepEqual(drift.versions.map((v) => [v.version, v.rows, v.status]), [[1, heldOut.length, 'ok']]);
    assert.equal(drift.versions[0].features.length, 30);
    assert.ok(drift.maxPsi! < 0.2, `max PSI ${drift.maxPsi}`);
    // One PSI and one KS per feature, the rows compared, and the model's maximum for the alarm.
    assert.equal(metricValues(records, 'DriftPSI', { Model: MODEL, Version: '1' }).length, 30);
    assert.equal(metricValues(records, 'DriftKS', { Model: MODEL, Version: '1' }).length, 30);
    assert.deepEqual(metricValues(records, 'DriftRows', { Model: MODEL, Version: '1' }), [heldOut.length]);
    assert.deepEqual(metricValues(records, 'DriftPSIMax', { Model: MODEL }), [drift.maxPsi]);
    assert.ok(metricValues(records, 'DriftPSI', { Model: MODEL, Version: '1', Feature: 'mean radius' })[0] < 0.2);
  });

  it('flags injected drift in the feature that drifted, above the alarm threshold', async () => {
    await deliver('drifted/', await captureLines(shifted, new Date(NOW.getTime() - HOUR)), NOW, 'stream-1-a');
    const { results, records } = await run('drifted/');
    const [drift] = results;
    assert.equal(drift.versions[0].status, 'drift');
    assert.deepEqual(drift.versions[0].features.filter((f) => f.drifted).map((f) => f.name), ['mean radius']);
    const psi = metricValues(records, 'DriftPSI', { Model: MODEL, Version: '1', Feature: 'mean radius' })[0];
    assert.ok(psi > 0.2, `PSI ${psi}`);
    assert.ok(metricValues(records, 'DriftKS', { Model: MODEL, Version: '1', Feature: 'mean radius' })[0] > 0.5);
    assert.deepEqual(metricValues(records, 'DriftPSIMax', { Model: MODEL }), [psi]);
  });

  it('reads only the window: older captures, other days\' folders and lines that are not captures are left out', async () => {
    const yesterday = new Date(NOW.getTime() - 20 * HOUR); // inside the 24 h window, in yesterday's folder
    await deliver('window/', await captureLines(heldOut.slice(0, 60), yesterday), yesterday, 'stream-1-a');
    await deliver('window/', [...(await captureLines(heldOut.slice(60), NOW)), 'not json', '{"modelship":"capture","model":"other","version":1}'], NOW, 'stream-1-b');
    // Shifted traffic from two days ago is outside the window and must not count.
    const old = new Date(NOW.getTime() - 30 * HOUR);
    await deliver('window/', await captureLines(shifted, old), yesterday, 'stream-1-old');
    const { results } = await run('window/');
    assert.deepEqual(results[0].versions.map((v) => [v.rows, v.skippedLines, v.status]), [[heldOut.length, 2, 'ok']]);
  });

  it('reads SageMaker\'s own data capture for an endpoint model (JSON and base64 bodies), against the live version\'s baseline', async () => {
    // As SageMaker writes them: captures/<model>/<endpoint>/<variant>/yyyy/mm/dd/hh/<id>.jsonl.
    const line = (body: unknown, base64: boolean, at: Date) => JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: 'application/json', mode: 'INPUT', data: base64 ? Buffer.from(JSON.stringify(body)).toString('base64') : JSON.stringify(body), encoding: base64 ? 'BASE64' : 'JSON' },
        endpointOutput: { observedContentType: 'application/json', mode: 'OUTPUT', data: '{}', encoding: 'JSON' },
      },
      eventMetadata: { eventId: 'e', inferenceTime: at.toISOString() },
      eventVersion: '0',
    });
    const at = new Date(NOW.getTime() - 2 * HOUR);
    const hourPath = `${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}/${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCHours()).padStart(2, '0')}`;
    const lines = shifted.map((row, i) => (i % 2 === 0 ? line({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] }, false, at) : line({ instances: [row] }, true, at)));
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `sagemaker/captures/${MODEL}/modelship-${MODEL}/AllTraffic/${hourPath}/a.jsonl`, Body: `${[...lines, 'not json'].join('\n')}\n` }));
    // Three days old: outside the window.
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `sagemaker/captures/${MODEL}/modelship-${MODEL}/AllTraffic/2026/11/19/08/b.jsonl`, Body: `${line({ instances: [heldOut[0]] }, false, new Date('2026-11-19T08:10:00Z'))}\n` }));
    const base = new S3BatchStore(s3.client, 'models');
    const store = {
      read: (key: string) => base.read(key.startsWith('captures/') ? `sagemaker/${key}` : key),
      list: async (prefix: string) => (prefix.startsWith('captures/') ? (await base.list(`sagemaker/${prefix}`)).map((k) => k.slice('sagemaker/'.length)) : base.list(prefix)),
    };
    const [drift] = await runDriftJob([{ model: MODEL, sageMakerVersion: 1 }], { store, modelPrefix: 'models/', sink: () => {}, logger: silentLogger, now: NOW });
    assert.deepEqual(drift.versions.map((v) => [v.version, v.rows, v.skippedLines, v.status]), [[1, shifted.length, 1, 'drift']]);
    assert.deepEqual(drift.versions[0].features.filter((f) => f.drifted).map((f) => f.name), ['mean radius']);
  });

  it('reports too few rows without drift figures', async () => {
    await deliver('sparse/', await captureLines(heldOut.slice(0, 20), NOW), NOW, 'stream-1-a');
    const { results, records } = await run('sparse/');
    assert.deepEqual(results[0].versions.map((v) => [v.rows, v.status]), [[20, 'too_few_rows']]);
    assert.equal(results[0].maxPsi, undefined);
    assert.deepEqual(metricValues(records, 'DriftPSIMax'), [], 'no figure: the alarm treats missing data as not breaching');
    assert.deepEqual(metricValues(records, 'DriftRows', { Model: MODEL }), [20]);
  });
});
