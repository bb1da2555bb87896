/**
 * The SageMaker container's wiring (bundled into the GPU image through bin/serve-sagemaker.ts, and
 * `npm run start:sagemaker` locally). Serves one model: MODEL_NAME from MODEL_DIR (default
 * /opt/ml/model where SageMaker puts model data, else ./models), or from the model store
 * (MODEL_BUCKET). PORT or SAGEMAKER_BIND_TO_PORT (default 8080). USE_GPU=true runs sessions on CUDA,
 * falling back to CPU with a warning and a GpuFallback metric.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelRepository } from '../core/model-repository.ts';
import { defaultSessionOptions } from '../core/sessions.ts';
import { exitOnSignals } from '../adapters/http/node-server.ts';
import { createHttpPipeline } from '../adapters/http/pipeline.ts';
import { limitConcurrency, startSageMakerServer } from '../adapters/sagemaker/server.ts';
import { consoleLogger } from '../observability/logging.ts';
import type { PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { CloudWatchSink, type PutMetricDataInput } from '../observability/cloudwatch-sink.ts';
import { METRICS_NAMESPACE } from '../observability/metrics.ts';
import { Telemetry } from '../observability/telemetry.ts';
import { MODEL_FILE } from '../core/catalog.ts';
import { convertNativeModel, NATIVE_MODEL_FILES } from '../convert/registry.ts';
import { DirectorySource } from '../stores/directory-source.ts';
import { SingleModelSource } from '../stores/single-model-source.ts';
import { createModelSource, createService, readRuntimeConfig, RuntimeConfigError } from './runtime-config.ts';

const logger = consoleLogger('modelship-sagemaker');

/** A directory that is one model's own (version directories at its top), as /opt/ml/model is. */
const isModelDirectory = (dir: string) => readdirSync(dir).some((entry) => /^[1-9]\d*$/.test(entry) && [MODEL_FILE, ...NATIVE_MODEL_FILES].some((file) => existsSync(join(dir, entry, file))));

/** PutMetricData through one CloudWatch client, imported on the first call. */
function putMetricData(): (input: PutMetricDataInput) => Promise<unknown> {
  let client: Promise<(input: PutMetricDataInput) => Promise<unknown>> | undefined;
  return async (input) => {
    client ??= import('@aws-sdk/client-cloudwatch').then(({ CloudWatchClient, PutMetricDataCommand }) => {
      const cloudWatch = new CloudWatchClient({});
      return (i: PutMetricDataInput) => cloudWatch.send(new PutMetricDataCommand(i as PutMetricDataCommandInput));
    });
    return (await client)(input);
  };
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // One CloudWatch client for the GpuFallback metric and the batching metrics, imported on first use.
  const send = putMetricData();
  const publishGpuFallback = async (model: string): Promise<void> => {
    if (env.PUBLISH_METRICS !== 'cloudwatch') return;
    try {
      await send({ Namespace: METRICS_NAMESPACE, MetricData: [{ MetricName: 'GpuFallback', Dimensions: [{ Name: 'Model', Value: model }], Timestamp: new Date(), Unit: 'Count', Values: [1], Counts: [1] }] });
    } catch (error) {
      logger.warn('could not publish the GpuFallback metric', { cause: (error as Error).message });
    }
  };
  try {
    const defaultDir = existsSync('/opt/ml/model') ? '/opt/ml/model' : 'models';
    const config = readRuntimeConfig(env, { modelDir: defaultDir, preload: true, intraOpThreads: 1 });
    const portText = env.SAGEMAKER_BIND_TO_PORT ?? env.PORT ?? '8080';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RuntimeConfigError(`SAGEMAKER_BIND_TO_PORT/PORT must be a port number, got "${portText}"`);
    const maxConcurrency = env.MAX_CONCURRENCY ? Number(env.MAX_CONCURRENCY) : undefined;
    if (maxConcurrency !== undefined && !(Number.isInteger(maxConcurrency) && maxConcurrency > 0)) throw new RuntimeConfigError(`MAX_CONCURRENCY must be a positive integer, got "${env.MAX_CONCURRENCY}"`);

    let source = createModelSource(config);
    let modelName = env.MODEL_NAME;
    if (config.modelDir !== undefined) {
      if (!existsSync(config.modelDir) || !statSync(config.modelDir).isDirectory()) throw new RuntimeConfigError(`MODEL_DIR ${config.modelDir} is not a directory`);
      if (isModelDirectory(config.modelDir)) {
        modelName ??= 'model';
        source = new SingleModelSource(new DirectorySource(config.modelDir), modelName);
      } else if (modelName === undefined) {
        const models = readdirSync(config.modelDir).filter((d) => statSync(join(config.modelDir!, d)).isDirectory()).sort();
        if (models.length === 0) throw new RuntimeConfigError(`MODEL_DIR ${config.modelDir} holds no models`);
        modelName = models[0];
        logger.info(`serving ${modelName}, the first of ${models.join(', ')}; set MODEL_NAME to choose`);
      }
    }
    if (modelName === undefined) throw new RuntimeConfigError('set MODEL_NAME to the model this endpoint serves');

    // No per-request metric records here: SageMaker does not extract embedded-metric-format lines
    // from a container's logs. The API's proxy function publishes each request's metrics, and
    // SageMaker its own endpoint metrics. What only the container knows, its dynamic batching
    // (BatchSize, QueueDelay, BatchesRun), goes to CloudWatch with PutMetricData once a minute.
    const cloudWatch = env.PUBLISH_METRICS === 'cloudwatch' ? new CloudWatchSink({ logger, send }) : undefined;
    const telemetry = cloudWatch !== undefined ? new Telemetry(cloudWatch.sink) : undefined;
    const repository = new ModelRepository({
      source,
      models: [modelName],
      liveVersions: config.modelVersion !== undefined ? { [modelName]: config.modelVersion } : undefined,
      // The hashes recorded at deploy (the endpoint's environment): a replaced or added file is refused here too.
      expectedSha256: config.expectedSha256,
      sessionOptions: defaultSessionOptions(config.intraOpThreads, config.allowSpinning),
      // A native model (model.json, model.txt, ...) is converted once, at start, where no model.onnx was staged beside it.
      nativeModelFiles: NATIVE_MODEL_FILES,
      convertNative: convertNativeModel,
      gpu: env.USE_GPU === 'true',
      onGpuFallback: ({ model }) => void publishGpuFallback(model),
      // A long-running server with requests in flight: models whose config asks for it are batched.
      dynamicBatching: true,
      onBatch: telemetry !== undefined ? (model, version, run) => telemetry.batch(model, version, run) : undefined,
      logger,
    });
    const service = createService(config, repository, logger);
    const failures = await repository.preload();
    if (failures.length > 0) logger.error('model failed to load; /ping answers 503 until it does', { failures });
    const pipeline = createHttpPipeline(limitConcurrency(service, { maxConcurrency }), { logger });
    const server = await startSageMakerServer({ pipeline, modelName, port, host: env.HOST ?? '0.0.0.0', maxBodyBytes: Math.max(config.maxRequestBytes, 25 * 1024 * 1024) });
    console.log(`ModelShip SageMaker server: model ${modelName} from ${source.location} on ${server.url} (GET /ping, POST /invocations)`);
    exitOnSignals(async () => {
      await server.close();
      await cloudWatch?.close();
    });
  } catch (error) {
    console.error(`modelship-sagemaker: ${(error as Error).message}`);
    process.exit(1);
  }
}
