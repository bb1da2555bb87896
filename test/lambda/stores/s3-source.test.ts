import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { S3Source } from '../../../lambda/stores/s3-source.ts';
import { assertClose, createTestService, goldenRequest, readGolden, TABULAR_SAMPLES, SAMPLES_DIR, startTestS3, type TestS3 } from '../../helpers.ts';

describe('S3 model source against a real S3 API server', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startTestS3();
    await s3.upload(SAMPLES_DIR, 'repo/models/');
  });
  after(() => s3.close());

  it('lists the same layout under a prefix', async () => {
    const source = new S3Source({ bucket: 'models', prefix: 'repo/models', client: s3.client });
    const files = await source.listFiles();
    assert.ok(files.includes('iris_forest/1/model.onnx'));
    assert.ok(files.includes('iris_forest/config.json'));
    assert.equal(await source.readFile('iris_forest/9/model.onnx'), undefined);
  });

  it('serves every sample model with its golden answers', async () => {
    const service = createTestService(new S3Source({ bucket: 'models', prefix: 'repo/models/', client: s3.client }));
    for (const name of TABULAR_SAMPLES) {
      const golden = readGolden(name);
      const response = JSON.parse(await service.infer(await service.loadModel(name), goldenRequest(golden, 5)));
      const rowSize = golden.outputs[0].shape.slice(1).reduce((a, b) => a * b, 1);
      assertClose(response.outputs[0].data, golden.outputs[0].data.slice(0, 5 * rowSize), golden.tolerance, name);
    }
  });

  it('answers 404 for a bucket prefix that holds no such model', async () => {
    const service = createTestService(new S3Source({ bucket: 'models', prefix: 'elsewhere/', client: s3.client }));
    await assert.rejects(service.loadModel('iris_forest'), (error) => isInferenceError(error) && error.statusCode === 404);
  });
});

describe('S3 store unreachable', () => {
  it('answers 503 with the cause, then serves once the store is back, without a restart', async () => {
    // Prepare: a store that is up, its port noted, then stopped.
    const first = await startTestS3();
    const port = first.port;
    await first.close();
    const service = createTestService(new S3Source({ bucket: 'models', prefix: 'm/', client: first.client }), { retryAfterMs: 50 });
    // Act + Assess: while down
    await assert.rejects(service.loadModel('iris_forest'), (error) => {
      assert.ok(isInferenceError(error));
      assert.equal(error.statusCode, 503);
      assert.match(error.message, /^model store s3:\/\/models\/m\/ is unreachable: .*ECONNREFUSED/);
      return true;
    });
    // Back on the same port, with the models.
    const second = await startTestS3(port);
    try {
      await second.upload(SAMPLES_DIR, 'm/');
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal((await service.loadModel('iris_forest')).name, 'iris_forest');
    } finally {
      await second.close();
    }
  });
});
