import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareAnswers, runShadow, shadowJobFor } from '../../../lambda/core/shadow.ts';
import type { InferenceRecord } from '../../../lambda/core/session-run.ts';
import { createTestRepository, TempRepository } from '../../helpers.ts';

const ROW = { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] };

describe('shadow versions', () => {
  it('compares answers: labels exactly, other numbers within tolerance, naming the first difference', () => {
    const v2 = (label: number[], p: number[]) => ({ outputs: [{ name: 'label', data: label }, { name: 'p', data: p }] });
    assert.equal(compareAnswers(v2([0, 2], [0.9, 0.1]), v2([0, 2], [0.9004, 0.1]), 'label'), undefined);
    assert.equal(compareAnswers(v2([0, 2], [0.9, 0.1]), v2([0, 1], [0.9, 0.1]), 'label'), 'output "label" differs at index 1: 2 vs 1');
    assert.match(compareAnswers(v2([0], [0.9]), v2([0], [0.5]), 'label')!, /^output "p" differs at index 0/);
    assert.equal(compareAnswers(v2([0], [1]), { outputs: [{ name: 'label', data: [0] }] }, 'label'), 'output "p" missing from the shadow answer');
    assert.equal(compareAnswers({ predictions: [{ label: 'a', p: [0.5] }] }, { predictions: [{ label: 'a', p: [0.5001] }] }, 'label'), undefined);
    assert.match(compareAnswers({ predictions: ['a'] }, { predictions: ['b'] }, 'label')!, /^prediction value 0 differs/);
  });

  it('copies a plain request to the shadow version at the configured share', async () => {
    const repo = new TempRepository('shadow-').sample('iris_forest').config('iris_forest', { versionPolicy: { pinned: 1 }, shadow: { version: 2, percent: 25 } }).file('iris_forest/2/model.onnx', new Uint8Array());
    const model = await createTestRepository(repo.dir).load('iris_forest', 1);
    assert.deepEqual(shadowJobFor(model, 'infer', ROW, () => 0.2), { model: 'iris_forest', liveVersion: 1, shadowVersion: 2, kind: 'infer', body: ROW });
    assert.equal(shadowJobFor(model, 'infer', ROW, () => 0.3), undefined, 'outside the 25%');
  });

  it('runs both versions on real models: agreeing, and naming the difference of a wrong candidate', async () => {
    const repo = new TempRepository('shadow-').sample('iris_forest').fixture('iris_wrong');
    repo.file('iris_forest/2/model.onnx', new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(`${repo.dir}/iris_wrong/1/model.onnx`))));
    const repository = createTestRepository(repo.dir);
    const records: InferenceRecord[] = [];
    const same = await runShadow(repository, { model: 'iris_forest', liveVersion: 1, shadowVersion: 1, kind: 'predict', body: { instances: [[5.1, 3.5, 1.4, 0.2]] } }, { onInference: (r) => records.push(r) });
    assert.deepEqual(same, { model: 'iris_forest', liveVersion: 1, shadowVersion: 1, agree: true, difference: undefined });
    assert.deepEqual(records.map((r) => [r.version, r.batchSize]), [[1, 1], [1, 1]], 'both runs are observed as inferences');
    const wrong = await runShadow(repository, { model: 'iris_forest', liveVersion: 1, shadowVersion: 2, kind: 'infer', body: ROW });
    assert.equal(wrong.agree, false);
    assert.match(wrong.difference!, /^output "(label|probabilities)" differs at index \d+/);
  });
});
