/**
 * Delivery hooks for the local server: shadow requests run after the answer has gone (off the
 * request path), and feedback events are appended to JSON Lines files that `modelship ab-report
 * --events` reads.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeedbackEvent, InferenceService, ShadowResult } from './core/inference-service.ts';
import type { CoreLogger } from './core/model-repository.ts';

export interface LocalDeliveryOptions {
  /** Folder for feedback/<model>.jsonl. */
  readonly directory: string;
  readonly logger: CoreLogger;
  /** Called with every shadow comparison (tests, the console). */
  readonly onShadowResult?: (result: ShadowResult) => void;
  /** Called with every feedback event once it is written (metrics). */
  readonly onFeedbackRecorded?: (event: FeedbackEvent) => void;
}

export function feedbackFile(directory: string, model: string): string {
  return join(directory, 'feedback', `${model}.jsonl`);
}

export function attachLocalDelivery(service: InferenceService, options: LocalDeliveryOptions): void {
  service.onShadow = (job) => {
    setImmediate(() => {
      service.runShadow(job).then(
        (result) => {
          if (!result.agree) options.logger.warn('shadow disagrees with live', { ...result });
          options.onShadowResult?.(result);
        },
        (error: Error) => options.logger.error('shadow run failed', { model: job.model, shadowVersion: job.shadowVersion, cause: error.message }),
      );
    });
  };
  service.onFeedback = async (event: FeedbackEvent) => {
    const file = feedbackFile(options.directory, event.model);
    await mkdir(join(options.directory, 'feedback'), { recursive: true });
    await appendFile(file, `${JSON.stringify(event)}\n`);
    options.onFeedbackRecorded?.(event);
  };
}
