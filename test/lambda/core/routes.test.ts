import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isInferenceError } from '../../../lambda/core/errors.ts';
import { COMPATIBLE_PATH, matchRoute, ROUTES } from '../../../lambda/core/routes.ts';

const failure = (method: string, path: string) => {
  try {
    matchRoute(method, path);
  } catch (error) {
    assert.ok(isInferenceError(error));
    return error;
  }
  throw new Error(`${method} ${path} matched a route`);
};

describe('routes', () => {
  it('matches every documented route to its kind, model and version', () => {
    assert.deepEqual(matchRoute('GET', '/v2/health/live'), { kind: 'live' });
    assert.deepEqual(matchRoute('GET', '/v2/health/ready'), { kind: 'ready' });
    assert.deepEqual(matchRoute('GET', '/v2'), { kind: 'server' });
    assert.deepEqual(matchRoute('GET', '/v2/models/iris'), { kind: 'metadata', model: 'iris' });
    assert.deepEqual(matchRoute('GET', '/v2/models/iris/versions/2'), { kind: 'metadata', model: 'iris', version: '2' });
    assert.deepEqual(matchRoute('GET', '/v2/models/iris/ready'), { kind: 'model-ready', model: 'iris' });
    assert.deepEqual(matchRoute('GET', '/v2/models/iris/versions/2/ready'), { kind: 'model-ready', model: 'iris', version: '2' });
    assert.deepEqual(matchRoute('POST', '/v2/models/iris/infer'), { kind: 'infer', model: 'iris' });
    assert.deepEqual(matchRoute('POST', '/v2/models/iris/versions/2/infer'), { kind: 'infer', model: 'iris', version: '2' });
    assert.deepEqual(matchRoute('POST', '/v2/models/iris/feedback'), { kind: 'feedback', model: 'iris' });
    assert.deepEqual(matchRoute('POST', '/v1/models/iris:predict'), { kind: 'predict', model: 'iris' });
    assert.deepEqual(matchRoute('POST', '/v1/models/iris/versions/2:predict'), { kind: 'predict', model: 'iris', version: '2' });
  });

  it('matches the OpenAI/Cohere-compatible routes, on the server and under a model\'s own base URL', () => {
    assert.deepEqual(matchRoute('POST', '/v1/embeddings'), { kind: 'embeddings' });
    assert.deepEqual(matchRoute('POST', '/v1/rerank'), { kind: 'rerank' });
    assert.deepEqual(matchRoute('POST', '/openai/minilm/v1/rerank'), { kind: 'rerank', scope: 'minilm' });
    assert.deepEqual(matchRoute('GET', '/v1/models'), { kind: 'openai-models' });
    assert.deepEqual(matchRoute('GET', '/v1/models/minilm'), { kind: 'openai-model', model: 'minilm' });
    assert.deepEqual(matchRoute('POST', '/openai/minilm/v1/embeddings'), { kind: 'embeddings', scope: 'minilm' });
    assert.deepEqual(matchRoute('GET', '/openai/minilm/v1/models'), { kind: 'openai-models', scope: 'minilm' });
    assert.deepEqual(matchRoute('GET', '/openai/minilm/v1/models/minilm'), { kind: 'openai-model', model: 'minilm', scope: 'minilm' });
    // GET /v1/models/{name} does not take TF Serving's :predict routes.
    assert.deepEqual(matchRoute('POST', '/v1/models/iris:predict'), { kind: 'predict', model: 'iris' });
    assert.equal(failure('GET', '/v1/models/iris:predict').statusCode, 405);
    assert.equal(failure('GET', '/v1/embeddings').statusCode, 405);
  });

  it('marks the compatible routes\' paths for OpenAI\'s error shape, and no other', () => {
    for (const path of ['/v1/embeddings', '/v1/rerank', '/v1/models', '/v1/models/minilm', '/openai/minilm/v1/embeddings', '/openai/minilm/v1/models/x', '/openai/minilm/nope']) assert.ok(COMPATIBLE_PATH.test(path), path);
    for (const path of ['/v2/models/minilm/infer', '/v1/models/iris:predict', '/v1/models/iris/versions/2:predict', '/v2', '/v1/other']) assert.ok(!COMPATIBLE_PATH.test(path), path);
  });

  it('has one documented template per route, each matched by its own pattern', () => {
    for (const route of ROUTES) {
      const example = route.template.replace('{name}', 'm').replace('{version}', '1');
      assert.ok(route.pattern.test(example), route.template);
    }
    assert.equal(new Set(ROUTES.map((r) => r.template)).size, ROUTES.length);
  });

  it('accepts a trailing slash and a lower-case method', () => {
    assert.deepEqual(matchRoute('post', '/v2/models/iris/infer/'), { kind: 'infer', model: 'iris' });
  });

  it('answers 405 with the allowed methods for a wrong method', () => {
    const error = failure('DELETE', '/v2/models/iris/infer');
    assert.equal(error.statusCode, 405);
    assert.equal(error.message, 'method DELETE is not allowed on /v2/models/iris/infer; allowed: POST');
    assert.deepEqual(error.headers, { Allow: 'POST' });
  });

  it('answers 404 naming the request for no route', () => {
    const error = failure('GET', '/v3/models');
    assert.equal(error.statusCode, 404);
    assert.match(error.message, /^no route for GET \/v3\/models; see GET \/v2/);
  });
});
