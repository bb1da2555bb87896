/**
 * Native models at synth: converted once, staged with model.onnx and conversion.json beside the
 * source in the repository the deploy uploads, and pinned (the written model.onnx by its sha256, the
 * source and conversion.json in the files digest) so the function serves exactly what was staged,
 * without converting, and refuses any of the three changed after synth.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { pinVersion } from '../../cli/rollback.ts';
import { discoverModels, stageModels } from '../../lib/model-discovery.ts';
import { sha256Environment } from '../../lib/inference-function.ts';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { createRepository, createService, readRuntimeConfig } from '../../lambda/entry/runtime-config.ts';
import { ROOT, TempRepository } from '../helpers.ts';
import { fakeImageDirectory } from './stack-fixture.ts';

const TREES = join(ROOT, 'test', 'fixtures', 'trees');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('native models at synth', () => {
  const repo = () => new TempRepository('native-synth-').sample('iris_forest').copy(join(TREES, 'lgb_multiclass_cat'), 'penguins/1');

  it('converts each native model once and stages model.onnx and conversion.json beside its source, leaving ./models as it is', () => {
    const dir = repo().dir;
    const models = discoverModels(dir);
    const penguins = models.find((m) => m.name === 'penguins')!;
    assert.deepEqual(penguins.conversions.map((c) => c.version), [1]);
    assert.equal(penguins.sha256[1], sha256(penguins.conversions[0].onnx));
    const staged = stageModels(dir, models, join(dir, '..', `${dir.split('/').pop()}-build`));
    assert.notEqual(staged, dir);
    assert.deepEqual(readFileSync(join(staged, 'penguins', '1', 'model.onnx')), Buffer.from(penguins.conversions[0].onnx));
    assert.equal(JSON.parse(readFileSync(join(staged, 'penguins', '1', 'conversion.json'), 'utf8')).source.sha256, sha256(readFileSync(join(dir, 'penguins', '1', 'model.txt'))));
    assert.equal(existsSync(join(dir, 'penguins', '1', 'model.onnx')), false);
    // modelship rollback knows a version by its native file too.
    assert.match(pinVersion(dir, 'penguins', 1), /penguins\/config\.json$/);
    // Nothing native: the repository is uploaded as it is.
    const onnxOnly = new TempRepository('onnx-only-').sample('iris_forest').dir;
    assert.equal(stageModels(onnxOnly, discoverModels(onnxOnly), join(onnxOnly, 'build')), onnxOnly);
  });

  it('pins the written model.onnx and, in the files digest, the source and conversion.json: a function serves what was staged and refuses any of them changed', async () => {
    const dir = repo().dir;
    const models = discoverModels(dir);
    const staged = stageModels(dir, models, join(dir, '..', `${dir.split('/').pop()}-build`));
    const expectedSha256 = sha256Environment(models);
    const pinned = JSON.parse(expectedSha256.MODEL_SHA256S) as Record<string, string>;
    // As the Lambda function wires it (lambda/entry/api.ts): its environment, the native file names, no converter.
    const predict = async () => {
      const config = readRuntimeConfig({ MODEL_DIR: staged, MODEL_SHA256S: JSON.stringify(pinned) }, { intraOpThreads: 1 });
      const service = createService(config, createRepository(config));
      return (await service.handle({ method: 'POST', path: '/v1/models/penguins:predict', body: JSON.stringify({ instances: [{ island: 'Dream', bill_length_mm: 40 }] }) })).statusCode;
    };
    assert.equal(await predict(), 200);
    // The same wiring over the unstaged folder: a Lambda function does not convert, it refuses.
    const unstaged = readRuntimeConfig({ MODEL_DIR: dir }, { intraOpThreads: 1 });
    const refused = await createService(unstaged, createRepository(unstaged)).handle({ method: 'POST', path: '/v1/models/penguins:predict', body: '{"instances": [{}]}' });
    assert.equal(refused.statusCode, 503);
    assert.match(refused.error!.message, /penguins\/1\/model\.txt has no converted model\.onnx beside it, and this server does not convert at start/);
    for (const file of ['model.txt', 'conversion.json', 'model.onnx']) {
      const path = join(staged, 'penguins', '1', file);
      const original = readFileSync(path);
      writeFileSync(path, Buffer.concat([original, Buffer.from(file === 'model.onnx' ? '' : '\n')]));
      if (file === 'model.onnx') writeFileSync(path, readFileSync(join(ROOT, 'models', 'iris_forest', '1', 'model.onnx')));
      assert.equal(await predict(), 503, `${file} changed after synth`);
      writeFileSync(path, original);
    }
    assert.equal(await predict(), 200);
  });

  it('fails synth naming the file for what the runtime would refuse: a corrupt native file, a pickle, two model files', () => {
    const corrupt = repo().file('penguins/1/model.txt', 'tree\nversion=v4\nnum_class=');
    assert.throws(() => discoverModels(corrupt.dir), /penguins\/1\/model\.txt: /);
    assert.throws(() => discoverModels(repo().file('penguins/2/model.joblib', 'x').dir), /penguins\/2\/model\.joblib is a Python pickle, which ModelShip never reads/);
    assert.throws(() => discoverModels(repo().file('penguins/1/model.json', '{}').dir), /penguins\/1 holds model\.json and model\.txt: a version folder holds one model file; keep one/);
  });

  it('uploads the staged repository in the stack: the model store deploys the converted files', () => {
    const dir = repo().dir;
    const app = new App({ context: { 'modelship:modelsDir': dir, 'aws:cdk:bundling-stacks': [] } });
    const stack = new ModelShipStack(app, 'NativeStack', { imageDirectory: fakeImageDirectory(), sageMakerImageDirectory: fakeImageDirectory() });
    const template = Template.fromStack(stack);
    const assembly = app.synth();
    // The deployment's source asset is a staged directory holding the conversion beside the source.
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'NativeStack.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string; packaging?: string } }> };
    const folders = Object.values(manifest.files).map((f) => join(assembly.directory, f.source.path)).filter((p) => existsSync(join(p, 'penguins', '1')));
    assert.equal(folders.length, 1);
    assert.deepEqual(['model.txt', 'model.onnx', 'conversion.json'].map((f) => existsSync(join(folders[0], 'penguins', '1', f))), [true, true, true]);
    const pins = template.findResources('AWS::Lambda::Function');
    const hashes = Object.values(pins).flatMap((r) => {
      const text = (r as { Properties: { Environment?: { Variables?: { MODEL_SHA256S?: string } } } }).Properties.Environment?.Variables?.MODEL_SHA256S;
      return text === undefined ? [] : [JSON.parse(text) as Record<string, string>];
    });
    assert.ok(hashes.some((h) => h['penguins/1'] === sha256(readFileSync(join(folders[0], 'penguins', '1', 'model.onnx')))), 'the function pins the staged model.onnx');
  });
});
