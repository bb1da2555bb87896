import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { warmUpShape, zeroFeeds } from '../../../lambda/core/warm-up.ts';
import { createTestRepository, NATIVE_SAMPLES, SAMPLE_MODELS, SAMPLES_DIR, TempRepository } from '../../helpers.ts';

/** The ONNX samples (image, text and tabular inputs); the native ones need the converter, which a Lambda function never runs. */
const ONNX_SAMPLES = SAMPLE_MODELS.filter((m) => !NATIVE_SAMPLES.includes(m));

describe('prepareSnapshot and the warm-up run', () => {
  it('loads every version of every model and runs each once on zeros of its shape (free dimensions 1), whatever its input types', async () => {
    const repo = new TempRepository('warm-');
    for (const name of ONNX_SAMPLES) repo.sample(name);
    repo.copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'iris_forest/2/model.onnx');
    const repository = createTestRepository(repo.dir);
    const { loaded, failures, warmUpFailures } = await repository.prepareSnapshot();
    assert.deepEqual(failures, []);
    assert.deepEqual(warmUpFailures, []);
    assert.deepEqual(loaded.sort(), [...ONNX_SAMPLES.map((m) => `${m}/1`), 'iris_forest/2'].sort());
    for (const name of ONNX_SAMPLES) {
      const model = await repository.load(name, 1);
      const feeds = zeroFeeds(model);
      for (const spec of model.signature.inputs) {
        assert.deepEqual(feeds[spec.name].dims, warmUpShape(spec), `${name} ${spec.name}`);
        assert.equal(feeds[spec.name].type, spec.datatype.ort);
        assert.ok(Array.from(feeds[spec.name].data as ArrayLike<unknown>).every((v) => v === 0 || v === 0n || v === ''), `${name} ${spec.name} is zeros`);
        assert.ok(feeds[spec.name].dims.every((d) => d >= 1));
      }
    }
  });

  it('reports a version that cannot load as a failure, and keeps loading the others', async () => {
    const repo = new TempRepository('warm-bad-').sample('iris_forest');
    repo.file('iris_forest/2/model.onnx', Buffer.from('not an onnx model'));
    const { loaded, failures } = await createTestRepository(repo.dir).prepareSnapshot();
    assert.deepEqual(loaded, ['iris_forest/1']);
    assert.equal(failures.length, 1);
    assert.match(failures[0], /^iris_forest\/2: /);
  });
});
