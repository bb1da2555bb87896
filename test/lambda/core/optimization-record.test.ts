/**
 * optimization.json as the console reads it back: only versions whose listing holds one, a record
 * for another folder or that does not parse is named, never shown as a comparison.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findEntry, readCatalog } from '../../../lambda/core/catalog.ts';
import { silentLogger } from '../../../lambda/core/logger.ts';
import { optimizationView, quantizedByOp, readOptimizations, type RecordedOptimization } from '../../../lambda/core/optimization-record.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { SAMPLES_DIR, TempRepository } from '../../helpers.ts';

const record: RecordedOptimization = {
  model: 'digits_mlp',
  from: 1,
  version: 2,
  optimization: 'int8',
  createdAt: '2026-11-24T00:00:00.000Z',
  bytes: { source: 10_000, result: 4_000, ratio: 2.5 },
  latencyMicros: { source: 40, result: 30, ratio: 0.75 },
  maxAbsDifference: { probabilities: 0.02 },
  metrics: { source: { accuracy: 0.97 }, result: { accuracy: 0.96 }, delta: { accuracy: -0.01 } },
  quantization: {
    quantized: [
      { node: 'a', op: 'Gemm', as: 'int8' },
      { node: 'b', op: 'Gemm', as: 'int8' },
      { node: 'c', op: 'Gather', as: 'per-row int8' },
    ],
    skipped: [{ node: 'd', op: 'MatMul', why: 'excluded' }],
  },
  warnings: [],
};

describe('optimization records for the console', () => {
  it('counts quantized nodes by op and how, and lists what stayed in FP32', () => {
    assert.deepEqual(quantizedByOp(record.quantization!.quantized), [
      { op: 'Gemm', as: 'int8', count: 2 },
      { op: 'Gather', as: 'per-row int8', count: 1 },
    ]);
    const view = optimizationView('digits_mlp', 2, record);
    assert.ok(!('problem' in view));
    assert.deepEqual(view.keptInFloat32, ['d (MatMul: excluded)']);
    assert.equal(view.bytes.ratio, 2.5);
  });

  it('names a record of another folder, a malformed one, and one that is not JSON; reads only versions that have one', async () => {
    assert.deepEqual(optimizationView('iris_forest', 2, record), { version: 2, problem: 'optimization.json describes digits_mlp version 2, not this folder\'s iris_forest version 2' });
    assert.match((optimizationView('digits_mlp', 2, { ...record, latencyMicros: { source: 1, result: 2 } }) as { problem: string }).problem, /field "latencyMicros\.ratio"/);
    const repo = new TempRepository('optimizations-').sample('digits_mlp').copy(`${SAMPLES_DIR}/digits_mlp/1`, 'digits_mlp/2').copy(`${SAMPLES_DIR}/digits_mlp/1`, 'digits_mlp/3');
    repo.file('digits_mlp/2/optimization.json', JSON.stringify(record)).file('digits_mlp/3/optimization.json', '{"model": "digits_mlp",');
    const source = new DirectorySource(repo.dir);
    const entry = findEntry(await readCatalog({ source, logger: silentLogger }), 'digits_mlp');
    const [two, three, ...rest] = await readOptimizations(source, entry);
    assert.equal(rest.length, 0, 'version 1 has no record');
    assert.equal((two as { from: number }).from, 1);
    assert.equal(three.version, 3);
    assert.match((three as { problem: string }).problem, /^optimization\.json cannot be read: .*JSON/);
  });
});
