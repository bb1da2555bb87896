/** The shared HTTP pipeline on its own: error bodies, 5xx without internals, authorization, limits, observations. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceError } from '../../../../lambda/core/errors.ts';
import { errorResponse, type RequestHandler } from '../../../../lambda/core/request.ts';
import { createHttpPipeline, type HttpRequest } from '../../../../lambda/adapters/http/pipeline.ts';
import type { RequestObservation } from '../../../../lambda/observability/telemetry.ts';

const request = (extra: Partial<HttpRequest> = {}): HttpRequest => ({ method: 'GET', path: '/x', headers: {}, bodyBytes: 3, requestId: 'req-1', ...extra });
const answering = (answer: Awaited<ReturnType<RequestHandler['handle']>>): RequestHandler => ({ handle: async () => answer });

describe('HTTP pipeline', () => {
  it('passes answers through with the security headers added', async () => {
    const pipeline = createHttpPipeline(answering({ statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: '{"ok":true}' }));
    const response = await pipeline(request());
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, '{"ok":true}');
    assert.equal(response.headers['X-Content-Type-Options'], 'nosniff');
    assert.equal(response.headers['Strict-Transport-Security'], 'max-age=15552000; includeSubDomains');
  });

  it('shows 4xx messages as they are, with the error\'s headers', async () => {
    const pipeline = createHttpPipeline(answering(errorResponse(new InferenceError(405, 'method GET is not allowed', { headers: { Allow: 'POST' } }))));
    const response = await pipeline(request());
    assert.deepEqual([response.statusCode, JSON.parse(response.body as string), response.headers.Allow], [405, { error: 'method GET is not allowed' }, 'POST']);
  });

  it('answers 5xx with a stable message and the request id, logging the detail under that id', async () => {
    const logged: Record<string, unknown>[] = [];
    const logger = { info() {}, warn() {}, error: (message: string, extra?: Record<string, unknown>) => logged.push({ message, ...extra }) };
    const detail = 'model store s3://secret-bucket/models/ is unreachable: AccessDenied';
    const pipeline = createHttpPipeline(answering(errorResponse(new InferenceError(503, detail))), { logger });
    const response = await pipeline(request());
    assert.equal(response.statusCode, 503);
    assert.equal(JSON.parse(response.body as string).error, 'the model is unavailable right now (it could not be loaded, or the model store could not be read); retry shortly (request id req-1)');
    assert.equal(response.headers['X-Request-Id'], 'req-1');
    assert.doesNotMatch(response.body as string, /secret-bucket|AccessDenied/);
    assert.deepEqual(logged.map((l) => [l.message, l.requestId, l.cause]), [['request failed', 'req-1', detail]]);
  });

  it('answers a handler that throws something unexpected with a generic 500', async () => {
    const pipeline = createHttpPipeline({ handle: async () => { throw new TypeError('x is undefined'); } });
    const response = await pipeline(request());
    assert.deepEqual([response.statusCode, JSON.parse(response.body as string)], [500, { error: 'internal error' }]);
  });

  it('refuses before the core runs: an adapter\'s rejection, and a failed authorization', async () => {
    let called = 0;
    const core: RequestHandler = { handle: async () => (called++, { statusCode: 200, headers: {}, body: '' }) };
    const pipeline = createHttpPipeline(core, { authorize: (r) => { if (r.headers['x-api-key'] !== 'k') throw new InferenceError(401, 'missing or wrong x-api-key header'); } });
    assert.equal((await pipeline(request({ rejection: new InferenceError(413, 'too big') }))).statusCode, 413);
    assert.equal((await pipeline(request())).statusCode, 401);
    assert.equal(called, 0);
    assert.equal((await pipeline(request({ headers: { 'x-api-key': 'k' } }))).statusCode, 200);
  });

  it('refuses answers over the response limit, counting base64 growth where the transport adds it', async () => {
    const binary = answering({ statusCode: 200, headers: {}, body: new Uint8Array(300) });
    assert.equal((await createHttpPipeline(binary, { maxResponseBytes: 350 })(request())).statusCode, 200);
    const refused = await createHttpPipeline(binary, { maxResponseBytes: 350, binaryAsBase64: true, responseLimitName: 'a Lambda response' })(request());
    assert.equal(refused.statusCode, 413);
    assert.match(JSON.parse(refused.body as string).error, /^the answer would be 400 bytes, over the 350-byte limit of a Lambda response/);
  });

  it('observes every request once: model, version, status, reason, sizes', async () => {
    const seen: RequestObservation[] = [];
    const ok = createHttpPipeline(answering({ statusCode: 200, headers: {}, body: 'abcd', observed: { model: 'm', version: 2 } }), { onResponse: (o) => seen.push(o) });
    await ok(request({ method: 'POST', path: '/v2/models/m/infer', bodyBytes: 10 }));
    const bad = createHttpPipeline(answering(errorResponse(new InferenceError(400, 'bad', { reason: 'wrong_shape' }), { model: 'm' })), { onResponse: (o) => seen.push(o) });
    await bad(request());
    assert.deepEqual(seen.map(({ durationMs, ...o }) => (assert.ok(durationMs >= 0), o)), [
      { model: 'm', version: 2, method: 'POST', path: '/v2/models/m/infer', statusCode: 200, reason: undefined, requestBytes: 10, responseBytes: 4 },
      { model: 'm', version: undefined, method: 'GET', path: '/x', statusCode: 400, reason: 'wrong_shape', requestBytes: 3, responseBytes: Buffer.byteLength('{"error":"bad"}') },
    ]);
  });
});
