/**
 * Converted models' requests by feature name and answers by class name, through the core as every
 * adapter calls it, on real onnxruntime sessions of the hand-written tree (test/fixtures/tabular-models.ts):
 * expectations come from the tree as written, not from a run of it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import type { PendingCapture } from '../../../../lambda/core/capture.ts';
import { driftReport, rowsFromCaptures, type Baseline } from '../../../../lambda/jobs/drift.ts';
import { evaluateGolden, goldenInferRequest, type GoldenFile } from '../../../../lambda/jobs/golden-gate.ts';
import { runShadow, type ShadowJob } from '../../../../lambda/core/shadow.ts';
import { parseConversionRecord } from '../../../../lambda/core/conversion-record.ts';
import type { CoreRequest } from '../../../../lambda/core/request.ts';
import { featureValue, type TabularFeature } from '../../../../lambda/core/tasks/tabular.ts';
import { LEAF_VALUE, LEAF_YES, tabularClassifier, tabularRegressor } from '../../../fixtures/tabular-models.ts';
import { tabularRepository } from '../../../fixtures/tabular-repository.ts';
import { createTestService } from '../../../helpers.ts';

const f32 = Math.fround;
const probabilities = (yes: number) => [f32(1 - yes), f32(yes)];
const post = (path: string, body: unknown): CoreRequest => ({ method: 'POST', path, body: JSON.stringify(body) });

describe('converted models: features by name', () => {
  const repo = tabularRepository();
  const service = createTestService(repo.dir);
  after(() => rmSync(repo.dir, { recursive: true, force: true }));
  const call = async (path: string, body: unknown) => {
    const answer = await service.handle(post(path, body));
    return { status: answer.statusCode, json: JSON.parse(answer.body as string) as Record<string, any> };
  };

  it(':predict takes rows as objects by name (absent or null: missing) and as lists in feature order, answering class names', async () => {
    const { status, json } = await call('/v1/models/trees_classifier:predict', {
      instances: [
        { age: 25, color: 'green', member: false },
        [40, 'red', true],
        { age: 40, color: 'blue', member: false },
        // Missing age goes left (to the color split); an unseen color is missing, and missing is not green.
        { color: 'purple' },
        { age: null, color: 'green', member: null },
        [40, null, null],
      ],
    });
    assert.equal(status, 200);
    assert.deepEqual(json.predictions, [
      { label: 'yes', probabilities: probabilities(LEAF_YES.greenYoung) },
      { label: 'yes', probabilities: probabilities(LEAF_YES.member) },
      { label: 'no', probabilities: probabilities(LEAF_YES.nonMember) },
      { label: 'no', probabilities: probabilities(LEAF_YES.otherYoung) },
      { label: 'yes', probabilities: probabilities(LEAF_YES.greenYoung) },
      // member <= 0.5 is false for NaN (no missing direction to the true side): the member leaf.
      { label: 'yes', probabilities: probabilities(LEAF_YES.member) },
    ]);
  });

  it('regressors answer their prediction per row, from an FP64 model', async () => {
    const { json } = await call('/v1/models/trees_regressor:predict', { instances: [{ age: 25, color: 'green' }, { age: 31, member: true }, [30, 'blue', false]] });
    assert.deepEqual(json.predictions, [[LEAF_VALUE.greenYoung], [LEAF_VALUE.member], [LEAF_VALUE.otherYoung]]);
  });

  it('v2 takes one input per feature (BYTES for a categorical one, BOOL for a boolean), a feature left out being missing', async () => {
    const { status, json } = await call('/v2/models/trees_classifier/infer', {
      id: 'r1',
      inputs: [
        { name: 'age', datatype: 'INT32', shape: [3], data: [25, 40, 40] },
        { name: 'color', datatype: 'BYTES', shape: [3, 1], data: ['green', 'red', 'red'] },
        { name: 'member', datatype: 'BOOL', shape: [3], data: [false, true, false] },
      ],
    });
    assert.equal(status, 200);
    assert.deepEqual(json.outputs, [
      { name: 'label', datatype: 'BYTES', shape: [3], data: ['yes', 'yes', 'no'] },
      { name: 'probabilities', datatype: 'FP32', shape: [3, 2], data: [...probabilities(LEAF_YES.greenYoung), ...probabilities(LEAF_YES.member), ...probabilities(LEAF_YES.nonMember)] },
    ]);
    const some = await call('/v2/models/trees_regressor/infer', { inputs: [{ name: 'color', datatype: 'BYTES', shape: [1], data: ['green'] }] });
    assert.deepEqual(some.json.outputs[0].data, [LEAF_VALUE.greenYoung]);
  });

  it('v2 takes the features tensor in feature order, FP32 or FP64, categories as their index and NaN for missing', async () => {
    for (const datatype of ['FP32', 'FP64']) {
      const { json } = await call('/v2/models/trees_classifier/infer', { inputs: [{ name: 'features', datatype, shape: [2, 3], data: [[25, 1, 'NaN'], ['NaN', 0, 1]] }], outputs: [{ name: 'label' }] });
      assert.deepEqual(json.outputs, [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['yes', 'no'] }], datatype);
    }
  });

  it('answers 400 naming an unknown feature, a value of the wrong type, a wrong width or datatype', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/v1/models/trees_classifier:predict', { instances: [{ age: 25, colour: 'green' }] }, /^instances\[0\] has unknown feature "colour"; model "trees_classifier" takes: age, color, member$/],
      ['/v1/models/trees_classifier:predict', { instances: [{ age: '25' }] }, /^instances\[0\]: feature "age" is numeric; expected a number/],
      ['/v1/models/trees_classifier:predict', { instances: [{ member: 'yes' }] }, /feature "member" is boolean; expected true or false/],
      ['/v1/models/trees_classifier:predict', { instances: [{ color: { name: 'red' } }] }, /feature "color" is categorical; expected a category, as a string or a number \(one of "red", "green", "blue"\)/],
      ['/v1/models/trees_classifier:predict', { instances: [[25, 'green']] }, /^instances\[0\] has 2 values but model "trees_classifier" takes 3 features, in this order: age, color, member/],
      ['/v2/models/trees_classifier/infer', { inputs: [{ name: 'height', datatype: 'FP32', shape: [1], data: [1] }] }, /^unknown input "height" for model "trees_classifier"/],
      ['/v2/models/trees_classifier/infer', { inputs: [{ name: 'age', datatype: 'BYTES', shape: [1], data: ['old'] }] }, /^input "age" has datatype BYTES but feature "age" is numeric/],
      ['/v2/models/trees_classifier/infer', { inputs: [{ name: 'age', datatype: 'FP32', shape: [2], data: [1, 2] }, { name: 'member', datatype: 'BOOL', shape: [1], data: [true] }] }, /^input "member" has 1 rows but the inputs before it have 2/],
    ];
    for (const [path, body, message] of cases) {
      const { status, json } = await call(path, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.match(json.error, message);
    }
  });

  it('lists the features with their types and categories, and the source, in metadata', async () => {
    const answer = await service.handle({ method: 'GET', path: '/v2/models/trees_classifier' });
    const metadata = JSON.parse(answer.body as string) as { inputs: unknown; outputs: unknown; parameters: Record<string, unknown> };
    assert.deepEqual(metadata.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 3] }]);
    assert.deepEqual(metadata.outputs, [{ name: 'label', datatype: 'BYTES', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }]);
    assert.deepEqual(metadata.parameters.features, [{ name: 'age', type: 'numeric' }, { name: 'color', type: 'categorical', categories: ['red', 'green', 'blue'] }, { name: 'member', type: 'boolean' }]);
    assert.deepEqual([metadata.parameters.source_format, metadata.parameters.task, metadata.parameters.trees, metadata.parameters.labels], ['xgboost', 'classification', 1, ['no', 'yes']]);
  });
});

describe('converted models: capture and drift per feature', () => {
  it('captures the features as the model saw them (category codes, NaN for missing), which drift reads per feature', async () => {
    const repo = tabularRepository('capture-');
    const captures: PendingCapture[] = [];
    const service = createTestService(repo.dir, {}, { onCapture: (c) => captures.push(c), capturePercent: 100 });
    const instances = [...Array(6).fill({ age: 25, color: 'red' }), ...Array(4).fill({ age: 40, color: 'blue', member: true }), { color: 'purple' }];
    assert.equal((await service.handle(post('/v1/models/trees_classifier:predict', { instances }))).statusCode, 200);
    const rows = rowsFromCaptures(captures.map((c) => c.encode()).join('\n'), 'captures.jsonl');
    assert.deepEqual(rows.slice(9), [[40, 2, 1], ['NaN', 'NaN', 'NaN']]);
    const baseline: Baseline = { features: [{ name: 'color', index: 1, type: 'categorical', categories: ['red', 'green', 'blue'], categoryProportions: [0.6, 0, 0.4] }] };
    assert.deepEqual(driftReport(baseline, rows), [{ name: 'color', psi: 0, ks: 0, drifted: false }]);
    rmSync(repo.dir, { recursive: true, force: true });
  });
});

describe('converted models: the golden gate', () => {
  it('reads a classifier answering class names back as indices through golden.json\'s classes', async () => {
    const repo = tabularRepository('golden-');
    const service = createTestService(repo.dir);
    const model = await service.loadModel('trees_classifier');
    const golden: GoldenFile = {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 3], data: [25, 1, 0, 25, 0, 0, 40, 2, 1] }],
      outputs: [{ name: 'label', datatype: 'INT64', shape: [3], data: [1, 0, 1] }, { name: 'probabilities', datatype: 'FP32', shape: [3, 2], data: [LEAF_YES.greenYoung, LEAF_YES.otherYoung, LEAF_YES.member].flatMap((p) => [1 - p, p]) }],
      targets: [1, 0, 0],
      tolerance: { absolute: 1e-6, relative: 1e-6 },
      classes: ['no', 'yes'],
    };
    const answer = JSON.parse(await service.infer(model, goldenInferRequest(golden)));
    const gate = evaluateGolden(golden, answer, { metric: 'accuracy', min: 0.6 });
    assert.deepEqual([gate.passed, gate.problems, gate.metrics.accuracy], [true, [], 2 / 3]);
    const unnamed = evaluateGolden({ ...golden, classes: undefined }, answer);
    assert.match(unnamed.problems[0], /^output "label" answers class "yes", which golden.json's "classes" \(none\) does not name/);
    rmSync(repo.dir, { recursive: true, force: true });
  });
});

describe('converted models: shadow', () => {
  it('copies a request by feature name to the shadow version, which answers it the same way', async () => {
    const { onnx, record } = tabularRegressor();
    const repo = tabularRepository('shadow-').file('trees_classifier/2/model.onnx', onnx).file('trees_classifier/2/conversion.json', JSON.stringify(record)).config('trees_classifier', { versionPolicy: { pinned: 1 }, shadow: { version: 2, percent: 100 } });
    const jobs: ShadowJob[] = [];
    const service = createTestService(repo.dir, {}, { onShadow: (job) => jobs.push(job) });
    assert.equal((await service.handle(post('/v1/models/trees_classifier:predict', { instances: [{ age: 25, color: 'green' }] }))).statusCode, 200);
    const result = await runShadow(service.repository, jobs[0]);
    // Version 2 is the regressor over the same features: it reads the same named row, and answers a value, not a class.
    assert.deepEqual([result.liveVersion, result.shadowVersion, result.agree], [1, 2, false]);
    assert.match(result.difference!, /^prediction value 0 differs: "yes" vs 110$/);
    rmSync(repo.dir, { recursive: true, force: true });
  });
});

describe('feature values', () => {
  const categorical = (categories: string[], unseen = Number.NaN): TabularFeature => ({ name: 'c', type: 'categorical', categories, codes: new Map(categories.map((c, i) => [c, i])), unseen });

  it('finds a category sent as a number by its name, as pandas wrote it (8 finds "8"), and maps one never seen to `unseen`', () => {
    const feature = categorical(['3', '8', '8.5', 'True'], 7);
    assert.deepEqual([8, '8', 8.5, true, 9, 'nine'].map((v) => featureValue(feature, v, 'row')), [1, 1, 2, 3, 7, 7]);
  });

  it('reads booleans as 1/0, integers only whole, and null as missing', () => {
    assert.deepEqual([true, false, 1, 0, null].map((v) => featureValue({ name: 'b', type: 'boolean', unseen: Number.NaN }, v, 'row')), [1, 0, 1, 0, Number.NaN]);
    assert.throws(() => featureValue({ name: 'n', type: 'integer', unseen: Number.NaN }, 2.5, 'row 3'), /^InferenceError: row 3: feature "n" is integer; expected an integer/);
  });

  it('reads conversion.json tolerating fields it does not know, and names what is wrong', () => {
    const { record } = tabularClassifier();
    assert.equal(parseConversionRecord(JSON.stringify({ ...record, futureField: { any: 1 } }), 'm/1/conversion.json').features.length, 3);
    assert.throws(() => parseConversionRecord(JSON.stringify({ ...record, features: [{ name: 'a', type: 'text' }] }), 'm/1/conversion.json'), /^ConversionRecordError: m\/1\/conversion.json is not a conversion record: field "features.0.type"/);
    assert.throws(() => parseConversionRecord('{', 'm/1/conversion.json'), /m\/1\/conversion.json is not valid JSON/);
  });
});
