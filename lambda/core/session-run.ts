/**
 * Running a loaded model, and what one run tells the observers: the latency breakdown for logs and
 * metrics, predicted classes or the mean prediction, and a sampled data capture.
 */
import type { Tensor } from 'onnxruntime-node';
import { pendingCapture, sampled, type PendingCapture } from './capture.ts';
import { describeError, InferenceError } from './errors.ts';
import type { LoadedModel } from './sessions.ts';
import { classLabels } from './tasks/tabular.ts';

/** What one inference did, for logs and metrics. */
export interface InferenceRecord {
  readonly model: string;
  readonly version: number;
  readonly batchSize: number;
  /** Parsing and checking the request. */
  readonly parseMs: number;
  /** onnxruntime's run. */
  readonly inferenceMs: number;
  /** Encoding the answer. */
  readonly serializeMs: number;
  /** For classifiers: how many rows got each class (named by the config's labels). */
  readonly classCounts?: Readonly<Record<string, number>>;
  /** For regressors: the mean of the first output. */
  readonly meanPrediction?: number;
}

/** Who hears about each inference. Given once, when the service is built. */
export interface InferenceObservers {
  /** Called after each successful inference (metrics and the log line). */
  readonly onInference?: (record: InferenceRecord) => void;
  /**
   * Called after an answer sampled for data capture (the model's capture.percent; off by default).
   * It must not throw and must not wait: the adapter writes the record through a buffered path.
   */
  readonly onCapture?: (capture: PendingCapture) => void;
  /** Capture share for models whose config sets none (the local server's CAPTURE_PERCENT). @default 0 */
  readonly capturePercent?: number;
  /**
   * Uniform draws in [0, 1) for capture sampling, A/B assignment and shadow copies. A Lambda
   * function with SnapStart gives one it re-creates after a restore (V8's Math.random state is in
   * the snapshot, the same in every environment restored from it). @default Math.random
   */
  readonly random?: () => number;
}

/** session.run, with what onnxruntime still rejects answered 400 naming the node. */
export async function runSession(model: LoadedModel, feeds: Record<string, Tensor>, outputNames: string[]): Promise<Record<string, Tensor>> {
  try {
    if (model.batcher !== undefined) return await model.batcher.run(feeds, outputNames);
    return (await model.session.run(feeds, outputNames)) as Record<string, Tensor>;
  } catch (error) {
    // The inputs passed every check the signature allows; what onnxruntime still rejects (a shape a
    // node cannot take, say) is the request's doing, and its message names the node.
    throw new InferenceError(400, `model "${model.name}" version ${model.version} rejected the input: ${describeError(error)}`, { reason: 'model_rejected_input' });
  }
}

/** Times of one inference's phases (performance.now()). */
export interface RunTimes {
  readonly started: number;
  readonly parsed: number;
  readonly ran: number;
}

/** Tells the observers about one finished inference. */
export function observeInference(observers: InferenceObservers | undefined, model: LoadedModel, kind: 'infer' | 'predict', id: string | undefined, batchSize: number, feeds: Record<string, Tensor>, results: Record<string, Tensor>, times: RunTimes): void {
  if (observers === undefined) return;
  observers.onInference?.({ model: model.name, version: model.version, batchSize, parseMs: times.parsed - times.started, inferenceMs: times.ran - times.parsed, serializeMs: performance.now() - times.ran, ...summarize(results, model) });
  if (observers.onCapture !== undefined && sampled(model, observers.capturePercent ?? 0, observers.random)) observers.onCapture(pendingCapture(model, kind, id, feeds, results));
}

/** Tells the observers about one image or text inference (no tensor capture: the payload is the image or text). */
export function observeTask(observers: InferenceObservers | undefined, model: LoadedModel, batchSize: number, times: RunTimes, classCounts?: Record<string, number>): void {
  observers?.onInference?.({ model: model.name, version: model.version, batchSize, parseMs: times.parsed - times.started, inferenceMs: times.ran - times.parsed, serializeMs: performance.now() - times.ran, classCounts });
}

/** What the answer says in aggregate, for metrics: class counts of classifiers, the mean of regressors. */
export function summarize(results: Record<string, Tensor>, model: LoadedModel): Pick<InferenceRecord, 'classCounts' | 'meanPrediction'> {
  const labels = results[model.config.labelOutput ?? 'label'];
  if (labels !== undefined && (labels.type === 'int64' || labels.type === 'int32')) {
    const counts: Record<string, number> = {};
    for (const value of labels.data as Iterable<number | bigint>) {
      const name = classLabels(model)?.[Number(value)] ?? String(value);
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return { classCounts: counts };
  }
  const first = results[model.signature.outputs[0].name];
  if (first !== undefined && (first.type === 'float32' || first.type === 'float64') && first.data.length > 0) {
    const data = first.data as Float32Array;
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i];
    return { meanPrediction: sum / data.length };
  }
  return {};
}
