import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertClose, createTestService, goldenRequest, readEvaluation, readGolden, TABULAR_SAMPLES, SAMPLES_DIR } from '../../helpers.ts';

interface V2Output { name: string; datatype: string; shape: number[]; data: number[] }

describe('sample models against their golden files', () => {
  const service = createTestService(SAMPLES_DIR);

  for (const name of TABULAR_SAMPLES) {
    it(`${name} gives scikit-learn's outputs for every held-out row`, async () => {
      // Prepare
      const golden = readGolden(name);
      const model = await service.loadModel(name);
      // Act
      const response = JSON.parse(await service.infer(model, goldenRequest(golden))) as { model_name: string; model_version: string; outputs: V2Output[] };
      // Assess
      assert.equal(response.model_name, name);
      assert.equal(response.model_version, '1');
      assert.deepEqual(response.outputs.map((o) => o.name), golden.outputs.map((o) => o.name));
      for (const expected of golden.outputs) {
        const actual = response.outputs.find((o) => o.name === expected.name)!;
        assert.equal(actual.datatype, expected.datatype);
        assert.deepEqual(actual.shape, expected.shape);
        assertClose(actual.data, expected.data, golden.tolerance, `${name}.${expected.name}`);
      }
    });

    it(`${name} reproduces its recorded evaluation on the held-out split`, async () => {
      const golden = readGolden(name);
      const evaluation = readEvaluation(name);
      const model = await service.loadModel(name);
      const response = JSON.parse(await service.infer(model, goldenRequest(golden))) as { outputs: V2Output[] };
      if (evaluation.task === 'regression') {
        const predictions = response.outputs[0].data;
        const mse = predictions.reduce((sum, p, i) => sum + (p - golden.targets[i]) ** 2, 0) / predictions.length;
        assert.ok(Math.abs(Math.sqrt(mse) - evaluation.metrics.rmse) < 1e-3, `rmse ${Math.sqrt(mse)} vs ${evaluation.metrics.rmse}`);
      } else {
        const labels = response.outputs.find((o) => o.name === 'label')!.data;
        const accuracy = labels.filter((label, i) => label === golden.targets[i]).length / labels.length;
        assert.equal(accuracy, evaluation.metrics.accuracy);
      }
    });
  }
});
