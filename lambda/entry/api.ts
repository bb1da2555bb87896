/**
 * Lambda entry point of the inference function (the container image's CMD: index.handler).
 * Settings come from the environment, checked once at init; with PRELOAD_MODELS=true the models
 * load during init, so the first request pays no load.
 *
 * Observability is Powertools for AWS Lambda, through its middy middlewares around the shared
 * pipeline: the tracer (X-Ray segment per invocation, model annotations, the S3 client traced), the
 * logger (JSON lines with the request id and cold-start flag) and metrics (CloudWatch embedded
 * metric format; the cold-start metric). Sampled captures go to stdout, where a log subscription
 * takes them to Firehose.
 *
 * Lambda SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start, set by Lambda when it initializes a
 * version to snapshot it): init does everything the snapshot should hold (prepareSnapshot: every
 * served version downloaded, checked, loaded and run once), and a version that cannot load fails
 * init, so its publication fails instead of its first request. The Node.js base image's runtime
 * client (aws-lambda-ric 4.0.2) makes no SnapStart calls: AWS's "Implementing SnapStart hooks for
 * container images" (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html)
 * lists the Node.js base image among those whose lifecycle the function must coordinate. So this
 * module does, inside the client's init: once everything is loaded it asks the Runtime API for
 * GET /runtime/restore/next, which answers only in an environment restored from the snapshot; then
 * afterRestore runs, and a failure there is reported to POST /runtime/restore/error (as AWS's Python
 * client does, awslambdaric/bootstrap.py). Only then does the module finish loading and the client
 * ask for its first invocation. Without a Runtime API (the module imported by a test or another
 * host) afterRestore runs at the first invocation instead.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { stringifyPrecise } from '../core/json.ts';
import type { InferenceObservers } from '../core/session-run.ts';
import { runShadow, type ShadowJob } from '../core/shadow.ts';
import { answerGoldenEvent, isGoldenEvent, type GoldenEvent } from '../jobs/task-golden.ts';
import { createApiGatewayHandler, type ApiEvent } from '../adapters/api-gateway/handler.ts';
import { captureHook, stdoutCaptureWriter } from '../observability/capture-sink.ts';
import { coreLogger, logger, metrics, tracer as getTracer } from '../observability/powertools.ts';
import { BatchingSink, powertoolsSink, Telemetry, type MetricSink } from '../observability/telemetry.ts';
import { RandomSource } from '../core/random.ts';
import { S3Source } from '../stores/s3-source.ts';
import { createRepository, createS3Client, createService, readRuntimeConfig } from './runtime-config.ts';

const env = process.env;
// The tracer loads the X-Ray SDK (about 50 ms of init, measured by npm run bench). Its import starts
// now and runs while the models download, instead of before; the handler waits for it only once
// the models are loaded. POWERTOOLS_TRACE_ENABLED=false leaves it out altogether, and with it the
// SDK's async hooks, which tax every promise (the cost is in the README's performance section).
const tracing = env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() !== 'false';
const tracerReady = tracing ? getTracer() : undefined;

/**
 * Per-request metrics with only the Model dimension ride in the invocation's Metrics buffer, which
 * logMetrics flushes as one record at the end; metrics with other dimensions (per version, class,
 * reason) are records of their own, and so is anything outside an invocation (loads at init).
 */
let invocation: { model?: string } | undefined;
const ownRecord = powertoolsSink();
/**
 * During an invocation, the other dimension sets are gathered too and written once each when it
 * ends: the request's and the inference's per-version metrics share one record instead of two.
 * (Each record Powertools builds and writes costs tens of microseconds: measured by npm run bench.)
 */
const invocationRecords = new BatchingSink(ownRecord, false);
const sink: MetricSink = (dimensions, values) => {
  if (invocation === undefined) {
    ownRecord(dimensions, values);
    return;
  }
  const keys = Object.keys(dimensions);
  if (keys.length !== 1 || keys[0] !== 'Model' || (invocation.model ?? dimensions.Model) !== dimensions.Model) {
    invocationRecords.sink(dimensions, values);
    return;
  }
  if (invocation.model === undefined) metrics.addDimension('Model', (invocation.model = dimensions.Model));
  for (const [name, unit, value] of values) metrics.addMetric(name, unit, value);
};
const endInvocation = () => {
  invocation = undefined;
  invocationRecords.flush();
};
const telemetry = new Telemetry(sink);

const config = readRuntimeConfig(env);
/** Whether Lambda is initializing this process to snapshot it (SnapStart). */
const snapStart = env.AWS_LAMBDA_INITIALIZATION_TYPE === 'snap-start';
// The SDK's middleware joins the client once the tracer is there: calls during init have no
// invocation segment to join anyway (Lambda records the init phase itself).
const instrumentS3Client = (client: import('@aws-sdk/client-s3').S3Client) => {
  void tracerReady?.then((tracer) => tracer.captureAWSv3Client(client));
  return client;
};
const repository = createRepository(config, coreLogger, {
  onModelLoad: ({ model, version, loadMs, error }) => telemetry.modelLoad(model, version, loadMs, error !== undefined),
  instrumentS3Client,
});
/** Capture sampling, A/B draws and shadow sampling draw from here; a restore replaces it. */
let random = new RandomSource();

// Shadow copies run in an asynchronous invocation of this same function, which runs both versions
// and compares them (Lambda freezes work left after the answer). The caller's answer is unchanged;
// the only latency added is the Event invoke's round trip, awaited before the answer returns.
let pendingShadow: Promise<unknown> | undefined;
const invokeShadow = (job: ShadowJob) => {
  pendingShadow = lambdaClient()
    .then(({ client, InvokeCommand }) =>
      client.send(new InvokeCommand({ FunctionName: env.AWS_LAMBDA_FUNCTION_NAME, Qualifier: env.AWS_LAMBDA_FUNCTION_VERSION, InvocationType: 'Event', Payload: Buffer.from(stringifyPrecise({ modelshipShadow: job })) })),
    )
    .catch((error: Error) => coreLogger.warn('shadow invoke failed', { model: job.model, cause: error.message }));
};
// Imported on first use: only shadowed models need it, so no other cold start pays for it.
let client: Promise<{ client: import('@aws-sdk/client-lambda').LambdaClient; InvokeCommand: typeof import('@aws-sdk/client-lambda').InvokeCommand }> | undefined;
const lambdaClient = () =>
  (client ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => ({ client: tracer?.captureAWSv3Client(new LambdaClient({})) ?? new LambdaClient({}), InvokeCommand })));

const round = (ms: number) => Math.round(ms * 1000) / 1000;
/** Who hears about each inference: the request's, and a shadow job's two runs alike. */
const { observe } = config;
const observers: InferenceObservers = {
  onInference: (record) => {
    const { model, version, batchSize, parseMs, inferenceMs, serializeMs } = record;
    if (observe.has('metrics')) telemetry.inference(record);
    tracer?.putAnnotation('model', model);
    tracer?.putAnnotation('modelVersion', version);
    // One line per inference: the latency breakdown, never the payload.
    if (observe.has('log')) logger.info('inference', { model, version, coldStart: invocationIsCold, batchSize, parseMs: round(parseMs), inferenceMs: round(inferenceMs), serializeMs: round(serializeMs) });
  },
  onCapture: observe.has('capture') ? captureHook(telemetry, stdoutCaptureWriter) : undefined,
  random: () => random.draw(),
};
const service = createService(config, repository, coreLogger, { ...observers, onShadow: invokeShadow, onFeedback: (event) => telemetry.feedback(event) });

if (snapStart) {
  const { loaded, failures, warmUpFailures, warmedOnGolden } = await repository.prepareSnapshot();
  if (warmUpFailures.length > 0) coreLogger.warn('warm-up runs failed before the snapshot; those models load as usual but pay their first run in a request', { warmUpFailures });
  // Thrown from init, this fails the version's publication (and the deploy): no environment is ever
  // restored from a snapshot missing a model.
  if (failures.length > 0) throw new Error(`SnapStart init: ${failures.length} model version(s) failed to load, so this version is not published: ${failures.join('; ')}`);
  coreLogger.info('models loaded and warmed for the snapshot', { loaded, warmedOnGolden });
} else if (config.preload) {
  const failures = await repository.preload();
  // A model that cannot load answers 503; the others still serve.
  if (failures.length > 0) coreLogger.error('models failed to preload', { failures });
}

const tracer = await tracerReady;
let initDurationMs = performance.now();
/** Set once afterRestore has run in this process. */
let restored = false;

/**
 * What must not be shared between environments restored from one snapshot, made again: the S3
 * client (its sockets are dead, and its credentials were the publishing environment's: a new
 * client's default provider reads the restored environment's), the shadow invoker's Lambda client,
 * the random source, the Powertools metrics buffer and the logger's sampling draw. The sessions,
 * catalog and pin are kept: they are what the snapshot is for. InitDuration then reports this
 * work, the only init left in a restored process (Lambda's RestoreDuration reports the restore).
 */
export function afterRestore(): void {
  const started = performance.now();
  if (repository.source instanceof S3Source) repository.source.replaceClient(createS3Client(config, instrumentS3Client));
  const lambda = client;
  client = undefined;
  void lambda?.then(({ client: old }) => old.destroy());
  random = new RandomSource();
  metrics.clearMetrics();
  metrics.clearDimensions();
  metrics.clearMetadata();
  logger.refreshSampleRateCalculation();
  restored = true;
  initDurationMs = performance.now() - started;
  coreLogger.info('restored from the SnapStart snapshot', { afterRestoreMs: round(initDurationMs) });
}

const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
if (snapStart && runtimeApi !== undefined && runtimeApi !== '') await waitForRestore(`http://${runtimeApi}/2018-06-01/runtime`);

/**
 * The SnapStart lifecycle of the Runtime API: Lambda snapshots the environment while
 * /restore/next is pending and answers it in each environment restored from that snapshot.
 * A failing afterRestore is reported to /restore/error, and the process ends (its state is unknown).
 */
async function waitForRestore(api: string): Promise<void> {
  const next = await fetch(`${api}/restore/next`);
  await next.arrayBuffer();
  if (!next.ok) throw new Error(`SnapStart: the Runtime API answered ${next.status} to GET /runtime/restore/next`);
  try {
    afterRestore();
  } catch (error) {
    const { name, message } = error as Error;
    coreLogger.error('after-restore hook failed', { error: message });
    await fetch(`${api}/restore/error`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'lambda-runtime-function-error-type': 'Runtime.AfterRestoreError' },
      body: JSON.stringify({ errorType: name, errorMessage: message }),
    }).catch(() => undefined);
    process.exit(65);
  }
}

/** What a restore renews and keeps, for inspection (the SnapStart tests). */
export const snapStartState = () => ({
  repository,
  s3Client: repository.source instanceof S3Source ? repository.source.s3Client : undefined,
  lambdaClient: client,
  random,
  restored,
});
let coldStart = true;
/** Whether the invocation in progress is the first of this process. */
let invocationIsCold = true;

const apiHandler = createApiGatewayHandler(service, {
  logger: coreLogger,
  corsOrigins: env.CORS_ORIGINS ? env.CORS_ORIGINS.split(',') : undefined,
  onResponse: observe.has('metrics') ? (observation) => telemetry.response(observation) : undefined,
  // Outermost first: the trace covers everything; the invocation's metrics buffer opens before and
  // closes after logMetrics flushes it; the logger knows the request id before anything logs.
  outerMiddlewares: [
    ...(tracer === undefined ? [] : [captureLambdaHandler(tracer, { captureResponse: false })]),
    {
      before: () => {
        invocation = {};
        invocationIsCold = coldStart;
        if (!coldStart) return;
        coldStart = false;
        telemetry.initDuration(env.AWS_LAMBDA_FUNCTION_NAME ?? 'local', initDurationMs);
      },
      after: endInvocation,
      onError: endInvocation,
    },
    logMetrics(metrics, { captureColdStartMetric: true }),
    injectLambdaContext(logger),
  ],
});

/** API Gateway events, and this function's own shadow jobs. */
export async function handler(event: ApiEvent | { modelshipShadow: ShadowJob } | GoldenEvent, context: Context) {
  if (snapStart && !restored) afterRestore();
  // The pre-traffic hook's golden gate of a task model: run here, where the task modules are.
  if (isGoldenEvent(event)) return answerGoldenEvent(service, event);
  if ('modelshipShadow' in event) {
    const result = await runShadow(repository, event.modelshipShadow, observers);
    telemetry.shadow(result);
    // Outputs only, never inputs: payloads stay out of the logs.
    if (!result.agree) coreLogger.warn('shadow disagrees with live', { ...result });
    return result;
  }
  const response = await apiHandler(event, context);
  if (pendingShadow !== undefined) {
    await pendingShadow;
    pendingShadow = undefined;
  }
  return response;
}
