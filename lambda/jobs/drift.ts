/**
 * Data drift of a model's inputs against its training baseline (baseline.json, written by the
 * training script): per feature, the population stability index over the baseline's bins and the
 * two-sample Kolmogorov-Smirnov statistic against the baseline's quantiles.
 */
export interface FeatureBaseline {
  readonly name: string;
  readonly index: number;
  /** Bin edges (quantiles of the training data); the outer bins are open-ended. */
  readonly binEdges: readonly number[];
  readonly binProportions: readonly number[];
  /** The training data's 0th..100th percentiles. */
  readonly quantiles: readonly number[];
}

/**
 * A categorical feature of a converted model: each category's share of the training rows, in the
 * model's code order (conversion.json's `categories`), which is what a captured row carries.
 */
export interface CategoricalBaseline {
  readonly name: string;
  readonly index: number;
  readonly type: 'categorical';
  readonly categories: readonly string[];
  readonly categoryProportions: readonly number[];
}

export interface Baseline {
  readonly features: readonly (FeatureBaseline | CategoricalBaseline)[];
}

const isCategorical = (feature: FeatureBaseline | CategoricalBaseline): feature is CategoricalBaseline => (feature as CategoricalBaseline).type === 'categorical';

/**
 * PSI over category frequencies, and (in the KS column) the largest gap between one category's share
 * in the values and in training: categories have no order, so no CDF to compare.
 */
export function categoryDrift(feature: CategoricalBaseline, codes: readonly number[]): { psi: number; ks: number } {
  if (codes.length === 0) throw new Error('no values to compare with the baseline');
  const counts = new Array<number>(feature.categories.length).fill(0);
  for (const code of codes) counts[code]++;
  let psi = 0;
  let ks = 0;
  feature.categoryProportions.forEach((share, i) => {
    const actual = Math.max(counts[i] / codes.length, EPSILON);
    const expected = Math.max(share, EPSILON);
    psi += (actual - expected) * Math.log(actual / expected);
    ks = Math.max(ks, Math.abs(counts[i] / codes.length - share));
  });
  return { psi, ks };
}

export interface FeatureDrift {
  readonly name: string;
  readonly psi: number;
  readonly ks: number;
  readonly drifted: boolean;
}

/** Proportions never reach zero in PSI (ln(0) is undefined): the usual floor. */
const EPSILON = 1e-4;

/** Population stability index of `values` against the baseline bins: sum of (a - e) ln(a / e). */
export function populationStabilityIndex(feature: Pick<FeatureBaseline, 'binEdges' | 'binProportions'>, values: readonly number[]): number {
  if (values.length === 0) throw new Error('no values to compare with the baseline');
  const bins = feature.binProportions.length;
  const counts = new Array<number>(bins).fill(0);
  const inner = feature.binEdges.slice(1, -1);
  for (const value of values) {
    let bin = 0;
    // Bins are [edge, next edge), as numpy.histogram built the baseline (the last one closed).
    while (bin < inner.length && value >= inner[bin]) bin++;
    counts[bin]++;
  }
  let psi = 0;
  for (let i = 0; i < bins; i++) {
    const actual = Math.max(counts[i] / values.length, EPSILON);
    const expected = Math.max(feature.binProportions[i], EPSILON);
    psi += (actual - expected) * Math.log(actual / expected);
  }
  return psi;
}

/** The baseline CDF at x, linear between its percentiles. */
function baselineCdf(quantiles: readonly number[], x: number): number {
  const last = quantiles.length - 1;
  if (x < quantiles[0]) return 0;
  if (x >= quantiles[last]) return 1;
  // The highest percentile at or below x, then linear to the next.
  let i = 0;
  while (i < last && quantiles[i + 1] <= x) i++;
  const [lo, hi] = [quantiles[i], quantiles[i + 1]];
  const within = hi > lo ? (x - lo) / (hi - lo) : 0;
  return (i + within) / last;
}

/** Kolmogorov-Smirnov statistic: the largest gap between the values' empirical CDF and the baseline's. */
export function kolmogorovSmirnov(quantiles: readonly number[], values: readonly number[]): number {
  if (values.length === 0) throw new Error('no values to compare with the baseline');
  const sorted = [...values].sort((a, b) => a - b);
  let d = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i + 1 < sorted.length && sorted[i + 1] === sorted[i]) continue; // evaluate once per distinct value
    const base = baselineCdf(quantiles, sorted[i]);
    const below = sorted.findIndex((v) => v >= sorted[i]) / sorted.length;
    d = Math.max(d, Math.abs((i + 1) / sorted.length - base), Math.abs(below - base));
  }
  return d;
}

/**
 * A captured row: values in feature order (a tensor's row), or, for a converted model's requests by
 * feature name (a :predict object, v2 inputs per feature), an object keyed by feature name.
 */
export type CapturedRow = readonly unknown[] | Readonly<Record<string, unknown>>;

/** A value sent by name as the baseline counts it: a category as its code (one the baseline does not list is left out, as missing), a boolean as 1/0. */
function byName(feature: FeatureBaseline | CategoricalBaseline, value: unknown): unknown {
  if (value === undefined || value === null) return Number.NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (!isCategorical(feature)) return value;
  const code = feature.categories.indexOf(typeof value === 'number' ? String(value) : (value as string));
  return code < 0 ? Number.NaN : code;
}

/** Whether a captured value stands for a missing one (a converted model's NaN, written "NaN" in JSON). */
const isMissing = (value: unknown): boolean => value === 'NaN' || value === null || (typeof value === 'number' && Number.isNaN(value));

/**
 * Drift of every baseline feature over rows of captured inputs (one value per feature per row).
 * Missing values (NaN: a converted model's missing feature, or a category it never saw) are left
 * out: drift is measured on the values present; a feature with none present is not reported.
 */
export function driftReport(baseline: Baseline, rows: readonly CapturedRow[], psiThreshold = 0.2): FeatureDrift[] {
  return baseline.features.flatMap((feature) => {
    const values: number[] = [];
    rows.forEach((row, r) => {
      const value = Array.isArray(row) ? row[feature.index] : byName(feature, (row as Readonly<Record<string, unknown>>)[feature.name]);
      if (isMissing(value)) return;
      const valid = typeof value === 'number' && Number.isFinite(value) && (!isCategorical(feature) || (Number.isInteger(value) && value >= 0 && value < feature.categories.length));
      if (!valid) throw new Error(`row ${r + 1} has no ${isCategorical(feature) ? 'category code' : 'number'} for feature "${feature.name}" (position ${feature.index})`);
      values.push(value);
    });
    if (values.length === 0) return [];
    const { psi, ks } = isCategorical(feature) ? categoryDrift(feature, values) : { psi: populationStabilityIndex(feature, values), ks: kolmogorovSmirnov(feature.quantiles, values) };
    return [{ name: feature.name, psi, ks, drifted: psi > psiThreshold }];
  });
}

/**
 * Rows of feature values from a captures file (JSON Lines): each line a row, a :predict body
 * ({"instances": [...]}), a v2 request ({"inputs": [...]}; its first input, rows of its first
 * dimension), or a capture record with such a "request".
 */
export function rowsFromCaptures(text: string, source: string, baseline?: Baseline): CapturedRow[] {
  const rows: CapturedRow[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new Error(`${source}:${index + 1}: not valid JSON`);
    }
    // Captures of image and text models carry their drift signals (predicted class, score, text length) per input.
    const drift = (record as { drift?: { rows?: unknown; signals?: unknown } } | null)?.drift;
    const signals = drift?.rows;
    if (Array.isArray(signals)) {
      // The task names its signals: a baseline built for other signals (or in another order) is refused, not compared.
      if (baseline !== undefined && Array.isArray(drift?.signals)) checkSignalNames(baseline, drift.signals as { name?: unknown }[], `${source}:${index + 1}`);
      for (const row of signals) rows.push(row as number[]);
      return;
    }
    const body = typeof record === 'object' && record !== null && !Array.isArray(record) && 'request' in record ? (record as { request: unknown }).request : record;
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    const inputs = isObject(body) && Array.isArray(body.inputs) ? (body.inputs as { name: string; shape: number[]; data: unknown[] }[]) : undefined;
    if (Array.isArray(body)) rows.push(body.flat(Infinity) as number[]);
    else if (isObject(body) && Array.isArray(body.instances)) {
      // A converted model's rows by feature name stay objects; the drift report reads them by name.
      for (const instance of body.instances as unknown[]) rows.push(isObject(instance) ? instance : ([instance].flat(Infinity) as number[]));
    } else if (inputs !== undefined && inputs.length > 1) {
      // v2 inputs one per feature (a converted model): one object per row, keyed by input name.
      const columns = inputs.map((input) => ({ name: input.name, values: [input.data].flat(Infinity) }));
      for (let r = 0; r < (inputs[0].shape[0] ?? 0); r++) rows.push(Object.fromEntries(columns.map((c) => [c.name, c.values[r]])));
    } else if (inputs !== undefined) {
      const input = inputs[0];
      const flat = input.data.flat(Infinity) as number[];
      const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
      for (let r = 0; r < input.shape[0]; r++) rows.push(flat.slice(r * width, (r + 1) * width));
    } else throw new Error(`${source}:${index + 1}: expected a row, {"instances": ...}, {"inputs": ...} or {"request": ...}`);
  });
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  return rows;
}

/** A task's captures whose named signals are not the baseline's features. */
export class SignalMismatch extends Error {}

/** Refuses a baseline whose features are not the task's drift signals at their positions, naming both. */
export function checkSignalNames(baseline: Baseline, signals: readonly { readonly name?: unknown }[], source: string): void {
  for (const feature of baseline.features) {
    const signal = signals[feature.index]?.name;
    if (signal !== feature.name) {
      throw new SignalMismatch(`${source}: baseline.json's feature "${feature.name}" is at position ${feature.index}, where the task's captures carry ${signal === undefined ? 'no signal' : `"${String(signal)}"`} (its signals: ${signals.map((s) => String(s.name)).join(', ')}); build the baseline for these signals (drift.ts taskBaseline)`);
    }
  }
}

/** The report as a table. */
export function formatDriftReport(model: string, version: number, report: readonly FeatureDrift[], rows: number, psiThreshold: number): string {
  const lines = [`drift of ${model} v${version} inputs over ${rows} rows (PSI threshold ${psiThreshold})`, '', `${'feature'.padEnd(28)}      PSI       KS`];
  for (const f of report) lines.push(`${f.name.padEnd(28)} ${f.psi.toFixed(4).padStart(8)} ${f.ks.toFixed(4).padStart(8)}${f.drifted ? '  DRIFT' : ''}`);
  const drifted = report.filter((f) => f.drifted);
  lines.push('', drifted.length === 0 ? 'no feature drifted' : `${drifted.length} feature(s) drifted: ${drifted.map((f) => f.name).join(', ')}`);
  return lines.join('\n');
}

/** numpy.quantile's default ("linear"): the value at rank q·(n−1) of the sorted values, interpolated. */
function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return lo + 1 < sorted.length ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

/**
 * A baseline for a task's drift signals (the module's `signals`, by name and kind) from rows of
 * reference traffic, one value per signal per row, as training/train_samples.py's `baseline` builds
 * one for features: numeric signals get deciles as bin edges (numpy.unique of numpy.quantile at
 * 0, 0.1, …, 1; numpy.histogram's bins, the last closed) and percentiles; categorical ones the share
 * of each class (`categories`: the task's labels, class i named categories[i]).
 */
export function taskBaseline(signals: readonly { readonly name: string; readonly kind: 'numeric' | 'categorical' }[], rows: readonly (readonly number[])[], categories?: readonly string[]): Baseline {
  if (rows.length === 0) throw new Error('no rows to build a baseline from');
  return {
    features: signals.map((signal, index) => {
      const column = rows.map((row, r) => {
        const value = row[index];
        if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`row ${r + 1} has no number for signal "${signal.name}" (position ${index})`);
        return value;
      });
      if (signal.kind === 'categorical') {
        const names = categories ?? Array.from({ length: Math.max(...column) + 1 }, (_, i) => String(i));
        const counts = new Array<number>(names.length).fill(0);
        for (const code of column) counts[code]++;
        return { name: signal.name, index, type: 'categorical' as const, categories: [...names], categoryProportions: counts.map((c) => c / column.length) };
      }
      const sorted = [...column].sort((a, b) => a - b);
      const edges = [...new Set(Array.from({ length: 11 }, (_, i) => quantile(sorted, i / 10)))];
      // A constant signal has one edge (numpy.histogram would refuse it): one bin holding it, and an empty one below and above, so a change either way shows.
      const step = Math.max(Math.abs(edges[0]), 1) * 1e-9;
      const binEdges = edges.length > 1 ? edges : [edges[0] - step, edges[0], edges[0] + step, edges[0] + 2 * step];
      const counts = new Array<number>(binEdges.length - 1).fill(0);
      for (const value of column) {
        let bin = 0;
        while (bin < binEdges.length - 2 && value >= binEdges[bin + 1]) bin++;
        counts[bin]++;
      }
      return { name: signal.name, index, binEdges, binProportions: counts.map((c) => c / column.length), quantiles: Array.from({ length: 101 }, (_, i) => quantile(sorted, i / 100)) };
    }),
  };
}
