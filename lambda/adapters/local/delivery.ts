/**
 * Delivery hooks for the local server: shadow requests run after the answer has gone (off the
 * request path), and feedback events are appended to JSON Lines files that `modelship ab-report
 * --events` reads.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FeedbackEvent } from '../../core/feedback.ts';
import type { ServiceHooks } from '../../core/inference-service.ts';
import type { InferenceObservers } from '../../core/session-run.ts';
import type { CoreLogger } from '../../core/logger.ts';
import type { ModelRepository } from '../../core/model-repository.ts';
import { runShadow, type ShadowResult } from '../../core/shadow.ts';

export interface LocalDeliveryOptions {
  /** Folder for feedback/<model>.jsonl. */
  readonly directory: string;
  readonly logger: CoreLogger;
  /** Called with every shadow comparison (metrics, tests). */
  readonly onShadowResult?: (result: ShadowResult) => void;
  /** Called with every feedback event once it is written (metrics). */
  readonly onFeedbackRecorded?: (event: FeedbackEvent) => void;
}

export function feedbackFile(directory: string, model: string): string {
  return join(directory, 'feedback', `${model}.jsonl`);
}

/** `observers`: who hears about the shadow job's two inferences, as about any other. */
export function localDeliveryHooks(repository: ModelRepository, observers: InferenceObservers, options: LocalDeliveryOptions): Pick<ServiceHooks, 'onShadow' | 'onFeedback'> {
  return {
    onShadow: (job) => {
      setImmediate(() => {
        runShadow(repository, job, observers).then(
          (result) => {
            if (!result.agree) options.logger.warn('shadow disagrees with live', { ...result });
            options.onShadowResult?.(result);
          },
          (error: Error) => options.logger.error('shadow run failed', { model: job.model, shadowVersion: job.shadowVersion, cause: error.message }),
        );
      });
    },
    onFeedback: async (event) => {
      await mkdir(join(options.directory, 'feedback'), { recursive: true });
      await appendFile(feedbackFile(options.directory, event.model), `${JSON.stringify(event)}\n`);
      options.onFeedbackRecorded?.(event);
    },
  };
}
