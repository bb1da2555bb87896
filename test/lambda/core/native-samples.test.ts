/**
 * The native tree samples (models/penguin_species: XGBoost model.json; models/car_mpg: LightGBM
 * model.txt, both made by training/trees/train_tree_samples.py) converted as `npm start` converts them,
 * against the outputs the libraries computed for the held-out rows in golden.json (one v2 input per
 * feature: category names as BYTES, null for missing), and through the golden gate that guards a deploy.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { convertNativeModel, NATIVE_MODEL_FILES } from '../../../lambda/convert/registry.ts';
import type { PendingCapture } from '../../../lambda/core/capture.ts';
import { driftReport, rowsFromCaptures, type Baseline } from '../../../lambda/jobs/drift.ts';
import { evaluateGolden, type GoldenFile } from '../../../lambda/jobs/golden-gate.ts';
import { assertClose, createTestService, goldenRequest, NATIVE_SAMPLES, readEvaluation, readGolden, SAMPLES_DIR } from '../../helpers.ts';

interface V2Output { name: string; datatype: string; shape: number[]; data: unknown[] }

describe('native tree samples against the libraries\' own outputs', () => {
  const service = createTestService(SAMPLES_DIR, { nativeModelFiles: NATIVE_MODEL_FILES, convertNative: convertNativeModel });

  for (const name of NATIVE_SAMPLES) {
    it(`${name} converts and gives the library's outputs for every held-out row, by feature name`, async () => {
      // Prepare
      const golden = readGolden(name) as ReturnType<typeof readGolden> & { classes?: string[] };
      const model = await service.loadModel(name);
      // Act
      const response = JSON.parse(await service.infer(model, goldenRequest(golden))) as { outputs: V2Output[] };
      // Assess: a categorical feature travels by name, and the golden rows hold missing values.
      assert.ok(golden.inputs.some((input) => input.datatype === 'BYTES'), `${name}: a categorical feature`);
      assert.ok(golden.inputs.some((input) => (input.data as unknown[]).includes(null)), `${name}: a missing value`);
      for (const expected of golden.outputs) {
        const actual = response.outputs.find((o) => o.name === expected.name);
        assert.ok(actual !== undefined, `${name}: no output "${expected.name}" in ${response.outputs.map((o) => o.name).join(', ')}`);
        assert.deepEqual(actual.shape, expected.shape, `${name}.${expected.name} shape`);
        // A classifier answers its label by class name; golden.json holds indices into its classes.
        const data = actual.datatype === 'BYTES' ? actual.data.map((label) => golden.classes!.indexOf(String(label))) : (actual.data as number[]);
        if (expected.name === 'label') assert.deepEqual(data, expected.data, `${name}: labels`);
        else assertClose(data, expected.data, golden.tolerance, `${name}.${expected.name}`);
      }
    });

    it(`${name} passes the golden gate and reproduces its recorded evaluation`, async () => {
      const golden = readGolden(name) as unknown as GoldenFile;
      const evaluation = readEvaluation(name);
      const model = await service.loadModel(name);
      const response = JSON.parse(await service.infer(model, goldenRequest(readGolden(name)))) as { outputs: V2Output[] };
      const gate = evaluateGolden(golden, response);
      assert.deepEqual(gate.problems, []);
      assert.equal(gate.passed, true);
      if (evaluation.task === 'regression') assert.ok(Math.abs(gate.metrics.rmse! - evaluation.metrics.rmse) < 1e-6, `rmse ${gate.metrics.rmse} vs ${evaluation.metrics.rmse}`);
      else assert.ok(Math.abs(gate.metrics.accuracy! - evaluation.metrics.accuracy) < 1e-12, `accuracy ${gate.metrics.accuracy} vs ${evaluation.metrics.accuracy}`);
    });
  }
});

describe('native tree samples: capture and drift against their baseline.json', () => {
  it('captures the held-out rows as the model saw them, and measures drift per feature: a categorical one by category share, quiet as captured and flagged once shifted', async () => {
    for (const name of NATIVE_SAMPLES) {
      const captures: PendingCapture[] = [];
      const service = createTestService(SAMPLES_DIR, { nativeModelFiles: NATIVE_MODEL_FILES, convertNative: convertNativeModel }, { onCapture: (c) => captures.push(c), capturePercent: 100 });
      const model = await service.loadModel(name);
      await service.infer(model, goldenRequest(readGolden(name)));
      const baseline = JSON.parse(readFileSync(join(SAMPLES_DIR, name, '1', 'baseline.json'), 'utf8')) as Baseline;
      const rows = rowsFromCaptures(captures.map((c) => c.encode()).join('\n'), `${name} captures`);
      const report = driftReport(baseline, rows);
      // One figure per feature (none is missing from every row); PSI over ~100 held-out rows is too noisy to assert quiet on every binned feature.
      assert.deepEqual(report.map((f) => f.name), baseline.features.map((f) => f.name), name);
      // A categorical feature with few categories, measured by category share: quiet on the held-out rows, drifted once every row is moved to its first category.
      const categorical = baseline.features.find((f) => (f as { type?: string }).type === 'categorical' && ((f as { categories?: string[] }).categories?.length ?? 0) <= 5)!;
      assert.equal(report.find((f) => f.name === categorical.name)!.drifted, false, `${name}: ${categorical.name} on held-out rows`);
      const shifted = rows.map((row) => (row as unknown[]).map((v, i) => (i === categorical.index ? 0 : v)));
      assert.equal(driftReport(baseline, shifted).find((f) => f.name === categorical.name)!.drifted, true, `${name}: ${categorical.name} shifted`);
    }
  });
});
