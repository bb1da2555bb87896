/**
 * Property-based fuzzing of every route, through the Lambda handler in process and the local
 * server over HTTP: random and mutated v2 and :predict bodies, paths, methods, headers and sizes.
 * Only the declared statuses may come back, every error must name the problem, and nothing may
 * crash, hang or leave an unhandled rejection. Seeded: FUZZ_SEED and FUZZ_RUNS change the run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createApiGatewayHandler } from '../../lambda/adapters/api-gateway/handler.ts';
import type { LocalStack } from '../../lambda/entry/local-stack.ts';
import { createTestService, fakeLambdaContext, startTestLocalServer, TempRepository } from '../helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const ALLOWED = new Set([200, 202, 400, 404, 405, 413, 503]);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** Samples and datatype fixtures together: every datatype and every sample's signature is a target. */
function repository(): string {
  const repo = new TempRepository('fuzz-').sample();
  for (const name of ['identity_int64', 'identity_bytes', 'identity_fp16', 'identity_bool', 'identity_uint8', 'add_two']) repo.fixture(name);
  return repo.dir;
}

const MODELS = ['iris_forest', 'digits_mlp', 'breast_cancer_classifier', 'diabetes_regressor', 'identity_int64', 'identity_bytes', 'identity_fp16', 'identity_bool', 'identity_uint8', 'add_two'];
const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'FLOAT', '', 'fp32'];

/** Written into the JSON text as 1e400, a number past FP64's range (JSON.stringify cannot write one). */
const OVERFLOW = '\u0000overflow';
/** Replaced in the JSON text by arrays nested thousands deep. */
const DEEP = '\u0000deep';
const scalar = fc.oneof(
  fc.integer(), fc.double(), fc.boolean(), fc.string({ maxLength: 8 }), fc.constant(null), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom('NaN', 'Infinity', '9223372036854775808'),
  // Names of Object.prototype, which a lookup on a plain object would take for known strings.
  fc.constantFrom('constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'),
  fc.constantFrom(OVERFLOW, DEEP),
);
const data = fc.oneof(fc.array(scalar, { maxLength: 70 }), fc.array(fc.array(scalar, { maxLength: 9 }), { maxLength: 9 }), scalar, fc.anything({ maxDepth: 3 }));
const shape = fc.oneof(fc.array(fc.integer({ min: -3, max: 70 }), { maxLength: 4 }), fc.anything({ maxDepth: 1 }), fc.constant([1, 4]), fc.constant([2, 8, 8]), fc.constant([1e12, 1e12]));
const tensor = fc.record(
  { name: fc.constantFrom('features', 'image', 'x', 'a', 'b', 'y', '', 'unknown'), datatype: fc.constantFrom(...DATATYPES), shape, data },
  { requiredKeys: [] },
);
const v2Body = fc.record(
  { id: fc.oneof(fc.string(), fc.integer()), inputs: fc.oneof(fc.array(tensor, { maxLength: 3 }), fc.anything({ maxDepth: 2 })), outputs: fc.oneof(fc.array(fc.record({ name: fc.string() })), fc.anything({ maxDepth: 1 })), parameters: fc.anything({ maxDepth: 1 }) },
  { requiredKeys: [] },
);
const predictBody = fc.record({ instances: fc.oneof(fc.array(fc.array(scalar, { maxLength: 35 }), { maxLength: 5 }), fc.array(fc.dictionary(fc.constantFrom('a', 'b', 'x', 'z'), fc.array(scalar)), { maxLength: 3 }), fc.anything({ maxDepth: 2 })) }, { requiredKeys: [] });
const feedbackBody = fc.record({ model_version: fc.oneof(fc.constantFrom('1', '2', 'x'), fc.integer()), outcome: fc.oneof(fc.constantFrom(0, 1, true, false), scalar), label: scalar, predicted: scalar, id: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] });
/** Bodies: structured ones, their JSON cut short or mangled, and plain noise. */
const body = fc.oneof(
  v2Body.map((b) => stringify(b)),
  predictBody.map((b) => stringify(b)),
  feedbackBody.map((b) => stringify(b)),
  fc.tuple(v2Body, fc.nat()).map(([b, cut]) => stringify(b).slice(0, cut)),
  fc.tuple(v2Body, fc.nat(), fc.constantFrom('{', '[', '"', '\\', ',', ']', '\u0000', 'é')).map(([b, at, ch]) => { const t = stringify(b); const i = at % (t.length + 1); return t.slice(0, i) + ch + t.slice(i); }),
  fc.string({ maxLength: 200 }),
  fc.constant(''),
  fc.constant(undefined),
);
const segment = fc.oneof(fc.constantFrom(...MODELS), fc.constantFrom('v2', 'v1', 'models', 'versions', 'infer', 'ready', 'health', 'live', 'feedback', '1', '2', '0', '-1', '999999999999', '..', '%2e%2e', ':predict', '%25E0', '%25', '%E0%A4', '%25:predict'), fc.string({ maxLength: 12 }).map(encodeURIComponent));
const path = fc.oneof(
  fc.tuple(fc.constantFrom(...MODELS), fc.option(fc.constantFrom('1', '2', '0', 'x', '01'), { nil: undefined }), fc.constantFrom('/infer', '/ready', '', '/feedback', '/infer/', '/metadata'))
    .map(([m, v, tail]) => `/v2/models/${m}${v === undefined ? '' : `/versions/${v}`}${tail}`),
  fc.tuple(fc.constantFrom(...MODELS), fc.option(fc.constantFrom('1', '3', 'x'), { nil: undefined })).map(([m, v]) => `/v1/models/${m}${v === undefined ? '' : `/versions/${v}`}:predict`),
  fc.constantFrom('/v2', '/v2/health/live', '/v2/health/ready', '/', '/v2/models', '//v2//models'),
  fc.array(segment, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'post');
const headers = fc.dictionary(fc.constantFrom('Content-Type', 'content-type', 'X-Assignment-Key', 'Accept', 'X-Weird', 'Content-Encoding'), fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'gzip', ''), fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s))), { maxKeys: 3 });

/** Each model's real inputs: near-valid bodies reach onnxruntime and exercise value checks. */
const SPECS: Record<string, { name: string; datatype: string; row: number[] }[]> = {
  iris_forest: [{ name: 'features', datatype: 'FP32', row: [4] }],
  digits_mlp: [{ name: 'image', datatype: 'FP32', row: [8, 8] }],
  breast_cancer_classifier: [{ name: 'features', datatype: 'FP32', row: [30] }],
  diabetes_regressor: [{ name: 'features', datatype: 'FP32', row: [10] }],
  identity_int64: [{ name: 'x', datatype: 'INT64', row: [2] }],
  identity_bytes: [{ name: 'x', datatype: 'BYTES', row: [2] }],
  identity_fp16: [{ name: 'x', datatype: 'FP16', row: [2] }],
  identity_bool: [{ name: 'x', datatype: 'BOOL', row: [2] }],
  identity_uint8: [{ name: 'x', datatype: 'UINT8', row: [2] }],
  add_two: [{ name: 'a', datatype: 'FP32', row: [3] }, { name: 'b', datatype: 'FP32', row: [3] }],
};
const valueFor: Record<string, fc.Arbitrary<unknown>> = {
  FP32: fc.oneof({ weight: 8, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }) }, { weight: 1, arbitrary: scalar }),
  INT64: fc.oneof({ weight: 8, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }, { weight: 1, arbitrary: scalar }),
  BYTES: fc.oneof({ weight: 8, arbitrary: fc.string() }, { weight: 1, arbitrary: scalar }),
  FP16: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -60000, max: 60000 }) }, { weight: 1, arbitrary: scalar }),
  BOOL: fc.oneof({ weight: 8, arbitrary: fc.boolean() }, { weight: 1, arbitrary: scalar }),
  UINT8: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 255 }) }, { weight: 1, arbitrary: scalar }),
};
/** A request to a model's infer or :predict route with its own inputs, sometimes one detail off. */
const nearValid = fc.constantFrom(...MODELS).chain((model) =>
  fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean(), fc.boolean(), fc.integer({ min: -1, max: 1 })).chain(([batch, predict, versioned, off]) => {
    const specs = SPECS[model];
    const rowSize = (spec: { row: number[] }) => spec.row.reduce((a, b) => a * b, 1);
    const inputs = fc.tuple(...specs.map((spec) => fc.array(valueFor[spec.datatype], { minLength: batch * rowSize(spec) + (off === 1 ? 1 : 0), maxLength: batch * rowSize(spec) + (off === 1 ? 1 : 0) })));
    return inputs.map((datas) => {
      const path = predict ? `/v1/models/${model}${versioned ? '/versions/1' : ''}:predict` : `/v2/models/${model}${versioned ? '/versions/1' : ''}/infer`;
      const body = predict
        ? { instances: Array.from({ length: batch }, (_, r) => (specs.length === 1 ? datas[0].slice(r * rowSize(specs[0]), (r + 1) * rowSize(specs[0])) : Object.fromEntries(specs.map((s, i) => [s.name, datas[i].slice(r * rowSize(s), (r + 1) * rowSize(s))])))) }
        : { inputs: specs.map((spec, i) => ({ name: spec.name, datatype: off === -1 ? 'FP64' : spec.datatype, shape: [batch, ...spec.row], data: datas[i] })) };
      return { path, body: stringify(body) };
    });
  }),
);

function stringify(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? JSON.rawJSON(v.toString()) : v)) ?? 'null';
  return text.replaceAll(JSON.stringify(OVERFLOW), '-1e400').replaceAll(JSON.stringify(DEEP), '['.repeat(6000) + ']'.repeat(6000));
}

function checkAnswer(status: number, text: string, what: string): void {
  assert.ok(ALLOWED.has(status), `${what}: status ${status} is not allowed: ${text.slice(0, 300)}`);
  if (status >= 400) {
    const parsed = JSON.parse(text) as { error?: unknown };
    assert.equal(typeof parsed.error, 'string', `${what}: error body ${text.slice(0, 200)}`);
    assert.ok((parsed.error as string).length > 10, `${what}: error "${parsed.error}" names nothing`);
  }
}

describe(`fuzzing every route (seed ${SEED})`, () => {
  let server: LocalStack;
  let handler: ReturnType<typeof createApiGatewayHandler>;
  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    const dir = repository();
    handler = createApiGatewayHandler(createTestService(dir));
    server = await startTestLocalServer(dir, { maxBodyBytes: 64 * 1024 });
  });
  after(async () => {
    await server.close();
    process.off('unhandledRejection', onUnhandled);
  });

  it(`answers ${Math.round(RUNS * 0.1)} random binary tensor requests (JSON header and raw bytes) with declared statuses only`, async () => {
    const headerJson = fc.oneof(v2Body, fc.constantFrom(...MODELS).map((m) => ({ inputs: SPECS[m].map((spec) => ({ name: spec.name, datatype: spec.datatype, shape: [1, ...spec.row], parameters: { binary_data_size: 4 * spec.row.reduce((a, b) => a * b, 1) } })), parameters: { binary_data_output: true } })));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...MODELS), headerJson, fc.uint8Array({ maxLength: 400 }), fc.integer({ min: -3, max: 40 }), fc.boolean(), async (model, header, bytes, skew, declared) => {
        const json = Buffer.from(stringify(header));
        const body = Buffer.concat([json, Buffer.from(bytes)]);
        const event = {
          httpMethod: 'POST',
          path: `/v2/models/${model}/infer`,
          headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': declared ? String(json.length + (skew % 7 === 0 ? skew : 0)) : String(skew) },
          body: body.toString('base64'),
          isBase64Encoded: true,
          requestContext: {},
        };
        const result = (await handler(event as unknown as APIGatewayProxyEvent, fakeLambdaContext())) as APIGatewayProxyResult;
        checkAnswer(result.statusCode, result.isBase64Encoded ? '{"error":"binary answer"}' : result.body, `binary ${model}`);
      }),
      { seed: SEED + 2, numRuns: Math.round(RUNS * 0.1) },
    );
    assert.deepEqual(unhandled, []);
  });

  it(`answers ${Math.round(RUNS * 0.75)} random REST and HTTP API events with declared statuses and named errors only`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: fc.tuple(method, path, body) }, { weight: 2, arbitrary: nearValid.map(({ path: p, body: b }) => ['POST', p, b] as const) }), headers, fc.boolean(), fc.boolean(), async ([m, p, b], h, httpApi, base64) => {
        const encoded = b !== undefined && base64 ? Buffer.from(b).toString('base64') : b;
        const event = httpApi
          ? { version: '2.0', rawPath: `/prod${p}`, rawQueryString: '', headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])), requestContext: { stage: 'prod', http: { method: m, path: `/prod${p}` } }, body: encoded, isBase64Encoded: base64 && b !== undefined }
          : { httpMethod: m, path: p, headers: h, body: encoded ?? null, isBase64Encoded: base64 && b !== undefined, requestContext: { stage: 'prod' } };
        const result = (await Promise.race([
          handler(event as unknown as APIGatewayProxyEvent, fakeLambdaContext()),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`hang: ${m} ${p}`)), 5000)),
        ])) as APIGatewayProxyResult;
        checkAnswer(result.statusCode, result.body, `${m} ${p}`);
      }),
      { seed: SEED, numRuns: Math.round(RUNS * 0.75) },
    );
    assert.deepEqual(unhandled, []);
  });

  it(`answers ${Math.round(RUNS * 0.15)} random HTTP requests to the local server, sizes over the limit included`, async () => {
    const size = fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 60 * 1024, max: 200 * 1024 }) });
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: fc.tuple(method.filter((m) => m !== 'post'), path, body) }, { weight: 2, arbitrary: nearValid.map(({ path: p, body: b }) => ['POST', p, b] as const) }), headers, size, async ([m, p, b], h, pad) => {
        const payload = pad > 0 ? `{"pad":"${'x'.repeat(pad)}"}` : b;
        const response = await fetch(`${server.url}${p.replace(/\/\/+/g, '/')}`, {
          method: m,
          headers: Object.fromEntries(Object.entries(h).filter(([k]) => k.toLowerCase() !== 'content-encoding')),
          body: m === 'GET' || m === 'HEAD' ? undefined : payload,
          signal: AbortSignal.timeout(5000),
        });
        const text = m === 'HEAD' ? '{"error":"HEAD answers carry no body, by HTTP"}' : await response.text();
        checkAnswer(response.status, text, `${m} ${p}`);
      }),
      { seed: SEED + 1, numRuns: Math.round(RUNS * 0.15) },
    );
    assert.deepEqual(unhandled, []);
  });
});
