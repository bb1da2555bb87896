/**
 * Exactness of the native-model converter (issue 24): every fixture under test/fixtures/trees/ (made by
 * training/trees/ with the real XGBoost 1.7 / 3.x and LightGBM) is converted, run in a real onnxruntime
 * session on its held-out rows, and compared with the library's own predictions: the label identical,
 * values within 1e-5 relative for XGBoost (float32) and 1e-9 for LightGBM (double).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../helpers.ts';
import { convertNativeModel, ConversionError } from '../../../lambda/convert/registry.ts';
import * as ort from 'onnxruntime-node';
import { checkCase, modelFile, rowsToMatrix, type Expected } from './exactness.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'trees');
const REFUSED = join(ROOT, 'test', 'fixtures', 'trees-refused');
const cases = readdirSync(FIXTURES).filter((name) => existsSync(join(FIXTURES, name, 'expected.json'))).sort();

describe('native models → ONNX, against the native libraries', () => {
  it('has fixtures of both libraries to compare with', () => {
    assert.ok(cases.some((c) => c.startsWith('xgb')) && cases.some((c) => c.startsWith('lgb')), `fixtures found: ${cases.join(', ')}`);
  });

  for (const name of cases) {
    it(`${name}: same labels and values as the native library`, async () => {
      const dir = join(FIXTURES, name);
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected & { features?: { name: string; type: string; categories?: string[] }[] };
      const result = await checkCase(dir, name);
      assert.deepEqual(result.failures, [], `values beyond ${result.record.format === 'lightgbm' ? '1e-9' : '1e-5'} relative: [row, column, onnx, native]`);
      assert.deepEqual(result.labelMismatches, [], 'rows whose label differs');
      assert.equal(result.record.format, expected.library);
      assert.equal(result.record.inputType, expected.library === 'xgboost' ? 'FP32' : 'FP64');
      assert.deepEqual(result.record.inexact, []);
      // The features the fixture was trained on, by name and with their category names where it records them.
      for (const f of expected.features ?? []) {
        const record = result.record.features.find((r) => r.name === f.name);
        assert.ok(record !== undefined, `feature ${f.name} is in conversion.json`);
        assert.equal(record.type, f.type, `feature ${f.name}'s type`);
        if (f.type === 'categorical' && f.categories !== undefined && record.categories !== undefined && expected.library === 'lightgbm') assert.deepEqual(record.categories, f.categories);
      }
    });
  }
});

describe('refusals', () => {
  for (const name of existsSync(REFUSED) ? readdirSync(REFUSED).sort() : []) {
    it(`${name}: refused, naming the file and the objective`, () => {
      const dir = join(REFUSED, name);
      const file = modelFile(dir);
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { refusal: { mentions: string[] } };
      assert.throws(() => convertNativeModel(file, readFileSync(join(dir, file))), (error: Error) => {
        assert.ok(error instanceof ConversionError, String(error));
        assert.ok(error.message.startsWith(`${file}: `), error.message);
        for (const word of expected.refusal.mentions) assert.match(error.message, new RegExp(word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        return true;
      });
    });
  }

  it('refuses an unknown file name, an empty file and a truncated one, naming each', () => {
    assert.throws(() => convertNativeModel('model.bin', new Uint8Array([1])), /^ConversionError: model\.bin: not a native model file/);
    assert.throws(() => convertNativeModel('model.json', new Uint8Array()), /model\.json: the file is empty/);
    const json = readFileSync(join(FIXTURES, cases.find((c) => c.startsWith('xgb3'))!, 'model.json'));
    assert.throws(() => convertNativeModel('model.json', json.subarray(0, json.length / 2)), /model\.json: not valid JSON .*truncated/);
    const ubj = cases.map((c) => join(FIXTURES, c, 'model.ubj')).find(existsSync)!;
    assert.throws(() => convertNativeModel('model.ubj', readFileSync(ubj).subarray(0, 100)), /model\.ubj: not a valid XGBoost UBJSON model \(the file ends inside a value/);
    const txt = readFileSync(join(FIXTURES, 'lgb_binary', 'model.txt'), 'utf8');
    assert.throws(() => convertNativeModel('model.txt', Buffer.from(txt.slice(0, txt.indexOf('Tree=1')))), /model\.txt: no "end of trees" line: the file is truncated/);
  });

  it('refuses an unknown objective and an unknown booster by name', () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'xgb3_reg_squarederror', 'model.json'), 'utf8'));
    doc.learner.objective.name = 'reg:madeup';
    assert.throws(() => convertNativeModel('model.json', Buffer.from(JSON.stringify(doc))), /model\.json: learner\.objective: unknown objective "reg:madeup"/);
    doc.learner.objective.name = 'reg:squarederror';
    doc.learner.gradient_booster.name = 'gbforest';
    assert.throws(() => convertNativeModel('model.json', Buffer.from(JSON.stringify(doc))), /unknown booster "gbforest"/);
    const txt = readFileSync(join(FIXTURES, 'lgb_regression', 'model.txt'), 'utf8').replace(/^objective=\S+/m, 'objective=custom');
    assert.throws(() => convertNativeModel('model.txt', Buffer.from(txt)), /model\.txt: objective: unknown objective "custom"/);
  });
});

describe('reg:expectileerror (in no released XGBoost: checked against its source\'s formulas, not a native run)', () => {
  it('emits the non-crossing transform: column 0, then + kRtEps + softplus(margin) left to right, from base_score inverted', async () => {
    const dir = join(FIXTURES, 'xgb3_reg_quantileerror');
    const doc = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
    doc.learner.objective = { name: 'reg:expectileerror', expectile_loss_param: { expectile_alpha: '[1E-1,5E-1,9E-1]' } };
    const { onnx, record } = convertNativeModel('model.json', Buffer.from(JSON.stringify(doc)));
    assert.match(record.inexact.join(' '), /reg:expectileerror is in no released XGBoost/);
    const f = Math.fround;
    const eps = f(1e-6);
    const scores = [60, 140.5, 271.4].map(f);
    const softPlusInv = (x: number) => { const y = Math.max(f(x), eps); return f(y + f(Math.log(f(-Math.expm1(-y))))); };
    const margins = scores.map((s, j) => (j === 0 ? s : softPlusInv(f(f(s - scores[j - 1]) - eps))));
    const softPlus = (x: number) => f(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
    const session = await ort.InferenceSession.create(onnx);
    const input = rowsToMatrix(record, expected.rows);
    const out = (await session.run({ features: new ort.Tensor('float32', input as Float32Array, [expected.rows.length, record.features.length]) })).prediction.data as Float32Array;
    await session.release();
    expected.margin!.forEach((native, r) => {
      // The trees' sum is the fixture's margin less its base (quantiles start from base_score as is).
      const m = native.map((v, j) => f(f(v - scores[j]) + margins[j]));
      let pred = m[0];
      const want = m.map((v, j) => (j === 0 ? pred : (pred = f(pred + f(eps + softPlus(v))))));
      want.forEach((w, j) => assert.ok(Math.abs(out[r * 3 + j] - w) <= 1e-5 * Math.abs(w), `row ${r} column ${j}: ${out[r * 3 + j]} vs ${w}`));
    });
  });
});

describe('fields a newer library might write', () => {
  it('refuses an unknown field in an XGBoost tree and a LightGBM tree or header, naming it', () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'xgb3_reg_squarederror', 'model.json'), 'utf8'));
    doc.learner.gradient_booster.model.trees[1].split_kind = [0];
    assert.throws(() => convertNativeModel('model.json', Buffer.from(JSON.stringify(doc))), /model\.json: learner\.gradient_booster\.model\.trees\[1\]: unknown field "split_kind" \(not among the XGBoost fields this converter knows/);
    const txt = readFileSync(join(FIXTURES, 'lgb_regression', 'model.txt'), 'utf8');
    assert.throws(() => convertNativeModel('model.txt', Buffer.from(txt.replace('\nshrinkage=', '\nleaf_scale=2\nshrinkage='))), /model\.txt: Tree=0 \(line \d+\): unknown field "leaf_scale"/);
    assert.throws(() => convertNativeModel('model.txt', Buffer.from(txt.replace('\nfeature_names=', '\nmissing_policy=x\nfeature_names='))), /model\.txt: header: unknown field "missing_policy"/);
  });
});

describe('early stopping', () => {
  it('a model saved by the scikit-learn wrapper predicts with its best_iteration + 1 iterations; others with every tree', () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'xgb3_multi_softprob', 'model.json'), 'utf8'));
    const all = doc.learner.gradient_booster.model.trees.length;
    const perIteration = doc.learner.gradient_booster.model.iteration_indptr[1];
    doc.learner.attributes = { best_iteration: '2', best_score: '0.1' };
    assert.equal(convertNativeModel('model.json', Buffer.from(JSON.stringify(doc))).record.trees, all, 'Booster.predict uses all trees');
    doc.learner.attributes.scikit_learn = '{"_estimator_type": "classifier"}';
    assert.equal(convertNativeModel('model.json', Buffer.from(JSON.stringify(doc))).record.trees, 3 * perIteration);
  });
});

describe('edge shapes', () => {
  it('a model of no trees (0 rounds) predicts its base_score', async () => {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'xgb3_reg_squarederror', 'model.json'), 'utf8'));
    Object.assign(doc.learner.gradient_booster.model, { trees: [], tree_info: [], iteration_indptr: [0] });
    const base = Number(String(doc.learner.learner_model_param.base_score).replace(/[[\]]/g, ''));
    const { onnx, record } = convertNativeModel('model.json', Buffer.from(JSON.stringify(doc)));
    assert.equal(record.trees, 0);
    const session = await ort.InferenceSession.create(onnx);
    const n = record.features.length;
    const out = await session.run({ features: new ort.Tensor('float32', new Float32Array(2 * n).fill(Number.NaN), [2, n]) });
    await session.release();
    assert.deepEqual([...(out.prediction.data as Float32Array)], [Math.fround(base), Math.fround(base)]);
  });
});

describe('tree depth', () => {
  /** The regression fixture with its first tree replaced by a chain `levels` splits deep. */
  function xgboostChain(levels: number): Buffer {
    const doc = JSON.parse(readFileSync(join(FIXTURES, 'xgb3_reg_squarederror', 'model.json'), 'utf8'));
    const tree = doc.learner.gradient_booster.model.trees[0];
    const n = 2 * levels + 1;
    const column = (v: number) => new Array<number>(n).fill(v);
    Object.assign(tree, { left_children: column(-1), right_children: column(-1), split_indices: column(0), split_conditions: column(0.5), default_left: column(0), split_type: column(0), base_weights: column(0), loss_changes: column(0), sum_hessian: column(0), parents: column(0) });
    for (let i = 0, node = 0; i < levels; i++, node += 2) {
      tree.left_children[node] = node + 1;
      tree.right_children[node] = node + 2;
      tree.split_conditions[node] = i;
    }
    tree.tree_param.num_nodes = String(n);
    return Buffer.from(JSON.stringify(doc));
  }

  it('converts a 2,000-level chain that onnxruntime loads and runs, and refuses a deeper one by name', async () => {
    const { onnx, record } = convertNativeModel('model.json', xgboostChain(2000));
    const session = await ort.InferenceSession.create(onnx);
    const n = record.features.length;
    await session.run({ features: new ort.Tensor('float32', new Float32Array(n).fill(5000), [1, n]) });
    await session.release();
    assert.throws(() => convertNativeModel('model.json', xgboostChain(2100)), /model\.json: learner\.gradient_booster\.model\.trees\[0\]: deeper than 2048 levels/);
    const txt = readFileSync(join(FIXTURES, 'lgb_regression', 'model.txt'), 'utf8');
    const levels = 2100;
    const ints = (f: (i: number) => number) => Array.from({ length: levels }, (_, i) => f(i)).join(' ');
    const chain = ['Tree=0', `num_leaves=${levels + 1}`, 'num_cat=0', `split_feature=${ints(() => 0)}`, `threshold=${ints((i) => i)}`, `decision_type=${ints(() => 2)}`,
      `left_child=${ints((i) => ~i)}`, `right_child=${ints((i) => (i + 1 < levels ? i + 1 : ~levels))}`, `leaf_value=${Array.from({ length: levels + 1 }, () => 0).join(' ')}`, 'shrinkage=1'].join('\n');
    const deep = txt.replace(/Tree=0\n[\s\S]*?\n\n/, `${chain}\n\n`);
    assert.throws(() => convertNativeModel('model.txt', Buffer.from(deep)), /model\.txt: Tree=0 \(line \d+\): deeper than 2048 levels/);
  });
});
