/**
 * The API's thin function in front of a SageMaker endpoint: the same middy stack as the Lambda
 * handler, with each v2 / :predict request forwarded to InvokeEndpoint (the route travels as a
 * custom attribute), so callers see the same API whatever the target.
 */
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { describeError, InferenceError, reasonForStatus } from './core/errors.ts';
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
    const binaryHeader = request.headers?.['inference-header-content-length'];
    const body = request.body === undefined || request.body === null ? '{}' : typeof request.body === 'string' || request.body instanceof Uint8Array ? request.body : stringifyPrecise(request.body);
    try {
      const answer = await client.send(
        new InvokeEndpointCommand({
          EndpointName: endpointName,
          Body: typeof body === 'string' ? Buffer.from(body === '' ? '{}' : body) : body,
          ContentType: typeof body === 'string' ? 'application/json' : 'application/octet-stream',
          Accept: 'application/json',
          // InvokeEndpoint carries no request headers: the route and the binary header travel as attributes.
          CustomAttributes: `path=${request.path};method=${request.method}${binaryHeader !== undefined ? `;inference_header_content_length=${binaryHeader}` : ''}`,
        }),
      );
      const attributes = parseCustomAttributes(answer.CustomAttributes);
      const version = attributes.model_version;
      const headerLength = attributes.inference_header_content_length;
      const headers = { 'Content-Type': 'application/json', 'X-Model-Name': modelName, ...(version ? { 'X-Model-Version': version } : {}) };
      const bytes = Buffer.from(answer.Body ?? new Uint8Array());
      const observed = { model: modelName, version: version ? Number(version) : undefined };
      if (headerLength !== undefined) return { statusCode: 200, headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': headerLength }, body: bytes, observed };
      return { statusCode: 200, headers, body: bytes.toString('utf8'), observed };
    } catch (error) {
      // The container answered with an error: pass its status and {"error": ...} body through.
      if (error instanceof ModelError || (error as { name?: string }).name === 'ModelError') {
        const { OriginalStatusCode, OriginalMessage } = error as ModelError;
        const statusCode = OriginalStatusCode ?? 502;
        return { statusCode, headers: { 'Content-Type': 'application/json' }, body: OriginalMessage ?? JSON.stringify({ error: 'the endpoint answered an error' }), observed: { model: modelName, reason: reasonForStatus(statusCode) } };
      }
      const name = (error as { name?: string }).name;
      if (name === 'ThrottlingException') throw new InferenceError(429, `SageMaker endpoint ${endpointName} is throttling requests; retry with backoff`);
      throw new InferenceError(503, `SageMaker endpoint ${endpointName} cannot be reached: ${describeError(error)}`, { cause: error });
    }
  }
}
