/**
 * Lambda entry point of the proxy function in front of a SageMaker endpoint (ENDPOINT_NAME,
 * MODEL_NAME), on the same middy stack as the inference handler, publishing the same per-request
 * metrics.
 */
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Logger } from '@aws-lambda-powertools/logger';
import { createApiHandler } from './api-handler.ts';
import { powertoolsLogger } from './logging.ts';
import { METRICS_SERVICE } from './metrics.ts';
import { SageMakerProxy } from './sagemaker-proxy.ts';
import { powertoolsSink, Telemetry } from './telemetry.ts';

const { ENDPOINT_NAME, MODEL_NAME } = process.env;
if (!ENDPOINT_NAME || !MODEL_NAME) throw new Error('the SageMaker proxy needs ENDPOINT_NAME and MODEL_NAME');

const telemetry = new Telemetry(powertoolsSink());

export const handler = createApiHandler(new SageMakerProxy({ client: new SageMakerRuntimeClient({}), endpointName: ENDPOINT_NAME, modelName: MODEL_NAME }), {
  logger: powertoolsLogger(new Logger({ serviceName: METRICS_SERVICE })),
  // The same per-request metrics as Lambda models: requests, bytes each way, failures by reason.
  onResponse: (observation) => telemetry.response(observation),
});
