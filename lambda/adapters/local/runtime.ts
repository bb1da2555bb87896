/**
 * Everything the local server adds around the core, built before the core so that every hook is
 * given at construction: the same metric records the Lambda function publishes (written to
 * <dataDir>/metrics/<date>.jsonl), data capture files (<dataDir>/captures/<model>/<version>/<date>/
 * captures.jsonl), shadow runs and feedback files, and the console's live statistics.
 */
import { join } from 'node:path';
import type { ServiceHooks } from '../../core/inference-service.ts';
import type { CoreLogger } from '../../core/logger.ts';
import type { ModelLoadEvent, ModelRepository } from '../../core/model-repository.ts';
import type { InferenceObservers } from '../../core/session-run.ts';
import type { ShadowResult } from '../../core/shadow.ts';
import { captureHook, fileCaptureWriter } from '../../observability/capture-sink.ts';
import { BatchingSink, powertoolsSink, Telemetry, type RequestObservation } from '../../observability/telemetry.ts';
import { JsonlWriter } from '../../stores/jsonl-writer.ts';
import type { BatchRun } from '../../core/batcher.ts';
import { BatchStats, RequestStats } from './console.ts';
import { localDeliveryHooks } from './delivery.ts';

export interface LocalRuntimeOptions {
  /** Folder for metrics, captures and feedback. */
  readonly dataDir: string;
  readonly logger: CoreLogger;
  /** Batch interval of the metric and capture files. @default 1000 */
  readonly flushIntervalMs?: number;
  /** Capture this share of requests of models whose config sets no `capture` (CAPTURE_PERCENT). @default 0 */
  readonly capturePercent?: number;
  readonly onShadowResult?: (result: ShadowResult) => void;
  /**
   * Which per-request observers are on: metric records, the console's live statistics, capture
   * sampling. Model loads, shadow results and feedback are always recorded.
   * @default all
   */
  readonly observe?: { readonly metrics?: boolean; readonly stats?: boolean; readonly capture?: boolean };
}

export class LocalRuntime {
  readonly telemetry: Telemetry;
  readonly writer: JsonlWriter;
  /** Per-second request statistics, for the console's charts. */
  readonly stats = new RequestStats();
  /** Dynamic batching per model, for the console. */
  readonly batches = new BatchStats();
  readonly options: LocalRuntimeOptions;
  private readonly batching: BatchingSink;

  constructor(options: LocalRuntimeOptions) {
    this.options = options;
    this.writer = new JsonlWriter({ intervalMs: options.flushIntervalMs, logger: options.logger });
    this.batching = new BatchingSink(powertoolsSink((record) => this.writer.append(this.metricsFile(), record)), options.flushIntervalMs);
    this.telemetry = new Telemetry(this.batching.sink);
  }

  /** The metrics file of a day. */
  metricsFile(date = new Date()): string {
    return join(this.options.dataDir, 'metrics', `${date.toISOString().slice(0, 10)}.jsonl`);
  }

  /** For the repository: each dynamically batched run, as metrics and for the console. */
  readonly onBatch = (model: string, version: number, run: BatchRun): void => {
    this.telemetry.batch(model, version, run);
    this.batches.record(model, run);
  };

  /** For the repository: each model load, as the ModelLoadTime / ModelLoadFailures metrics. */
  readonly onModelLoad = ({ model, version, loadMs, error }: ModelLoadEvent): void => this.telemetry.modelLoad(model, version, loadMs, error !== undefined);

  /** For the service: metrics per inference, capture files, shadow runs and feedback files. */
  serviceHooks(repository: ModelRepository): ServiceHooks {
    const { dataDir, logger, capturePercent, onShadowResult, observe = {} } = this.options;
    const observers: InferenceObservers = {
      onInference: observe.metrics === false ? undefined : (record) => this.telemetry.inference(record),
      onCapture: observe.capture === false ? undefined : captureHook(this.telemetry, fileCaptureWriter(dataDir, this.writer)),
      capturePercent,
    };
    return {
      ...observers,
      ...localDeliveryHooks(repository, observers, {
        directory: dataDir,
        logger,
        onShadowResult: (result) => {
          this.telemetry.shadow(result);
          onShadowResult?.(result);
        },
        onFeedbackRecorded: (event) => this.telemetry.feedback(event),
      }),
    };
  }

  /** For the pipeline: each request's outcome feeds the metrics and the console. */
  readonly onResponse = (observation: RequestObservation): void => {
    if (this.options.observe?.metrics !== false) this.telemetry.response(observation);
    if (this.options.observe?.stats !== false) this.stats.record(observation);
  };

  /** Writes out everything buffered (metrics and captures). */
  flush(): Promise<void> {
    this.batching.flush();
    return this.writer.flush();
  }

  /** Writes out everything buffered and stops the flush timers. */
  close(): Promise<void> {
    this.batching.close();
    return this.writer.close();
  }
}
