import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseModelConfig } from '../../../lambda/core/config.ts';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { createTestService, FIXTURE_MODELS_DIR, SAMPLES_DIR, TempRepository } from '../../helpers.ts';


async function statusOf(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isInferenceError(error), `expected an InferenceError, got ${error}`);
    return { status: error.statusCode, message: error.message };
  }
  throw new Error('expected a rejection');
}

/** The real directory source, counting how often the model file is read. */
class CountingSource extends DirectorySource {
  modelReads = 0;
  override async readFile(path: string) {
    if (path.endsWith('model.onnx')) this.modelReads++;
    return super.readFile(path);
  }
}

describe('model config validation', () => {
  it('throws naming the file and the field when a field has the wrong type', () => {
    assert.throws(() => parseModelConfig('{"maxBatchSize": "ten"}', 'iris/config.json'), /^ModelConfigError: iris\/config.json: field "maxBatchSize": .*expected number/);
  });
  it('throws naming an unknown field, which catches typos', () => {
    assert.throws(() => parseModelConfig('{"maxBatchsize": 10}', 'iris/config.json'), /iris\/config.json: top level: .*"maxBatchsize"/);
  });
  it('checks capture and drift settings: capture off and drift defaults unless set, capture for Lambda models only', () => {
    const defaults = parseModelConfig('{}', 'x/config.json');
    assert.equal(defaults.capture, undefined);
    assert.deepEqual(defaults.drift, { psiThreshold: 0.2, windowHours: 24, minRows: 100 });
    assert.deepEqual(parseModelConfig('{"capture": {"percent": 5}}', 'x/config.json').capture, { percent: 5, maxRecordBytes: 204800, images: 'hash' });
    assert.throws(() => parseModelConfig('{"capture": {"percent": 150}}', 'x/config.json'), /field "capture.percent": .*100/);
    assert.throws(() => parseModelConfig('{"capture": {"percent": 5, "maxRecordBytes": 1000000}}', 'x/config.json'), /field "capture.maxRecordBytes"/);
    assert.throws(() => parseModelConfig('{"target": "sagemaker", "capture": {"percent": 5}}', 'x/config.json'), /field "capture": applies to Lambda models; SageMaker endpoints capture with sagemaker.dataCapturePercent/);
    assert.throws(() => parseModelConfig('{"drift": {"psiThreshold": -1}}', 'x/config.json'), /field "drift.psiThreshold"/);
  });
  it('throws when the file is not JSON', () => {
    assert.throws(() => parseModelConfig('{', 'iris/config.json'), /iris\/config.json: not valid JSON/);
  });
  it('accepts every sample config', () => {
    for (const name of ['breast_cancer_classifier', 'diabetes_regressor', 'digits_mlp', 'iris_forest']) {
      parseModelConfig(readFileSync(join(SAMPLES_DIR, name, 'config.json'), 'utf8'), `${name}/config.json`);
    }
  });
  it('defaults the version policy to latest', () => {
    assert.equal(parseModelConfig('{}', 'x/config.json').versionPolicy, 'latest');
  });
});

describe('model repository', () => {
  it('reads only the files the catalog listed beside a model: no reads of absent tokenizer files', async () => {
    const reads: string[] = [];
    const directory = new DirectorySource(SAMPLES_DIR);
    const counting = { location: directory.location, listFiles: (under?: string) => directory.listFiles(under), readFile: (path: string) => (reads.push(path), directory.readFile(path)) };
    const service = createTestService(counting);
    await service.loadModel('digits_mlp');
    assert.deepEqual(reads.filter((p) => p.startsWith('digits_mlp/1/')), ['digits_mlp/1/model.onnx']);
    await service.loadModel('debian_sections');
    assert.deepEqual(reads.filter((p) => p.startsWith('debian_sections/1/')).sort(), ['debian_sections/1/config.json', 'debian_sections/1/model.onnx', 'debian_sections/1/tokenizer.json', 'debian_sections/1/tokenizer_config.json']);
  });

  it('serves a model dropped in with no config, its signature read from the model', async () => {
    const dir = new TempRepository().copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'bare/7/model.onnx').dir;
    const service = createTestService(dir);
    const metadata = await service.metadata('bare');
    assert.deepEqual(metadata.versions, ['7']);
    assert.deepEqual(metadata.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }]);
  });

  it('loads a model once when concurrent first requests arrive', async () => {
    const source = new CountingSource(SAMPLES_DIR);
    const service = createTestService(source);
    const models = await Promise.all(Array.from({ length: 10 }, () => service.loadModel('digits_mlp')));
    assert.equal(source.modelReads, 1);
    assert.ok(models.every((m) => m === models[0]));
  });

  it('serves the latest version by default and a pinned one when configured', async () => {
    const dir = new TempRepository().copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'm/1/model.onnx').copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'm/2/model.onnx').dir;
    assert.equal((await createTestService(dir).loadModel('m')).version, 2);
    writeFileSync(join(dir, 'm', 'config.json'), '{"versionPolicy": {"pinned": 1}}');
    const service = createTestService(dir);
    assert.equal((await service.loadModel('m')).version, 1);
    assert.equal((await service.loadModel('m', '2')).version, 2);
  });

  it('answers 404 naming the available models for an unknown model, and versions for an unknown version', async () => {
    const service = createTestService(SAMPLES_DIR);
    assert.deepEqual(await statusOf(service.loadModel('nope')), { status: 404, message: 'model "nope" not found; available: breast_cancer_classifier, car_mpg, debian_embeddings, debian_sections, diabetes_regressor, digits_mlp, iris_forest, penguin_species, text_orientation' });
    assert.deepEqual(await statusOf(service.loadModel('iris_forest', '9')), { status: 404, message: 'model "iris_forest" has no version 9; available: 1' });
    assert.deepEqual(await statusOf(service.loadModel('iris_forest', 'x')), { status: 400, message: 'version "x" of model "iris_forest" is not a positive integer' });
  });

  it('answers 503 for a corrupt model alone; the others keep serving', async () => {
    const bytes = readFileSync(join(SAMPLES_DIR, 'digits_mlp', '1', 'model.onnx'));
    const dir = new TempRepository().sample('iris_forest').file('broken/1/model.onnx', bytes.subarray(0, bytes.length / 2)).dir;
    const service = createTestService(dir);
    const failure = await statusOf(service.loadModel('broken'));
    assert.equal(failure.status, 503);
    assert.match(failure.message, /^model "broken" version 1 cannot be loaded: /);
    assert.equal((await service.loadModel('iris_forest')).name, 'iris_forest');
  });

  it('answers 503 naming the file and field for a model whose config is invalid', async () => {
    const dir = new TempRepository().sample('iris_forest').dir;
    writeFileSync(join(dir, 'iris_forest', 'config.json'), '{"labels": "setosa"}'); // replaced whole, not merged
    const failure = await statusOf(createTestService(dir).loadModel('iris_forest'));
    assert.equal(failure.status, 503);
    assert.match(failure.message, /^model "iris_forest" cannot be served: iris_forest\/config.json: field "labels": /);
  });

  it('answers 503 when a pinned version is not in the store', async () => {
    const dir = new TempRepository().copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'm/1/model.onnx').dir;
    writeFileSync(join(dir, 'm', 'config.json'), '{"versionPolicy": {"pinned": 3}}');
    assert.deepEqual(await statusOf(createTestService(dir).loadModel('m')), { status: 503, message: 'model "m" cannot be served: m/config.json pins version 3, which is not in the store (have 1)' });
  });

  it('answers 503 when the repository directory is missing, naming it', async () => {
    const failure = await statusOf(createTestService(join(tmpdir(), 'does-not-exist-modelship')).loadModel('x'));
    assert.equal(failure.status, 503);
    assert.match(failure.message, /^model store directory .*does-not-exist-modelship is unreachable: ENOENT/);
  });

  it('falls back to CPU with a warning and a callback when the GPU provider is missing', async () => {
    const fallbacks: string[] = [];
    const service = createTestService(SAMPLES_DIR, { gpu: true, onGpuFallback: ({ model, cause }) => fallbacks.push(`${model}: ${cause}`) });
    const model = await service.loadModel('iris_forest');
    assert.equal(model.executionProvider, 'cpu');
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0], /^iris_forest: .*Cuda/);
  });

  it('serves only the models it is told to', async () => {
    const service = createTestService(FIXTURE_MODELS_DIR, { models: ['add_two'] });
    assert.deepEqual([...(await service.repository.catalog()).keys()], ['add_two']);
  });

  it('loads every live version at start when preloading, reporting failures', async () => {
    const dir = new TempRepository().sample('iris_forest').file('broken/1/model.onnx', 'not a model').dir;
    const failures = await createTestService(dir).repository.preload();
    assert.equal(failures.length, 1);
    assert.match(failures[0], /^broken: model "broken" version 1 cannot be loaded/);
  });
});
