/**
 * The official `openai` npm client (7.55.0) pointed at the local server: embeddings.create returns
 * the vectors /v2/models/{name}/infer answers (float and base64, texts and token ids, with and
 * without "dimensions"), models list and retrieve, each error raises the client's own exception
 * class with a readable message, and an API-key server takes the client with `x-api-key` set as a
 * default header, as a deployed API with authMode=apiKey does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { startTestLocalServer } from '../../helpers.ts';
import { compatTestRepository, EMBEDDER, inferVectors, matryoshka, TEXTS, tokenIds } from './compat-repository.ts';

const API_KEY = 'compat-test-key';

describe('the openai npm client against the local server', () => {
  let local: LocalStack;
  let keyed: LocalStack;
  let client: OpenAI;
  let expected: number[][];
  before(async () => {
    const repo = compatTestRepository('openai-node-');
    local = await startTestLocalServer(repo.dir);
    keyed = await startTestLocalServer(repo.dir, { apiKey: API_KEY });
    // No retries: a test sees the first answer. The key is the client's Bearer token, which the server ignores.
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    expected = await inferVectors(local.url, TEXTS);
  });
  after(async () => {
    await local?.close();
    await keyed?.close();
  });

  it('embeds texts as floats, equal to /infer, with the usage counted', async () => {
    const answer = await client.embeddings.create({ model: EMBEDDER, input: TEXTS, encoding_format: 'float' });
    assert.equal(answer.object, 'list');
    assert.equal(answer.model, EMBEDDER);
    assert.deepEqual(answer.data.map((d) => [d.object, d.index]), TEXTS.map((_, i) => ['embedding', i]));
    assert.deepEqual(answer.data.map((d) => d.embedding), expected);
    const tokens = tokenIds(TEXTS).reduce((sum, ids) => sum + ids.length, 0);
    assert.deepEqual(answer.usage, { prompt_tokens: tokens, total_tokens: tokens });
  });

  it('embeds with the client\'s default encoding (base64 on the wire, decoded by the client), equal to /infer', async () => {
    const raw = await client.embeddings.create({ model: EMBEDDER, input: TEXTS }).asResponse();
    const wire = (await raw.clone().json()) as { data: { embedding: unknown }[] };
    assert.equal(typeof wire.data[0].embedding, 'string', 'the client asks for base64 unless told otherwise');
    const answer = await client.embeddings.create({ model: EMBEDDER, input: TEXTS });
    assert.deepEqual(answer.data.map((d) => d.embedding), expected);
  });

  it('embeds one text as a string, and token ids fed straight to the model, equal to /infer on the texts', async () => {
    const one = await client.embeddings.create({ model: EMBEDDER, input: TEXTS[0], encoding_format: 'float' });
    assert.deepEqual(one.data.map((d) => d.embedding), await inferVectors(local.url, [TEXTS[0]]));
    const ids = tokenIds(TEXTS);
    const byIds = await client.embeddings.create({ model: EMBEDDER, input: ids, encoding_format: 'float' });
    assert.deepEqual(byIds.data.map((d) => d.embedding), expected);
    assert.equal(byIds.usage.prompt_tokens, ids.flat().length);
  });

  it('cuts to "dimensions" and renormalizes, in float and base64', async () => {
    for (const encoding_format of ['float', 'base64'] as const) {
      const answer = await client.embeddings.create({ model: EMBEDDER, input: TEXTS, dimensions: 32, encoding_format });
      answer.data.forEach((d, i) => {
        // Explicitly asked for, base64 comes back as the string: little-endian float32 bytes.
        const bytes = encoding_format === 'base64' ? Buffer.from(d.embedding as unknown as string, 'base64') : undefined;
        const vector = bytes === undefined ? d.embedding : Array.from({ length: bytes.length / 4 }, (_, j) => bytes.readFloatLE(j * 4));
        assert.equal(vector.length, 32);
        const want = matryoshka(expected[i], 32);
        vector.forEach((v, j) => assert.ok(Math.abs(v - want[j]) < 1e-6, `${encoding_format} text ${i} value ${j}: ${v} vs ${want[j]}`));
        assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-6);
      });
    }
    // The model's own size is always allowed, and changes nothing.
    const full = await client.embeddings.create({ model: EMBEDDER, input: TEXTS, dimensions: expected[0].length, encoding_format: 'float' });
    assert.deepEqual(full.data.map((d) => d.embedding), expected);
  });

  it('raises the client\'s exceptions with the server\'s message, param and code', async () => {
    const failure = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        return error as InstanceType<typeof OpenAI.APIError>;
      }
      throw new Error('the call succeeded');
    };
    const unknown = await failure(client.embeddings.create({ model: 'nope', input: 'x' }));
    assert.ok(unknown instanceof OpenAI.NotFoundError);
    assert.equal(unknown.code, 'model_not_found');
    assert.equal(unknown.param, 'model');
    assert.match(unknown.message, /^404 model "nope" not found; available: debian_embeddings, debian_sections, iris_forest, plain_embeddings; GET \/v1\/models lists them$/);
    const dims = await failure(client.embeddings.create({ model: EMBEDDER, input: 'x', dimensions: 100 }));
    assert.ok(dims instanceof OpenAI.BadRequestError);
    assert.equal(dims.param, 'dimensions');
    assert.equal(dims.type, 'invalid_request_error');
    assert.match(dims.message, /^400 "dimensions" is 100; model "debian_embeddings" takes 32, 64, 128$/);
    const plain = await failure(client.embeddings.create({ model: 'plain_embeddings', input: 'x', dimensions: 64 }));
    assert.equal(plain.message, '400 model "plain_embeddings" does not take "dimensions": its embeddings have 128 dimensions and its config.json lists no "matryoshkaDimensions" (set it only for a model trained Matryoshka-style); leave "dimensions" out or send 128');
    const classifier = await failure(client.embeddings.create({ model: 'debian_sections', input: 'x' }));
    assert.match(classifier.message, /^400 model "debian_sections" is a text-classification model; \/v1\/embeddings serves feature-extraction/);
    const empty = await failure(client.embeddings.create({ model: EMBEDDER, input: ['fine', ' '] }));
    assert.match(empty.message, /^400 "input" text 1 is empty/);
    const ids = await failure(client.embeddings.create({ model: EMBEDDER, input: [[1, 2, 10_000_000]], encoding_format: 'float' }));
    assert.match(ids.message, /^400 input 0 token 2 is 10000000, not a token id of model "debian_embeddings" \(integers 0 to \d+\)$/);
  });

  it('lists and retrieves the served models as OpenAI does', async () => {
    const listed = [];
    for await (const model of client.models.list()) listed.push(model);
    assert.deepEqual(listed.map((m) => m.id), ['debian_embeddings', 'debian_sections', 'iris_forest', 'plain_embeddings']);
    for (const m of listed) {
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'modelship');
      assert.ok(Number.isInteger(m.created) && m.created > 1.7e9);
    }
    assert.deepEqual(await client.models.retrieve(EMBEDDER), listed[0]);
  });

  it('works through the model\'s own base URL (/openai/{name}/v1), which serves that model only', async () => {
    const scoped = new OpenAI({ baseURL: `${local.url}/openai/${EMBEDDER}/v1`, apiKey: 'unused', maxRetries: 0 });
    const answer = await scoped.embeddings.create({ model: EMBEDDER, input: TEXTS });
    assert.deepEqual(answer.data.map((d) => d.embedding), expected);
    const listed = [];
    for await (const model of scoped.models.list()) listed.push(model.id);
    assert.deepEqual(listed, [EMBEDDER]);
    await assert.rejects(scoped.embeddings.create({ model: 'debian_sections', input: 'x' }), (error: InstanceType<typeof OpenAI.APIError>) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.match(error.message, /^400 this base URL \(\/openai\/debian_embeddings\/v1\) serves model "debian_embeddings" only, and the request names "debian_sections"; point the client's base URL at \/openai\/debian_sections\/v1$/);
      return true;
    });
  });

  it('sends the API key as the x-api-key default header (authMode=apiKey), and raises a readable 401 without it', async () => {
    const withKey = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'unused', defaultHeaders: { 'x-api-key': API_KEY }, maxRetries: 0 });
    const answer = await withKey.embeddings.create({ model: EMBEDDER, input: TEXTS });
    assert.deepEqual(answer.data.map((d) => d.embedding), expected);
    const without = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
    await assert.rejects(without.embeddings.create({ model: EMBEDDER, input: 'x' }), (error: InstanceType<typeof OpenAI.APIError>) => {
      assert.ok(error instanceof OpenAI.AuthenticationError);
      assert.equal(error.type, 'authentication_error');
      assert.match(error.message, /^401 missing or wrong x-api-key header/);
      return true;
    });
  });
});
