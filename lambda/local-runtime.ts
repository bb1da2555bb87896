/**
 * Everything the local server adds around the handler, wired in one place for `npm start` and the
 * tests: the same metric records the Lambda function publishes (written to
 * <dataDir>/metrics/<date>.jsonl), data capture files (<dataDir>/captures/<model>/<version>/<date>/
 * captures.jsonl), shadow runs and feedback files, and the console's live statistics.
 */
import { join } from 'node:path';
import type { ApiHandlerOptions } from './api-handler.ts';
import { attachCapture, fileCaptureWriter } from './capture-sink.ts';
import type { InferenceService, ShadowResult } from './core/inference-service.ts';
import type { CoreLogger } from './core/model-repository.ts';
import { JsonlWriter } from './jsonl-writer.ts';
import { attachLocalDelivery } from './local-delivery.ts';
import { LocalConsole } from './local-console.ts';
import { BatchingSink, powertoolsSink, Telemetry } from './telemetry.ts';

export interface LocalRuntimeOptions {
  /** Folder for metrics, captures and feedback. */
  readonly dataDir: string;
  readonly logger: CoreLogger;
  /** Batch interval of the metric and capture files. @default 1000 */
  readonly flushIntervalMs?: number;
  readonly onShadowResult?: (result: ShadowResult) => void;
}

export interface LocalRuntime {
  readonly telemetry: Telemetry;
  readonly console: LocalConsole;
  readonly writer: JsonlWriter;
  /** Options for createApiHandler: request observations feed the metrics and the console. */
  readonly handlerOptions: Pick<ApiHandlerOptions, 'onResponse' | 'logger'>;
  /** The metrics file of a day. */
  metricsFile(date?: Date): string;
  /** Writes out everything buffered (metrics and captures). */
  flush(): Promise<void>;
  /** Writes out everything buffered and stops the flush timers. */
  close(): Promise<void>;
}

export function attachLocalRuntime(service: InferenceService, options: LocalRuntimeOptions): LocalRuntime {
  const writer = new JsonlWriter({ intervalMs: options.flushIntervalMs, logger: options.logger });
  const metricsFile = (date = new Date()) => join(options.dataDir, 'metrics', `${date.toISOString().slice(0, 10)}.jsonl`);
  const batching = new BatchingSink(powertoolsSink((record) => writer.append(metricsFile(), record)), options.flushIntervalMs);
  const telemetry = new Telemetry(batching.sink);
  const localConsole = new LocalConsole(service);
  attachLocalDelivery(service, {
    directory: options.dataDir,
    logger: options.logger,
    onShadowResult: (result) => {
      telemetry.shadow(result);
      options.onShadowResult?.(result);
    },
    onFeedbackRecorded: (event) => telemetry.feedback(event),
  });
  service.onInference = (record) => telemetry.inference(record);
  attachCapture(service, telemetry, fileCaptureWriter(options.dataDir, writer));
  return {
    telemetry,
    console: localConsole,
    writer,
    metricsFile,
    handlerOptions: {
      logger: options.logger,
      onResponse: (observation) => {
        telemetry.response(observation);
        localConsole.stats.record(observation);
      },
    },
    flush: () => {
      batching.flush();
      return writer.flush();
    },
    close: () => {
      batching.close();
      return writer.close();
    },
  };
}
