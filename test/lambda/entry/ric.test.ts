/**
 * The image's entry point under AWS's own Runtime Interface Client (aws-lambda-ric, what Lambda's
 * Node.js base images run; built into .tools/ric by scripts/ensure-ric.ts, which `npm test` runs
 * first), driven through a stand-in for the Lambda Runtime API (2018-06-01): the staged image
 * context's bundle, loaded by the client from the Dockerfile's CMD handler string, against s3rver.
 *
 * The SnapStart cycle is the one AWS's "Implementing SnapStart hooks for container images" describes
 * (https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-custom.html): init, then
 * GET /runtime/restore/next, held while Lambda snapshots and answered in a restored environment,
 * then the after-restore work, then GET /runtime/invocation/next. The stand-in holds that request
 * as Lambda does and only answers it when the test "restores".
 *
 * Every wait has a deadline, and a runtime that exits fails the wait at once with its output.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stageImageContext } from '../../../lib/image-context.ts';
import { RIC_ENTRY, RIC_VERSION, ricReady } from '../../../scripts/ric/install.ts';
import { ROOT, startTestS3, TempRepository, type TestS3 } from '../../helpers.ts';

/** Init loads a model from s3rver on a shared 2-core machine: generous, but finite. */
const INIT_DEADLINE_MS = 60_000;
const STEP_DEADLINE_MS = 20_000;
const apiEvent = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'http-api-infer.json'), 'utf8'));

/** An API Gateway HTTP API event for a method and path (the stage prefix as the API sends it). */
function httpEvent(method: string, path: string, body?: unknown) {
  const routeKey = `${method} ${path}`;
  const http = { ...apiEvent.requestContext.http, method, path: `/prod${path}` };
  return {
    ...apiEvent,
    routeKey,
    rawPath: `/prod${path}`,
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)).toString('base64'),
    isBase64Encoded: body !== undefined,
    requestContext: { ...apiEvent.requestContext, http, routeKey },
  };
}

interface Posted {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: any;
}

/** Resolves with a promise's value, or rejects after a deadline or as soon as the runtime exits. */
function within<T>(promise: Promise<T>, ms: number, what: string, runtime?: Runtime): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms${runtime ? `; the runtime's output:\n${runtime.output()}` : ''}`)), ms);
  });
  const exited = runtime?.exited.then(({ code, signal }) => {
    throw new Error(`the runtime exited (code ${code}, signal ${signal}) before ${what}; its output:\n${runtime.output()}`);
  });
  return Promise.race([promise, deadline, ...(exited ? [exited] : [])]).finally(() => clearTimeout(timer));
}

/**
 * A stand-in for the Lambda Runtime API: hands out queued events on /invocation/next, holds
 * /restore/next until restore(), and records every call and what was posted.
 */
class RuntimeApi {
  readonly calls: string[] = [];
  private readonly posted: Posted[] = [];
  private readonly waiters: { match: (p: Posted) => boolean; resolve: (p: Posted) => void }[] = [];
  private readonly queue: { id: string; event: unknown }[] = [];
  private nextWaiting?: (next: { id: string; event: unknown }) => void;
  private readonly arrivals: { path: string; resolve: () => void }[] = [];
  private heldRestore?: ServerResponse;
  private server!: Server;
  address = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.route(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await within(new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve)), STEP_DEADLINE_MS, 'listening Runtime API stand-in');
    this.address = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private route(req: IncomingMessage, body: string, res: ServerResponse): void {
    const path = req.url!.replace(/^\/2018-06-01\/runtime/, '');
    const call = `${req.method} ${path}`;
    this.calls.push(call);
    for (const arrival of this.arrivals.filter((a) => a.path === call)) arrival.resolve();
    if (req.method === 'GET' && path === '/invocation/next') {
      const send = ({ id, event }: { id: string; event: unknown }) =>
        res
          .writeHead(200, {
            'content-type': 'application/json',
            'lambda-runtime-aws-request-id': id,
            'lambda-runtime-deadline-ms': String(Date.now() + 30_000),
            'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:modelship-ric:live',
            'lambda-runtime-trace-id': 'Root=1-673f2a10-5e4d3c2b1a0f9e8d7c6b5a49;Parent=53995c3f42cd8ad8;Sampled=0',
          })
          .end(JSON.stringify(event));
      const next = this.queue.shift();
      if (next !== undefined) send(next);
      else this.nextWaiting = send;
      return;
    }
    if (req.method === 'GET' && path === '/restore/next') {
      // Lambda snapshots the environment while this is pending; the answer comes after a restore.
      this.heldRestore = res;
      return;
    }
    if (req.method === 'POST') {
      const posted = { path, headers: req.headers, body: body === '' ? undefined : JSON.parse(body) };
      this.posted.push(posted);
      for (const waiter of this.waiters.filter((w) => w.match(posted))) waiter.resolve(posted);
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errorMessage":"unknown path","errorType":"InvalidRequest"}');
  }

  /** Resolves when the runtime has made a call ("GET /restore/next"), at once if it already has. */
  arrival(call: string): Promise<void> {
    if (this.calls.includes(call)) return Promise.resolve();
    return new Promise((resolve) => this.arrivals.push({ path: call, resolve }));
  }

  /** Resolves with the first POST matching a path, at once if it was already posted. */
  posting(path: RegExp): Promise<Posted> {
    const done = this.posted.find((p) => path.test(p.path));
    if (done !== undefined) return Promise.resolve(done);
    return new Promise((resolve) => this.waiters.push({ match: (p) => path.test(p.path), resolve }));
  }

  /** The environment is restored from the snapshot: /restore/next answers. */
  restore(): void {
    assert.ok(this.heldRestore !== undefined, 'restore() without a pending GET /restore/next');
    this.heldRestore.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    this.heldRestore = undefined;
  }

  /** Queues an event and resolves with what the runtime posted back for it (response or error). */
  invoke(id: string, event: unknown, runtime: Runtime): Promise<Posted> {
    const answered = this.posting(new RegExp(`^/invocation/${id}/(response|error)$`));
    const waiting = this.nextWaiting;
    this.nextWaiting = undefined;
    if (waiting !== undefined) waiting({ id, event });
    else this.queue.push({ id, event });
    return within(answered, STEP_DEADLINE_MS, `answer to invocation ${id}`, runtime);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return within(new Promise<void>((resolve) => this.server.close(() => resolve())), STEP_DEADLINE_MS, 'closed Runtime API stand-in');
  }
}

interface Runtime {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe(`the image entry point under aws-lambda-ric ${RIC_VERSION}`, () => {
  let s3: TestS3;
  let taskRoot: string;
  let handlerString: string;
  const runtimes: Runtime[] = [];
  const apis: RuntimeApi[] = [];

  before(async () => {
    assert.ok(ricReady(), `aws-lambda-ric ${RIC_VERSION} is not built in .tools/ric: run \`node scripts/ensure-ric.ts\` (npm test runs it first)`);
    assert.ok(existsSync(RIC_ENTRY));
    taskRoot = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'modelship-ric-')), architecture: 'x86_64' }).directory;
    // The base image hands the CMD's handler string to the runtime client as _HANDLER.
    handlerString = JSON.parse(/^CMD (\[.*\])$/m.exec(readFileSync(join(taskRoot, 'Dockerfile'), 'utf8'))![1])[0];
    s3 = await within(startTestS3(), STEP_DEADLINE_MS, 'started s3rver');
    const repo = new TempRepository('ric-').sample('iris_forest');
    await within(s3.upload(repo.dir, 'models/'), STEP_DEADLINE_MS, 'models uploaded to s3rver');
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: 'broken/iris_forest/1/model.onnx', Body: Buffer.from('not an onnx model') }));
  });

  after(async () => {
    for (const runtime of runtimes) {
      if (runtime.child.exitCode === null && runtime.child.signalCode === null) runtime.child.kill('SIGKILL');
    }
    await Promise.all(runtimes.map((r) => within(r.exited, STEP_DEADLINE_MS, 'exit of the killed runtime')));
    await Promise.all(apis.map((api) => api.close()));
    await s3?.close();
  });

  async function startApi(): Promise<RuntimeApi> {
    const api = new RuntimeApi();
    apis.push(api);
    await api.start();
    return api;
  }

  /** The client as the base image starts it (ENTRYPOINT aws-lambda-ric, _HANDLER from CMD), in the task root. */
  async function startRuntime(api: RuntimeApi, options: { prefix: string; initializationType: 'snap-start' | 'on-demand' }): Promise<Runtime> {
    let output = '';
    const child = spawn(process.execPath, [RIC_ENTRY], {
      cwd: taskRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        TMPDIR: process.env.TMPDIR,
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: handlerString,
        AWS_LAMBDA_RUNTIME_API: api.address,
        AWS_LAMBDA_INITIALIZATION_TYPE: options.initializationType,
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
        MODEL_PREFIX: options.prefix,
        MODEL_NAMES: 'iris_forest',
        MODEL_VERSION: '1',
        PRELOAD_MODELS: 'true',
        POWERTOOLS_TRACE_ENABLED: 'false',
      },
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const runtime = { child, output: () => output, exited };
    runtimes.push(runtime);
    await within(
      new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      }),
      STEP_DEADLINE_MS,
      'spawned runtime process',
    );
    return runtime;
  }

  it('initializes for the snapshot, waits on /restore/next, restores, then answers each route kind and reports a handler error', async () => {
    const api = await startApi();
    const runtime = await startRuntime(api, { prefix: 'models/', initializationType: 'snap-start' });

    // Init: the client loads index.handler, which loads and warms the model, then asks for the restore.
    await within(api.arrival('GET /restore/next'), INIT_DEADLINE_MS, 'GET /restore/next after init', runtime);
    assert.match(runtime.output(), /models loaded and warmed for the snapshot.*"warmedOnGolden":\["iris_forest\/1"\]/);
    assert.doesNotMatch(runtime.output(), /restored from the SnapStart snapshot/, 'no after-restore work before the restore');
    assert.deepEqual(api.calls, ['GET /restore/next'], 'nothing but the restore call while the snapshot is taken');

    // Restore: the after-restore work runs, and only then does the client ask for an invocation.
    api.restore();
    await within(api.arrival('GET /invocation/next'), STEP_DEADLINE_MS, 'GET /invocation/next after the restore', runtime);
    assert.equal(runtime.output().match(/restored from the SnapStart snapshot/g)?.length, 1, runtime.output());
    assert.deepEqual(api.calls, ['GET /restore/next', 'GET /invocation/next']);

    // Each route kind, through the client's response path.
    const answers: Record<string, { statusCode: number; body: any }> = {};
    const routes: [string, string, string, unknown?][] = [
      ['live', 'GET', '/v2/health/live'],
      ['ready', 'GET', '/v2/health/ready'],
      ['server', 'GET', '/v2'],
      ['metadata', 'GET', '/v2/models/iris_forest'],
      ['model-ready', 'GET', '/v2/models/iris_forest/ready'],
      ['infer', 'POST', '/v2/models/iris_forest/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }],
      ['predict', 'POST', '/v1/models/iris_forest:predict', { instances: [[5.1, 3.5, 1.4, 0.2]] }],
      ['feedback', 'POST', '/v2/models/iris_forest/feedback', { model_version: '1', id: 'req-1', outcome: 1 }],
    ];
    for (const [kind, method, path, body] of routes) {
      const answer = await api.invoke(`req-${kind}`, httpEvent(method, path, body), runtime);
      assert.equal(answer.path, `/invocation/req-${kind}/response`, `${kind}: ${JSON.stringify(answer.body)}`);
      answers[kind] = { statusCode: answer.body.statusCode, body: answer.body.body === undefined || answer.body.body === '' ? undefined : JSON.parse(answer.body.body) };
    }
    assert.deepEqual(Object.fromEntries(Object.entries(answers).map(([k, a]) => [k, a.statusCode])), { live: 200, ready: 200, server: 200, metadata: 200, 'model-ready': 200, infer: 200, predict: 200, feedback: 202 }, JSON.stringify(answers));
    assert.equal(answers.metadata.body.name, 'iris_forest');
    assert.equal(answers.infer.body.model_name, 'iris_forest');
    assert.deepEqual(answers.infer.body.outputs.find((o: { name: string }) => o.name === 'label').data, [0]);
    assert.deepEqual(answers.predict.body.predictions.map((p: { label: string }) => p.label), ['setosa']);

    // Not an API Gateway event: the handler throws, and the client reports the invocation's error.
    const failed = await api.invoke('req-error', null, runtime);
    assert.equal(failed.path, '/invocation/req-error/error');
    assert.equal(typeof failed.body.errorType, 'string');
    assert.ok(failed.body.errorMessage.length > 0, JSON.stringify(failed.body));
    // The X-Ray cause the client sends beside it names the same error.
    const cause = JSON.parse(String(failed.headers['lambda-runtime-function-xray-error-cause']));
    assert.deepEqual([cause.exceptions[0].type, cause.exceptions[0].message], [failed.body.errorType, failed.body.errorMessage]);

    // The environment still serves after the error; the restore ran once, and no init error was posted.
    assert.equal((await api.invoke('req-after', httpEvent('POST', '/v2/models/iris_forest/infer', routes[5][3]), runtime)).body.statusCode, 200);
    assert.equal(api.calls.filter((c) => c === 'GET /restore/next').length, 1);
    assert.equal(runtime.output().match(/restored from the SnapStart snapshot/g)?.length, 1);
    assert.ok(!api.calls.includes('POST /init/error') && !api.calls.includes('POST /restore/error'), api.calls.join('\n'));
  });

  it('on an on-demand cold start makes no SnapStart calls and answers its first invocation', async () => {
    const api = await startApi();
    const runtime = await startRuntime(api, { prefix: 'models/', initializationType: 'on-demand' });
    await within(api.arrival('GET /invocation/next'), INIT_DEADLINE_MS, 'GET /invocation/next after init', runtime);
    const answer = await api.invoke('req-cold', httpEvent('POST', '/v2/models/iris_forest/infer', { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [6.7, 3.0, 5.2, 2.3] }] }), runtime);
    assert.equal(answer.body.statusCode, 200, JSON.stringify(answer.body));
    assert.deepEqual(JSON.parse(answer.body.body).outputs.find((o: { name: string }) => o.name === 'label').data, [2]);
    assert.ok(!api.calls.some((c) => c.includes('/restore/')), api.calls.join('\n'));
    assert.doesNotMatch(runtime.output(), /restored from the SnapStart snapshot/);
  });

  it('reports a model that cannot load as an init error and exits: the version is never snapshotted or published', async () => {
    const api = await startApi();
    const runtime = await startRuntime(api, { prefix: 'broken/', initializationType: 'snap-start' });
    const initError = await within(api.posting(/^\/init\/error$/), INIT_DEADLINE_MS, 'POST /init/error', runtime);
    assert.match(initError.body.errorMessage, /SnapStart init: 1 model version\(s\) failed to load, so this version is not published: iris_forest\/1/, runtime.output());
    assert.equal(initError.headers['lambda-runtime-function-error-type'], initError.body.errorType);
    const { code } = await within(runtime.exited, STEP_DEADLINE_MS, 'exit after the init error');
    assert.notEqual(code, 0);
    assert.deepEqual(api.calls, ['POST /init/error'], 'neither a restore nor an invocation is asked for after a failed init');
  });
});
