import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult } from 'aws-lambda';
import { createApiGatewayHandler } from '../../../../lambda/adapters/api-gateway/handler.ts';
import { createTestService, fakeLambdaContext, ROOT, SAMPLES_DIR } from '../../../helpers.ts';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', name), 'utf8')) as T;

const context = () => fakeLambdaContext();

const handler = createApiGatewayHandler(createTestService(SAMPLES_DIR));
const invoke = (event: unknown) => handler(event as APIGatewayProxyEvent, context()) as Promise<APIGatewayProxyResult>;

describe('API Gateway handler', () => {
  it('answers a REST API proxy event with the predictions and the request id', async () => {
    const result = await invoke(fixture('rest-api-infer.json'));
    assert.equal(result.statusCode, 200);
    const body = JSON.parse(result.body);
    assert.equal(body.id, 'order-7');
    assert.equal(body.model_name, 'iris_forest');
    assert.deepEqual(body.outputs[0], { name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] });
    assert.equal(result.headers?.['X-Model-Version'], '1');
    assert.equal(result.headers?.['Content-Type'], 'application/json');
  });

  it('answers an HTTP API (v2) event with a base64 body under a named stage', async () => {
    const result = await invoke(fixture<APIGatewayProxyEventV2>('http-api-infer.json'));
    assert.equal(result.statusCode, 200, result.body);
    assert.deepEqual(JSON.parse(result.body).outputs[0].data, [0]);
  });

  it('adds security headers to every answer, errors included', async () => {
    const event = { ...fixture<APIGatewayProxyEvent>('rest-api-infer.json'), body: '{' };
    const result = await invoke(event);
    assert.equal(result.statusCode, 400);
    assert.equal(result.headers?.['Strict-Transport-Security'], 'max-age=15552000; includeSubDomains');
    assert.equal(result.headers?.['X-Content-Type-Options'], 'nosniff');
  });

  it('answers 400 naming the parse error for a JSON body that is not JSON', async () => {
    const result = await invoke({ ...fixture<APIGatewayProxyEvent>('rest-api-infer.json'), body: '{"inputs": [' });
    assert.equal(result.statusCode, 400);
    assert.match(JSON.parse(result.body).error, /^request body is not valid JSON: /);
  });

  it('answers 400 for an empty body', async () => {
    const result = await invoke({ ...fixture<APIGatewayProxyEvent>('rest-api-infer.json'), body: null });
    assert.equal(result.statusCode, 400);
    assert.deepEqual(JSON.parse(result.body), { error: 'request body is empty; expected a JSON object' });
  });

  it('parses a body sent without a JSON content type, as curl -d sends it', async () => {
    const event = fixture<APIGatewayProxyEvent>('rest-api-infer.json');
    const result = await invoke({ ...event, headers: { ...event.headers, 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(result.statusCode, 200, result.body);
  });

  it('answers GET metadata on an HTTP API event that has no body', async () => {
    const event = fixture<APIGatewayProxyEventV2>('http-api-infer.json');
    const result = await invoke({
      ...event,
      rawPath: '/prod/v2/models/iris_forest',
      body: undefined,
      isBase64Encoded: false,
      requestContext: { ...event.requestContext, http: { ...event.requestContext.http, method: 'GET' } },
    });
    assert.equal(result.statusCode, 200, result.body);
    assert.equal(JSON.parse(result.body).platform, 'onnxruntime_onnx');
  });

  it('answers 405 with an Allow header for a wrong method', async () => {
    const result = await invoke({ ...fixture<APIGatewayProxyEvent>('rest-api-infer.json'), httpMethod: 'GET' });
    assert.equal(result.statusCode, 405);
    assert.equal(result.headers?.Allow, 'POST');
  });

  it('answers 413 naming the limit when the body is over the model limit', async () => {
    const event = fixture<APIGatewayProxyEvent>('rest-api-infer.json');
    const big = createApiGatewayHandler(createTestService(SAMPLES_DIR), {});
    const body = JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }], pad: 'x'.repeat(7 * 1024 * 1024) });
    const result = (await big({ ...event, body }, context())) as APIGatewayProxyResult;
    assert.equal(result.statusCode, 413);
    assert.match(JSON.parse(result.body).error, /^request body is \d+ bytes, over the 6291456-byte limit of model "iris_forest"/);
  });

  it('sends CORS headers only when origins are configured', async () => {
    const event = fixture<APIGatewayProxyEvent>('rest-api-infer.json');
    const withOrigin = { ...event, headers: { ...event.headers, Origin: 'https://app.example.com' } };
    const off = await invoke(withOrigin);
    assert.equal(off.headers?.['Access-Control-Allow-Origin'], undefined);
    const corsHandler = createApiGatewayHandler(createTestService(SAMPLES_DIR), { corsOrigins: ['https://app.example.com'] });
    const on = (await corsHandler(withOrigin, context())) as APIGatewayProxyResult;
    assert.equal(on.headers?.['Access-Control-Allow-Origin'], 'https://app.example.com');
  });
});

describe('API Gateway handler: exact 64-bit integers', () => {
  it('keeps INT64 values past 2^53 exact through the handler', async () => {
    const handler = createApiGatewayHandler(createTestService(join(ROOT, 'test', 'fixtures', 'models')));
    const event = { ...fixture<APIGatewayProxyEvent>('rest-api-infer.json'), path: '/v2/models/identity_int64/infer', body: '{"inputs":[{"name":"x","datatype":"INT64","shape":[1,2],"data":[9007199254740993,-9223372036854775807]}]}' };
    const result = (await handler(event, context())) as APIGatewayProxyResult;
    assert.equal(result.statusCode, 200, result.body);
    assert.match(result.body, /"data":\[9007199254740993,-9223372036854775807\]/);
  });
});
