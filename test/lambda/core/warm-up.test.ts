import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { goldenFeeds, warmUpShape, zeroFeeds } from '../../../lambda/core/warm-up.ts';
import { createTestRepository, NATIVE_SAMPLES, SAMPLE_MODELS, SAMPLES_DIR, TempRepository } from '../../helpers.ts';

/** The ONNX samples (image, text and tabular inputs); the native ones need the converter, which a Lambda function never runs. */
const ONNX_SAMPLES = SAMPLE_MODELS.filter((m) => !NATIVE_SAMPLES.includes(m));

describe('prepareSnapshot and the warm-up run', () => {
  it('loads every version of every model and runs each once, on its first golden row or on zeros of its shape (free dimensions 1), whatever its input types', async () => {
    const repo = new TempRepository('warm-');
    for (const name of ONNX_SAMPLES) repo.sample(name);
    repo.copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'iris_forest/2/model.onnx');
    const repository = createTestRepository(repo.dir);
    const { loaded, failures, warmUpFailures, warmedOnGolden } = await repository.prepareSnapshot();
    assert.deepEqual(failures, []);
    assert.deepEqual(warmUpFailures, []);
    assert.deepEqual(loaded.sort(), [...ONNX_SAMPLES.map((m) => `${m}/1`), 'iris_forest/2'].sort());
    // The versions whose golden file holds v2 tensors warm up on its first row; text and image
    // goldens, and iris_forest/2 (no golden file), on zeros.
    const withTensors = ONNX_SAMPLES.filter((m) => Array.isArray(JSON.parse(readFileSync(join(SAMPLES_DIR, m, '1', 'golden.json'), 'utf8')).inputs));
    assert.ok(withTensors.length >= 3, withTensors.join());
    assert.deepEqual(warmedOnGolden.sort(), withTensors.map((m) => `${m}/1`).sort());
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

  it('takes the first golden row as the warm-up input, checked as a request would be, and nothing from a golden file that does not fit', async () => {
    const repository = createTestRepository(new TempRepository('warm-golden-').sample('iris_forest').sample('digits_mlp').dir);
    const iris = await repository.load('iris_forest', 1);
    const golden = JSON.parse(readFileSync(join(SAMPLES_DIR, 'iris_forest', '1', 'golden.json'), 'utf8'));
    const feeds = goldenFeeds(iris, golden)!;
    assert.deepEqual(feeds.features.dims, [1, 4]);
    assert.deepEqual(Array.from(feeds.features.data as Float32Array), Array.from(Float32Array.from(golden.inputs[0].data.slice(0, 4))));
    // digits_mlp's golden rows are 8x8 images: one row is the whole first image.
    const digits = await repository.load('digits_mlp', 1);
    const digitsGolden = JSON.parse(readFileSync(join(SAMPLES_DIR, 'digits_mlp', '1', 'golden.json'), 'utf8'));
    assert.deepEqual(goldenFeeds(digits, digitsGolden)!.image.dims, [1, 8, 8]);
    assert.equal(goldenFeeds(iris, { texts: ['a text'] }), undefined);
    assert.equal(goldenFeeds(iris, digitsGolden), undefined, "another model's inputs");
    assert.equal(goldenFeeds(iris, undefined), undefined);
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
