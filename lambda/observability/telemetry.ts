/**
 * What the runtime measures, in one place for every adapter: the Lambda function publishes these
 * records to CloudWatch (embedded metric format, written by Powertools Metrics to stdout); the
 * local server writes the very same records to files under its data folder.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { BatchRun } from '../core/batcher.ts';
import type { ErrorReason } from '../core/errors.ts';
import type { FeedbackEvent } from '../core/feedback.ts';
import type { InferenceRecord } from '../core/session-run.ts';
import type { ShadowResult } from '../core/shadow.ts';
import { MetricName, METRICS_NAMESPACE, METRICS_SERVICE, NO_MODEL } from './metrics.ts';

/** What one request did, for metrics and the console: never the payload. Reported by the HTTP pipeline. */
export interface RequestObservation {
  /** The model that answered, when the request named one that exists. */
  readonly model?: string;
  readonly version?: number;
  readonly method: string;
  readonly path: string;
  readonly statusCode: number;
  /** Why it failed (4xx and 5xx). */
  readonly reason?: ErrorReason;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** From the pipeline's start to its answer. */
  readonly durationMs: number;
}

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];
export type MetricValue = readonly [name: string, unit: Unit, value: number];
/** Up to 99 values of one metric, for one record (EMF allows 100). */
export type MetricList = readonly [name: string, unit: Unit, values: readonly number[]];

/** Writes metrics that share dimensions as one EMF record. */
export type MetricSink = (dimensions: Readonly<Record<string, string>>, values: readonly MetricValue[]) => void;

/**
 * A sink that builds each record with Powertools Metrics. Without `write`, Powertools prints it to
 * stdout (CloudWatch Logs turns it into metrics); with `write`, the serialized record goes there.
 */
export function powertoolsSink(write?: (record: string) => void): (dimensions: Readonly<Record<string, string>>, values: readonly (MetricValue | MetricList)[]) => void {
  // One instance, reused: building a Metrics object reads and validates its whole configuration
  // (hundreds of microseconds); emits are synchronous, so records never interleave.
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
  return (dimensions, values) => {
    metrics.addDimensions({ ...dimensions });
    let lists: [string, readonly number[]][] | undefined;
    for (const [name, unit, value] of values) {
      if (typeof value === 'number') metrics.addMetric(name, unit, value);
      else {
        metrics.addMetric(name, unit, value[0]);
        if (value.length > 1) (lists ??= []).push([name, value]);
      }
    }
    if (write === undefined && lists === undefined) {
      metrics.publishStoredMetrics();
      return;
    }
    try {
      const record = metrics.serializeMetrics() as unknown as Record<string, unknown>;
      // Powertools validates and stores every value through addMetric, one call each (about 1 µs,
      // measured as 5% of the local server's CPU under load when the batching sink handed it
      // thousands of values a second). Its record is built from one value per metric, and the
      // lists (at most 99 values: EMF allows 100) are put in afterwards, as EMF writes them.
      for (const [name, list] of lists ?? []) record[name] = list;
      const text = JSON.stringify(record);
      // Straight to stdout as Powertools does: Lambda's console.log would prefix the line and break EMF.
      if (write === undefined) process.stdout.write(`${text}\n`);
      else write(text);
    } finally {
      metrics.clearMetrics();
      metrics.clearDimensions();
    }
  };
}

/** EMF allows 100 values per metric per record, and Powertools publishes a record on its own (to stdout) the moment a metric reaches 100. */
const VALUES_PER_RECORD = 99;

/**
 * Collects metrics for `intervalMs` and writes one record per dimension set, each metric holding
 * its values as a list, instead of a record per request: the local server under load writes a
 * few records a second, not thousands.
 */
export class BatchingSink {
  private pending = new Map<string, { dimensions: Readonly<Record<string, string>>; values: Map<string, { unit: Unit; list: number[] }> }>();
  private readonly timer?: NodeJS.Timeout;
  private readonly target: (dimensions: Readonly<Record<string, string>>, values: readonly MetricList[]) => void;
  readonly sink: MetricSink = (dimensions, values) => {
    // A key per dimension set, built by hand: JSON.stringify here was 2% of the local server's CPU.
    let key = '';
    for (const name in dimensions) key += `${name}\u0000${dimensions[name]}\u0001`;
    let entry = this.pending.get(key);
    if (entry === undefined) this.pending.set(key, (entry = { dimensions, values: new Map() }));
    for (const [name, unit, value] of values) {
      let metric = entry.values.get(name);
      if (metric === undefined) entry.values.set(name, (metric = { unit, list: [] }));
      // Counts are summed (their statistic is Sum); other values keep every sample for percentiles.
      if (unit === MetricUnit.Count && metric.list.length === 1) metric.list[0] += value;
      else metric.list.push(value);
    }
  };

  /** `intervalMs: false`: no timer, the owner calls flush (the Lambda function, at the end of each invocation). */
  constructor(target: (dimensions: Readonly<Record<string, string>>, values: readonly MetricList[]) => void, intervalMs: number | false = 1000) {
    this.target = target;
    if (intervalMs !== false) {
      this.timer = setInterval(() => this.flush(), intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what was collected. */
  flush(): void {
    const batch = this.pending;
    this.pending = new Map();
    for (const { dimensions, values } of batch.values()) {
      for (let offset = 0; ; offset += VALUES_PER_RECORD) {
        const chunk: MetricList[] = [];
        for (const [name, { unit, list }] of values) if (offset < list.length) chunk.push([name, unit, list.slice(offset, offset + VALUES_PER_RECORD)]);
        if (chunk.length === 0) break;
        this.target(dimensions, chunk);
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

export class Telemetry {
  private readonly sink: MetricSink;

  constructor(sink: MetricSink) {
    this.sink = sink;
  }

  /** One request's outcome: count and bytes each way, per model and per version; failures by reason. */
  response(o: RequestObservation): void {
    const model = o.model ?? NO_MODEL;
    const sizes: MetricValue[] = [
      [MetricName.requests, MetricUnit.Count, 1],
      [MetricName.requestBytes, MetricUnit.Bytes, o.requestBytes],
      [MetricName.responseBytes, MetricUnit.Bytes, o.responseBytes],
    ];
    this.sink({ Model: model }, sizes);
    if (o.model !== undefined && o.version !== undefined) this.sink({ Model: o.model, Version: String(o.version) }, sizes);
    if (o.statusCode >= 400) {
      const name = o.statusCode >= 500 ? MetricName.serverErrors : MetricName.badRequests;
      this.sink({ Model: model, Reason: o.reason ?? 'unknown' }, [[name, MetricUnit.Count, 1]]);
    }
  }

  /**
   * One inference: latency and rows per model, and again per version (A/B arms and canaries side by
   * side); predicted classes (classifiers) or the mean prediction (regressors) per version.
   */
  inference(record: InferenceRecord): void {
    const { model, version, batchSize, inferenceMs, classCounts, meanPrediction } = record;
    const common: MetricValue[] = [
      [MetricName.inferenceTime, MetricUnit.Milliseconds, inferenceMs],
      [MetricName.predictions, MetricUnit.Count, batchSize],
    ];
    this.sink({ Model: model }, common);
    const perVersion = { Model: model, Version: String(version) };
    const mean: MetricValue[] = meanPrediction !== undefined && Number.isFinite(meanPrediction) ? [[MetricName.predictionMean, MetricUnit.NoUnit, meanPrediction]] : [];
    this.sink(perVersion, [...common, ...mean]);
    for (const [label, count] of Object.entries(classCounts ?? {})) this.sink({ ...perVersion, Class: label }, [[MetricName.predictedClass, MetricUnit.Count, count]]);
  }

  /** A model load, per model (the alarm's metric) and per version. */
  modelLoad(model: string, version: number | undefined, loadMs: number | undefined, failed: boolean): void {
    const value: MetricValue = failed ? [MetricName.modelLoadFailures, MetricUnit.Count, 1] : [MetricName.modelLoadTime, MetricUnit.Milliseconds, loadMs ?? 0];
    this.sink({ Model: model }, [value]);
    if (version !== undefined) this.sink({ Model: model, Version: String(version) }, [value]);
  }

  feedback(event: FeedbackEvent): void {
    this.sink({ Model: event.model, Version: String(event.version) }, [
      [MetricName.feedbackEvents, MetricUnit.Count, 1],
      [MetricName.feedbackPositive, MetricUnit.Count, event.outcome],
    ]);
  }

  shadow(result: ShadowResult): void {
    this.sink({ Model: result.model, Version: String(result.shadowVersion) }, [[MetricName.shadowAgreement, MetricUnit.Count, result.agree ? 1 : 0]]);
  }

  capture(model: string, version: number, written: boolean): void {
    this.sink({ Model: model, Version: String(version) }, [[written ? MetricName.capturedRecords : MetricName.captureSkipped, MetricUnit.Count, 1]]);
  }

  /** One run of the dynamic batcher: its rows, the oldest request's queue delay, and a count. */
  batch(model: string, version: number, run: BatchRun): void {
    this.sink({ Model: model, Version: String(version) }, [
      [MetricName.batchSize, MetricUnit.NoUnit, run.rows],
      [MetricName.queueDelay, MetricUnit.Microseconds, run.queueDelayMicros],
      [MetricName.batchesRun, MetricUnit.Count, 1],
    ]);
  }

  initDuration(functionName: string, ms: number): void {
    this.sink({ function_name: functionName }, [[MetricName.initDuration, MetricUnit.Milliseconds, ms]]);
  }
}
