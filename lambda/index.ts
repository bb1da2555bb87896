/**
 * Lambda entry point (the container image's CMD: index.handler). Settings come from the
 * environment, checked once at init; with PRELOAD_MODELS=true the models load during init, so the
 * first request pays no load. Model load and inference times go out as CloudWatch metrics.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { createApiHandler, type ApiEvent } from './api-handler.ts';
import type { ShadowJob } from './core/inference-service.ts';
import { stringifyPrecise } from './core/json.ts';
import { powertoolsLogger } from './logging.ts';
import { MetricName, METRICS_NAMESPACE, METRICS_SERVICE } from './metrics.ts';
import { createService, readRuntimeConfig } from './runtime-config.ts';

const ptLogger = new Logger({ serviceName: METRICS_SERVICE });
const logger = powertoolsLogger(ptLogger);
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
const config = readRuntimeConfig(process.env);
const service = createService(config, logger, {
  onModelLoad: ({ model, loadMs, error }) => {
    // Loads happen at init too, outside any invocation: emit them at once.
    if (error === undefined) emitNow({ Model: model }, [[MetricName.modelLoadTime, loadMs!]], MetricUnit.Milliseconds);
    else emitNow({ Model: model }, [[MetricName.modelLoadFailures, 1]]);
  },
});
/** Emits metrics now, with their own dimensions (a Powertools single metric flushes after one metric). */
function emitNow(dimensions: Record<string, string>, values: [string, number][], unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count): void {
  for (const [name, value] of values) {
    const single = metrics.singleMetric();
    single.addDimensions(dimensions);
    single.addMetric(name, unit, value);
  }
}

service.onFeedback = ({ model, version, outcome }) => {
  emitNow({ Model: model, Version: String(version) }, [[MetricName.feedbackEvents, 1], [MetricName.feedbackPositive, outcome]]);
};
// Shadow copies run in an asynchronous invocation of this same function, which runs both versions
// and compares them (Lambda freezes work left after the answer). The caller's answer is unchanged;
// the only latency added is the Event invoke's round trip, awaited before the answer returns.
let pendingShadow: Promise<unknown> | undefined;
service.onShadow = (job) => {
  pendingShadow = lambdaClient()
    .then(({ client, InvokeCommand }) =>
      client.send(
        new InvokeCommand({
          FunctionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
          Qualifier: process.env.AWS_LAMBDA_FUNCTION_VERSION,
          InvocationType: 'Event',
          Payload: Buffer.from(stringifyPrecise({ modelshipShadow: job })),
        }),
      ),
    )
    .catch((error: Error) => logger.warn('shadow invoke failed', { model: job.model, cause: error.message }));
};
// Imported on first use: only shadowed models need it, so no other cold start pays for it.
let client: Promise<{ client: import('@aws-sdk/client-lambda').LambdaClient; InvokeCommand: typeof import('@aws-sdk/client-lambda').InvokeCommand }> | undefined;
const lambdaClient = () =>
  (client ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => ({ client: new LambdaClient({}), InvokeCommand })));

service.onInference = (record) => {
  const { model, version, batchSize, parseMs, inferenceMs, serializeMs, classCounts, meanPrediction } = record;
  metrics.addDimension('Model', model);
  metrics.addMetric(MetricName.inferenceTime, MetricUnit.Milliseconds, inferenceMs);
  metrics.addMetric(MetricName.predictions, MetricUnit.Count, batchSize);
  const perVersion = { Model: model, Version: String(version) };
  for (const [label, count] of Object.entries(classCounts ?? {})) emitNow({ ...perVersion, Class: label }, [[MetricName.predictedClass, count]]);
  if (meanPrediction !== undefined) emitNow(perVersion, [[MetricName.predictionMean, meanPrediction]], MetricUnit.NoUnit);
  // One line per inference: the latency breakdown, never the payload.
  ptLogger.info('inference', { model, version, coldStart: invocationIsCold, batchSize, parseMs: round(parseMs), inferenceMs: round(inferenceMs), serializeMs: round(serializeMs) });
};
const round = (ms: number) => Math.round(ms * 1000) / 1000;

if (config.preload) {
  const failures = await service.repository.preload();
  // A model that cannot load answers 503 with the cause; the others still serve.
  if (failures.length > 0) logger.error('models failed to preload', { failures });
}

const initDurationMs = performance.now();
let coldStart = true;
/** Whether the invocation in progress is the first of this process. */
let invocationIsCold = true;

const apiHandler = createApiHandler(service, {
  logger,
  corsOrigins: process.env.CORS_ORIGINS ? process.env.CORS_ORIGINS.split(',') : undefined,
}).use({
  before: () => {
    invocationIsCold = coldStart;
    if (!coldStart) return;
    coldStart = false;
    emitNow({ function_name: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local' }, [[MetricName.initDuration, initDurationMs]], MetricUnit.Milliseconds);
  },
})
  .use(logMetrics(metrics, { captureColdStartMetric: true }))
  // Adds the request id and the cold start flag to every log line of the invocation.
  .use(injectLambdaContext(ptLogger));

/** API Gateway events, and this function's own shadow jobs. */
export async function handler(event: ApiEvent | { modelshipShadow: ShadowJob }, context: Context) {
  if ('modelshipShadow' in event) {
    const result = await service.runShadow(event.modelshipShadow);
    emitNow({ Model: result.model, Version: String(result.shadowVersion) }, [[MetricName.shadowAgreement, result.agree ? 1 : 0]]);
    // Outputs only, never inputs: payloads stay out of the logs.
    if (!result.agree) logger.warn('shadow disagrees with live', { ...result });
    return result;
  }
  const response = await apiHandler(event, context);
  if (pendingShadow !== undefined) {
    await pendingShadow;
    pendingShadow = undefined;
  }
  return response;
}
