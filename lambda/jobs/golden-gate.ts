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
  /**
   * `mismatchShare`: the share of an output's values allowed beyond tolerance (default 0), set by
   * `modelship optimize` from what it measured, as a quantized classifier may flip a borderline label.
   */
  readonly tolerance: { readonly absolute: number; readonly relative: number; readonly mismatchShare?: number };
  /** Class names in index order, for a model answering its label by name (a converted classifier): the answer's names are read back as indices. */
  readonly classes?: readonly string[];
}

/**
 * The golden file of an image or text model: held-out texts (or base64 images) with their true
 * labels, and what training computed for them: labels and logits (or scores) of classifiers, or
 * embeddings. `minAgreement` is the share of inputs whose label must match (default 0.995).
 */
export interface TaskGoldenFile {
  /**
   * Any task's form: the task (registry.ts) whose `compare` checks each answer, one request body
   * per golden input ({"inputs", "parameters"}, as a client sends it), and the answer expected of
   * each (the reference implementation's, or training's). Each is checked with the module's
   * `compare` within `tolerance`; `minAgreement` of them must agree (default 0.995).
   */
  readonly task?: string;
  readonly requests?: readonly unknown[];
  readonly expected?: readonly unknown[];
  readonly texts?: readonly string[];
  readonly images?: readonly string[];
  readonly labels?: readonly string[];
  readonly expectedLabels?: readonly string[];
  readonly expectedLogits?: readonly (readonly number[])[];
  readonly expectedScores?: readonly number[];
  readonly expectedEmbeddings?: readonly (readonly number[])[];
  readonly tolerance: number;
  readonly minAgreement?: number;
}

export const isTaskGolden = (golden: GoldenFile | TaskGoldenFile): golden is TaskGoldenFile => 'texts' in golden || 'images' in golden || 'requests' in golden;

/** A task golden file in the any-task form (requests and expected answers, checked by the task's module). */
export const isRequestsGolden = (golden: GoldenFile | TaskGoldenFile): golden is TaskGoldenFile & { requests: readonly unknown[]; expected: readonly unknown[]; task: string } =>
  'requests' in golden && Array.isArray(golden.requests);

/** One request body per golden input of a task model ({"inputs": text | base64 image} for the texts and images forms). */
export function goldenTaskRequests(golden: TaskGoldenFile): unknown[] {
  if (golden.requests !== undefined) return [...golden.requests];
  return (golden.texts ?? golden.images ?? []).map((inputs) => ({ inputs }));
}

/**
 * The gate on a task model's answers to goldenTaskRequests, one per request, each checked with the
 * task module's `compare` (labels, spans, boxes by IoU, embeddings by cosine, scores within
 * tolerance), given by the caller: this file stays free of the modules (the pre-traffic hook's
 * bundle has no onnxruntime), and the model function, which has them, runs this (task-golden.ts).
 */
export function evaluateTaskAnswers(golden: TaskGoldenFile, answers: readonly unknown[], compare: (expected: unknown, actual: unknown, tolerance: number) => string | undefined): GateResult {
  const expected = golden.expected ?? [];
  const n = expected.length;
  if (answers.length !== n) return { passed: false, problems: [`${answers.length} answers for ${n} golden requests`], metrics: {} };
  const differences = expected.map((e, i) => compare(e, answers[i], golden.tolerance));
  const failed = differences.flatMap((d, i) => (d === undefined ? [] : [`request ${i}: ${d}`]));
  const agree = n === 0 ? 1 : (n - failed.length) / n;
  const minAgreement = golden.minAgreement ?? 0.995;
  const problems = agree < minAgreement ? [`answers agree with golden on ${(agree * 100).toFixed(1)}% of ${n} requests, below ${(minAgreement * 100).toFixed(1)}%`, ...failed.slice(0, 5)] : [];
  return { passed: problems.length === 0, problems, metrics: { accuracy: agree } };
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

/** The v2 inference request for all golden rows (image and text models: one BYTES input of texts or base64 images). */
export function goldenInferRequest(golden: GoldenFile | TaskGoldenFile): { inputs: unknown[] } {
  if (isRequestsGolden(golden)) throw new Error('a golden.json of requests is sent request by request (goldenTaskRequests) and checked with evaluateTaskAnswers');
  if (isTaskGolden(golden)) {
    const data = golden.texts ?? golden.images ?? [];
    return { inputs: [{ name: 'input', datatype: 'BYTES', shape: [data.length], data, parameters: { content_type: golden.texts !== undefined ? 'str' : 'base64' } }] };
  }
  return { inputs: golden.inputs.map((input) => ({ ...input })) };
}

const softmax = (row: readonly number[]) => {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};

/**
 * The gate for image and text models, on their v2 answer (BYTES `label` and FP32 `score` tensors,
 * best first, or an FP32 `embedding`): the top labels agree with training's on `minAgreement` of
 * the inputs, the top scores (or embeddings) are within `tolerance`, and accuracy and macro F1
 * against the true labels are reported for the threshold.
 */
function evaluateTaskGolden(golden: TaskGoldenFile, outputs: readonly { name: string; shape: number[]; data: unknown[] }[], threshold?: GateThreshold): GateResult {
  const problems: string[] = [];
  const metrics: Partial<Record<MetricName, number>> = {};
  const n = (golden.texts ?? golden.images ?? []).length;
  const embedding = outputs.find((o) => o.name === 'embedding');
  if (golden.expectedEmbeddings !== undefined) {
    if (embedding === undefined) problems.push('output "embedding" is missing from the answer');
    else {
      const dims = embedding.shape[1];
      const bad = golden.expectedEmbeddings.filter((row, i) => row.some((v, d) => !(Math.abs(Number(embedding.data[i * dims + d]) - v) <= golden.tolerance))).length;
      if (bad > 0) problems.push(`output "embedding" differs from golden beyond ${golden.tolerance} for ${bad} of ${n} inputs`);
    }
  }
  if (golden.expectedLabels !== undefined) {
    const labels = outputs.find((o) => o.name === 'label');
    const scores = outputs.find((o) => o.name === 'score');
    if (labels === undefined || scores === undefined) problems.push('outputs "label" and "score" are missing from the answer');
    else {
      const k = labels.shape[1];
      const top = Array.from({ length: n }, (_, i) => String(labels.data[i * k]));
      const topScores = Array.from({ length: n }, (_, i) => Number(scores.data[i * k]));
      const agree = top.filter((l, i) => l === golden.expectedLabels![i]).length / n;
      const minAgreement = golden.minAgreement ?? 0.995;
      if (agree < minAgreement) problems.push(`top labels agree with golden on ${(agree * 100).toFixed(1)}% of ${n} inputs, below ${(minAgreement * 100).toFixed(1)}%`);
      const expectedTop = golden.expectedScores ?? golden.expectedLogits?.map((row) => Math.max(...softmax(row)));
      if (expectedTop !== undefined) {
        const off = expectedTop.filter((e, i) => top[i] === golden.expectedLabels![i] && !(Math.abs(topScores[i] - e) <= golden.tolerance)).length;
        if (off > 0) problems.push(`top scores differ from golden beyond ${golden.tolerance} for ${off} of ${n} inputs`);
      }
      if (golden.labels !== undefined) {
        const classes = [...new Set(golden.labels)];
        metrics.accuracy = top.filter((l, i) => l === golden.labels![i]).length / n;
        const f1s = classes.map((c) => {
          const tp = top.filter((l, i) => l === c && golden.labels![i] === c).length;
          const predicted = top.filter((l) => l === c).length;
          const actual = golden.labels!.filter((l) => l === c).length;
          const [p, r] = [predicted === 0 ? 0 : tp / predicted, actual === 0 ? 0 : tp / actual];
          return p + r === 0 ? 0 : (2 * p * r) / (p + r);
        });
        metrics.f1 = f1s.reduce((a, b) => a + b, 0) / classes.length;
      }
    }
  }
  applyThreshold(metrics, threshold, problems);
  return { passed: problems.length === 0, problems, metrics };
}

function applyThreshold(metrics: Partial<Record<MetricName, number>>, threshold: GateThreshold | undefined, problems: string[]): void {
  if (threshold === undefined) return;
  const value = metrics[threshold.metric];
  if (value === undefined) problems.push(`metric ${threshold.metric} cannot be computed for this model's outputs`);
  else if (threshold.min !== undefined && value < threshold.min) problems.push(`${threshold.metric} ${value.toFixed(4)} is below the minimum ${threshold.min}`);
  else if (threshold.max !== undefined && value > threshold.max) problems.push(`${threshold.metric} ${value.toFixed(4)} is above the maximum ${threshold.max}`);
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

/** A label answered by class name (BYTES), as the class indices golden files hold; an unknown name is a problem, named. */
function labelIndices(output: { name: string; datatype?: string; shape: number[]; data: unknown[] }, golden: GoldenFile, problems: string[]): { name: string; shape: number[]; data: number[] } {
  if (output.datatype !== 'BYTES') return output as { name: string; shape: number[]; data: number[] };
  const classes = golden.classes ?? [];
  const data = output.data.map((name) => classes.indexOf(String(name)));
  const unknown = output.data.find((_, i) => data[i] < 0);
  if (unknown !== undefined) problems.push(`output "${output.name}" answers class ${JSON.stringify(unknown)}, which golden.json's "classes" (${classes.length > 0 ? classes.join(', ') : 'none'}) does not name`);
  return { ...output, data };
}

/** Checks an inference response on the golden rows against the golden outputs and the threshold. */
export function evaluateGolden(golden: GoldenFile | TaskGoldenFile, response: { outputs?: { name: string; datatype?: string; shape: number[]; data: unknown[] }[] }, threshold?: GateThreshold): GateResult {
  if (isTaskGolden(golden)) return evaluateTaskGolden(golden, response.outputs ?? [], threshold);
  const problems: string[] = [];
  const outputs = (response.outputs ?? []).map((output) => labelIndices(output, golden, problems));
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
    const count = bad < 0 ? 0 : expected.data.filter((e, i) => !(Math.abs(Number(actual.data[i]) - e) <= absolute + relative * Math.abs(e))).length;
    if (count > Math.floor((golden.tolerance.mismatchShare ?? 0) * expected.data.length + 1e-9)) {
      problems.push(`output "${expected.name}" differs from golden beyond tolerance at ${count} of ${expected.data.length} values (first at index ${bad}: ${actual.data[bad]} vs ${expected.data[bad]})`);
    }
  }
  const metrics = outputs.length > 0 ? computeMetrics(outputs, golden.targets) : {};
  applyThreshold(metrics, threshold, problems);
  return { passed: problems.length === 0, problems, metrics };
}
