/**
 * The pin of a 200-model deployment read from a deployment manifest in the store (as functions
 * whose pin passes the environment's limit read it): the local server over S3 (s3rver) serves what
 * was deployed, and answers 503 for a changed model file, config or manifest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Source } from '../../../lambda/stores/s3-source.ts';
import { deploymentPin } from '../../../lib/inference-function.ts';
import { discoverModels } from '../../../lib/model-discovery.ts';
import { MANIFEST_FOLDER } from '../../../lib/model-store.ts';
import { goldenRequest, readGolden, startTestLocalServer, startTestS3, type TestS3 } from '../../helpers.ts';
import { writeLargeRepository } from '../../lib/large-repository.ts';

const PREFIX = 'models/';

describe('a deployment manifest pinning 200 models, on the local server over S3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-manifest-'));
  const repository = writeLargeRepository(dir, { textModels: false });
  const deployed = discoverModels(dir);
  const manifest = JSON.stringify(deploymentPin(deployed));
  const sha256 = createHash('sha256').update(manifest).digest('hex');
  const path = `${MANIFEST_FOLDER}${sha256}.json`;
  const iris = repository.models.filter((m) => m.sample === 'iris_forest' && m.kind === 'lambda');
  let s3: TestS3;

  before(async () => {
    s3 = await startTestS3();
    await s3.upload(dir, PREFIX);
    await put(path, manifest);
  });
  after(() => s3.close());

  const put = (key: string, body: string | Uint8Array) => s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `${PREFIX}${key}`, Body: body }));

  /** Status of an infer request to a model on a fresh server (the pin is read once per process). */
  async function inferStatus(model: string, ref = { path, sha256 }): Promise<{ status: number; body: string }> {
    const source = new S3Source({ bucket: 'models', prefix: PREFIX, client: s3.client });
    const server = await startTestLocalServer(source, { repository: { deploymentManifest: ref, retryAfterMs: 0 } });
    try {
      const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(goldenRequest(readGolden('iris_forest'), 2)) });
      return { status: response.status, body: await response.text() };
    } finally {
      await server.close();
    }
  }

  it('pins all 200 models in one manifest and serves from it', async () => {
    assert.equal(new Set(Object.keys(JSON.parse(manifest)).map((k) => k.split('/')[0])).size, 200);
    const { status, body } = await inferStatus(iris[0].name);
    assert.equal(status, 200, body);
  });

  it('answers 503 for a model file changed after deploy', async () => {
    const model = iris[1];
    await put(`${model.name}/1/model.onnx`, readFileSync(join(dir, repository.models.find((m) => m.sample === 'digits_mlp')!.name, '1', 'model.onnx')));
    const { status, body } = await inferStatus(model.name);
    assert.equal(status, 503, body);
  });

  it('answers 503 for a config changed after deploy', async () => {
    const model = iris[2];
    await put(`${model.name}/config.json`, JSON.stringify({ ...model.config, maxBatchSize: 1 }));
    const { status, body } = await inferStatus(model.name);
    assert.equal(status, 503, body);
  });

  it('answers 503 for every model when the manifest itself changed', async () => {
    const tampered = JSON.stringify({ ...JSON.parse(manifest), [`${iris[1].name}/1`]: createHash('sha256').update('anything').digest('hex') });
    await put(path, tampered);
    try {
      const { status, body } = await inferStatus(iris[0].name);
      assert.equal(status, 503, body);
    } finally {
      await put(path, manifest);
    }
  });

  it('answers 503 when the manifest is missing', async () => {
    const { status, body } = await inferStatus(iris[0].name, { path: `${MANIFEST_FOLDER}${'1'.repeat(64)}.json`, sha256: '1'.repeat(64) });
    assert.equal(status, 503, body);
  });
});
