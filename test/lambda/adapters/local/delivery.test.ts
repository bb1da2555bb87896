import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ShadowResult } from '../../../../lambda/core/shadow.ts';
import { feedbackFile } from '../../../../lambda/adapters/local/delivery.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { FIXTURE_MODELS_DIR, ROOT, SAMPLES_DIR, startTestLocalServer, TempRepository } from '../../../helpers.ts';

const exec = promisify(execFile);
const ROW = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });

/** iris v1 (the sample) and v2 (a deliberately wrong model), under a given name and config. */
function twoVersions(repo: TempRepository, name: string, config: Record<string, unknown>): TempRepository {
  return repo.sample('iris_forest', name).copy(join(FIXTURE_MODELS_DIR, 'iris_wrong', '1', 'model.onnx'), `${name}/2/model.onnx`).config(name, { versionPolicy: { pinned: 1 }, ...config });
}

describe('local server: versions, A/B weights, feedback and shadow', () => {
  let server: LocalStack;
  let dataDir: string;
  let repo: string;
  const shadowResults: ShadowResult[] = [];
  before(async () => {
    repo = twoVersions(twoVersions(new TempRepository('delivery-'), 'split', { abTest: { weights: { '1': 70, '2': 30 } } }), 'shadowed', { shadow: { version: 2, percent: 100 } }).dir;
    dataDir = mkdtempSync(join(tmpdir(), 'local-data-'));
    server = await startTestLocalServer(repo, { dataDir, onShadowResult: (r) => shadowResults.push(r) });
  });
  after(() => server.close());

  const infer = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { method: 'POST', body: ROW, headers });

  it('splits plain-route traffic by the configured weights, within statistical tolerance', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const response = await infer('/v2/models/split/infer');
      const version = response.headers.get('x-model-version')!;
      assert.equal(((await response.json()) as { model_version: string }).model_version, version, 'body and header name the same version');
      counts[version] = (counts[version] ?? 0) + 1;
    }
    // Binomial(1000, 0.3): sd 14.5; 5 sd either side.
    assert.ok(Math.abs(counts['2'] - 300) < 73, JSON.stringify(counts));
    assert.equal(counts['1'] + counts['2'], 1000);
  });

  it('keeps one assignment key on one version', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await infer('/v2/models/split/infer', { 'X-Assignment-Key': 'user-42' })).headers.get('x-model-version')!);
    assert.equal(seen.size, 1);
  });

  it('serves any stored version on its versioned route, whatever the weights', async () => {
    for (const version of ['1', '2']) {
      assert.equal((await infer(`/v2/models/split/versions/${version}/infer`)).headers.get('x-model-version'), version);
      assert.equal((await fetch(`${server.url}/v1/models/split/versions/${version}:predict`, { method: 'POST', body: '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' })).headers.get('x-model-version'), version);
    }
  });

  it('records feedback per version, and ab-report reads it', async () => {
    for (let i = 0; i < 60; i++) {
      const version = i % 2 === 0 ? '1' : '2';
      const outcome = version === '1' ? (i % 3 === 0 ? 1 : 0) : 1;
      const response = await fetch(`${server.url}/v2/models/split/feedback`, { method: 'POST', body: JSON.stringify({ id: `p${i}`, model_version: version, outcome }) });
      assert.equal(response.status, 202);
    }
    const lines = readFileSync(feedbackFile(dataDir, 'split'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 60);
    assert.deepEqual(Object.keys(JSON.parse(lines[0])).sort(), ['id', 'model', 'outcome', 'timestamp', 'version']);
    const { stdout } = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'ab-report', '--model', 'split', '--events', feedbackFile(dataDir, 'split')]);
    assert.match(stdout, /version 2 vs 1: difference 66\.67%, z = /);
    assert.match(stdout, /significant at alpha 0\.05/);
  });

  it('rejects feedback without a version or an outcome, and for a version not stored', async () => {
    const send = async (body: unknown) => {
      const response = await fetch(`${server.url}/v2/models/split/feedback`, { method: 'POST', body: JSON.stringify(body) });
      return { status: response.status, error: ((await response.json()) as { error: string }).error };
    };
    assert.deepEqual(await send({ outcome: 1 }), { status: 400, error: 'feedback needs "model_version": the version that answered (model_version in the response, or the X-Model-Version header)' });
    assert.match((await send({ model_version: '1', outcome: 3 })).error, /feedback needs "outcome" \(0 or 1, true or false\)/);
    assert.equal((await send({ model_version: '9', outcome: 1 })).status, 404);
    assert.equal((await send({ model_version: '1', label: 2, predicted: 2 })).status, 202);
  });

  it('shadows live requests to the candidate off the request path, flagging disagreement without changing answers', async () => {
    const response = await infer('/v2/models/shadowed/infer');
    assert.equal(response.headers.get('x-model-version'), '1', 'callers get the live version');
    assert.deepEqual(((await response.json()) as { outputs: { data: number[] }[] }).outputs[0].data, [0]);
    for (let i = 0; i < 50 && shadowResults.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(shadowResults.length, 1);
    assert.equal(shadowResults[0].agree, false);
    assert.match(shadowResults[0].difference!, /^output "label" differs at index 0: 0 vs 1$/);
    assert.equal((await infer('/v2/models/shadowed/versions/1/infer')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(shadowResults.length, 1, 'versioned routes are not shadowed');
  });
});

describe('modelship rollback', () => {
  it('pins the live version in config.json in one command', async () => {
    const repo = twoVersions(new TempRepository('rollback-'), 'm', {}).dir;
    const { stdout } = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'rollback', '--model', 'm', '--to', '1', '--models-dir', repo]);
    assert.match(stdout, /versionPolicy pinned to 1\. Run `npx cdk deploy`/);
    const config = JSON.parse(readFileSync(join(repo, 'm', 'config.json'), 'utf8'));
    assert.deepEqual(config.versionPolicy, { pinned: 1 });
    assert.deepEqual(config.labels, ['setosa', 'versicolor', 'virginica'], 'other fields kept');
  });

  it('refuses a version that is not there, with an error line', async () => {
    const repo = twoVersions(new TempRepository('rollback-'), 'm', {}).dir;
    await assert.rejects(exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'rollback', '--model', 'm', '--to', '5', '--models-dir', repo]), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /^modelship: model "m" has no version 5/);
      return true;
    });
  });
});
