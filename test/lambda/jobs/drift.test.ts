import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { driftReport, kolmogorovSmirnov, populationStabilityIndex, rowsFromCaptures, taskBaseline, type Baseline, type CategoricalBaseline, type FeatureBaseline } from '../../../lambda/jobs/drift.ts';
import { readGolden, SAMPLES_DIR } from '../../helpers.ts';

const close = (actual: number, expected: number, tolerance: number) => assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} vs ${expected}`);

describe('population stability index', () => {
  it('matches a hand-computed case', () => {
    // Baseline quarters; sample 10/20/30/40%: sum (a-e) ln(a/e) =
    // -0.15 ln 0.4 - 0.05 ln 0.8 + 0.05 ln 1.2 + 0.15 ln 1.6 = 0.228217
    const values = [...Array(10).fill(0.5), ...Array(20).fill(1.5), ...Array(30).fill(2.5), ...Array(40).fill(3.5)];
    close(populationStabilityIndex({ binEdges: [0, 1, 2, 3, 4], binProportions: [0.25, 0.25, 0.25, 0.25] }, values), 0.228217, 1e-6);
  });

  it('is zero for a sample distributed as the baseline, and counts values outside the edges in the outer bins', () => {
    const values = [-10, 1.5, 2.5, 99];
    close(populationStabilityIndex({ binEdges: [0, 1, 2, 3, 4], binProportions: [0.25, 0.25, 0.25, 0.25] }, values), 0, 1e-12);
  });
});

describe('Kolmogorov-Smirnov statistic', () => {
  const uniform = Array.from({ length: 101 }, (_, i) => i / 100);
  it('matches a hand-computed case: every value at 0.25 against uniform(0, 1) gives 0.75', () => {
    close(kolmogorovSmirnov(uniform, Array(50).fill(0.25)), 0.75, 1e-12);
  });
  it('is small for an evenly spread sample of the same distribution', () => {
    assert.ok(kolmogorovSmirnov(uniform, Array.from({ length: 200 }, (_, i) => (i + 0.5) / 200)) < 0.01);
  });
});

describe('drift report on a real sample', () => {
  const baseline = JSON.parse(readFileSync(join(SAMPLES_DIR, 'breast_cancer_classifier', '1', 'baseline.json'), 'utf8')) as Baseline;
  const golden = readGolden('breast_cancer_classifier');
  const rows = Array.from({ length: golden.inputs[0].shape[0] }, (_, r) => golden.inputs[0].data.slice(r * 30, r * 30 + 30));

  it('stays quiet on held-out data from the same distribution', () => {
    const report = driftReport(baseline, rows);
    assert.deepEqual(report.filter((f) => f.drifted).map((f) => f.name), []);
    assert.ok(Math.max(...report.map((f) => f.ks)) < 0.2);
  });

  it('flags a feature whose values were shifted, and only that one', () => {
    const shift = baseline.features.find((f) => f.name === 'mean radius')! as FeatureBaseline;
    const std = (shift.quantiles[84] - shift.quantiles[16]) / 2;
    const shifted = rows.map((row) => row.map((v, i) => (i === shift.index ? v + 2 * std : v)));
    const report = driftReport(baseline, shifted);
    assert.deepEqual(report.filter((f) => f.drifted).map((f) => f.name), ['mean radius']);
    assert.ok(report.find((f) => f.name === 'mean radius')!.ks > 0.5);
  });

  it('names the row and feature of a missing value', () => {
    assert.throws(() => driftReport(baseline, [[1, 2]]), /row 1 has no number for feature "mean perimeter" \(position 2\)/);
  });
});

describe('drift of a converted model', () => {
  // Feature 0 numeric, feature 1 categorical (codes into red, green, blue), as a captured features tensor carries them.
  const baseline: Baseline = {
    features: [
      { name: 'age', index: 0, binEdges: [0, 30, 60, 90], binProportions: [0.5, 0.3, 0.2], quantiles: Array.from({ length: 101 }, (_, i) => (i * 90) / 100) },
      { name: 'color', index: 1, type: 'categorical', categories: ['red', 'green', 'blue'], categoryProportions: [0.5, 0.3, 0.2] },
    ],
  };
  const rows = (colors: number[]) => colors.map((c, i) => [i % 2 === 0 ? 20 : 'NaN', c]);

  it('measures a categorical feature by category frequency, and leaves missing values out', () => {
    const same = driftReport(baseline, rows([...Array(50).fill(0), ...Array(30).fill(1), ...Array(20).fill(2), 'NaN' as unknown as number]));
    assert.deepEqual(same.find((f) => f.name === 'color'), { name: 'color', psi: 0, ks: 0, drifted: false });
    const moved = driftReport(baseline, rows([...Array(10).fill(0), ...Array(20).fill(1), ...Array(70).fill(2)])).find((f) => f.name === 'color')!;
    // PSI = Σ (a - e) ln(a / e) over the three categories; the KS column is the largest gap in one share.
    const psi = (0.1 - 0.5) * Math.log(0.1 / 0.5) + (0.2 - 0.3) * Math.log(0.2 / 0.3) + (0.7 - 0.2) * Math.log(0.7 / 0.2);
    assert.ok(Math.abs(moved.psi - psi) < 1e-12 && moved.drifted && Math.abs(moved.ks - 0.5) < 1e-12);
  });

  it('reads requests by feature name (:predict objects, v2 inputs per feature, as SageMaker captures the body): categories by name, booleans, missing', () => {
    const bodies = [
      JSON.stringify({ instances: [...Array(5).fill({ age: 20, color: 'red' }), ...Array(3).fill({ age: 20, color: 'green' }), { color: 'purple' }] }),
      JSON.stringify({ inputs: [{ name: 'age', datatype: 'FP32', shape: [2], data: [20, null] }, { name: 'color', datatype: 'BYTES', shape: [2], data: ['blue', 'blue'] }] }),
    ];
    const rows = rowsFromCaptures(bodies.join('\n'), 'capture.jsonl');
    assert.equal(rows.length, 11);
    const color = driftReport(baseline, rows).find((f) => f.name === 'color')!;
    // 5 red, 3 green, 2 blue (purple is not in the baseline: left out as missing), against 0.5, 0.3, 0.2.
    assert.deepEqual([color.psi, color.ks], [0, 0]);
  });

  it('refuses a category code the baseline does not have, naming the feature', () => {
    assert.throws(() => driftReport(baseline, [[20, 3]]), /row 1 has no category code for feature "color" \(position 1\)/);
  });
});

describe('modelship drift (CLI)', () => {
  it('reports no drift on held-out rows and drift on shifted ones (exit 3), from a captures file', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { ROOT } = await import('../../helpers.ts');
    const exec = promisify(execFile);
    // PSI over 10 bins is noisy on small samples (about 9/n on average): use the 143 held-out rows.
    const golden = readGolden('breast_cancer_classifier');
    const rows = Array.from({ length: golden.inputs[0].shape[0] }, (_, r) => golden.inputs[0].data.slice(r * 30, r * 30 + 30));
    const dir = mkdtempSync(join(tmpdir(), 'drift-'));
    writeFileSync(join(dir, 'same.jsonl'), rows.map((r) => JSON.stringify({ request: { instances: [r] } })).join('\n'));
    writeFileSync(join(dir, 'shifted.jsonl'), rows.map((r) => JSON.stringify(r.map((v, i) => (i === 2 ? v + 40 : v)))).join('\n'));
    const same = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'drift', '--model', 'breast_cancer_classifier', '--captures', join(dir, 'same.jsonl')], { cwd: ROOT });
    assert.match(same.stdout, /no feature drifted/);
    assert.match(same.stdout, /over 143 rows/);
    // A folder of capture files (as the local server lays them out) reads as one sample.
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(join(dir, 'captures', '2026-11-21'), { recursive: true });
    mkdirSync(join(dir, 'captures', '2026-11-22'), { recursive: true });
    copyFileSync(join(dir, 'same.jsonl'), join(dir, 'captures', '2026-11-21', 'captures.jsonl'));
    copyFileSync(join(dir, 'same.jsonl'), join(dir, 'captures', '2026-11-22', 'captures.jsonl'));
    const folder = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'drift', '--model', 'breast_cancer_classifier', '--captures', join(dir, 'captures')], { cwd: ROOT });
    assert.match(folder.stdout, /over 286 rows/);
    await assert.rejects(exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'drift', '--model', 'breast_cancer_classifier', '--captures', join(dir, 'nothing-here')], { cwd: ROOT }), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /^modelship: no captures file or folder at .*nothing-here$/m);
      return true;
    });
    await assert.rejects(exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'drift', '--model', 'breast_cancer_classifier', '--captures', join(dir, 'shifted.jsonl')], { cwd: ROOT }), (error: { code: number; stdout: string }) => {
      assert.equal(error.code, 3);
      assert.match(error.stdout, /mean perimeter\s+\d+\.\d+\s+\d\.\d+\s+DRIFT/);
      assert.match(error.stdout, /1 feature\(s\) drifted: mean perimeter/);
      return true;
    });
  });
});

describe('a task\'s baseline from its drift signals', () => {
  it('bins numeric signals as numpy.quantile and numpy.histogram do, and counts classes of categorical ones', () => {
    // 1..10: numpy.quantile(x, linspace(0, 1, 11)) is 1, 1.9, 2.8, …, 10 (linear interpolation); one value per bin.
    const rows = Array.from({ length: 10 }, (_, i) => [i + 1, i % 3]);
    const baseline = taskBaseline([{ name: 'length', kind: 'numeric' }, { name: 'class', kind: 'categorical' }], rows, ['a', 'b', 'c']);
    const [numeric, categorical] = baseline.features as [FeatureBaseline, CategoricalBaseline];
    assert.deepEqual(numeric.binEdges.map((e) => Number(e.toFixed(9))), [1, 1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1, 10]);
    assert.deepEqual(numeric.binProportions, new Array(10).fill(0.1));
    assert.deepEqual([numeric.quantiles.length, numeric.quantiles[0], numeric.quantiles[50], numeric.quantiles[100]], [101, 1, 5.5, 10]);
    assert.deepEqual([categorical.type, categorical.categories, categorical.categoryProportions], ['categorical', ['a', 'b', 'c'], [0.4, 0.3, 0.3]]);
    assert.deepEqual(driftReport(baseline, rows).filter((f) => f.drifted), []);
    assert.deepEqual(driftReport(baseline, rows.map(([v]) => [v + 20, 0])).filter((f) => f.drifted).map((f) => f.name), ['length', 'class']);
  });

  it('keeps a constant signal watchable: a change up or down drifts', () => {
    const baseline = taskBaseline([{ name: 'n', kind: 'numeric' }], Array.from({ length: 50 }, () => [3]));
    assert.equal(driftReport(baseline, [[3], [3]])[0].drifted, false);
    assert.equal(driftReport(baseline, [[4], [4]])[0].drifted, true);
    assert.equal(driftReport(baseline, [[2], [3]])[0].drifted, true);
  });
});
