/**
 * SnapStart in the inference function's entry point, as Lambda runs it: the handler module loaded
 * with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start and PRELOAD_MODELS=true against a real S3 API
 * (s3rver), so its init does the snapshot's work; then the after-restore hook, then requests.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { metrics } from '../../../lambda/observability/powertools.ts';
import { fakeLambdaContext, ROOT, SAMPLES_DIR, startTestS3, TempRepository, type TestS3 } from '../../helpers.ts';

/** A fresh instance of the handler module (ESM caches by URL): each one runs its init again, with the environment of the moment. */
const loadHandlerModule = (tag: string) => import(`../../../lambda/entry/api.ts?${tag}`) as Promise<typeof import('../../../lambda/entry/api.ts')>;

const event = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'http-api-infer.json'), 'utf8'));

describe('SnapStart init and after-restore hook (lambda/entry/api.ts)', () => {
  let s3: TestS3;
  /** Every request s3rver serves, as "METHOD url". */
  const requests: string[] = [];
  const gets = () => requests.filter((r) => r.startsWith('GET ') && !r.includes('list-type')).length;
  before(async () => {
    s3 = await startTestS3();
    (s3.server as unknown as { httpServer: { on(e: 'request', f: (req: IncomingMessage) => void): void } }).httpServer.on('request', (req) => requests.push(`${req.method} ${req.url}`));
    const repo = new TempRepository('snapstart-');
    const iris = readFileSync(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx'));
    // Two served versions of one model (both must be in the snapshot), capture on so each request draws once from the random source.
    repo.file('iris_forest/1/model.onnx', iris);
    repo.file('iris_forest/2/model.onnx', iris);
    repo.config('iris_forest', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'iris_forest', 'config.json'), 'utf8')), capture: { percent: 50 } });
    repo.file('diabetes_regressor/1/model.onnx', readFileSync(join(SAMPLES_DIR, 'diabetes_regressor', '1', 'model.onnx')));
    await s3.upload(repo.dir, 'models/');
    // A repository whose model file is not an ONNX model: its load fails.
    await s3.client.send(new (await import('@aws-sdk/client-s3')).PutObjectCommand({ Bucket: 'models', Key: 'broken/iris_forest/1/model.onnx', Body: Buffer.from('not an onnx model') }));
    Object.assign(process.env, {
      AWS_LAMBDA_INITIALIZATION_TYPE: 'snap-start',
      AWS_LAMBDA_FUNCTION_NAME: 'modelship-snap',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      S3_ENDPOINT: s3.endpoint,
      MODEL_BUCKET: 'models',
      PRELOAD_MODELS: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      MODELSHIP_OBSERVE: 'capture',
    });
  });
  after(() => s3.close());

  it('fails init, and so the version\'s publication, when a served model cannot load', async () => {
    Object.assign(process.env, { MODEL_PREFIX: 'broken/', MODEL_NAMES: 'iris_forest' });
    await assert.rejects(loadHandlerModule('broken'), /SnapStart init: 1 model version\(s\) failed to load, so this version is not published: iris_forest\/1: /);
  });

  it('loads and warms every served version at init; after restore the sessions stay, the S3 client and random source are new, and a request needs no S3 GET', async () => {
    Object.assign(process.env, { MODEL_PREFIX: 'models/', MODEL_NAMES: 'iris_forest,diabetes_regressor' });
    requests.length = 0;
    const api = await loadHandlerModule('snap');
    // Init read every served version: two of iris_forest, one of diabetes_regressor.
    const fetched = requests.filter((r) => r.startsWith('GET ') && r.includes('model.onnx')).map((r) => r.split('?')[0]);
    assert.deepEqual(fetched.sort(), ['GET /models/models/diabetes_regressor/1/model.onnx', 'GET /models/models/iris_forest/1/model.onnx', 'GET /models/models/iris_forest/2/model.onnx']);

    const before = api.snapStartState();
    assert.equal(before.restored, false);
    const sessions = await Promise.all([['iris_forest', 1], ['iris_forest', 2], ['diabetes_regressor', 1]].map(([m, v]) => before.repository.load(m as string, v as number)));
    // A draw made before the snapshot: the rest of its buffer is what every restored copy would draw next.
    before.random.draw();
    const predicted = before.random.buffered();
    assert.ok(predicted.length > 0);
    metrics.addMetric('LeftFromInit', 'Count', 1);
    assert.equal(metrics.hasStoredMetrics(), true);
    const requestsBeforeRestore = requests.length;
    const getsBeforeRestore = gets();

    api.afterRestore();
    const restored = api.snapStartState();
    assert.equal(restored.restored, true);
    assert.notEqual(restored.s3Client, undefined);
    assert.notEqual(restored.s3Client, before.s3Client, 'a new S3 client');
    assert.notEqual(restored.random, before.random, 'a new random source');
    assert.equal(metrics.hasStoredMetrics(), false, 'the metrics buffer is cleared');
    const again = await Promise.all([['iris_forest', 1], ['iris_forest', 2], ['diabetes_regressor', 1]].map(([m, v]) => restored.repository.load(m as string, v as number)));
    for (const [i, model] of again.entries()) assert.equal(model.session, sessions[i].session, 'the session survives the restore');

    // The next request answers from the snapshot's session: no S3 request at all, GET or other.
    const response = (await api.handler(event, fakeLambdaContext())) as APIGatewayProxyResult;
    assert.equal(response.statusCode, 200, JSON.stringify(response));
    assert.equal(JSON.parse(response.body).model_name, 'iris_forest');
    assert.equal(requests.length, requestsBeforeRestore, requests.slice(requestsBeforeRestore).join('\n'));
    assert.equal(gets(), getsBeforeRestore, 'no new S3 GET');
    // Its capture draw came from the new source, whose draws are not the ones the snapshot held.
    const left = restored.random.buffered();
    assert.equal(left.length, 255, 'the request drew once from the new source');
    const next = left.slice(0, 8);
    assert.notDeepEqual(next, predicted.slice(1, 9));

    // The first invocation does not restore again.
    assert.equal(api.snapStartState().random, restored.random);
  });
});
