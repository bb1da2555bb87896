/**
 * Lambda entry point of the proxy function in front of a SageMaker endpoint (ENDPOINT_NAME,
 * MODEL_NAME): the API Gateway adapter and pipeline over a SageMakerProxy, publishing the same
 * per-request metrics as the inference function.
 */
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { createApiGatewayHandler } from '../adapters/api-gateway/handler.ts';
import { SageMakerProxy } from '../adapters/sagemaker/proxy.ts';
import { coreLogger } from '../observability/powertools.ts';
import { powertoolsSink, Telemetry } from '../observability/telemetry.ts';

const { ENDPOINT_NAME, MODEL_NAME } = process.env;
if (!ENDPOINT_NAME || !MODEL_NAME) throw new Error('the SageMaker proxy needs ENDPOINT_NAME and MODEL_NAME');

const telemetry = new Telemetry(powertoolsSink());

export const handler = createApiGatewayHandler(new SageMakerProxy({ client: new SageMakerRuntimeClient({}), endpointName: ENDPOINT_NAME, modelName: MODEL_NAME }), {
  logger: coreLogger,
  // The same per-request metrics as Lambda models: requests, bytes each way, failures by reason.
  onResponse: (observation) => telemetry.response(observation),
});
