/**
 * `modelship optimize` on the real samples: INT8 for the image classifier (53 convolutions, opset 9
 * raised to 11), the text classifier (an embedding table and a lookup table) and a tabular MLP; FP16
 * and onnxruntime's graph optimization. Every result loads, answers its golden inputs within the
 * recorded tolerance of its source, and passes the golden gate; an over-quantized one is refused.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { optimize, type Optimization, type OptimizationReport } from '../../../cli/optimize/optimize.ts';
import { decodeModel } from '../../../lambda/convert/onnx/onnx-model.ts';
import { evaluateGolden, goldenInferRequest, type GoldenFile, type TaskGoldenFile } from '../../../lambda/jobs/golden-gate.ts';
import { runTaskGolden } from '../../../lambda/jobs/task-golden.ts';
import { createTestService, ROOT, TempRepository } from '../../helpers.ts';

const exec = promisify(execFile);
const serviceFor = (dir: string) => createTestService(dir);

async function answer(dir: string, model: string, version: number, golden: GoldenFile | TaskGoldenFile) {
  const service = createTestService(dir);
  const loaded = await service.loadModel(model, String(version));
  return { loaded, answer: JSON.parse(await service.infer(loaded, goldenInferRequest(golden))) as { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] } };
}

/** Optimizes, then checks the written version as the delivery path would see it. */
async function optimizedAndChecked(repo: TempRepository, model: string, mode: Optimization, extra: Partial<Parameters<typeof optimize>[0]> = {}): Promise<OptimizationReport> {
  const { version, directory, report } = await optimize({ modelsDir: repo.dir, model, mode, serviceFor, latencyRuns: 20, ...extra });
  for (const file of ['model.onnx', 'golden.json', 'optimization.json']) assert.ok(existsSync(join(directory, file)), `${model}: ${file} written`);
  assert.deepEqual(JSON.parse(readFileSync(join(directory, 'optimization.json'), 'utf8')).bytes, report.bytes);
  const sourceGolden = JSON.parse(readFileSync(join(repo.dir, model, String(report.from), 'golden.json'), 'utf8'));
  const golden = JSON.parse(readFileSync(join(directory, 'golden.json'), 'utf8'));
  // The source's golden inputs and expected outputs; only the tolerance changed.
  assert.deepEqual({ ...golden, tolerance: undefined, minAgreement: undefined }, { ...sourceGolden, tolerance: undefined, minAgreement: undefined });
  const [source, result] = [await answer(repo.dir, model, report.from, golden), await answer(repo.dir, model, version, golden)];
  const tolerance = typeof golden.tolerance === 'number' ? golden.tolerance : golden.tolerance.absolute;
  for (const out of result.answer.outputs.filter((o) => o.datatype.startsWith('FP'))) {
    const reference = source.answer.outputs.find((o) => o.name === out.name)!;
    const worst = out.data.reduce((m, v, i) => Math.max(m, Math.abs(v - reference.data[i])), 0);
    assert.ok(worst <= tolerance, `${model} ${mode}: output ${out.name} differs from the source by ${worst}, over the recorded tolerance ${tolerance}`);
    assert.ok(Math.abs(worst - report.maxAbsDifference[out.name]) < 1e-6, `${model}: the report records the measured difference`);
  }
  const gate = evaluateGolden(golden, result.answer, result.loaded.config.goldenGate);
  assert.ok(gate.passed, `${model} ${mode}: ${gate.problems.join('; ')}`);
  return report;
}

describe('modelship optimize', () => {
  it('quantizes the image classifier, the text classifier and a tabular MLP to INT8: smaller, within tolerance, through the golden gate', { timeout: 180_000 }, async () => {
    const repo = new TempRepository('optimize-int8-').sample('text_orientation').sample('debian_sections').sample('digits_mlp');
    const image = await optimizedAndChecked(repo, 'text_orientation', 'int8');
    assert.equal(image.quantization!.quantized.filter((q) => q.op === 'Conv').length, 53);
    assert.equal(image.quantization!.opsetRaisedFrom, 9);
    assert.ok(image.bytes.ratio > 2, `image: ${image.bytes.ratio}x smaller`);
    // onnxruntime's ConvInteger on this CPU: the command says so when it is slower.
    if (image.latencyMicros.ratio > 1.05) assert.match(image.warnings.join('\n'), /ConvInteger is often slower.*--op-types MatMul,Gemm,Gather/);
    const text = await optimizedAndChecked(repo, 'debian_sections', 'int8');
    assert.ok(text.bytes.ratio >= 3, `text: ${text.bytes.ratio}x smaller`);
    assert.deepEqual(text.quantization!.quantized.map((q) => q.op).sort(), ['Gather', 'Gather', 'Gemm']);
    assert.ok(Math.abs(text.metrics.delta.accuracy!) <= 0.01, `accuracy moved ${text.metrics.delta.accuracy}`);
    const tabular = await optimizedAndChecked(repo, 'digits_mlp', 'int8');
    assert.deepEqual(tabular.quantization!.quantized.map((q) => q.op), ['Gemm', 'Gemm']);
    assert.ok(Math.abs(tabular.metrics.delta.accuracy!) <= 0.01);
    // The written graph is valid ONNX with INT8 weights and run-time activation quantization.
    const written = decodeModel(readFileSync(join(repo.dir, 'digits_mlp', '2', 'model.onnx')));
    assert.ok(written.graph.node.some((n) => n.opType === 'DynamicQuantizeLinear') && written.graph.node.some((n) => n.opType === 'MatMulInteger'));
    assert.ok(written.graph.initializer.some((t) => t.dataType === 3), 'INT8 weights');
    // The source's side files came along.
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) assert.ok(existsSync(join(repo.dir, 'debian_sections', '2', file)), file);
  });

  it('writes FP16 (inputs and outputs kept FP32) and onnxruntime\'s portable graph optimization', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('optimize-other-').sample('digits_mlp').sample('text_orientation');
    const half = await optimizedAndChecked(repo, 'digits_mlp', 'fp16');
    assert.equal(half.float16!.convertedWeights, 5);
    const service = createTestService(repo.dir);
    const metadata = await service.metadata('digits_mlp', '2');
    assert.deepEqual((metadata.inputs as { datatype: string }[]).map((i) => i.datatype), ['FP32']);
    const graph = await optimizedAndChecked(repo, 'text_orientation', 'graph', { graphLevel: 'extended' });
    assert.equal(graph.graphLevel, 'extended');
    assert.ok(graph.bytes.result < graph.bytes.source, 'BatchNormalization folded into the convolutions');
  });

  it('optimizes a task model whose golden.json lists requests, gating source and result with the task\'s compare', { timeout: 60_000 }, async () => {
    const fixture = join(ROOT, 'test', 'fixtures', 'sentence-similarity');
    const repo = new TempRepository('optimize-task-').copy(join(fixture, 'bert'), 'similar/1').config('similar', { task: 'sentence-similarity' });
    rmSync(join(repo.dir, 'similar', '1', 'tokenizer.json'));
    repo.file('similar/1/tokenizer.json', readFileSync(join(fixture, 'bert', 'tokenizer.json')));
    const cases = (JSON.parse(readFileSync(join(fixture, 'expected.json'), 'utf8')) as { cases: { inputs: unknown; expected: number[] }[] }).cases;
    // The expected answers are sentence-transformers' (training/text_tasks/sentence_similarity.py).
    repo.file('similar/1/golden.json', JSON.stringify({ task: 'sentence-similarity', requests: cases.map((c) => ({ inputs: c.inputs })), expected: cases.map((c) => c.expected), tolerance: 1e-5 }));
    const { version, directory, report } = await optimize({ modelsDir: repo.dir, model: 'similar', mode: 'int8', serviceFor, latencyRuns: 20 });
    assert.deepEqual([report.metrics.source.accuracy, version], [1, 2]);
    const golden = JSON.parse(readFileSync(join(directory, 'golden.json'), 'utf8')) as { requests: unknown[]; tolerance: number; minAgreement: number };
    assert.equal(golden.requests.length, cases.length);
    assert.ok(golden.tolerance >= 1e-5 && Math.abs(golden.tolerance - Number((1e-5 + 1.5 * report.maxAbsDifference.answers).toPrecision(3))) < 1e-12, JSON.stringify([golden.tolerance, report.maxAbsDifference]));
    const gate = await runTaskGolden(createTestService(repo.dir), 'similar', version);
    assert.deepEqual([gate.passed, gate.problems], [true, []], 'the result passes the gate on the tolerance recorded for it');
  });

  it('has the golden gate refuse a deliberately over-quantized result', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('optimize-over-').sample('digits_mlp').config('digits_mlp', { goldenGate: { metric: 'accuracy', min: 0.95 } });
    const { version, report } = await optimize({ modelsDir: repo.dir, model: 'digits_mlp', mode: 'int8', weightBits: 2, serviceFor, latencyRuns: 5 });
    assert.match(report.warnings.join('\n'), /accuracy fell by/);
    const golden = JSON.parse(readFileSync(join(repo.dir, 'digits_mlp', String(version), 'golden.json'), 'utf8'));
    const result = await answer(repo.dir, 'digits_mlp', version, golden);
    const gate = evaluateGolden(golden, result.answer, result.loaded.config.goldenGate);
    assert.equal(gate.passed, false);
    assert.match(gate.problems.join('\n'), /accuracy 0\.\d+ is below the minimum 0\.95/);
  });

  it('answers bad input with a clear error line and writes nothing', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('optimize-bad-').sample('digits_mlp').sample('iris_forest');
    mkdirSync(join(repo.dir, 'empty'));
    writeFileSync(join(repo.dir, 'not-onnx.txt'), 'x');
    const cli = async (...args: string[]) => {
      try {
        await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'optimize', '--models-dir', repo.dir, ...args]);
        return '';
      } catch (error) {
        assert.equal((error as { code: number }).code, 2);
        return String((error as { stderr: string }).stderr).split('\n')[0];
      }
    };
    assert.equal(await cli('--model', 'nope', '--int8'), `modelship: no model "nope" in ${repo.dir}`);
    assert.equal(await cli('--model', 'digits_mlp', '--int8', '--from', '7'), 'modelship: model "digits_mlp" has no version 7 (it has 1)');
    assert.equal(await cli('--model', 'digits_mlp', '--int8', '--to', '1'), `modelship: ${join(repo.dir, 'digits_mlp', '1')} already exists; choose another --to, or remove it`);
    assert.match(await cli('--model', 'iris_forest', '--int8'), /^modelship: nothing to quantize: the model has no MatMul, Gemm, Conv, Gather node with constant weights/);
    assert.match(await cli('--model', 'iris_forest', '--fp16'), /^modelship: nothing to convert: every op of the model stays in FP32/);
    assert.equal(await cli('--model', 'digits_mlp'), 'modelship: optimize needs exactly one of --int8, --fp16 or --graph');
    assert.equal(await cli('--model', 'digits_mlp', '--int8', '--op-types', 'Softmax'), 'modelship: --op-types: Softmax cannot be quantized; choose from MatMul, Gemm, Conv, Gather');
    assert.equal(await cli('--model', 'digits_mlp', '--int8', '--exclude', 'nonexistent'), 'modelship: --exclude names node "nonexistent", which the model does not have');
    assert.equal(await cli('--model', 'digits_mlp', '--graph', '--level', 'all'), 'modelship: --level must be basic or extended (portable levels), got "all"');
    assert.equal(await cli('--model', 'empty', '--int8'), 'modelship: model "empty" has no version folders');
    assert.ok(!existsSync(join(repo.dir, 'digits_mlp', '2')) && !existsSync(join(repo.dir, 'iris_forest', '2')), 'nothing written');
  });

  it('refuses int8 and fp16 for a native tree model with the reason, and graph until it is converted', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('optimize-native-').copy(join(ROOT, 'test', 'fixtures', 'trees', 'lgb_multiclass_cat'), 'penguins/1');
    const cli = async (...args: string[]) => {
      const failed = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'optimize', '--models-dir', repo.dir, '--model', 'penguins', ...args]).then(() => undefined, (error: { code: number; stderr: string }) => error);
      assert.equal(failed?.code, 2, 'exits 2');
      return failed!.stderr.split('\n')[0];
    };
    assert.equal(await cli('--int8'), 'modelship: model "penguins" version 1 is model.txt, a native model served exactly as its library computes it: int8 quantization does not apply (a tree ensemble has no MatMul, Conv or Gather weights to quantize; its thresholds and leaf values must stay as the library wrote them)');
    assert.match(await cli('--fp16'), /^modelship: model "penguins" version 1 is model\.txt, .*: fp16 does not apply \(thresholds rounded to float16 would send rows down other branches than the library does\)$/);
    assert.equal(await cli('--graph'), 'modelship: model "penguins" version 1 is model.txt, not yet converted: run modelship convert --model penguins --version 1 first, then optimize its model.onnx');
    assert.ok(!existsSync(join(repo.dir, 'penguins', '2')), 'nothing written');
  });

  it('leaves the excluded nodes in FP32', { timeout: 60_000 }, async () => {
    const repo = new TempRepository('optimize-exclude-').sample('digits_mlp');
    const model = decodeModel(readFileSync(join(repo.dir, 'digits_mlp', '1', 'model.onnx')));
    const second = model.graph.node.filter((n) => n.opType === 'Gemm')[1];
    const report = await optimizedAndChecked(repo, 'digits_mlp', 'int8', { exclude: [second.name || second.output[0]] });
    assert.equal(report.quantization!.quantized.length, 1);
    assert.deepEqual(report.quantization!.skipped.map((s) => s.why), ['excluded']);
  });
});
