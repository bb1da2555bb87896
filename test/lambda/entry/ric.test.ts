/**
 * The image's entry point under AWS's own Runtime Interface Client (aws-lambda-ric, what Lambda's
 * Node.js base images run), driven through a stand-in for the Lambda Runtime API: the bundled
 * handler (the staged image context's index.mjs, CMD index.handler) initialized for SnapStart
 * against s3rver, then invocations of each route kind, a handler error, and a failing init.
 *
 * aws-lambda-ric 4.0.2 has no SnapStart restore calls (it never asks /runtime/restore/next: AWS's
 * "Implementing SnapStart hooks for container images" puts the Node.js base image among those that
 * do not coordinate restore); the image carries the SnapStart label, and the handler runs its
 * after-restore work at the first invocation, which this test sees in the function's own log.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stageImageContext } from '../../../lib/image-context.ts';
import { ROOT, SAMPLES_DIR, startTestS3, TempRepository, type TestS3 } from '../../helpers.ts';

const RIC = join(ROOT, 'node_modules', 'aws-lambda-ric', 'index.mjs');
const apiEvent = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'http-api-infer.json'), 'utf8'));

/** A stand-in for the Lambda Runtime API (2018-06-01): hands out the queued events, records what comes back. */
class RuntimeApi {
  readonly calls: string[] = [];
  readonly results = new Map<string, { kind: 'response' | 'error'; body: any }>();
  initError: any;
  private readonly queue: { id: string; event: unknown }[] = [];
  private waiting?: (next: { id: string; event: unknown }) => void;
  private readonly settled = new Map<string, () => void>();
  private server!: Server;
  address = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.route(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private route(req: IncomingMessage, body: string, res: import('node:http').ServerResponse): void {
    const path = req.url!.replace('/2018-06-01/runtime', '');
    this.calls.push(`${req.method} ${path}`);
    const answer = (status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"status":"OK"}');
    };
    if (req.method === 'GET' && path === '/invocation/next') {
      const send = ({ id, event }: { id: string; event: unknown }) =>
        res.writeHead(200, { 'content-type': 'application/json', 'lambda-runtime-aws-request-id': id, 'lambda-runtime-deadline-ms': String(Date.now() + 30_000), 'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:modelship-ric:live' }).end(JSON.stringify(event));
      const next = this.queue.shift();
      if (next !== undefined) send(next);
      else this.waiting = send;
      return;
    }
    const done = /^\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === 'POST' && done !== null) {
      this.results.set(done[1], { kind: done[2] as 'response' | 'error', body: JSON.parse(body) });
      this.settled.get(done[1])?.();
      return answer(202);
    }
    if (req.method === 'POST' && path === '/init/error') {
      this.initError = JSON.parse(body);
      this.settled.get('init')?.();
      return answer(202);
    }
    answer(404);
  }

  /** Queues an event and resolves with what the runtime posted back for it. */
  invoke(id: string, event: unknown): Promise<{ kind: 'response' | 'error'; body: any }> {
    const settled = new Promise<void>((resolve) => this.settled.set(id, resolve));
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) waiting({ id, event });
    else this.queue.push({ id, event });
    return settled.then(() => this.results.get(id)!);
  }

  initFailed(): Promise<any> {
    return new Promise<void>((resolve) => this.settled.set('init', resolve)).then(() => this.initError);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('the image entry point under aws-lambda-ric', () => {
  let s3: TestS3;
  let taskRoot: string;
  before(async () => {
    taskRoot = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'modelship-ric-')), architecture: 'x86_64' }).directory;
    s3 = await startTestS3();
    const repo = new TempRepository('ric-').sample('iris_forest');
    await s3.upload(repo.dir, 'models/');
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: 'broken/iris_forest/1/model.onnx', Body: Buffer.from('not an onnx model') }));
  });
  after(() => s3.close());

  /** The RIC as the base image starts it (ENTRYPOINT aws-lambda-ric, CMD index.handler), in the task root. */
  function startRuntime(api: RuntimeApi, prefix: string) {
    let output = '';
    const child = spawn(process.execPath, [RIC, 'index.handler'], {
      cwd: taskRoot,
      env: {
        PATH: process.env.PATH,
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: 'index.handler',
        AWS_LAMBDA_RUNTIME_API: api.address,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'snap-start',
        AWS_LAMBDA_FUNCTION_NAME: 'modelship-ric',
        AWS_LAMBDA_FUNCTION_VERSION: '1',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/modelship-ric',
        AWS_LAMBDA_LOG_STREAM_NAME: 'stream',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        S3_ENDPOINT: s3.endpoint,
        MODEL_BUCKET: 'models',
        MODEL_PREFIX: prefix,
        MODEL_NAMES: 'iris_forest',
        MODEL_VERSION: '1',
        PRELOAD_MODELS: 'true',
        POWERTOOLS_TRACE_ENABLED: 'false',
      },
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    return { child, output: () => output };
  }

  it('initializes for the snapshot, restores at the first invocation, answers each route kind and reports a handler error', async () => {
    const api = new RuntimeApi();
    await api.start();
    const runtime = startRuntime(api, 'models/');
    try {
      const infer = await api.invoke('req-infer', apiEvent);
      assert.equal(infer.kind, 'response', JSON.stringify(infer.body));
      assert.equal(infer.body.statusCode, 200, runtime.output());
      const answer = JSON.parse(infer.body.body);
      assert.equal(answer.model_name, 'iris_forest');
      assert.deepEqual(answer.outputs.find((o: { name: string }) => o.name === 'label').data, [0]);
      // The model was loaded during init, before the first next; the restore work ran once, at the first invocation.
      assert.equal(runtime.output().match(/restored from the SnapStart snapshot/g)?.length, 1, runtime.output());
      assert.ok(runtime.output().indexOf('models loaded and warmed for the snapshot') < runtime.output().indexOf('restored from the SnapStart snapshot'));

      const metadata = await api.invoke('req-metadata', { ...apiEvent, routeKey: 'GET /v2/models/{model}', rawPath: '/prod/v2/models/iris_forest', body: undefined, isBase64Encoded: false, requestContext: { ...apiEvent.requestContext, http: { ...apiEvent.requestContext.http, method: 'GET', path: '/prod/v2/models/iris_forest' }, routeKey: 'GET /v2/models/{model}' } });
      assert.equal(metadata.body.statusCode, 200, JSON.stringify(metadata.body));
      assert.equal(JSON.parse(metadata.body.body).name, 'iris_forest');

      const predictBody = Buffer.from(JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] })).toString('base64');
      const predict = await api.invoke('req-predict', { ...apiEvent, routeKey: 'POST /v1/models/{model}:predict', rawPath: '/prod/v1/models/iris_forest:predict', body: predictBody, requestContext: { ...apiEvent.requestContext, http: { ...apiEvent.requestContext.http, path: '/prod/v1/models/iris_forest:predict' }, routeKey: 'POST /v1/models/{model}:predict' } });
      assert.equal(predict.body.statusCode, 200, JSON.stringify(predict.body));
      assert.deepEqual(JSON.parse(predict.body.body).predictions.map((p: { label: string }) => p.label), ['setosa']);

      // Not an API Gateway event: the handler throws, and the RIC reports it as the invocation's error.
      const failed = await api.invoke('req-error', null);
      assert.equal(failed.kind, 'error');
      assert.equal(typeof failed.body.errorType, 'string');
      assert.equal(typeof failed.body.errorMessage, 'string');

      // The runtime still serves after the error, and never asked for the restore API it does not implement.
      assert.equal((await api.invoke('req-after', apiEvent)).body.statusCode, 200);
      assert.ok(!api.calls.some((c) => c.includes('/restore/')), api.calls.join('\n'));
    } finally {
      runtime.child.kill();
      await api.close();
    }
  });

  it('reports a model that cannot load as an init error (the version is not published)', async () => {
    const api = new RuntimeApi();
    await api.start();
    const runtime = startRuntime(api, 'broken/');
    try {
      const error = await api.initFailed();
      assert.match(error.errorMessage, /SnapStart init: 1 model version\(s\) failed to load, so this version is not published: iris_forest\/1/, runtime.output());
      assert.ok(!api.calls.includes('GET /invocation/next'), 'no invocation is asked for after a failed init');
    } finally {
      runtime.child.kill();
      await api.close();
    }
  });
});
