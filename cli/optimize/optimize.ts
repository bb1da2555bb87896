/**
 * `modelship optimize`: a smaller or faster candidate version of a model, written as the model's
 * next version folder for the delivery gates to judge (golden gate, then canary or shadow against
 * the live version, then ab-report). The result is loaded in onnxruntime and compared with its
 * source on the source's golden inputs, through the same inference path that serves them, before
 * anything is written.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import type { InferenceService } from '../../lambda/core/inference-service.ts';
import { evaluateGolden, goldenInferRequest, goldenTaskRequests, isRequestsGolden, isTaskGolden, type GateResult, type GoldenFile, type MetricName, type TaskGoldenFile } from '../../lambda/jobs/golden-gate.ts';
import { taskFeeds } from '../../lambda/core/tasks/task-run.ts';
import { gateTaskAnswers } from '../../lambda/jobs/task-golden.ts';
import { OPTIMIZATION_FILE, quantizedByOp, type RecordedOptimization } from '../../lambda/core/optimization-record.ts';
import { convertToFloat16, type Float16Report } from './float16.ts';
import { CONVERSION_FILE } from '../../lambda/core/conversion-record.ts';
import { NATIVE_MODEL_FILES } from '../../lambda/convert/registry.ts';
import { decodeModel, encodeModel } from '../../lambda/convert/onnx/onnx-model.ts';
import { quantizeDynamic, type QuantizeReport } from './quantize.ts';
import { keepLiveVersion } from '../promote.ts';

export type Optimization = 'int8' | 'fp16' | 'graph';

export interface OptimizeOptions {
  readonly modelsDir: string;
  readonly model: string;
  /** @default the highest version */
  readonly from?: number;
  /** @default the highest version + 1 */
  readonly to?: number;
  readonly mode: Optimization;
  /** int8: op types to quantize, and nodes to leave in FP32. */
  readonly opTypes?: readonly string[];
  readonly exclude?: readonly string[];
  readonly reduceRange?: boolean;
  /** int8: fewer weight bits, to build a deliberately over-quantized candidate (the gate must refuse it). */
  readonly weightBits?: number;
  /** graph: onnxruntime's level; 'basic' and 'extended' are portable ('all' adds layout changes for this CPU). @default 'basic' */
  readonly graphLevel?: 'basic' | 'extended';
  /** An inference service over a model folder (the same path that serves it). */
  readonly serviceFor: (modelsDir: string) => InferenceService;
  /** Single-row latency runs per model. @default 200 */
  readonly latencyRuns?: number;
}

/**
 * optimization.json: the fields the local console reads back are typed by RecordedOptimization's
 * schema (sizes, latencies as the median single-row session.run in µs on one intra-op thread, the
 * largest |difference| per output on the golden inputs); this narrows them and adds the rest.
 */
export interface OptimizationReport extends RecordedOptimization {
  readonly optimization: Optimization;
  readonly metrics: { readonly source: Partial<Record<MetricName, number>>; readonly result: Partial<Record<MetricName, number>>; readonly delta: Partial<Record<MetricName, number>> };
  readonly tolerance: unknown;
  /** Image and text models: the share of top labels that must agree with training's. */
  readonly minAgreement?: number;
  readonly quantization?: QuantizeReport;
  readonly float16?: Float16Report;
}

const MODEL_PATHS = ['model.onnx', join('onnx', 'model.onnx')];

function versionsOf(dir: string): number[] {
  return readdirSync(dir).filter((v) => /^[1-9]\d*$/.test(v) && statSync(join(dir, v)).isDirectory()).map(Number).sort((a, b) => a - b);
}

/** onnxruntime's offline graph optimization: the session writes the optimized graph to a file. */
async function graphOptimized(bytes: Uint8Array, level: 'basic' | 'extended'): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-optimize-'));
  try {
    const file = join(dir, 'optimized.onnx');
    const session = await InferenceSession.create(bytes, { graphOptimizationLevel: level, optimizedModelFilePath: file, intraOpNumThreads: 1 });
    await session.release();
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Median single-row session.run in microseconds, feeds from the golden inputs' first row. */
async function latency(bytes: Uint8Array, golden: GoldenFile | TaskGoldenFile, service: InferenceService, name: string, version: number, runs: number): Promise<number> {
  const session = await InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  let feeds: Record<string, Tensor>;
  if (isTaskGolden(golden)) {
    // Image and text models: the first golden input, preprocessed as the server does it.
    const loaded = await service.loadModel(name, String(version));
    feeds = await taskFeeds(loaded, { kind: 'json', route: 'infer', body: goldenTaskRequests(golden)[0] as Record<string, unknown> });
  } else {
    feeds = Object.fromEntries(golden.inputs.map((input) => {
      const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
      const data = input.data.slice(0, width);
      const typed = input.datatype === 'INT64' ? BigInt64Array.from(data.map((v) => BigInt(v))) : input.datatype === 'INT32' ? Int32Array.from(data) : Float32Array.from(data);
      return [input.name, new Tensor(typed as Float32Array, [1, ...input.shape.slice(1)])];
    }));
  }
  for (let i = 0; i < 10; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await session.run(feeds);
    times.push((performance.now() - started) * 1000);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** The answer's floating-point outputs by name (labels and class indices are compared by the gate, not by value). */
function numericOutputs(answer: { outputs: { name: string; datatype: string; data: unknown[] }[] }): Map<string, number[]> {
  return new Map(answer.outputs.filter((o) => o.datatype.startsWith('FP')).map((o) => [o.name, o.data.map(Number)]));
}

/**
 * A native model (XGBoost, LightGBM, PMML) is served exactly as its library computes it: int8 and
 * float16 would change what it answers and have nothing to gain on a tree ensemble, so they are
 * refused with the reason; graph optimization keeps the answers and applies once model.onnx is written.
 */
function refuseConverted(sourceDir: string, model: string, version: number, mode: Optimization): void {
  const native = NATIVE_MODEL_FILES.find((f) => existsSync(join(sourceDir, f)));
  if (native === undefined && !existsSync(join(sourceDir, CONVERSION_FILE))) return;
  const what = native !== undefined ? `${native}, a native model served exactly as its library computes it` : `a model converted from a native format (${CONVERSION_FILE}), served exactly as its library computes it`;
  if (mode === 'int8') throw new Error(`model "${model}" version ${version} is ${what}: int8 quantization does not apply (a tree ensemble has no MatMul, Conv or Gather weights to quantize; its thresholds and leaf values must stay as the library wrote them)`);
  if (mode === 'fp16') throw new Error(`model "${model}" version ${version} is ${what}: fp16 does not apply (thresholds rounded to float16 would send rows down other branches than the library does)`);
  if (!MODEL_PATHS.some((p) => existsSync(join(sourceDir, p)))) throw new Error(`model "${model}" version ${version} is ${native}, not yet converted: run modelship convert --model ${model} --version ${version} first, then optimize its model.onnx`);
}

export async function optimize(options: OptimizeOptions): Promise<{ version: number; directory: string; report: OptimizationReport; keptLive?: { version: number; file: string } }> {
  const modelDir = join(options.modelsDir, options.model);
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) throw new Error(`no model "${options.model}" in ${options.modelsDir}`);
  const versions = versionsOf(modelDir);
  if (versions.length === 0) throw new Error(`model "${options.model}" has no version folders`);
  const from = options.from ?? versions[versions.length - 1];
  if (!versions.includes(from)) throw new Error(`model "${options.model}" has no version ${from} (it has ${versions.join(', ')})`);
  const version = options.to ?? versions[versions.length - 1] + 1;
  const target = join(modelDir, String(version));
  if (existsSync(target)) throw new Error(`${target} already exists; choose another --to, or remove it`);
  const sourceDir = join(modelDir, String(from));
  refuseConverted(sourceDir, options.model, from, options.mode);
  const modelPath = MODEL_PATHS.find((p) => existsSync(join(sourceDir, p)));
  if (modelPath === undefined) throw new Error(`${sourceDir} has no model.onnx`);
  if (!existsSync(join(sourceDir, 'golden.json'))) throw new Error(`${sourceDir} has no golden.json: optimize measures the result against the source on its golden inputs`);
  const golden = JSON.parse(readFileSync(join(sourceDir, 'golden.json'), 'utf8')) as GoldenFile | TaskGoldenFile;
  const sourceBytes = readFileSync(join(sourceDir, modelPath));
  const warnings: string[] = [];

  let result: Uint8Array;
  let quantization: QuantizeReport | undefined;
  let float16: Float16Report | undefined;
  if (options.mode === 'graph') {
    result = await graphOptimized(sourceBytes, options.graphLevel ?? 'basic');
  } else if (options.mode === 'int8') {
    // As onnxruntime's quant_pre_process: its basic graph optimization first (BatchNormalization
    // folded into the Conv before it, constants folded), so the quantized weights are the final ones.
    const model = decodeModel(await graphOptimized(sourceBytes, 'basic'), sourceDir);
    quantization = quantizeDynamic(model, { opTypes: options.opTypes, excludeNodes: options.exclude, reduceRange: options.reduceRange, weightBits: options.weightBits });
    result = encodeModel(model);
  } else {
    const model = decodeModel(sourceBytes, sourceDir);
    float16 = convertToFloat16(model);
    result = encodeModel(model);
  }
  try {
    await (await InferenceSession.create(result, { intraOpNumThreads: 1 })).release();
  } catch (error) {
    throw new Error(`the ${options.mode} result does not load in onnxruntime, so nothing was written: ${(error as Error).message}`);
  }

  // Source and candidate side by side in a scratch repository, served by the same path as in production.
  const scratch = mkdtempSync(join(tmpdir(), 'modelship-optimize-repo-'));
  try {
    const scratchModel = join(scratch, options.model);
    mkdirSync(scratchModel);
    if (existsSync(join(modelDir, 'config.json'))) {
      // Without what names versions the scratch repository lacks (a pinned live version, A/B weights, a shadow): both are addressed by version here.
      const { versionPolicy: _policy, abTest: _ab, shadow: _shadow, ...config } = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(scratchModel, 'config.json'), JSON.stringify(config));
    }
    cpSync(sourceDir, join(scratchModel, String(from)), { recursive: true });
    const candidateDir = join(scratchModel, String(version));
    cpSync(sourceDir, candidateDir, { recursive: true, filter: (src) => !/(^|[\\/])(optimization\.json)$/.test(src) });
    rmSync(join(candidateDir, modelPath));
    mkdirSync(dirname(join(candidateDir, modelPath)), { recursive: true });
    writeFileSync(join(candidateDir, modelPath), result);
    const service = options.serviceFor(scratch);
    type Answer = { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    const answer = async (v: number): Promise<{ loaded: Awaited<ReturnType<typeof service.loadModel>>; answer: Answer; gate?: GateResult }> => {
      const loaded = await service.loadModel(options.model, String(v));
      if (!isRequestsGolden(golden)) return { loaded, answer: JSON.parse(await service.infer(loaded, goldenInferRequest(golden))) as Answer };
      // A task's golden requests: each answered as served and checked with the task's compare; their numbers, in order, are what differs.
      const answers = await Promise.all(golden.requests.map(async (body) => JSON.parse((await service.runTaskInput(loaded, { kind: 'json', route: 'infer', body: body as Record<string, unknown> }))?.json ?? 'null') as unknown));
      const numbers = answers.flatMap(function flat(v: unknown): number[] { return typeof v === 'number' ? [v] : Array.isArray(v) ? v.flatMap(flat) : typeof v === 'object' && v !== null ? Object.values(v).flatMap(flat) : []; });
      return { loaded, answer: { outputs: [{ name: 'answers', datatype: 'FP64', shape: [numbers.length], data: numbers }] }, gate: await gateTaskAnswers(service, options.model, v, golden, loaded.config.goldenGate) };
    };
    const [source, candidate] = [await answer(from), await answer(version)];
    const threshold = source.loaded.config.goldenGate;
    const sourceGate = source.gate ?? evaluateGolden(golden, source.answer, threshold);
    const candidateGate = candidate.gate ?? evaluateGolden(golden, candidate.answer, threshold);
    const [sourceOut, candidateOut] = [numericOutputs(source.answer), numericOutputs(candidate.answer)];
    const maxAbsDifference: Record<string, number> = {};
    for (const [name, values] of sourceOut) {
      const other = candidateOut.get(name) ?? [];
      maxAbsDifference[name] = values.reduce((m, v, i) => Math.max(m, Math.abs(v - (other[i] ?? Number.NaN))), 0);
    }
    const largest = Math.max(0, ...Object.values(maxAbsDifference).filter(Number.isFinite));
    // The tolerance from the measured difference: the source's own, plus 1.5 times what changed.
    const widen = (t: number) => Number((t + 1.5 * largest).toPrecision(3));
    let tolerance: number | { absolute: number; relative: number; mismatchShare?: number };
    let agreement: { minAgreement?: number } = {};
    if (isTaskGolden(golden)) {
      tolerance = widen(golden.tolerance);
      // Top labels that moved: the share that still agrees with training's becomes the new minimum.
      const labels = candidate.answer.outputs.find((o) => o.name === 'label');
      if (isRequestsGolden(golden)) {
        // Answers that moved beyond the source's tolerance: the share that still agrees becomes the new minimum.
        const agree = candidateGate.metrics.accuracy ?? 0;
        agreement = { minAgreement: Math.min(golden.minAgreement ?? 0.995, Math.floor(agree * 1000) / 1000) };
        if (agree < 0.99) warnings.push(`answers agree with the source's on ${(agree * 100).toFixed(1)}% of the golden requests`);
      } else if (labels !== undefined && golden.expectedLabels !== undefined) {
        const k = labels.shape[1];
        const agree = golden.expectedLabels.filter((l, i) => String(labels.data[i * k]) === l).length / golden.expectedLabels.length;
        const minAgreement = Math.min(golden.minAgreement ?? 0.995, Math.floor(agree * 1000) / 1000);
        agreement = { minAgreement };
        if (agree < 0.99) warnings.push(`top labels agree with training's on ${(agree * 100).toFixed(1)}% of the golden inputs`);
      }
    } else {
      const absolute = widen(golden.tolerance.absolute);
      // Class labels that flipped (a borderline row): their share becomes what the gate allows.
      const shares = golden.outputs.map((expected) => {
        const actual = candidate.answer.outputs.find((o) => o.name === expected.name);
        if (actual === undefined) return 1;
        return expected.data.filter((e, i) => !(Math.abs(Number(actual.data[i]) - e) <= absolute + golden.tolerance.relative * Math.abs(e))).length / expected.data.length;
      });
      const mismatchShare = Math.max(golden.tolerance.mismatchShare ?? 0, ...shares);
      tolerance = { absolute, relative: golden.tolerance.relative, ...(mismatchShare > 0 ? { mismatchShare: Math.ceil(mismatchShare * 10_000) / 10_000 } : {}) };
    }
    const delta = Object.fromEntries(Object.entries(candidateGate.metrics).map(([k, v]) => [k, v - (sourceGate.metrics[k as MetricName] ?? Number.NaN)]));
    for (const metric of ['accuracy', 'f1'] as const) {
      if ((delta[metric] ?? 0) < -0.01) warnings.push(`${metric} fell by ${(-delta[metric] * 100).toFixed(2)} points on the golden set (${sourceGate.metrics[metric]!.toFixed(4)} -> ${candidateGate.metrics[metric]!.toFixed(4)})`);
    }
    if (candidateGate.metrics.rmse !== undefined && sourceGate.metrics.rmse !== undefined && candidateGate.metrics.rmse > sourceGate.metrics.rmse * 1.01) warnings.push(`rmse rose from ${sourceGate.metrics.rmse.toFixed(4)} to ${candidateGate.metrics.rmse.toFixed(4)} on the golden set`);
    const runs = options.latencyRuns ?? 200;
    const [sourceMicros, resultMicros] = [await latency(sourceBytes, golden, service, options.model, from, runs), await latency(result, golden, service, options.model, version, runs)];
    if (resultMicros > sourceMicros * 1.05) {
      const convs = quantization?.quantized.filter((q) => q.op === 'Conv').length ?? 0;
      warnings.push(`the result is slower per request on this CPU (${resultMicros.toFixed(0)} us against ${sourceMicros.toFixed(0)} us)${convs > 0 ? `: onnxruntime's ConvInteger is often slower than its FP32 convolution on CPU; try --op-types MatMul,Gemm,Gather to keep ${convs} Conv in FP32` : options.mode === 'fp16' ? ': FP16 is for GPUs; on CPU onnxruntime casts most ops back to FP32' : ''}`);
    }
    const report: OptimizationReport = {
      model: options.model, from, version, optimization: options.mode, createdAt: new Date().toISOString(),
      bytes: { source: sourceBytes.length, result: result.length, ratio: sourceBytes.length / result.length },
      latencyMicros: { source: sourceMicros, result: resultMicros, ratio: resultMicros / sourceMicros },
      maxAbsDifference,
      metrics: { source: sourceGate.metrics, result: candidateGate.metrics, delta },
      tolerance,
      ...agreement,
      ...(quantization !== undefined ? { quantization } : {}),
      ...(float16 !== undefined ? { float16 } : {}),
      ...(options.mode === 'graph' ? { graphLevel: options.graphLevel ?? 'basic' } : {}),
      warnings,
    };
    writeFileSync(join(candidateDir, 'golden.json'), `${JSON.stringify({ ...golden, tolerance, ...agreement }, null, 1)}\n`);
    writeFileSync(join(candidateDir, OPTIMIZATION_FILE), `${JSON.stringify(report, null, 1)}\n`);
    // Written in one step: a half-written version folder never appears in the repository.
    renameSync(candidateDir, target);
    // A candidate, not a release: the version live before stays live until it is promoted.
    const keptLive = keepLiveVersion(options.modelsDir, options.model, version);
    return { version, directory: target, report, keptLive };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A ratio (above 1: better) as words that say which way: "2.56× faster", "8.34× slower". */
export function times(ratio: number, better: string, worse: string): string {
  if (Math.abs(ratio - 1) < 0.005) return 'unchanged';
  return ratio > 1 ? `${ratio.toFixed(2)}× ${better}` : `${(1 / ratio).toFixed(2)}× ${worse}`;
}

/** The report as the command prints it. */
export function formatOptimization(report: OptimizationReport): string {
  const lines = [
    `${report.model} ${report.from} -> ${report.version} (${report.optimization}${report.graphLevel ? `, ${report.graphLevel}` : ''})`,
    `  size:    ${report.bytes.source} -> ${report.bytes.result} bytes (${times(report.bytes.ratio, 'smaller', 'larger')})`,
    `  latency: ${report.latencyMicros.source.toFixed(0)} -> ${report.latencyMicros.result.toFixed(0)} us per single-row run (${times(1 / report.latencyMicros.ratio, 'faster', 'slower')})`,
    `  max |difference| on the golden inputs: ${Object.entries(report.maxAbsDifference).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`,
    `  metrics: ${Object.entries(report.metrics.result).map(([k, v]) => `${k} ${report.metrics.source[k as MetricName]?.toFixed(4)} -> ${v.toFixed(4)}`).join(', ') || 'none on this golden set'}`,
    `  golden tolerance: ${JSON.stringify(report.tolerance)}`,
  ];
  if (report.quantization) {
    lines.push(`  quantized: ${quantizedByOp(report.quantization.quantized).map(({ op, as, count }) => `${count} ${op} (${as})`).join(', ')}`);
    if (report.quantization.skipped.length > 0) lines.push(`  left in FP32: ${report.quantization.skipped.map((s) => `${s.node} (${s.op}: ${s.why})`).join(', ')}`);
    if (report.quantization.opsetRaisedFrom !== undefined) lines.push(`  opset raised from ${report.quantization.opsetRaisedFrom} to 11 (DynamicQuantizeLinear's)`);
  }
  if (report.float16) lines.push(`  fp16: ${report.float16.convertedWeights} weights converted${report.float16.keptInFloat32.length > 0 ? `; kept in FP32: ${report.float16.keptInFloat32.join(', ')}` : ''}`);
  return lines.join('\n');
}
