/**
 * What a version folder may hold around a native model, through the repository and service as every
 * adapter uses them: refusals name the file, the problem and the fix, answer 503 on that model's
 * routes, and leave the other models serving.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { NativeConverter } from '../../../lambda/core/conversion-record.ts';
import { tabularClassifier } from '../../fixtures/tabular-models.ts';
import { createTestService, TempRepository } from '../../helpers.ts';

const NATIVE = ['model.json', 'model.ubj', 'model.txt'];
const SOURCE = 'a stand-in XGBoost model';
const sha256 = (text: string | Uint8Array) => createHash('sha256').update(text).digest('hex');
/** Converts SOURCE into the hand-written classifier, and refuses anything else as the converter does, naming the file. */
const standInConverter: NativeConverter = (file, bytes) => {
  if (Buffer.from(bytes).toString() !== SOURCE) throw new Error(`${file}: not an XGBoost model (truncated JSON at byte ${bytes.length}); save it again with Booster.save_model`);
  const { onnx, record } = tabularClassifier();
  return { onnx, record: { ...record, source: { file, sha256: sha256(bytes) } } };
};

describe('version folders with native models', () => {
  const { onnx, record } = tabularClassifier();
  const recordFor = (file: string, text: string) => JSON.stringify({ ...record, source: { file, sha256: sha256(text) } });
  const repo = new TempRepository('native-')
    .sample('iris_forest')
    .file('pickled/1/model.pkl', 'never read')
    .file('pickled_beside/1/model.onnx', onnx)
    .file('pickled_beside/1/model.joblib', 'never read')
    .file('two_natives/1/model.json', SOURCE)
    .file('two_natives/1/model.txt', 'tree')
    .file('no_record/1/model.json', SOURCE)
    .file('no_record/1/model.onnx', onnx)
    .file('stale/1/model.json', SOURCE)
    .file('stale/1/model.onnx', onnx)
    .file('stale/1/conversion.json', recordFor('model.json', 'an older model'))
    .file('staged/1/model.json', SOURCE)
    .file('staged/1/model.onnx', onnx)
    .file('staged/1/conversion.json', recordFor('model.json', SOURCE))
    .file('native/1/model.json', SOURCE)
    .file('corrupt/1/model.json', SOURCE.slice(0, 9));
  after(() => rmSync(repo.dir, { recursive: true, force: true }));
  const converting = createTestService(repo.dir, { nativeModelFiles: NATIVE, convertNative: standInConverter });
  const lambdaLike = createTestService(repo.dir, { nativeModelFiles: NATIVE });
  const predict = async (service: typeof converting, model: string) => {
    const answer = await service.handle({ method: 'POST', path: `/v1/models/${model}:predict`, body: JSON.stringify({ instances: [{ age: 25, color: 'green' }] }) });
    // A 503's body is generic (5xx details stay in the log and the console): the problem is the error's own message.
    return { status: answer.statusCode, problem: answer.error?.message, body: JSON.parse(answer.body as string) as { error?: string; predictions?: { label: string }[] } };
  };

  it('lists every folder holding a model file as a version, pickles and native files included', async () => {
    const catalog = await converting.repository.catalog();
    for (const name of ['pickled', 'two_natives', 'native', 'corrupt', 'staged']) assert.deepEqual(catalog.get(name)?.versions, [1], name);
  });

  it('refuses what a folder cannot serve as it stands, naming the file and the fix, with 503', async () => {
    const refusals: [string, RegExp][] = [
      ['pickled', /pickled\/1\/model\.pkl is a Python pickle, which ModelShip never reads \(loading one runs its code\): export the model to ONNX with skl2onnx as model\.onnx, or save a tree booster with its native save_model/],
      ['pickled_beside', /pickled_beside\/1\/model\.joblib is a Python pickle/],
      ['two_natives', /two_natives\/1 holds model\.json and model\.txt: a version folder holds one model file; keep one/],
      ['no_record', /no_record\/1 holds model\.json and model\.onnx but no conversion\.json: two model files in one version folder/],
      ['stale', new RegExp(`stale/1/model\\.onnx was converted from model\\.json with sha256 ${sha256('an older model')}, but the folder's model\\.json has sha256 ${sha256(SOURCE)}: it is stale or from another model; run modelship convert --model stale --version 1`)],
      ['corrupt', /model "corrupt" version 1 cannot be loaded: corrupt\/1: model\.json: not an XGBoost model \(truncated JSON at byte 9\)/],
    ];
    for (const [model, message] of refusals) {
      const { status, problem } = await predict(converting, model);
      assert.equal(status, 503, model);
      assert.match(problem!, message, model);
    }
  });

  it('converts a native model at load where the process may, and serves a staged conversion whose record matches its source', async () => {
    for (const model of ['native', 'staged']) {
      const { status, body } = await predict(converting, model);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.predictions![0].label, 'yes');
    }
  });

  it('never converts where it is given no converter (a Lambda function), serving only what was staged', async () => {
    const { status, problem } = await predict(lambdaLike, 'native');
    assert.equal(status, 503);
    assert.match(problem!, /native\/1\/model\.json has no converted model\.onnx beside it, and this server does not convert at start \(a Lambda function never converts at cold start\): deploy with cdk deploy, whose synth stages the conversion, or run modelship convert --model native --version 1/);
    assert.equal((await predict(lambdaLike, 'staged')).status, 200);
  });

  it('keeps the other models serving beside refused ones', async () => {
    const answer = await converting.handle({ method: 'POST', path: '/v1/models/iris_forest:predict', body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }) });
    assert.equal(answer.statusCode, 200);
    const failures = await converting.repository.preload();
    assert.deepEqual(failures.map((f) => f.split(':')[0]).sort(), ['corrupt', 'no_record', 'pickled', 'pickled_beside', 'stale', 'two_natives']);
  });
});
