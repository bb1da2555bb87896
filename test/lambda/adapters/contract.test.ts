/**
 * The contract every adapter keeps: one table of requests, good and bad, JSON and binary, over every
 * route, sent through the local server (HTTP; and signed, through the local server with AUTH=iam, as
 * a deployed API with IAM authorization takes them), the Lambda handler (REST API and HTTP API events, as
 * API Gateway builds them) and the SageMaker container (POST /invocations, the route in the custom
 * attributes, as the API's proxy sends it). Each answer must match the row, and all transports must
 * give the same status, body and headers that matter.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult } from 'aws-lambda';
import aws4 from 'aws4';
import { createApiGatewayHandler } from '../../../lambda/adapters/api-gateway/handler.ts';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import type { SageMakerServer } from '../../../lambda/adapters/sagemaker/server.ts';
import { DirectorySource } from '../../../lambda/stores/directory-source.ts';
import { SingleModelSource } from '../../../lambda/stores/single-model-source.ts';
import { tabularClassifier } from '../../fixtures/tabular-models.ts';
import { layOutTextPairFixtures } from '../core/tasks/text-pairs-fixtures.ts';
import { createTestService, fakeLambdaContext, readGolden, startTestLocalServer, startTestSageMakerServer, TempRepository } from '../../helpers.ts';

interface Answer {
  readonly status: number;
  /** Lower-cased names. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

interface Row {
  readonly name: string;
  readonly method: string;
  /** As the client sends it (percent-encoded). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly status: number;
  /** What the body must say: JSON to match exactly, a pattern for the error message, or a check of its own. */
  readonly expect?: { json?: unknown; error?: RegExp; check?: (answer: Answer) => void };
  /** The model whose SageMaker endpoint takes the row, when the path does not name it (the compatible routes name it in the body). */
  readonly endpoint?: string;
}

/** The headers compared across transports: the ones a caller acts on. */
const HEADERS_THAT_MATTER = ['content-type', 'x-model-name', 'x-model-version', 'inference-header-content-length', 'allow', 'strict-transport-security', 'x-content-type-options'];

const ROW = [5.1, 3.5, 1.4, 0.2];
const v2 = (extra: Record<string, unknown> = {}, body: Record<string, unknown> = {}) => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: ROW, ...extra }], ...body });
const binaryHeader = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] }));
const binaryBody = Buffer.concat([binaryHeader, Buffer.from(new Float32Array(ROW).buffer)]);
const golden = readGolden('iris_forest');
const f32 = Math.fround;

const RERANK = { model: 'debian-reranker', query: 'games', documents: ['a chess engine', 'a TrueType font', 'a puzzle game'], top_n: 2, return_documents: true };

const TABLE: Row[] = [
  { name: 'liveness', method: 'GET', path: '/v2/health/live', status: 200, expect: { json: { live: true } } },
  { name: 'readiness', method: 'GET', path: '/v2/health/ready', status: 200, expect: { json: { ready: true } } },
  { name: 'server metadata', method: 'GET', path: '/v2', status: 200, expect: { check: (a) => assert.equal(JSON.parse(a.body.toString()).name, 'modelship') } },
  { name: 'model metadata', method: 'GET', path: '/v2/models/iris_forest', status: 200, expect: { check: (a) => assert.deepEqual(JSON.parse(a.body.toString()).inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }]) } },
  { name: 'versioned metadata', method: 'GET', path: '/v2/models/iris_forest/versions/1', status: 200, expect: { check: (a) => assert.deepEqual(JSON.parse(a.body.toString()).versions, ['1', '2']) } },
  { name: 'model readiness', method: 'GET', path: '/v2/models/iris_forest/ready', status: 200, expect: { json: { name: 'iris_forest', version: '1', ready: true } } },
  { name: 'versioned readiness', method: 'GET', path: '/v2/models/iris_forest/versions/1/ready', status: 200, expect: { json: { name: 'iris_forest', version: '1', ready: true } } },
  {
    name: 'v2 infer with an id',
    method: 'POST',
    path: '/v2/models/iris_forest/infer',
    body: v2({}, { id: 'c-1' }),
    status: 200,
    expect: { json: { model_name: 'iris_forest', model_version: '1', id: 'c-1', outputs: [{ name: 'label', datatype: 'INT64', shape: [1], data: [0] }, { name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: golden.outputs[1].data.slice(0, 0).concat([1.0000001192092896, 0, 0]) }] } },
  },
  { name: 'versioned infer, one output', method: 'POST', path: '/v2/models/iris_forest/versions/1/infer', body: v2({}, { outputs: [{ name: 'label' }] }), status: 200, expect: { check: (a) => assert.deepEqual(JSON.parse(a.body.toString()).outputs, [{ name: 'label', datatype: 'INT64', shape: [1], data: [0] }]) } },
  { name: 'a percent-encoded model name, decoded once', method: 'POST', path: '/v2/models/iris%5Fforest/infer', body: v2(), status: 200 },
  {
    name: 'binary tensors in and out',
    method: 'POST',
    path: '/v2/models/iris_forest/infer',
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(binaryHeader.length) },
    body: binaryBody,
    status: 200,
    expect: {
      check: (a) => {
        const length = Number(a.headers['inference-header-content-length']);
        const header = JSON.parse(a.body.subarray(0, length).toString()) as { outputs: { name: string; parameters: { binary_data_size: number } }[] };
        assert.deepEqual(header.outputs.map((o) => [o.name, o.parameters.binary_data_size]), [['probabilities', 12]]);
        assert.deepEqual(Array.from(new Float32Array(a.body.subarray(length).buffer.slice(a.body.byteOffset + length, a.body.byteOffset + length + 12))), [1.0000001192092896, 0, 0]);
      },
    },
  },
  { name: ':predict rows', method: 'POST', path: '/v1/models/iris_forest:predict', body: JSON.stringify({ instances: [ROW] }), status: 200, expect: { json: { predictions: [{ label: 'setosa', probabilities: [1.0000001192092896, 0, 0] }] } } },
  { name: 'versioned :predict', method: 'POST', path: '/v1/models/iris_forest/versions/1:predict', body: JSON.stringify({ instances: [ROW] }), status: 200 },
  { name: 'feedback', method: 'POST', path: '/v2/models/iris_forest/feedback', body: JSON.stringify({ id: 'c-1', model_version: '1', outcome: 1 }), status: 202, expect: { json: { recorded: true, model_name: 'iris_forest', model_version: '1', outcome: 1 } } },
  { name: 'feedback without an outcome', method: 'POST', path: '/v2/models/iris_forest/feedback', body: JSON.stringify({ model_version: '1' }), status: 400, expect: { error: /^feedback needs "outcome"/ } },
  { name: 'body not JSON', method: 'POST', path: '/v2/models/iris_forest/infer', body: '{"inputs": [', status: 400, expect: { error: /^request body is not valid JSON: / } },
  { name: 'empty body', method: 'POST', path: '/v2/models/iris_forest/infer', status: 400, expect: { error: /^request body is empty; expected a JSON object$/ } },
  { name: 'wrong datatype', method: 'POST', path: '/v2/models/iris_forest/infer', body: v2({ datatype: 'INT32' }), status: 400, expect: { error: /^input "features" has datatype INT32 but model "iris_forest" expects FP32$/ } },
  { name: 'wrong shape', method: 'POST', path: '/v2/models/iris_forest/infer', body: v2({ shape: [2, 2] }), status: 400, expect: { error: /^input "features" dimension 1 is 2 but model "iris_forest" expects 4/ } },
  { name: 'non-numeric value', method: 'POST', path: '/v2/models/iris_forest/infer', body: v2({ data: [5.1, 'x', 1.4, 0.2] }), status: 400, expect: { error: /^input "features" value at index 1 is "x", not a number \(FP32\)$/ } },
  { name: 'binary size mismatch', method: 'POST', path: '/v2/models/iris_forest/infer', headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(binaryHeader.length) }, body: binaryBody.subarray(0, binaryBody.length - 4), status: 400, expect: { error: /declares 16 binary bytes but only 12 remain/ } },
  { name: ':predict without instances', method: 'POST', path: '/v1/models/iris_forest:predict', body: '{}', status: 400, expect: { error: /^"instances" must be a non-empty list of rows$/ } },
  { name: 'over the model body limit', method: 'POST', path: '/v2/models/iris_forest/infer', body: v2({}, { pad: 'x'.repeat(5000) }), status: 413, expect: { error: /over the 4096-byte limit of model "iris_forest"/ } },
  { name: 'wrong method', method: 'GET', path: '/v2/models/iris_forest/infer', status: 405, expect: { error: /^method GET is not allowed on \/v2\/models\/iris_forest\/infer; allowed: POST$/, check: (a) => assert.equal(a.headers.allow, 'POST') } },
  { name: 'unknown version', method: 'POST', path: '/v2/models/iris_forest/versions/7/infer', body: v2(), status: 404, expect: { error: /^model "iris_forest" has no version 7; available: 1, 2$/ } },
  { name: 'unknown route', method: 'GET', path: '/v2/models/iris_forest/nope', status: 404, expect: { error: /^no route for GET \/v2\/models\/iris_forest\/nope/ } },
  {
    name: 'a version that cannot load: 503 without internals, with the request id',
    method: 'POST',
    path: '/v2/models/iris_forest/versions/2/infer',
    body: v2(),
    status: 503,
    expect: { error: /^the model cannot be loaded: a bad model file \(corrupt, refused, or changed since it was deployed\); redeploy the version, or roll back to another \(modelship rollback\); the detail is in the log under this request id \(request id [\w-]+\)$/ },
  },
  // A converted model (model.onnx and conversion.json as synth stages them): features by name, classes by name.
  {
    name: 'converted model, :predict rows by feature name and in feature order',
    method: 'POST',
    path: '/v1/models/trees:predict',
    body: JSON.stringify({ instances: [{ age: 25, color: 'green' }, [40, 'red', true], { color: 'purple', member: null }] }),
    status: 200,
    expect: { json: { predictions: [{ label: 'yes', probabilities: [f32(0.1), f32(0.9)] }, { label: 'yes', probabilities: [f32(0.3), f32(0.7)] }, { label: 'no', probabilities: [f32(0.8), f32(0.2)] }] } },
  },
  {
    name: 'converted model, v2 with one input per feature (BYTES for a category)',
    method: 'POST',
    path: '/v2/models/trees/infer',
    body: JSON.stringify({ inputs: [{ name: 'age', datatype: 'FP32', shape: [2], data: [25, 40] }, { name: 'color', datatype: 'BYTES', shape: [2], data: ['green', 'blue'] }, { name: 'member', datatype: 'BOOL', shape: [2], data: [false, false] }], outputs: [{ name: 'label' }] }),
    status: 200,
    expect: { json: { model_name: 'trees', model_version: '1', outputs: [{ name: 'label', datatype: 'BYTES', shape: [2], data: ['yes', 'no'] }] } },
  },
  { name: 'converted model, an unknown feature named', method: 'POST', path: '/v1/models/trees:predict', body: JSON.stringify({ instances: [{ age: 25, colour: 'green' }] }), status: 400, expect: { error: /^instances\[0\] has unknown feature "colour"; model "trees" takes: age, color, member$/ } },
  { name: 'converted model, a value of the wrong type named', method: 'POST', path: '/v2/models/trees/infer', body: JSON.stringify({ inputs: [{ name: 'member', datatype: 'BYTES', shape: [1], data: ['yes'] }] }), status: 400, expect: { error: /^input "member" has datatype BYTES but feature "member" is boolean: send BOOL or a number type$/ } },
  { name: 'converted model, features in metadata', method: 'GET', path: '/v2/models/trees', status: 200, expect: { check: (a) => assert.deepEqual(JSON.parse(a.body.toString()).parameters.features, [{ name: 'age', type: 'numeric' }, { name: 'color', type: 'categorical', categories: ['red', 'green', 'blue'] }, { name: 'member', type: 'boolean' }]) } },
  // The OpenAI-compatible routes: the model in the body, or the model's own base URL; errors in OpenAI's shape.
  {
    name: 'OpenAI embeddings',
    method: 'POST',
    path: '/v1/embeddings',
    body: JSON.stringify({ model: 'debian_embeddings', input: ['a chess game', 'network tools'] }),
    endpoint: 'debian_embeddings',
    status: 200,
    expect: { check: (a) => assertEmbeddings(a, 'float') },
  },
  { name: 'OpenAI embeddings under the model\'s base URL, base64', method: 'POST', path: '/openai/debian_embeddings/v1/embeddings', body: JSON.stringify({ model: 'debian_embeddings', input: ['a chess game', 'network tools'], encoding_format: 'base64' }), status: 200, expect: { check: (a) => assertEmbeddings(a, 'base64') } },
  { name: 'OpenAI model', method: 'GET', path: '/v1/models/debian_embeddings', status: 200, expect: { check: (a) => assert.deepEqual({ ...JSON.parse(a.body.toString()), created: 0 }, { id: 'debian_embeddings', object: 'model', created: 0, owned_by: 'modelship' }) } },
  { name: 'OpenAI models of a base URL', method: 'GET', path: '/openai/debian_embeddings/v1/models', status: 200, expect: { check: (a) => assert.deepEqual(JSON.parse(a.body.toString()).data.map((m: { id: string }) => m.id), ['debian_embeddings']) } },
  { name: 'OpenAI embeddings, "dimensions" the model does not take', method: 'POST', path: '/v1/embeddings', body: JSON.stringify({ model: 'debian_embeddings', input: 'x', dimensions: 8 }), endpoint: 'debian_embeddings', status: 400, expect: { error: /^"dimensions" is 8; model "debian_embeddings" takes 32, 64, 128$/, check: (a) => assert.deepEqual({ ...JSON.parse(a.body.toString()).error, message: '' }, { message: '', type: 'invalid_request_error', param: 'dimensions', code: 'invalid_request' }) } },
  { name: 'OpenAI embeddings without input', method: 'POST', path: '/v1/embeddings', body: JSON.stringify({ model: 'debian_embeddings' }), endpoint: 'debian_embeddings', status: 400, expect: { error: /^"input" is missing; send a text, a list of texts, or token ids$/ } },
  { name: 'OpenAI embeddings, wrong method', method: 'GET', path: '/v1/embeddings', endpoint: 'debian_embeddings', status: 405, expect: { error: /^method GET is not allowed on \/v1\/embeddings; allowed: POST$/ } },
  // Cohere/Jina rerank on a cross-encoder.
  { name: 'rerank', method: 'POST', path: '/v1/rerank', body: JSON.stringify(RERANK), endpoint: 'debian-reranker', status: 200, expect: { check: (a) => assertRanked(a) } },
  { name: 'rerank under the model\'s base URL', method: 'POST', path: '/openai/debian-reranker/v1/rerank', body: JSON.stringify(RERANK), status: 200, expect: { check: (a) => assertRanked(a) } },
  { name: 'rerank, top_n over the documents', method: 'POST', path: '/v1/rerank', body: JSON.stringify({ ...RERANK, top_n: 4 }), endpoint: 'debian-reranker', status: 400, expect: { error: /^"top_n" is 4, over the 3 documents sent; send at most 3 or leave it out$/ } },
];

/** A rerank answer: the top 2 of 3 documents, best first, with their texts. */
function assertRanked(answer: Answer): void {
  const body = JSON.parse(answer.body.toString()) as { results: { index: number; relevance_score: number; document: { text: string } }[]; model: string; usage: { total_tokens: number } };
  assert.equal(body.model, 'debian-reranker');
  assert.equal(body.results.length, 2);
  assert.ok(body.results[0].relevance_score >= body.results[1].relevance_score);
  for (const r of body.results) assert.equal(r.document.text, RERANK.documents[r.index]);
  assert.ok(body.usage.total_tokens > 0);
}

/** An embeddings answer in OpenAI's shape: two vectors of 128 floats (base64: little-endian float32 bytes). */
function assertEmbeddings(answer: Answer, encoding: 'float' | 'base64'): void {
  const body = JSON.parse(answer.body.toString()) as { object: string; model: string; data: { object: string; index: number; embedding: number[] | string }[]; usage: { prompt_tokens: number; total_tokens: number } };
  assert.equal(body.object, 'list');
  assert.equal(body.model, 'debian_embeddings');
  assert.deepEqual(body.data.map((d) => [d.object, d.index]), [['embedding', 0], ['embedding', 1]]);
  for (const d of body.data) assert.equal(encoding === 'float' ? (d.embedding as number[]).length : Buffer.from(d.embedding as string, 'base64').length, encoding === 'float' ? 128 : 512);
  assert.ok(body.usage.prompt_tokens > 0 && body.usage.total_tokens === body.usage.prompt_tokens);
}

const IAM_CREDENTIALS = { accessKeyId: 'AKIDCONTRACT', secretAccessKey: 'contract/secret' };

/** Masks what legitimately differs per transport: the request id in 5xx answers. */
const masked = (answer: Answer) => ({
  status: answer.status,
  headers: Object.fromEntries(HEADERS_THAT_MATTER.map((h) => [h, answer.headers[h]])),
  // And when each server started (OpenAI's `created` of the models it lists).
  body: answer.body.toString('utf8').replace(/request id [\w-]+/g, 'request id *').replace(/"created":\d+/g, '"created":*'),
});

describe('one contract, every adapter', () => {
  let repo: TempRepository;
  let local: LocalStack;
  let signedLocal: LocalStack;
  const sagemaker = new Map<string, SageMakerServer>();
  let lambda: ReturnType<typeof createApiGatewayHandler>;
  before(async () => {
    // iris v1 (the sample, live by pin) and v2 (a file that cannot load); a small body limit.
    repo = new TempRepository('contract-').sample('iris_forest').sample('debian_embeddings').file('iris_forest/2/model.onnx', 'not a model').config('iris_forest', { versionPolicy: { pinned: 1 }, maxRequestBytes: 4096 });
    const trees = tabularClassifier();
    repo.file('trees/1/model.onnx', trees.onnx).file('trees/1/conversion.json', JSON.stringify(trees.record));
    local = await startTestLocalServer(repo.dir);
    signedLocal = await startTestLocalServer(repo.dir, { iam: { credentials: IAM_CREDENTIALS } });
    // One endpoint per model, as SageMaker hosts them: each row goes to its model's.
    repo.copy(join(layOutTextPairFixtures({}, ['debian-reranker']).dir, 'debian-reranker'), 'debian-reranker');
    for (const model of ['iris_forest', 'trees', 'debian_embeddings', 'debian-reranker']) sagemaker.set(model, await startTestSageMakerServer(createTestService(new SingleModelSource(new DirectorySource(join(repo.dir, model)), model)), model));
    lambda = createApiGatewayHandler(createTestService(repo.dir));
  });
  after(async () => {
    await local?.close();
    await signedLocal?.close();
    for (const server of sagemaker.values()) await server.close();
  });

  const fromFetch = async (response: Response): Promise<Answer> => ({ status: response.status, headers: Object.fromEntries(response.headers), body: Buffer.from(await response.arrayBuffer()) });
  const fromResult = (result: APIGatewayProxyResult): Answer => ({
    status: result.statusCode,
    headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)])),
    body: Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'),
  });
  const binary = (row: Row) => typeof row.body !== 'string' && row.body !== undefined;

  const transports: Record<string, (row: Row) => Promise<Answer>> = {
    'local server': async (row) => fromFetch(await fetch(`${local.url}${row.path}`, { method: row.method, headers: row.headers, body: row.body })),
    'local server, signed (AUTH=iam)': async (row) => {
      // Signed by the aws4 npm package (not the signer the server verifies with), as a client of an IAM-authorized API signs.
      const url = new URL(`${signedLocal.url}${row.path}`);
      const signed = aws4.sign({ host: url.host, path: row.path, method: row.method, service: 'execute-api', region: 'us-east-1', headers: { ...row.headers }, body: row.body }, IAM_CREDENTIALS);
      const headers = Object.fromEntries(Object.entries(signed.headers ?? {}).filter(([k]) => !/^(host|content-length)$/i.test(k)).map(([k, v]) => [k, String(v)]));
      return fromFetch(await fetch(url, { method: row.method, headers, body: row.body }));
    },
    'Lambda, REST API event': async (row) => {
      // REST APIs pass the path percent-encoded, the headers as sent, binary bodies base64-encoded.
      const event = { httpMethod: row.method, path: row.path, resource: '/{proxy+}', headers: { 'Content-Type': 'application/json', ...row.headers }, body: row.body === undefined ? null : binary(row) ? (row.body as Buffer).toString('base64') : row.body, isBase64Encoded: binary(row), requestContext: { stage: 'prod' } };
      return fromResult(await lambda(event as unknown as APIGatewayProxyEvent, fakeLambdaContext()));
    },
    'Lambda, HTTP API event': async (row) => {
      // HTTP APIs pass rawPath decoded, under the stage, with lower-cased headers.
      const headers = Object.fromEntries(Object.entries({ 'Content-Type': 'application/json', ...row.headers }).map(([k, v]) => [k.toLowerCase(), v]));
      const event = { version: '2.0', rawPath: `/prod${decodeURIComponent(row.path)}`, rawQueryString: '', headers, requestContext: { stage: 'prod', http: { method: row.method, path: `/prod${row.path}` } }, body: row.body === undefined ? undefined : binary(row) ? (row.body as Buffer).toString('base64') : row.body, isBase64Encoded: binary(row) };
      return fromResult(await lambda(event as unknown as APIGatewayProxyEventV2, fakeLambdaContext()));
    },
    'SageMaker container': async (row) => {
      // As the API's proxy sends it: POST /invocations, the decoded route and method as custom attributes.
      const attributes = `path=${encodeURIComponent(decodeURIComponent(row.path))};method=${row.method}`;
      const model = row.endpoint ?? /^\/(?:v[12]\/models|openai)\/(trees|debian_embeddings|debian-reranker)(?=[/:]|$)/.exec(row.path)?.[1] ?? 'iris_forest';
      return fromFetch(await fetch(`${sagemaker.get(model)!.url}/invocations`, { method: 'POST', headers: { ...row.headers, 'X-Amzn-SageMaker-Custom-Attributes': attributes }, body: row.body }));
    },
  };

  for (const row of TABLE) {
    it(`${row.method} ${row.path}: ${row.name}`, async () => {
      const answers: Record<string, ReturnType<typeof masked>> = {};
      for (const [transport, send] of Object.entries(transports)) {
        const answer = await send(row);
        assert.equal(answer.status, row.status, `${transport}: ${answer.body.toString()}`);
        assert.equal(answer.headers['x-content-type-options'], 'nosniff', `${transport}: security headers on every answer`);
        const text = answer.body.toString('utf8');
        if (row.expect?.json !== undefined) assert.deepEqual(JSON.parse(text), row.expect.json, transport);
        // OpenAI's shape on the compatible routes: {"error": {"message", ...}}.
        if (row.expect?.error !== undefined) {
          const error = (JSON.parse(text) as { error: string | { message: string } }).error;
          assert.match(typeof error === 'string' ? error : error.message, row.expect.error, transport);
        }
        if (row.status >= 400) assert.deepEqual(Object.keys(JSON.parse(text) as object), ['error'], `${transport}: errors are {"error": ...}`);
        row.expect?.check?.(answer);
        answers[transport] = masked(answer);
      }
      const [first, ...others] = Object.entries(answers);
      for (const [transport, answer] of others) assert.deepEqual(answer, first[1], `${transport} answers as the ${first[0]} does`);
    });
  }
});
