import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyVersionPolicy, findEntry, NO_CONFIG, readCatalog, resolveVersion } from '../../../lambda/core/catalog.ts';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../../../lambda/core/config.ts';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { silentLogger } from '../../../lambda/core/logger.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { SAMPLES_DIR, TempRepository } from '../../helpers.ts';

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

describe('a deployment serves what it was deployed with', () => {
  const sha256 = (bytes: string | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  const deployedFrom = (repo: TempRepository, model: string, versions: number[]) => ({
    ...Object.fromEntries(versions.map((v) => [`${model}/${v}`, sha256(readFileSync(join(repo.dir, model, String(v), 'model.onnx')))])),
    [`${model}/config.json`]: existsSync(join(repo.dir, model, 'config.json')) ? sha256(readFileSync(join(repo.dir, model, 'config.json'))) : NO_CONFIG,
  });
  const read = (repo: TempRepository, deployed: Record<string, string>) => readCatalog({ source: new DirectorySource(repo.dir), deployed, logger: silentLogger });

  it('lists only the deployed versions, and refuses a version added later with a clear 404', async () => {
    const repo = new TempRepository('deployed-').sample('iris_forest');
    const deployed = deployedFrom(repo, 'iris_forest', [1]);
    repo.copy(join(repo.dir, 'iris_forest', '1', 'model.onnx'), 'iris_forest/2/model.onnx');
    const entry = (await read(repo, deployed)).get('iris_forest')!;
    assert.deepEqual([entry.versions, entry.liveVersion, entry.undeployed, entry.problem], [[1], 1, [2], undefined]);
    assert.deepEqual(statusOf(() => resolveVersion(entry, '2')), { status: 404, message: 'model "iris_forest" version 2 is in the store but was not deployed here; deployed: 1 (redeploy to ship it)' });
  });

  it('refuses a model whose config.json changed, appeared or disappeared after deploy', async () => {
    const repo = new TempRepository('deployed-').sample('iris_forest').copy(join(SAMPLES_DIR, 'digits_mlp', '1', 'model.onnx'), 'bare/1/model.onnx');
    const deployed = { ...deployedFrom(repo, 'iris_forest', [1]), ...deployedFrom(repo, 'bare', [1]) };
    assert.equal((await read(repo, deployed)).get('iris_forest')!.problem, undefined);
    repo.config('iris_forest', { abTest: { weights: { '1': 1, '2': 1000 } } }).config('bare', { description: 'added later' });
    const changed = await read(repo, deployed);
    assert.match(changed.get('iris_forest')!.problem!, /^iris_forest\/config\.json has sha256 [0-9a-f]{64}, but it was deployed with [0-9a-f]{64}; refusing a config changed after deploy/);
    assert.match(changed.get('bare')!.problem!, /^bare\/config\.json has sha256 [0-9a-f]{64}, but none was deployed/);
    assert.equal(statusOf(() => resolveVersion(changed.get('iris_forest')!)).status, 503);
  });
});
