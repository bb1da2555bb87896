/**
 * Metrics from a long-running container that CloudWatch does not read from its logs. SageMaker
 * copies a container's stdout to CloudWatch Logs but, unlike Lambda, does not extract
 * embedded-metric-format records from it, so the SageMaker container publishes its dynamic
 * batching metrics with PutMetricData instead: every interval, each metric of each dimension set
 * as one distribution (Values and Counts), so CloudWatch keeps percentiles, at one call a minute
 * however busy the endpoint is.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CoreLogger } from '../core/logger.ts';
import { METRICS_NAMESPACE } from './metrics.ts';
import type { MetricSink } from './telemetry.ts';

/** PutMetricData's limits: 150 distinct values per datum, 1,000 datums per call. */
const VALUES_PER_DATUM = 150;
const DATUMS_PER_CALL = 1000;

/** A PutMetricData datum as a distribution (the SDK's MetricDatum, the fields used here). */
export interface Datum {
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
  Timestamp: Date;
  Unit: string;
  Values: number[];
  Counts: number[];
}

/** PutMetricData's input, as the entry point's AWS SDK client takes it (observability/ sends nothing itself). */
export interface PutMetricDataInput {
  Namespace: string;
  MetricData: Datum[];
}

export interface CloudWatchSinkOptions {
  /** Sends one PutMetricData call (the entry point's AWS SDK client). */
  readonly send: (input: PutMetricDataInput) => Promise<unknown>;
  /** @default 60,000 (CloudWatch's standard resolution) */
  readonly intervalMs?: number;
  readonly logger: CoreLogger;
}

/** Rounds a value so a distribution holds few distinct values: microseconds to 0.1 ms, others kept. */
function bucket(unit: string, value: number): number {
  return unit === MetricUnit.Microseconds ? Math.round(value / 100) * 100 : value;
}

export class CloudWatchSink {
  private pending = new Map<string, { dimensions: Readonly<Record<string, string>>; metrics: Map<string, { unit: string; counts: Map<number, number> }> }>();
  private readonly timer: NodeJS.Timeout;
  private readonly options: CloudWatchSinkOptions;
  private sending: Promise<void> = Promise.resolve();

  readonly sink: MetricSink = (dimensions, values) => {
    const key = JSON.stringify(dimensions);
    let entry = this.pending.get(key);
    if (entry === undefined) this.pending.set(key, (entry = { dimensions, metrics: new Map() }));
    for (const [name, unit, value] of values) {
      let metric = entry.metrics.get(name);
      if (metric === undefined) entry.metrics.set(name, (metric = { unit, counts: new Map() }));
      const v = bucket(unit, value);
      metric.counts.set(v, (metric.counts.get(v) ?? 0) + 1);
    }
  };

  constructor(options: CloudWatchSinkOptions) {
    this.options = options;
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Sends what was collected since the last flush; a failed call is logged, never thrown. */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const datums: Datum[] = [];
    const timestamp = new Date();
    for (const { dimensions, metrics } of batch.values()) {
      const Dimensions = Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value }));
      for (const [MetricName, { unit, counts }] of metrics) {
        const entries = [...counts];
        for (let i = 0; i < entries.length; i += VALUES_PER_DATUM) {
          const part = entries.slice(i, i + VALUES_PER_DATUM);
          datums.push({ MetricName, Dimensions, Timestamp: timestamp, Unit: unit, Values: part.map(([v]) => v), Counts: part.map(([, c]) => c) });
        }
      }
    }
    // One call at a time, in order: a flush at shutdown waits for the timer's.
    this.sending = this.sending.then(async () => {
      for (let i = 0; i < datums.length; i += DATUMS_PER_CALL) {
        try {
          await this.options.send({ Namespace: METRICS_NAMESPACE, MetricData: datums.slice(i, i + DATUMS_PER_CALL) });
        } catch (error) {
          this.options.logger.warn('could not publish metrics to CloudWatch', { cause: (error as Error).message, metrics: datums.length });
        }
      }
    });
    return this.sending;
  }

  /** Stops the timer and sends what is left. */
  close(): Promise<void> {
    clearInterval(this.timer);
    return this.flush();
  }
}
