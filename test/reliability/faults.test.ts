import { sideFilesDigest } from '../../lambda/core/tasks/hf-folder.ts';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiGatewayHandler } from '../../lambda/adapters/api-gateway/handler.ts';
import { isInferenceError } from '../../lambda/core/errors.ts';
import { createRepository, createService, readRuntimeConfig } from '../../lambda/entry/runtime-config.ts';
import { discoverModels } from '../../lib/model-discovery.ts';
import { sha256Environment } from '../../lib/inference-function.ts';
import { createTestService, fakeLambdaContext as context, goldenRequest, readGolden, SAMPLES_DIR, spawnServer, startTestLocalServer, TempRepository } from '../helpers.ts';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const event = (path: string, body: unknown) => ({ httpMethod: 'POST', path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), isBase64Encoded: false, requestContext: {} }) as unknown as APIGatewayProxyEvent;

describe('faults', () => {
  it('answers 503 within bounded time when the store hangs at cold start, then recovers without a restart', async () => {
    // A "store" that accepts connections and never answers.
    const sockets: import('node:net').Socket[] = [];
    const hung = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as import('node:net').AddressInfo).port;
    const config = readRuntimeConfig({ MODEL_BUCKET: 'models', MODEL_PREFIX: 'm/', S3_ENDPOINT: `http://127.0.0.1:${port}`, STORE_TIMEOUT_MS: '300', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' });
    process.env.AWS_ACCESS_KEY_ID ??= 'a';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'b';
    const service = createService(config, createRepository(config));
    const started = Date.now();
    await assert.rejects(service.loadModel('iris_forest'), (error) => isInferenceError(error) && error.statusCode === 503 && /is unreachable/.test(error.message) && /^the model store cannot be read right now \(store unreachable\); retry shortly, and if it persists check/.test(error.publicMessage));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `took ${elapsed} ms: retries must be bounded`);
    for (const socket of sockets) socket.destroy();
    hung.close();
  });

  it('says in a 503 what kind of problem keeps a model from serving (bad file, bad config) and what to do, the detail only in the log', async () => {
    const repo = new TempRepository('kinds-').sample('iris_forest').sample('digits_mlp').sample('iris_forest', 'pinned_away').config('pinned_away', { versionPolicy: { pinned: 5 } });
    const file = join(repo.dir, 'digits_mlp', '1', 'model.onnx');
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    const local = await startTestLocalServer(repo.dir);
    try {
      const answer = async (model: string) => {
        const response = await fetch(`${local.url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(goldenRequest(readGolden(model === 'pinned_away' ? 'iris_forest' : model), 1)) });
        return { status: response.status, error: ((await response.json()) as { error: string }).error, id: response.headers.get('x-request-id') };
      };
      const corrupt = await answer('digits_mlp');
      assert.equal(corrupt.status, 503);
      assert.equal(corrupt.error, `the model cannot be loaded: a bad model file (corrupt, refused, or changed since it was deployed); redeploy the version, or roll back to another (modelship rollback); the detail is in the log under this request id (request id ${corrupt.id})`);
      const config = await answer('pinned_away');
      assert.equal(config.status, 503);
      assert.equal(config.error, `the model cannot be served: a bad config (its config.json is invalid, changed since it was deployed, or names a version the store lacks); fix config.json and redeploy; the detail is in the log under this request id (request id ${config.id})`);
      assert.doesNotMatch(`${corrupt.error} ${config.error}`, /pins version 5|INVALID_PROTOBUF|model\.onnx|\//);
      assert.equal((await answer('iris_forest')).status, 200);
    } finally {
      await local.close();
    }
  });

  it('reports a corrupt model as a load failure (the ModelLoadFailures metric) and serves the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corrupt-'));
    cpSync(SAMPLES_DIR, dir, { recursive: true });
    const file = join(dir, 'digits_mlp', '1', 'model.onnx');
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    const loads: { model: string; error?: string }[] = [];
    const service = createTestService(dir, { onModelLoad: (e) => loads.push(e) });
    const handler = createApiGatewayHandler(service);
    const broken = await handler(event('/v2/models/digits_mlp/infer', goldenRequest(readGolden('digits_mlp'), 1)), context(30_000));
    assert.equal(broken.statusCode, 503);
    // The caller gets a stable message and the request id; the cause goes to the log and the load metric.
    assert.match(JSON.parse(broken.body).error, /^the model cannot be loaded: a bad model file .*\(request id [\w-]+\)$/);
    assert.match(loads.find((l) => l.model === 'digits_mlp')?.error ?? '', /^model "digits_mlp" version 1 cannot be loaded: /);
    const fine = await handler(event('/v2/models/iris_forest/infer', goldenRequest(readGolden('iris_forest'), 1)), context(30_000));
    assert.equal(fine.statusCode, 200);
  });

  it('refuses a model file replaced under a deployed version (sha256 recorded at deploy)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replaced-'));
    cpSync(join(SAMPLES_DIR, 'iris_forest'), join(dir, 'iris_forest'), { recursive: true });
    const deployed = { 'iris_forest/1': sha256(join(dir, 'iris_forest', '1', 'model.onnx')) };
    assert.equal((await createTestService(dir, { expectedSha256: deployed }).loadModel('iris_forest')).version, 1);
    // Someone overwrites the object with another (valid!) model.
    cpSync(join(SAMPLES_DIR, 'digits_mlp', '1', 'model.onnx'), join(dir, 'iris_forest', '1', 'model.onnx'));
    await assert.rejects(createTestService(dir, { expectedSha256: deployed }).loadModel('iris_forest'), (error) => {
      assert.ok(isInferenceError(error));
      assert.equal(error.statusCode, 503);
      assert.match(error.message, /has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} it was deployed with; refusing to load a replaced model file/);
      return true;
    });
  });

  it('answers 504 when inference runs past the time budget, and the next request is served', async () => {
    const handler = createApiGatewayHandler(createTestService(SAMPLES_DIR));
    const big = goldenRequest(readGolden('digits_mlp'));
    // 2001 ms left and 1000 ms reserved twice: a budget of 1 ms, which parsing 450 images exceeds.
    const late = await handler(event('/v2/models/digits_mlp/infer', big), context(2001));
    assert.equal(late.statusCode, 504);
    assert.match(JSON.parse(late.body).error, /^the request ran past its time budget/);
    const next = await handler(event('/v2/models/digits_mlp/infer', big), context(30_000));
    assert.equal(next.statusCode, 200);
  });

  it('refuses an answer over the Lambda response limit, pointing to fewer rows or batch mode', async () => {
    const handler = createApiGatewayHandler(createTestService(SAMPLES_DIR), { maxResponseBytes: 2000 });
    const result = await handler(event('/v2/models/digits_mlp/infer', goldenRequest(readGolden('digits_mlp'), 40)), context(30_000));
    assert.equal(result.statusCode, 413);
    assert.match(JSON.parse(result.body).error, /^the answer would be \d+ bytes, over the 2000-byte limit of a Lambda response; ask for fewer outputs .* or use batch prediction$/);
  });

  it('keeps serving with /tmp unusable: nothing on the request path writes there', async () => {
    const { child, url } = await spawnServer('serve.ts', { TMPDIR: '/nonexistent/readonly-tmp', TMP: '/nonexistent', TEMP: '/nonexistent' });
    try {
      const response = await fetch(`${url}/v2/models/iris_forest/infer`, { method: 'POST', body: JSON.stringify(goldenRequest(readGolden('iris_forest'), 2)) });
      assert.equal(response.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('authentication on the local server', () => {
  it('requires the API key when started with one', async () => {
    const server = await startTestLocalServer(SAMPLES_DIR, { apiKey: 'k-123456' });
    try {
      const none = await fetch(`${server.url}/v2/health/ready`);
      assert.equal(none.status, 401);
      assert.match(((await none.json()) as { error: string }).error, /missing or wrong x-api-key header/);
      assert.equal((await fetch(`${server.url}/v2/health/ready`, { headers: { 'x-api-key': 'k-000000' } })).status, 401);
      assert.equal((await fetch(`${server.url}/v2/health/ready`, { headers: { 'x-api-key': 'k-123456' } })).status, 200);
    } finally {
      await server.close();
    }
  });
});

describe('a deployment serves only what it was deployed with', () => {
  it('records each model file\'s and config\'s hash in the function', async () => {
    const { buildStack } = await import('../lib/stack-fixture.ts');
    const { Match } = await import('aws-cdk-lib/assertions');
    const deployed = { 'iris_forest/1': sha256(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx')), 'iris_forest/1/files': sideFilesDigest(new Map()), 'iris_forest/config.json': sha256(join(SAMPLES_DIR, 'iris_forest', 'config.json')) };
    buildStack().template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MODEL_NAMES: 'iris_forest', MODEL_SHA256S: JSON.stringify(deployed) }) },
    });
  });

  it('ignores a version added to the store later and refuses a config edited to send traffic to it', async () => {
    // As the review did it: the store gets 2/model.onnx, then an A/B config that sends it almost all traffic.
    const repo = new TempRepository('pinned-').sample('iris_forest');
    const deployed = JSON.parse(sha256Environment(discoverModels(repo.dir)).MODEL_SHA256S) as Record<string, string>;
    // The function as the stack configures it: MODEL_NAMES and MODEL_SHA256S from the deploy.
    const handler = (dir: string) => {
      const config = readRuntimeConfig({ MODEL_DIR: dir, MODEL_NAMES: 'iris_forest', MODEL_SHA256S: JSON.stringify(deployed) });
      return createApiGatewayHandler(createService(config, createRepository(config)));
    };
    const row = goldenRequest(readGolden('iris_forest'), 1);
    repo.copy(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'), 'iris_forest/2/model.onnx');
    const added = handler(repo.dir);
    const plain = await added(event('/v2/models/iris_forest/infer', row), context(30_000));
    assert.equal(plain.headers?.['X-Model-Version'], '1');
    const second = await added(event('/v2/models/iris_forest/versions/2/infer', row), context(30_000));
    assert.equal(second.statusCode, 404);
    assert.match(JSON.parse(second.body).error, /^model "iris_forest" version 2 is in the store but was not deployed here; deployed: 1/);
    repo.config('iris_forest', { abTest: { weights: { '1': 1, '2': 1000 } } });
    const edited = await handler(repo.dir)(event('/v2/models/iris_forest/infer', row), context(30_000));
    assert.equal(edited.statusCode, 503, 'a config changed after deploy is not served');
  });

  it('makes the SageMaker container verify the hashes its endpoint was deployed with', async () => {
    const wrong = JSON.stringify({ 'iris_forest/1': '0'.repeat(64) });
    const { child, url, output } = await spawnServer('serve-sagemaker.ts', { HOST: '127.0.0.1', MODEL_DIR: SAMPLES_DIR, MODEL_NAME: 'iris_forest', MODEL_SHA256S: wrong });
    try {
      assert.equal((await fetch(`${url}/ping`)).status, 503);
      assert.match(output(), /model file does not match its deployed hash/);
      const invocation = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify(goldenRequest(readGolden('iris_forest'), 1)) });
      assert.equal(invocation.status, 503);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
