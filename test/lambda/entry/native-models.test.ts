/**
 * Native model files served as they are, through the real entries over real HTTP: `npm start`
 * (bin/serve.ts) and the SageMaker container convert XGBoost and LightGBM files (the fixtures'
 * test/fixtures/trees/, made by the libraries themselves) at start, answer rows by feature name as
 * the library predicted them, and show a bad model's problem while the others keep serving.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, ROOT, spawnServer, TempRepository } from '../../helpers.ts';

const TREES = join(ROOT, 'test', 'fixtures', 'trees');
/** A classifier with a categorical feature from each library and file format, and regressors (one with missing values). */
const CASES = ['xgb3_binary_logistic_cat', 'xgb3_multi_softprob_cat', 'xgb17_reg_squarederror_ubj', 'lgb_multiclass_cat', 'lgb_regression_cat'];
/** The bounds: XGBoost computes in float32, LightGBM in double. */
const tolerance = (name: string) => (name.startsWith('lgb') ? 1e-9 : 1e-5);

interface Expected {
  readonly rows: Record<string, unknown>[];
  readonly prediction: number[][];
  readonly label?: number[];
}
const expected = (name: string): Expected => JSON.parse(readFileSync(join(TREES, name, 'expected.json'), 'utf8')) as Expected;

function assertAgrees(name: string, predictions: unknown[], want: Expected): void {
  assert.equal(predictions.length, want.rows.length, name);
  predictions.forEach((answer, r) => {
    const native = want.prediction[r];
    // Classifiers: the label, and every class's probability (a binary one's native prediction is P(class 1)).
    const values = typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? (answer as { probabilities: number[] }).probabilities.slice(native.length === 1 ? 1 : 0) : (answer as number[]);
    if (want.label !== undefined) assert.equal((answer as { label: number }).label, want.label[r], `${name} row ${r}: label`);
    values.forEach((v, i) => assert.ok(Math.abs(v - native[i]) <= tolerance(name) * Math.max(1, Math.abs(native[i])), `${name} row ${r} value ${i}: ${v} vs native ${native[i]}`));
  });
}

describe('native models through npm start', () => {
  let repo: TempRepository;
  let server: { child: ChildProcess; url: string; output: () => string };
  before(async () => {
    repo = new TempRepository('native-start-');
    for (const name of CASES) repo.copy(join(TREES, name), `${name}/1`);
    repo.file('truncated/1/model.json', readFileSync(join(TREES, 'xgb3_binary_logistic_cat', 'model.json')).subarray(0, 200));
    repo.file('pickled/1/model.pkl', 'never read');
    server = await spawnServer('serve.ts', { MODEL_DIR: repo.dir, HOST: '127.0.0.1', LOCAL_DATA_DIR: join(repo.dir, '.local') });
  });
  after(async () => {
    server?.child.kill();
    if (server !== undefined && server.child.exitCode === null) await once(server.child, 'exit');
    rmSync(repo.dir, { recursive: true, force: true });
  });

  it('converts every native model at start and answers each held-out row by feature name as the library did', async () => {
    for (const name of CASES) {
      const want = expected(name);
      const answer = await call(`${server.url}/v1/models/${name}:predict`, 'POST', JSON.stringify({ instances: want.rows }));
      assert.equal(answer.status, 200, `${name}: ${answer.text}`);
      assertAgrees(name, answer.json.predictions, want);
    }
  });

  it('prints each bad model with its problem at start, answers its routes 503, and keeps the others serving', async () => {
    const printed = server.output();
    assert.match(printed, /truncated\s+FAILING \(versions 1\): .*truncated\/1: model\.json: /);
    assert.match(printed, /pickled\s+FAILING \(versions 1\): .*model\.pkl is a Python pickle, which ModelShip never reads/);
    assert.equal((await call(`${server.url}/v1/models/truncated:predict`, 'POST', '{"instances": [{}]}')).status, 503);
    assert.equal((await call(`${server.url}/v2/models/pickled`)).status, 503);
    assert.equal((await call(`${server.url}/v2/models/lgb_regression_cat/ready`)).status, 200);
  });
});

describe('native models through the SageMaker container', () => {
  it('recognises a model directory holding only a native file, converts it at start and serves it', async () => {
    const name = 'lgb_multiclass_cat';
    const repo = new TempRepository('native-sagemaker-').copy(join(TREES, name), '1');
    const { child, url } = await spawnServer('serve-sagemaker.ts', { HOST: '127.0.0.1', MODEL_DIR: repo.dir, MODEL_NAME: name });
    try {
      const want = expected(name);
      const answer = await call(`${url}/invocations`, 'POST', JSON.stringify({ instances: want.rows }), { 'X-Amzn-SageMaker-Custom-Attributes': `path=/v1/models/${name}:predict` });
      assert.equal(answer.status, 200, answer.text);
      assertAgrees(name, answer.json.predictions, want);
    } finally {
      child.kill();
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(repo.dir, { recursive: true, force: true });
    }
  });
});
