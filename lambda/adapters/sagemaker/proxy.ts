/**
 * The API's thin function in front of a SageMaker endpoint: a RequestHandler behind the same
 * pipeline as the inference function, forwarding each v2 / :predict request to InvokeEndpoint (the
 * route travels as a custom attribute), so callers see the same API whatever the target.
 */
import { InvokeEndpointCommand, ModelError, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { BINARY_HEADER } from '../../core/binary-extension.ts';
import { InferenceError, reasonForStatus } from '../../core/errors.ts';
import type { CoreRequest, CoreResponse, RequestHandler } from '../../core/request.ts';
import { formatCustomAttributes, parseCustomAttributes } from './attributes.ts';

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
    const binaryHeader = request.headers?.[BINARY_HEADER];
    const body = request.body === undefined || request.body.length === 0 ? '{}' : request.body;
    // InvokeEndpoint carries no request headers: the route and the binary header travel as attributes.
    const attributes = formatCustomAttributes({ path: request.path, method: request.method, ...(binaryHeader !== undefined ? { inference_header_content_length: binaryHeader } : {}) });
    try {
      const answer = await client.send(
        new InvokeEndpointCommand({
          EndpointName: endpointName,
          Body: typeof body === 'string' ? Buffer.from(body) : body,
          ContentType: binaryHeader === undefined ? 'application/json' : 'application/octet-stream',
          Accept: 'application/json',
          CustomAttributes: attributes,
        }),
      );
      const answered = parseCustomAttributes(answer.CustomAttributes);
      const version = answered.model_version;
      const headerLength = answered.inference_header_content_length;
      const headers = { 'Content-Type': 'application/json', 'X-Model-Name': modelName, ...(version ? { 'X-Model-Version': version } : {}) };
      const bytes = Buffer.from(answer.Body ?? new Uint8Array());
      const observed = { model: modelName, version: version ? Number(version) : undefined };
      if (headerLength !== undefined) return { statusCode: 200, headers: { ...headers, 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': headerLength }, body: bytes, observed };
      return { statusCode: 200, headers, body: bytes.toString('utf8'), observed };
    } catch (error) {
      // The container answered with an error: pass its status and {"error": ...} body through (its
      // own pipeline already kept internals out of 5xx bodies).
      if (error instanceof ModelError || (error as { name?: string }).name === 'ModelError') {
        const { OriginalStatusCode, OriginalMessage } = error as ModelError;
        const statusCode = OriginalStatusCode ?? 502;
        return { statusCode, headers: { 'Content-Type': 'application/json' }, body: OriginalMessage ?? JSON.stringify({ error: 'the endpoint answered an error' }), observed: { model: modelName, reason: reasonForStatus(statusCode) } };
      }
      const name = (error as { name?: string }).name;
      if (name === 'ThrottlingException') throw new InferenceError(429, `SageMaker endpoint ${endpointName} is throttling requests; retry with backoff`, { reason: 'throttled' });
      throw new InferenceError(503, `SageMaker endpoint ${endpointName} cannot be reached: ${(error as Error).message}`, { cause: error, publicMessage: 'the model\'s SageMaker endpoint cannot be reached right now; retry shortly' });
    }
  }
}
