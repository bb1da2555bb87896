/**
 * Requests an adversarial review found answered 200 or 500 where they must be 400/404: deep nesting
 * anywhere, prototype names as numbers, numbers past FP64's range, double-decoded names. Each goes
 * through the local server over HTTP and the Lambda handler (REST API events), as callers send it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiGatewayHandler } from '../../lambda/adapters/api-gateway/handler.ts';
import type { LocalStack } from '../../lambda/entry/local-stack.ts';
import { createTestService, fakeLambdaContext, startTestLocalServer, TempRepository } from '../helpers.ts';

const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const iris = (data: string) => `{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ${data}}]}`;
const int64 = (data: string) => `{"inputs": [{"name": "x", "datatype": "INT64", "shape": [1, 2], "data": ${data}}]}`;

/** [what, path, body] for a value nested `depth` deep in each place a caller controls. */
const nested = (depth: number): [string, string, string][] => [
  ['the id', '/v2/models/iris_forest/infer', `{"id": ${deep(depth)}, "inputs": []}`],
  ['a data element', '/v2/models/iris_forest/infer', iris(`[1, 2, 3, ${deep(depth)}]`)],
  ['the data itself', '/v2/models/iris_forest/infer', iris(deep(depth))],
  ['parameters', '/v2/models/iris_forest/infer', `{"parameters": {"p": ${deep(depth)}}, "inputs": []}`],
  ['outputs', '/v2/models/iris_forest/infer', `{"inputs": [], "outputs": ${deep(depth)}}`],
  ['a :predict row', '/v1/models/iris_forest:predict', `{"instances": [${deep(depth)}]}`],
  ['the feedback label', '/v2/models/iris_forest/feedback', `{"model_version": "1", "label": ${deep(depth)}, "predicted": 1}`],
  ['the feedback id', '/v2/models/iris_forest/feedback', `{"model_version": "1", "id": ${deep(depth)}, "outcome": 1}`],
  // A 16-digit run makes an INT64 model read the body exactly (a reviver, which recurses).
  ['an INT64 body read exactly', '/v2/models/identity_int64/infer', int64(`[9007199254740993, ${deep(depth)}]`)],
];

describe('hostile input answers 4xx naming the problem', () => {
  let local: LocalStack;
  let lambda: ReturnType<typeof createApiGatewayHandler>;
  const send = async (path: string, body: string): Promise<{ via: string; status: number; error?: string; text: string }[]> => {
    const http = await fetch(`${local.url}${path}`, { method: 'POST', body });
    const httpText = await http.text();
    const event = { httpMethod: 'POST', path, headers: { 'Content-Type': 'application/json' }, body, isBase64Encoded: false, requestContext: {} } as unknown as APIGatewayProxyEvent;
    const result = await lambda(event, fakeLambdaContext());
    const error = (text: string) => {
      try {
        return (JSON.parse(text) as { error?: string }).error;
      } catch {
        return undefined;
      }
    };
    return [
      { via: 'local server', status: http.status, error: error(httpText), text: httpText },
      { via: 'Lambda', status: result.statusCode, error: error(result.body), text: result.body },
    ];
  };
  before(async () => {
    const repo = new TempRepository('hostile-').sample('iris_forest').fixture('identity_int64').fixture('identity_fp64');
    local = await startTestLocalServer(repo.dir);
    lambda = createApiGatewayHandler(createTestService(repo.dir));
  });
  after(() => local.close());

  for (const depth of [100, 2_000, 5_000, 20_000, 200_000]) {
    it(`answers 400 for JSON nested ${depth} deep, wherever it is`, async () => {
      for (const [what, path, body] of nested(depth)) {
        for (const answer of await send(path, body)) {
          assert.equal(answer.status, 400, `${what} via ${answer.via}: ${answer.text.slice(0, 200)}`);
          assert.ok(answer.error !== undefined && answer.error.length > 10, `${what} via ${answer.via}: ${answer.text.slice(0, 200)}`);
          assert.doesNotMatch(answer.error!, /call stack/i, `${what} via ${answer.via}`);
        }
      }
    });
  }

  it('refuses names of Object.prototype where numbers go, on v2 and :predict', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty']) {
      for (const [path, body] of [
        ['/v2/models/iris_forest/infer', iris(JSON.stringify([name, 1, 2, 3]))],
        ['/v2/models/identity_fp64/infer', `{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": ["${name}", 1]}]}`],
        ['/v1/models/iris_forest:predict', `{"instances": [["${name}", 1, 2, 3]]}`],
      ]) {
        for (const answer of await send(path, body)) {
          assert.equal(answer.status, 400, `${name} on ${path} via ${answer.via}`);
          assert.match(answer.error!, new RegExp(`value at index 0 is "${name}", not a number \\(FP(32|64)\\)$`));
        }
      }
    }
  });

  it('refuses numbers past FP64\'s range as out of range, and still takes the strings that stand for infinities', async () => {
    for (const [path, body] of [
      ['/v2/models/iris_forest/infer', iris('[1e400, 1, 2, 3]')],
      ['/v2/models/iris_forest/infer', iris('[1, -1e400, 2, 3]')],
      ['/v2/models/identity_fp64/infer', '{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1, 2e308]}]}'],
    ]) {
      for (const answer of await send(path, body)) {
        assert.equal(answer.status, 400, `${body} via ${answer.via}`);
        assert.match(answer.error!, /is -?a number past FP64's range, out of range for FP(32|64)/);
      }
    }
    for (const answer of await send('/v2/models/identity_fp64/infer', '{"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": ["Infinity", "-Infinity"]}]}')) {
      assert.equal(answer.status, 200, answer.via);
      assert.match(answer.text, /"data":\["Infinity","-Infinity"\]/);
    }
  });

  it('decodes a model name once: an encoded percent sign names no model (404), never a 500', async () => {
    for (const path of ['/v2/models/%25E0/infer', '/v1/models/%25:predict', '/v2/models/%25/versions/%251/infer']) {
      for (const answer of await send(path, iris('[1, 2, 3, 4]'))) {
        assert.equal(answer.status, 404, `${path} via ${answer.via}: ${answer.text}`);
        assert.match(answer.error!, /^model "%(E0)?" not found; available: /);
      }
    }
    const bad = await fetch(`${local.url}/v2/models/%E0%A4/infer`, { method: 'POST', body: '{}' });
    assert.equal(bad.status, 400, 'a path that is not valid percent-encoding');
    assert.match(((await bad.json()) as { error: string }).error, /^request path is not valid percent-encoding/);
  });
});

describe('exact integers without reading bodies twice', () => {
  /** Counts JSON.parse calls that pass a reviver (the exact-integer read) during `run`. */
  async function reviverParses(run: () => Promise<unknown>): Promise<number> {
    const original = JSON.parse;
    let count = 0;
    JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
      if (reviver !== undefined) count++;
      return original(text, reviver);
    }) as typeof JSON.parse;
    try {
      await run();
    } finally {
      JSON.parse = original;
    }
    return count;
  }

  it('reads an FP32 model\'s body once, whatever integers it holds elsewhere', async () => {
    const service = createTestService(new TempRepository('once-').sample('iris_forest').dir);
    const body = `{"parameters": {"trace": 123456789012345678901}, ${iris('[5.1, 3.5, 1.4, 0.2]').slice(1)}`;
    const count = await reviverParses(async () => assert.equal((await service.handle({ method: 'POST', path: '/v2/models/iris_forest/infer', body })).statusCode, 200));
    assert.equal(count, 0);
  });

  it('reads an INT64 model\'s body exactly, and only when it holds a long digit run', async () => {
    const service = createTestService(new TempRepository('exact-').fixture('identity_int64').dir);
    const exact = await reviverParses(async () => {
      const answer = await service.handle({ method: 'POST', path: '/v2/models/identity_int64/infer', body: int64('[9007199254740993, -9223372036854775807]') });
      assert.match(answer.body as string, /"data":\[9007199254740993,-9223372036854775807\]/);
    });
    assert.equal(exact, 1);
    assert.equal(await reviverParses(() => service.handle({ method: 'POST', path: '/v2/models/identity_int64/infer', body: int64('[7, 8]') })), 0);
  });
});
