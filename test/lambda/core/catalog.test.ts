import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyVersionPolicy, findEntry, readCatalog, resolveVersion } from '../../../lambda/core/catalog.ts';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../../lambda/core/config.ts';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { silentLogger } from '../../../lambda/core/logger.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { TempRepository } from '../../helpers.ts';

const config = (fields: Partial<ModelConfig>): ModelConfig => ({ ...DEFAULT_MODEL_CONFIG, ...fields });

const statusOf = (fn: () => unknown): { status: number; message: string } => {
  try {
    fn();
  } catch (error) {
    assert.ok(isInferenceError(error));
    return { status: error.statusCode, message: error.message };
  }
  throw new Error('did not throw');
};

describe('version policy', () => {
  it('serves the latest version by default', () => {
    assert.equal(applyVersionPolicy('iris', DEFAULT_MODEL_CONFIG, [1, 2, 3]).liveVersion, 3);
  });

  it('serves the pinned version, and the deployment\'s over the config\'s', () => {
    assert.equal(applyVersionPolicy('iris', config({ versionPolicy: { pinned: 2 } }), [1, 2, 3]).liveVersion, 2);
    assert.equal(applyVersionPolicy('iris', config({ versionPolicy: { pinned: 2 } }), [1, 2, 3], 1).liveVersion, 1);
  });

  it('names why a model cannot be served: no versions, a missing pin, a missing A/B or shadow version', () => {
    assert.match(applyVersionPolicy('iris', DEFAULT_MODEL_CONFIG, []).problem!, /^no version directory holds a model\.onnx/);
    assert.match(applyVersionPolicy('iris', config({ versionPolicy: { pinned: 4 } }), [1, 2]).problem!, /^iris\/config\.json pins version 4, which is not in the store \(have 1, 2\)$/);
    assert.match(applyVersionPolicy('iris', DEFAULT_MODEL_CONFIG, [1, 2], 5).problem!, /^this deployment serves version 5/);
    assert.match(applyVersionPolicy('iris', config({ abTest: { weights: { '1': 1, '9': 1 } } }), [1, 2]).problem!, /names version 9 \(abTest or shadow\)/);
    assert.match(applyVersionPolicy('iris', config({ shadow: { version: 3, percent: 10 } }), [1, 2]).problem!, /names version 3/);
  });
});

describe('resolving a request\'s model and version', () => {
  const catalog = new Map([['iris', applyVersionPolicy('iris', DEFAULT_MODEL_CONFIG, [1, 2])], ['broken', applyVersionPolicy('broken', DEFAULT_MODEL_CONFIG, [])]]);

  it('finds a model or answers 404 listing the models', () => {
    assert.equal(findEntry(catalog, 'iris').name, 'iris');
    assert.deepEqual(statusOf(() => findEntry(catalog, 'nope')), { status: 404, message: 'model "nope" not found; available: broken, iris' });
    assert.equal(statusOf(() => findEntry(catalog, '../iris')).status, 404, 'names outside the pattern are never looked up');
  });

  it('resolves the live version or the one named, refusing bad and unknown versions', () => {
    assert.equal(resolveVersion(findEntry(catalog, 'iris')), 2);
    assert.equal(resolveVersion(findEntry(catalog, 'iris'), '1'), 1);
    assert.deepEqual(statusOf(() => resolveVersion(findEntry(catalog, 'iris'), '01')), { status: 400, message: 'version "01" of model "iris" is not a positive integer' });
    assert.deepEqual(statusOf(() => resolveVersion(findEntry(catalog, 'iris'), '7')), { status: 404, message: 'model "iris" has no version 7; available: 1, 2' });
    assert.equal(statusOf(() => resolveVersion(findEntry(catalog, 'broken'))).status, 503);
  });
});

describe('reading the catalog from a source', () => {
  it('lists models with their versions and configs, keeping a bad config as the model\'s problem', async () => {
    const repo = new TempRepository('catalog-').sample('iris_forest').sample('digits_mlp').file('iris_forest/3/model.onnx', 'x').file('digits_mlp/config.json', '{"maxBatchSize": "ten"}').file('not a model/1/model.onnx', 'x');
    const catalog = await readCatalog({ source: new DirectorySource(repo.dir), logger: silentLogger });
    assert.deepEqual([...catalog.keys()], ['digits_mlp', 'iris_forest']);
    assert.deepEqual(catalog.get('iris_forest')!.versions, [1, 3]);
    assert.deepEqual(catalog.get('iris_forest')!.config.labels, ['setosa', 'versicolor', 'virginica']);
    assert.match(catalog.get('digits_mlp')!.problem!, /digits_mlp\/config\.json: field "maxBatchSize"/);
  });

  it('reads only the models it serves, from their prefixes', async () => {
    const repo = new TempRepository('catalog-').sample();
    const listed: string[] = [];
    const source = new DirectorySource(repo.dir);
    const spy = { location: source.location, readFile: (p: string) => source.readFile(p), listFiles: (under?: string) => (listed.push(under ?? '(root)'), source.listFiles(under)) };
    const catalog = await readCatalog({ source: spy, models: ['iris_forest'], logger: silentLogger });
    assert.deepEqual([...catalog.keys()], ['iris_forest']);
    assert.deepEqual(listed, ['iris_forest/']);
  });
});
