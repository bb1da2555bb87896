import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createApiGatewayHandler } from '../../../../lambda/adapters/api-gateway/handler.ts';
import type { RequestObservation } from '../../../../lambda/observability/telemetry.ts';
import { isInferenceError } from '../../../../lambda/core/errors.ts';
import { DirectorySource } from '../../../../lambda/stores/directory-source.ts';
import { SingleModelSource } from '../../../../lambda/stores/single-model-source.ts';
import { SageMakerProxy } from '../../../../lambda/adapters/sagemaker/proxy.ts';
import { formatCustomAttributes, parseCustomAttributes } from '../../../../lambda/adapters/sagemaker/attributes.ts';
import { ConcurrencyLimiter, type SageMakerServer } from '../../../../lambda/adapters/sagemaker/server.ts';
import { assertClose, createTestService, fakeLambdaContext, goldenRequest, readGolden, TABULAR_SAMPLES, SAMPLES_DIR, startTestSageMakerServer } from '../../../helpers.ts';

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
  return { status: response.status, headers: response.headers, json: (await response.json()) as Record<string, any> };
}

/** /opt/ml/model as SageMaker lays it out: one model's own directory. */
function optMlModel(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opt-ml-model-'));
  cpSync(join(SAMPLES_DIR, name), dir, { recursive: true });
  return dir;
}

describe('SageMaker container server (CPU mode)', () => {
  const servers = new Map<string, SageMakerServer>();
  before(async () => {
    for (const name of TABULAR_SAMPLES) {
      const service = createTestService(new SingleModelSource(new DirectorySource(optMlModel(name)), name), { gpu: true });
      servers.set(name, await startTestSageMakerServer(service, name));
    }
  });
  after(async () => {
    for (const server of servers.values()) await server.close();
  });

  it('answers GET /ping with the readiness of the model it serves, on CPU when no GPU is present', async () => {
    const response = await fetch(`${servers.get('iris_forest')!.url}/ping`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { name: 'iris_forest', version: '1', ready: true });
    const metadata = await post(`${servers.get('iris_forest')!.url}/invocations`, '', { 'X-Amzn-SageMaker-Custom-Attributes': 'path=/v2/models/iris_forest;method=GET' });
    assert.equal(metadata.json.parameters.execution_provider, 'cpu');
  });

  for (const name of TABULAR_SAMPLES) {
    it(`${name}: POST /invocations with a v2 body gives the golden answers`, async () => {
      const golden = readGolden(name);
      const { status, json, headers } = await post(`${servers.get(name)!.url}/invocations`, JSON.stringify(goldenRequest(golden)));
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(headers.get('x-amzn-sagemaker-custom-attributes'), 'model_version=1');
      for (const expected of golden.outputs) {
        assertClose(json.outputs.find((o: { name: string }) => o.name === expected.name).data, expected.data, golden.tolerance, `${name}.${expected.name}`);
      }
    });
  }

  it('takes :predict rows on /invocations', async () => {
    const { status, json } = await post(`${servers.get('iris_forest')!.url}/invocations`, '{"instances": [[5.1, 3.5, 1.4, 0.2]]}');
    assert.equal(status, 200);
    assert.equal(json.predictions[0].label, 'setosa');
  });

  it('routes an OpenAI embeddings or a Cohere rerank body sent to /invocations without a path to its compatible route', async () => {
    const name = 'debian_embeddings';
    const server = await startTestSageMakerServer(createTestService(new SingleModelSource(new DirectorySource(optMlModel(name)), name)), name);
    try {
      const embeddings = await post(`${server.url}/invocations`, JSON.stringify({ model: name, input: ['a chess engine'] }));
      assert.equal(embeddings.status, 200, JSON.stringify(embeddings.json));
      assert.equal(embeddings.json.object, 'list');
      assert.equal(embeddings.headers.get('x-amzn-sagemaker-custom-attributes'), 'model_version=1');
      // The same texts on /infer: the vectors /v1/embeddings answers.
      const infer = await post(`${server.url}/invocations`, JSON.stringify({ inputs: ['a chess engine'] }));
      assert.deepEqual(embeddings.json.data[0].embedding, infer.json[0]);
      // A rerank body reaches /v1/rerank, which refuses an embedding model in OpenAI's error shape.
      const rerank = await post(`${server.url}/invocations`, JSON.stringify({ model: name, query: 'games', documents: ['a chess engine'] }));
      assert.equal(rerank.status, 400);
      assert.equal(rerank.json.error.param, 'model');
      assert.match(rerank.json.error.message, /reranking needs a cross-encoder/);
    } finally {
      await server.close();
    }
  });

  it("reaches the model's other v2 routes through the custom attribute path", async () => {
    const url = `${servers.get('digits_mlp')!.url}/invocations`;
    const metadata = await post(url, '{}', { 'X-Amzn-SageMaker-Custom-Attributes': 'path=/v2/models/digits_mlp;method=GET' });
    assert.deepEqual(metadata.json.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 8, 8] }]);
    const versioned = await post(url, '{}', { 'X-Amzn-SageMaker-Custom-Attributes': 'path=/v2/models/digits_mlp/versions/7/ready;method=GET' });
    assert.equal(versioned.status, 404);
    const other = await post(url, '{}', { 'X-Amzn-SageMaker-Custom-Attributes': 'path=/v2/models/iris_forest;method=GET' });
    assert.equal(other.status, 404);
    assert.match(other.json.error, /this endpoint serves model "digits_mlp" only/);
  });

  const url = () => `${servers.get('iris_forest')!.url}/invocations`;
  const input = (extra: Record<string, unknown>) => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2], ...extra }] });
  const cases: [string, string, number, RegExp][] = [
    ['body not JSON', '{"inputs": [', 400, /^request body is not valid JSON/],
    ['empty body', '', 400, /^request body is empty/],
    ['inputs missing', '{}', 400, /^request has no "inputs" list$/],
    ['unknown input', input({ name: 'x' }), 400, /^unknown input "x"/],
    ['missing input', '{"inputs": []}', 400, /^missing input "features"/],
    ['wrong datatype', input({ datatype: 'FP64' }), 400, /has datatype FP64 but model "iris_forest" expects FP32/],
    ['wrong rank', input({ shape: [4] }), 400, /rank 1\) but model "iris_forest" expects rank 2/],
    ['fixed dimension differs', input({ shape: [2, 2] }), 400, /dimension 1 is 2 but model "iris_forest" expects 4/],
    ['data length', input({ shape: [2, 4] }), 400, /has 4 values but shape \[2,4\] needs 8/],
    ['non-numeric value', input({ data: [1, 2, 'x', 4] }), 400, /value at index 2 is "x", not a number/],
    ['out-of-range value', input({ data: [1, 2, 3, 1e39] }), 400, /out of range for FP32/],
    ['negative shape', input({ shape: [1, -4] }), 400, /every dimension must be an integer >= 0/],
  ];
  for (const [what, body, status, message] of cases) {
    it(`answers ${status} for ${what}`, async () => {
      const response = await post(url(), body);
      assert.equal(response.status, status, JSON.stringify(response.json));
      assert.match(response.json.error, message);
    });
  }

  it('answers 405 for a wrong method and 404 for another path', async () => {
    const base = servers.get('iris_forest')!.url;
    assert.equal((await fetch(`${base}/ping`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${base}/invocations`)).status, 405);
    const other = await fetch(`${base}/v2/models/iris_forest`);
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: string }).error, /answers GET \/ping and POST \/invocations/);
  });

  it('answers 413 for a body over the model limit', async () => {
    const response = await post(url(), JSON.stringify({ pad: 'x'.repeat(7 * 1024 * 1024) }));
    assert.equal(response.status, 413);
  });

  it('answers 503 on /ping while the model cannot load, the cause in the log under the request id', async () => {
    const dir = optMlModel('iris_forest');
    writeFileSync(join(dir, '1', 'model.onnx'), 'truncated');
    const service = createTestService(new SingleModelSource(new DirectorySource(dir), 'iris_forest'));
    const logged: Record<string, unknown>[] = [];
    const logger = { info() {}, warn() {}, error: (message: string, extra?: Record<string, unknown>) => logged.push({ message, ...extra }) };
    const server = await startTestSageMakerServer(service, 'iris_forest', { logger });
    try {
      const response = await fetch(`${server.url}/ping`);
      assert.equal(response.status, 503);
      const requestId = response.headers.get('x-request-id')!;
      assert.equal(((await response.json()) as { error: string }).error, `the model cannot be loaded: a bad model file (corrupt, refused, or changed since it was deployed); redeploy the version, or roll back to another (modelship rollback); the detail is in the log under this request id (request id ${requestId})`);
      const entry = logged.find((l) => l.requestId === requestId)!;
      assert.match(String(entry.cause), /^model "iris_forest" version 1 cannot be loaded/);
    } finally {
      await server.close();
    }
  });
});

describe('concurrency limit per worker', () => {
  it('runs at most N at once, queues the rest, and answers 429 when the queue is full', async () => {
    const limiter = new ConcurrencyLimiter(2, 1);
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const task = () =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => release.push(resolve));
        running--;
      });
    const a = task();
    const b = task();
    const c = task(); // queued
    await assert.rejects(task(), (error) => isInferenceError(error) && error.statusCode === 429 && /2 requests running and 1 queued/.test(error.message));
    while (release.length > 0 || running > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([a, b, c]);
    assert.equal(peak, 2);
  });

  it('parses SageMaker custom attributes', () => {
    assert.deepEqual(parseCustomAttributes('path=/v2/models/x;method=GET'), { path: '/v2/models/x', method: 'GET' });
    assert.deepEqual(parseCustomAttributes(undefined), {});
  });
});

/**
 * A stand-in for the SageMaker runtime API (InvokeEndpoint) on loopback: it forwards to a real
 * container server and wraps the container's errors as the service does (424 ModelError).
 */
async function startRuntimeStandIn(container: string): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(req.url ?? '');
    if (match === null || match[1] !== 'iris-endpoint') {
      res.writeHead(400, { 'x-amzn-ErrorType': 'ValidationError', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `Endpoint ${match?.[1]} of account 123456789012 not found.` }));
      return;
    }
    const answer = await fetch(`${container}/invocations`, {
      method: 'POST',
      body: Buffer.concat(chunks),
      headers: { 'Content-Type': String(req.headers['content-type']), 'X-Amzn-SageMaker-Custom-Attributes': String(req.headers['x-amzn-sagemaker-custom-attributes'] ?? '') },
    });
    const text = await answer.text();
    if (answer.status >= 400) {
      res.writeHead(424, { 'x-amzn-ErrorType': 'ModelError', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ErrorCode: 'CLIENT_ERROR_FROM_MODEL', Message: `Received client error (${answer.status}) from primary`, OriginalStatusCode: answer.status, OriginalMessage: text }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-Amzn-SageMaker-Custom-Attributes': answer.headers.get('x-amzn-sagemaker-custom-attributes') ?? '' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('API proxy function in front of a SageMaker endpoint', () => {
  let container: SageMakerServer;
  let runtime: { url: string; server: Server };
  let invoke: (path: string, method: string, body?: string) => Promise<APIGatewayProxyResult>;
  const observations: RequestObservation[] = [];
  before(async () => {
    const service = createTestService(new SingleModelSource(new DirectorySource(optMlModel('iris_forest')), 'iris_forest'));
    container = await startTestSageMakerServer(service, 'iris_forest');
    runtime = await startRuntimeStandIn(container.url);
    const client = (endpoint: string) => new SageMakerRuntimeClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 });
    const handler = createApiGatewayHandler(new SageMakerProxy({ client: client(runtime.url), endpointName: 'iris-endpoint', modelName: 'iris_forest' }), { onResponse: (o) => observations.push(o) });
    invoke = (path, method, body) =>
      handler({ httpMethod: method, path, headers: { 'Content-Type': 'application/json' }, body: body ?? null, isBase64Encoded: false } as unknown as APIGatewayProxyEvent, fakeLambdaContext(10_000));
  });
  after(async () => {
    runtime.server.close();
    await container.close();
  });

  it('forwards v2 inference and names the answering version', async () => {
    const result = await invoke('/v2/models/iris_forest/infer', 'POST', JSON.stringify(goldenRequest(readGolden('iris_forest'), 3)));
    assert.equal(result.statusCode, 200, result.body);
    assert.deepEqual(JSON.parse(result.body).outputs[0].data, readGolden('iris_forest').outputs[0].data.slice(0, 3));
    assert.equal(result.headers?.['X-Model-Version'], '1');
    // Observed for the metrics, as for a Lambda model: model, version, sizes.
    const seen = observations.at(-1)!;
    assert.deepEqual([seen.model, seen.version, seen.statusCode, seen.responseBytes], ['iris_forest', 1, 200, Buffer.byteLength(result.body)]);
  });

  it('forwards metadata requests, so the API is the same as for Lambda models', async () => {
    const result = await invoke('/v2/models/iris_forest', 'GET');
    assert.equal(result.statusCode, 200, result.body);
    assert.equal(JSON.parse(result.body).platform, 'onnxruntime_onnx');
  });

  it('carries the route so that a path cannot add attributes of its own (no injection)', async () => {
    // A version segment that smuggles ";path=...;method=..." into the custom attributes header.
    const injected = '/v2/models/iris_forest/versions/1;path=/v2/models/iris_forest/feedback;method=POST/infer';
    const result = await invoke(injected, 'POST', JSON.stringify({ model_version: '1', outcome: 1, inputs: [] }));
    assert.notEqual(result.statusCode, 202, 'the container must not take the injected feedback path');
    assert.equal(result.statusCode, 404);
    assert.match(JSON.parse(result.body).error, /^no route for POST \/v2\/models\/iris_forest\/versions\/1;path=/);
    assert.deepEqual(parseCustomAttributes(formatCustomAttributes({ path: injected, method: 'POST' })), { path: injected, method: 'POST' });
  });

  it("passes the container's 400 and message through", async () => {
    const result = await invoke('/v2/models/iris_forest/infer', 'POST', '{"inputs": []}');
    assert.equal(result.statusCode, 400);
    assert.match(JSON.parse(result.body).error, /^missing input "features"/);
    assert.deepEqual([observations.at(-1)!.model, observations.at(-1)!.reason], ['iris_forest', 'invalid_request']);
  });

  it('answers 503 when the endpoint cannot be reached, without the SDK\'s text', async () => {
    const handler = createApiGatewayHandler(new SageMakerProxy({ client: new SageMakerRuntimeClient({ endpoint: runtime.url, region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 }), endpointName: 'missing', modelName: 'iris_forest' }));
    const result = await handler({ httpMethod: 'GET', path: '/v2/models/iris_forest', headers: {}, body: null, isBase64Encoded: false } as unknown as APIGatewayProxyEvent, fakeLambdaContext(10_000));
    assert.equal(result.statusCode, 503);
    assert.equal(JSON.parse(result.body).error, `the model's SageMaker endpoint cannot be reached right now; retry shortly (request id ${fakeLambdaContext().awsRequestId})`);
  });
});
