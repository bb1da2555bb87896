/**
 * What the runtime measures, in one place for every adapter: the Lambda function publishes these
 * records to CloudWatch (embedded metric format, written by Powertools Metrics to stdout); the
 * local server writes the very same records to files under its data folder.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { RequestObservation } from './api-handler.ts';
import type { InferenceRecord, FeedbackEvent, ShadowResult } from './core/inference-service.ts';
import { MetricName, METRICS_NAMESPACE, METRICS_SERVICE, NO_MODEL } from './metrics.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];
export type MetricValue = readonly [name: string, unit: Unit, value: number];

/** Writes metrics that share dimensions as one EMF record. */
export type MetricSink = (dimensions: Readonly<Record<string, string>>, values: readonly MetricValue[]) => void;

/**
 * A sink that builds each record with Powertools Metrics. Without `write`, Powertools prints it to
 * stdout (CloudWatch Logs turns it into metrics); with `write`, the serialized record goes there.
 */
export function powertoolsSink(write?: (record: string) => void): MetricSink {
  return (dimensions, values) => {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
    metrics.addDimensions({ ...dimensions });
    for (const [name, unit, value] of values) metrics.addMetric(name, unit, value);
    if (write === undefined) {
      metrics.publishStoredMetrics();
      return;
    }
    write(JSON.stringify(metrics.serializeMetrics()));
    metrics.clearMetrics();
  };
}

export class Telemetry {
  private readonly sink: MetricSink;

  constructor(sink: MetricSink) {
    this.sink = sink;
  }

  /** One request's outcome: count, bytes each way, and failures by reason. */
  response(o: RequestObservation): void {
    const model = o.model ?? NO_MODEL;
    this.sink({ Model: model }, [
      [MetricName.requests, MetricUnit.Count, 1],
      [MetricName.requestBytes, MetricUnit.Bytes, o.requestBytes],
      [MetricName.responseBytes, MetricUnit.Bytes, o.responseBytes],
    ]);
    if (o.statusCode >= 400) {
      const name = o.statusCode >= 500 ? MetricName.serverErrors : MetricName.badRequests;
      this.sink({ Model: model, Reason: o.reason ?? 'unknown' }, [[name, MetricUnit.Count, 1]]);
    }
  }

  /** One inference: latency and rows per model; predicted classes or the mean prediction per version. */
  inference(record: InferenceRecord): void {
    const { model, version, batchSize, inferenceMs, classCounts, meanPrediction } = record;
    this.sink({ Model: model }, [
      [MetricName.inferenceTime, MetricUnit.Milliseconds, inferenceMs],
      [MetricName.predictions, MetricUnit.Count, batchSize],
    ]);
    const perVersion = { Model: model, Version: String(version) };
    for (const [label, count] of Object.entries(classCounts ?? {})) this.sink({ ...perVersion, Class: label }, [[MetricName.predictedClass, MetricUnit.Count, count]]);
    if (meanPrediction !== undefined && Number.isFinite(meanPrediction)) this.sink(perVersion, [[MetricName.predictionMean, MetricUnit.NoUnit, meanPrediction]]);
  }

  modelLoad(model: string, loadMs: number | undefined, failed: boolean): void {
    if (failed) this.sink({ Model: model }, [[MetricName.modelLoadFailures, MetricUnit.Count, 1]]);
    else this.sink({ Model: model }, [[MetricName.modelLoadTime, MetricUnit.Milliseconds, loadMs ?? 0]]);
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

  initDuration(functionName: string, ms: number): void {
    this.sink({ function_name: functionName }, [[MetricName.initDuration, MetricUnit.Milliseconds, ms]]);
  }
}
