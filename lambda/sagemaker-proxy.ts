/**
 * The API's thin function in front of a SageMaker endpoint: the same middy stack as the Lambda
 * handler, with each v2 / :predict request forwarded to InvokeEndpoint (the route travels as a
 * custom attribute), so callers see the same API whatever the target.
 */
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { describeError, InferenceError } from './core/errors.ts';
import type { CoreRequest, CoreResponse, RequestHandler } from './core/inference-service.ts';
import { stringifyPrecise } from './core/json.ts';
import { parseCustomAttributes } from './sagemaker-attributes.ts';

export interface SageMakerProxyOptions {
  readonly client: SageMakerRuntimeClient;
  readonly endpointName: string;
  readonly modelName: string;
}

export class SageMakerProxy implements RequestHandler {
  private readonly options: SageMakerProxyOptions;

  constructor(options: SageMakerProxyOptions) {
    this.options = options;
  }

  async handle(request: CoreRequest): Promise<CoreResponse> {
    const { client, endpointName, modelName } = this.options;
    const body = request.body === undefined || request.body === null ? '{}' : typeof request.body === 'string' ? request.body : stringifyPrecise(request.body);
    try {
      const answer = await client.send(
        new InvokeEndpointCommand({
          EndpointName: endpointName,
          Body: Buffer.from(body === '' ? '{}' : body),
          ContentType: 'application/json',
          Accept: 'application/json',
          CustomAttributes: `path=${request.path};method=${request.method}`,
        }),
      );
      const version = parseCustomAttributes(answer.CustomAttributes).model_version;
      return {
        statusCode: 200,
        headers: { 'Content-Type': 'application/json', 'X-Model-Name': modelName, ...(version ? { 'X-Model-Version': version } : {}) },
        body: Buffer.from(answer.Body ?? new Uint8Array()).toString('utf8'),
      };
    } catch (error) {
      // The container answered with an error: pass its status and {"error": ...} body through.
      if (error instanceof ModelError || (error as { name?: string }).name === 'ModelError') {
        const { OriginalStatusCode, OriginalMessage } = error as ModelError;
        return { statusCode: OriginalStatusCode ?? 502, headers: { 'Content-Type': 'application/json' }, body: OriginalMessage ?? JSON.stringify({ error: 'the endpoint answered an error' }) };
      }
      const name = (error as { name?: string }).name;
      if (name === 'ThrottlingException') throw new InferenceError(429, `SageMaker endpoint ${endpointName} is throttling requests; retry with backoff`);
      throw new InferenceError(503, `SageMaker endpoint ${endpointName} cannot be reached: ${describeError(error)}`, { cause: error });
    }
  }
}
