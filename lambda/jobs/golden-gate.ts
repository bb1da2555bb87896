/**
 * The delivery gate: a new model version must reproduce its golden outputs (the ones computed at
 * training) within tolerance, and its evaluation metric on the golden rows must meet the config's
 * threshold, before any traffic reaches it.
 */
export interface GoldenTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

export interface GoldenFile {
  readonly inputs: readonly GoldenTensor[];
  readonly outputs: readonly GoldenTensor[];
  readonly targets: readonly number[];
  readonly tolerance: { readonly absolute: number; readonly relative: number };
}

export type MetricName = 'accuracy' | 'precision' | 'recall' | 'f1' | 'logLoss' | 'rmse' | 'mae' | 'r2';

export interface GateThreshold {
  readonly metric: MetricName;
  readonly min?: number;
  readonly max?: number;
}

export interface GateResult {
  readonly passed: boolean;
  /** Each reason the gate failed, naming the output or metric. */
  readonly problems: string[];
  /** Every metric computable for the task, on the golden rows. */
  readonly metrics: Partial<Record<MetricName, number>>;
}

/** The v2 inference request for all golden rows. */
export function goldenInferRequest(golden: GoldenFile): { inputs: GoldenTensor[] } {
  return { inputs: golden.inputs.map((input) => ({ ...input })) };
}

/** Metrics from a model's answers on the golden rows: classification when there are probabilities, else regression. */
export function computeMetrics(outputs: readonly { name: string; shape: readonly number[]; data: readonly number[] }[], targets: readonly number[]): Partial<Record<MetricName, number>> {
  const probabilities = outputs.find((o) => o.name === 'probabilities');
  const labels = outputs.find((o) => o.name === 'label');
  if (probabilities !== undefined && labels !== undefined) {
    const classes = probabilities.shape[1];
    const n = targets.length;
    const correct = labels.data.filter((label, i) => Number(label) === targets[i]).length;
    const perClass = Array.from({ length: classes }, (_, c) => {
      const tp = labels.data.filter((l, i) => Number(l) === c && targets[i] === c).length;
      const predicted = labels.data.filter((l) => Number(l) === c).length;
      const actual = targets.filter((t) => t === c).length;
      const precision = predicted === 0 ? 0 : tp / predicted;
      const recall = actual === 0 ? 0 : tp / actual;
      return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall) };
    });
    // Binary: the positive class (1), as scikit-learn's average="binary"; multiclass: macro average.
    const pick = (key: 'precision' | 'recall' | 'f1') => (classes === 2 ? perClass[1][key] : perClass.reduce((s, c) => s + c[key], 0) / classes);
    const eps = 1e-15;
    const logLoss = -targets.reduce((s, t, i) => s + Math.log(Math.min(1 - eps, Math.max(eps, probabilities.data[i * classes + t]))), 0) / n;
    return { accuracy: correct / n, precision: pick('precision'), recall: pick('recall'), f1: pick('f1'), logLoss };
  }
  const predictions = outputs[0].data;
  const n = targets.length;
  const mean = targets.reduce((a, b) => a + b, 0) / n;
  const sse = predictions.reduce((s, p, i) => s + (p - targets[i]) ** 2, 0);
  const sst = targets.reduce((s, t) => s + (t - mean) ** 2, 0);
  return { rmse: Math.sqrt(sse / n), mae: predictions.reduce((s, p, i) => s + Math.abs(p - targets[i]), 0) / n, r2: 1 - sse / sst };
}

/** Checks an inference response on the golden rows against the golden outputs and the threshold. */
export function evaluateGolden(golden: GoldenFile, response: { outputs?: { name: string; shape: number[]; data: number[] }[] }, threshold?: GateThreshold): GateResult {
  const problems: string[] = [];
  const outputs = response.outputs ?? [];
  const { absolute, relative } = golden.tolerance;
  for (const expected of golden.outputs) {
    const actual = outputs.find((o) => o.name === expected.name);
    if (actual === undefined) {
      problems.push(`output "${expected.name}" is missing from the answer`);
      continue;
    }
    if (actual.data.length !== expected.data.length) {
      problems.push(`output "${expected.name}" has ${actual.data.length} values, golden has ${expected.data.length}`);
      continue;
    }
    const bad = expected.data.findIndex((e, i) => !(Math.abs(Number(actual.data[i]) - e) <= absolute + relative * Math.abs(e)));
    if (bad >= 0) {
      const count = expected.data.filter((e, i) => !(Math.abs(Number(actual.data[i]) - e) <= absolute + relative * Math.abs(e))).length;
      problems.push(`output "${expected.name}" differs from golden beyond tolerance at ${count} of ${expected.data.length} values (first at index ${bad}: ${actual.data[bad]} vs ${expected.data[bad]})`);
    }
  }
  const metrics = outputs.length > 0 ? computeMetrics(outputs, golden.targets) : {};
  if (threshold !== undefined) {
    const value = metrics[threshold.metric];
    if (value === undefined) problems.push(`metric ${threshold.metric} cannot be computed for this model's outputs`);
    else if (threshold.min !== undefined && value < threshold.min) problems.push(`${threshold.metric} ${value.toFixed(4)} is below the minimum ${threshold.min}`);
    else if (threshold.max !== undefined && value > threshold.max) problems.push(`${threshold.metric} ${value.toFixed(4)} is above the maximum ${threshold.max}`);
  }
  return { passed: problems.length === 0, problems, metrics };
}
