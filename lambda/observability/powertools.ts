/**
 * The Powertools for AWS Lambda objects, created once per process: the structured logger and the
 * metrics buffer at import, the tracer on first use (it loads the X-Ray SDK, whose evaluation costs
 * ~50 ms of init that only the inference function, which traces, should pay).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { CoreLogger } from '../core/logger.ts';
import { powertoolsLogger } from './logging.ts';
import { METRICS_NAMESPACE, METRICS_SERVICE } from './metrics.ts';

export const logger = new Logger({ serviceName: METRICS_SERVICE });
/** The same logger, as the core writes through it. */
export const coreLogger: CoreLogger = powertoolsLogger(logger);
/** The invocation's metrics buffer (logMetrics flushes it at the end of each invocation). */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });

let tracerInstance: Tracer | undefined;
/** The tracer, created on first call. */
export async function tracer(): Promise<Tracer> {
  if (tracerInstance === undefined) {
    const { Tracer } = await import('@aws-lambda-powertools/tracer');
    tracerInstance ??= new Tracer({ serviceName: METRICS_SERVICE });
  }
  return tracerInstance;
}
