/**
 * TF Serving's row format: {"instances": [row, ...]} for single-input models (or rows of
 * {input: value} objects for several inputs); answers {"predictions": [...]}, one per row, with
 * class indices named by the config's labels.
 */
import type { Tensor } from 'onnxruntime-node';
import { badRequest } from './errors.ts';
import { parseJsonBody, stringifyPrecise } from './json.ts';
import type { LoadedModel } from './sessions.ts';
import { observeInference, runSession, type InferenceObservers } from './session-run.ts';
import { takesExactIntegers } from './signature.ts';
import { whatTheModelTakes } from './request-example.ts';
import { tensorValues } from './tensor-values.ts';
import { decodeTensor } from './v2-request.ts';
import { classLabels, rowsToFeatures } from './tasks/tabular.ts';

export async function runPredict(model: LoadedModel, body: unknown, observers?: InferenceObservers): Promise<string> {
  const started = performance.now();
  const parsed = typeof body === 'string' ? parseJsonBody(body, { exactIntegers: takesExactIntegers(model.signature), expected: () => whatTheModelTakes(model, 'predict') }) : body;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('request body must be a JSON object with an "instances" list');
  }
  const instances = (parsed as { instances?: unknown }).instances;
  if (!Array.isArray(instances) || instances.length === 0) throw badRequest('"instances" must be a non-empty list of rows');
  const maxBatch = model.config.maxBatchSize;
  if (model.tabular !== undefined && maxBatch !== undefined && instances.length > maxBatch) throw badRequest(`${instances.length} instances in one request, over model "${model.name}"'s maxBatchSize of ${maxBatch}; split the request or use batch prediction`, 'batch_too_large');
  const feeds = model.tabular !== undefined ? { [model.tabular.input]: rowsToFeatures(model.tabular, model.name, instances) } : rowsToFeeds(instances, model);
  const parsedAt = performance.now();
  const outputNames = model.signature.outputs.map((s) => s.name);
  const results = await runSession(model, feeds, outputNames);
  const ran = performance.now();
  const answer = stringifyPrecise({ predictions: resultsToRows(results, outputNames, instances.length, model) });
  observeInference(observers, model, 'predict', undefined, instances.length, feeds, results, { started, parsed: parsedAt, ran });
  return answer;
}

function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let cursor = value;
  while (Array.isArray(cursor)) {
    shape.push(cursor.length);
    cursor = cursor[0];
  }
  return shape;
}

/** Rows into one tensor per input, every row of the same shape. */
export function rowsToFeeds(instances: unknown[], model: LoadedModel): Record<string, Tensor> {
  const inputs = model.signature.inputs;
  const named = typeof instances[0] === 'object' && instances[0] !== null && !Array.isArray(instances[0]);
  if (!named && inputs.length !== 1) {
    throw badRequest(`model "${model.name}" has ${inputs.length} inputs (${inputs.map((s) => s.name).join(', ')}); send each instance as an object keyed by input name`);
  }
  const feeds: Record<string, Tensor> = {};
  for (const spec of inputs) {
    const rows = instances.map((row, index) => {
      if (!named) return row;
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw badRequest(`instances[${index}] must be an object keyed by input name, like instances[0]`);
      const value = (row as Record<string, unknown>)[spec.name];
      if (value === undefined) throw badRequest(`instances[${index}] has no value for input "${spec.name}"`);
      return value;
    });
    const rowShape = shapeOf(rows[0]);
    rows.forEach((row, index) => {
      const shape = shapeOf(row);
      if (shape.join(',') !== rowShape.join(',')) {
        throw badRequest(`instances[${index}] has shape [${shape.join(',')}] but instances[0] has [${rowShape.join(',')}]; every row must have the same shape`);
      }
    });
    feeds[spec.name] = decodeTensor({ name: spec.name, datatype: spec.datatype.v2, shape: [rows.length, ...rowShape], data: rows }, spec, model);
  }
  if (named) {
    instances.forEach((row, index) => {
      for (const key of Object.keys(row as object)) {
        if (!inputs.some((s) => s.name === key)) throw badRequest(`instances[${index}] has unknown input "${key}"; model "${model.name}" expects: ${inputs.map((s) => s.name).join(', ')}`);
      }
    });
  }
  return feeds;
}

/** Outputs back into rows: one value per row, or an object of outputs per row for several outputs. */
export function resultsToRows(results: Record<string, Tensor>, outputNames: string[], rows: number, model: LoadedModel): unknown[] {
  const labels = classLabels(model);
  const labelOutput = model.config.labelOutput ?? 'label';
  const perOutput = outputNames.map((name) => {
    const tensor = results[name];
    const values = tensorValues(tensor);
    const rowDims = tensor.dims.slice(1);
    const rowSize = rowDims.reduce((a, b) => a * b, 1);
    return Array.from({ length: rows }, (_, r) => {
      if (rowDims.length === 0) {
        const value = values[r];
        return labels !== undefined && name === labelOutput ? (labels[Number(value)] ?? value) : value;
      }
      return nest(values.slice(r * rowSize, (r + 1) * rowSize), rowDims);
    });
  });
  return Array.from({ length: rows }, (_, r) =>
    outputNames.length === 1 ? perOutput[0][r] : Object.fromEntries(outputNames.map((name, i) => [name, perOutput[i][r]])),
  );
}

function nest(flat: unknown[], dims: readonly number[]): unknown {
  if (dims.length <= 1) return flat;
  const size = flat.length / dims[0];
  return Array.from({ length: dims[0] }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), dims.slice(1)));
}
