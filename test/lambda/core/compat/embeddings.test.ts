import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base64Embedding, MAX_EMBEDDING_INPUTS, parseEmbeddingsRequest, truncateEmbeddings } from '../../../../lambda/core/compat/embeddings.ts';
import { openAiErrorBody } from '../../../../lambda/core/compat/openai-errors.ts';
import { InferenceError, isInferenceError } from '../../../../lambda/core/errors.ts';

const refusal = (body: unknown) => {
  try {
    parseEmbeddingsRequest(body);
  } catch (error) {
    assert.ok(isInferenceError(error));
    assert.equal(error.statusCode, 400);
    return { message: error.message, param: error.param };
  }
  throw new Error('accepted');
};

describe('/v1/embeddings requests', () => {
  it('takes a text, texts, token ids and lists of token ids, float by default', () => {
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: 'a' }), { model: 'm', encoding: 'float', dimensions: undefined, texts: ['a'] });
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: ['a', 'b'], encoding_format: 'base64', dimensions: 8, user: 'u' }).texts, ['a', 'b']);
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: [1, 2, 3] }).tokenIds, [[1, 2, 3]]);
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: [[1, 2], [3]] }).tokenIds, [[1, 2], [3]]);
  });

  it('refuses each malformed field with a 400 naming it as OpenAI\'s param', () => {
    assert.deepEqual(refusal({ input: 'a' }), { message: '"model" must name a served model (GET /v1/models lists them)', param: 'model' });
    assert.deepEqual(refusal({ model: 'm' }), { message: '"input" is missing; send a text, a list of texts, or token ids', param: 'input' });
    assert.equal(refusal({ model: 'm', input: '  ' }).param, 'input');
    assert.equal(refusal({ model: 'm', input: [] }).param, 'input');
    assert.match(refusal({ model: 'm', input: ['a', 1] }).message, /^"input" mixes kinds or holds something else at index 1/);
    assert.match(refusal({ model: 'm', input: [[1], []] }).message, /at index 1/);
    assert.match(refusal({ model: 'm', input: Array(MAX_EMBEDDING_INPUTS + 1).fill('a') }).message, /^"input" holds 2049 items, over the limit of 2048/);
    assert.deepEqual(refusal({ model: 'm', input: 'a', encoding_format: 'binary' }), { message: '"encoding_format" must be "float" or "base64", got "binary"', param: 'encoding_format' });
    assert.equal(refusal({ model: 'm', input: 'a', dimensions: 0 }).param, 'dimensions');
    assert.equal(refusal({ model: 'm', input: 'a', dimensions: 1.5 }).param, 'dimensions');
    assert.deepEqual(refusal({ model: 'm', input: 'a', temperature: 1 }), { message: 'unrecognized request argument "temperature"; /v1/embeddings takes model, input, encoding_format, dimensions and user', param: 'temperature' });
    assert.equal(refusal([1]).param, 'input');
  });

  it('encodes base64 as little-endian float32, as the openai clients decode it', () => {
    const vector = [1, -2.5, 0.1];
    const bytes = Buffer.from(base64Embedding(vector), 'base64');
    assert.equal(bytes.length, 12);
    assert.deepEqual([0, 1, 2].map((i) => bytes.readFloatLE(i * 4)), vector.map(Math.fround));
    assert.equal(bytes.toString('hex').slice(0, 8), '0000803f');
  });

  it('cuts to "dimensions" and L2-normalizes again', () => {
    const [cut] = truncateEmbeddings([[3, 4, 12]], 2);
    assert.deepEqual(cut, [Math.fround(0.6), Math.fround(0.8)]);
    assert.deepEqual(truncateEmbeddings([[0, 0, 1]], 2), [[0, 0]]);
  });

  it('writes errors in OpenAI\'s shape: type by status, the param, the reason or model_not_found as code', () => {
    assert.deepEqual(openAiErrorBody(new InferenceError(400, 'bad', { param: 'input' }), 'bad'), { error: { message: 'bad', type: 'invalid_request_error', param: 'input', code: 'invalid_request' } });
    assert.deepEqual(openAiErrorBody(new InferenceError(404, 'no model', { param: 'model' }), 'no model').error.code, 'model_not_found');
    assert.deepEqual(openAiErrorBody(new InferenceError(401, 'key'), 'key').error, { message: 'key', type: 'authentication_error', param: null, code: 'unauthorized' });
    assert.equal(openAiErrorBody(new InferenceError(429, 'busy', { reason: 'throttled' }), 'busy').error.type, 'rate_limit_error');
    assert.deepEqual(openAiErrorBody(new InferenceError(503, 'detail'), 'public (request id r)').error, { message: 'public (request id r)', type: 'server_error', param: null, code: 'model_unavailable' });
  });
});
