/**
 * Lambda entry point (the container image's CMD: index.handler). Settings come from the
 * environment, checked once at init; with PRELOAD_MODELS=true the models load during init, so the
 * first request pays no load. Model load and inference times go out as CloudWatch metrics.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { createApiHandler } from './api-handler.ts';
import { powertoolsLogger } from './logging.ts';
import { MetricName, METRICS_NAMESPACE, METRICS_SERVICE } from './metrics.ts';
import { createService, readRuntimeConfig } from './runtime-config.ts';

const logger = powertoolsLogger(new Logger({ serviceName: METRICS_SERVICE }));
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
const config = readRuntimeConfig(process.env);
const service = createService(config, logger, {
  onModelLoad: ({ model, loadMs, error }) => {
    // Loads happen at init too, outside any invocation: emit them at once.
    const single = metrics.singleMetric();
    single.addDimension('Model', model);
    if (error === undefined) single.addMetric(MetricName.modelLoadTime, MetricUnit.Milliseconds, loadMs!);
    else single.addMetric(MetricName.modelLoadFailures, MetricUnit.Count, 1);
  },
});
service.onInference = ({ model, batchSize, inferenceMs }) => {
  metrics.addDimension('Model', model);
  metrics.addMetric(MetricName.inferenceTime, MetricUnit.Milliseconds, inferenceMs);
  metrics.addMetric(MetricName.predictions, MetricUnit.Count, batchSize);
};

if (config.preload) {
  const failures = await service.repository.preload();
  // A model that cannot load answers 503 with the cause; the others still serve.
  if (failures.length > 0) logger.error('models failed to preload', { failures });
}

const initDurationMs = performance.now();
let coldStart = true;

export const handler = createApiHandler(service, {
  logger,
  corsOrigins: process.env.CORS_ORIGINS ? process.env.CORS_ORIGINS.split(',') : undefined,
}).use({
  before: () => {
    if (!coldStart) return;
    coldStart = false;
    const single = metrics.singleMetric();
    single.addDimension('function_name', process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local');
    single.addMetric(MetricName.initDuration, MetricUnit.Milliseconds, initDurationMs);
  },
}).use(logMetrics(metrics, { captureColdStartMetric: true }));
