/**
 * npm run bench — performance, everything side by side in one run with one load generator
 * (autocannon, on loopback). Prints a table per part and writes .bench/report.json. A benchmark:
 * it asserts nothing; where a target is missed the report says by how much. BENCH_ONLY=b,o runs
 * some parts; BENCH_QUICK=1 shortens every part.
 *   (a) in process: the Lambda handler's time per request vs raw session.run, per sample
 *   (b) local server and SageMaker container vs a bare Node http + onnxruntime server, at 16 and 64
 *       connections, and Flask + scikit-learn (gunicorn, 2 workers)
 *   (o) observability: throughput with each per-request observer off (local server; the Lambda handler)
 *   (t) concurrency defaults: intra-op threads, spinning and the container's concurrency limit
 *   (c) cold start: spawn to first correct answer, model fetched from an S3 API server, vs a bare script
 *   (y) a Lambda cold start by part (module load, catalog, S3 download, sha256, session, first run) per
 *       ONNX sample and a 100 MB model, and what SnapStart leaves to a restore (the after-restore hook)
 *   (d) large tensors: a 1x3x320x320 convolution over HTTP, binary and JSON, each vs a bare server
 *       doing the same work over the same transport
 *   (e) memory: the local server's RSS and heap after a full GC every 10,000 requests over 300,000
 *   (i) images and text: a 224x224 JPEG and a sentence end to end vs a bare server doing sharp
 *       decode/resize + run and tokenize + run with the same libraries; JPEG vs v2 JSON payload size
 *   (h) question answering: a question over a one-window context and over a long one (doc_stride
 *       windows) through the local server vs the same work in process (tokenizer + session.run +
 *       postprocess: the module's own steps), and vs transformers.js's pipeline on the same folder
 *   (n) object detection: a 640x480 JPEG through a YOLO export over HTTP vs decode + letterbox +
 *       session.run + NMS in process; NMS time on 8,400 candidates
 *   (u) OpenAI-compatible embeddings: POST /v1/embeddings with 16 texts per request, 16 connections,
 *       throughput against a bare server tokenizing, running and mean-pooling the same texts
 *   (v) image embeddings: a 224x224 JPEG through image-feature-extraction over HTTP vs a bare server
 *       doing decode + preprocess + session.run + CLS pooling; transformers.js's pipeline in process
 *   (r) token classification (the trained debian_package_tags test model): "simple" on one window and
 *       "first" on a long text (stride windows) over HTTP vs a bare node:http server doing the module's
 *       own work (scripts/bench/token-classification.ts); that work in process vs transformers.js's
 *       pipeline on the same folder ("none", "simple")
 *   (x) dynamic batching: a convolution on the SageMaker container at 1, 8 and 32 clients, with and
 *       without batching
 *   (q) modelship optimize: size and latency of INT8 and graph-optimized models
 *   (g) native tree models (XGBoost, LightGBM; 500 trees of depth 8): conversion time, ONNX size
 *       against the source, and the in-process handler against the library's own predict in Python
 *       (single row and 1,000 rows), one thread each
 *   (p) PMML: a 100-tree random forest and a GLM exported by sklearn2pmml and converted, against the
 *       same models exported by skl2onnx, one row through the in-process handler
 *   (s) session options, and the image size.
 *   (k) scale: synthesis of generated repositories of 200 and 1,000 models over nested model stacks
 *       (time, peak memory, stacks) and each deploy quota's highest use, naming the first one met
 *   (l) client libraries: @modelship/client's time per call (signing, encoding, decoding) against a
 *       raw fetch of the same body with the same signed headers, against the local server with
 *       AUTH=iam, for a small row (JSON) and a 1 MB tensor (binary), sequential calls, interleaved;
 *       the Python client the same way against urllib3
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { stageImageContext } from '../lib/image-context.ts';
import { createApiGatewayHandler } from '../lambda/adapters/api-gateway/handler.ts';
import { defaultSessionOptions } from '../lambda/core/sessions.ts';
import { createTestService, fakeLambdaContext, goldenRequest, readGolden, startTestS3, TempRepository, FIXTURE_MODELS_DIR, ROOT, SAMPLES_DIR } from '../test/helpers.ts';
import { Inspector, leastSquaresSlope } from '../test/inspector.ts';
import { benchTextPairs } from './bench/text-pairs.ts';
import { ModelShipClient, type NamedInput } from '../clients/typescript/src/index.ts';
import { encodeInferRequest, toInputList } from '../clients/typescript/src/tensors.ts';

const execFileAsync = promisify(execFile);
const QUICK = process.env.BENCH_QUICK === '1';
/** Bench part (r)'s model: the trained token classifier (training/text_tasks/train_package_tags.py). */
const TOKEN_TAGGER = join(ROOT, 'test', 'fixtures', 'token-classification', 'debian_package_tags', '1');
/** Bench part (h)'s model: the tiny BERT question-answering fixture (its run takes a fraction of a millisecond, so (h) measures the rest). */
const QA_MODEL = join(ROOT, 'test', 'fixtures', 'question-answering', 'bert');
/** BENCH_ONLY=a,c runs only those parts (a, b, o, t, c, d, e, i, h, n, r, u, v, x, q, g, s, k, l, y, z). @default all */
const ONLY = process.env.BENCH_ONLY?.split(',').map((p) => p.trim());
const runs = (part: string) => ONLY === undefined || ONLY.includes(part);
const report: Record<string, unknown> = { date: new Date().toISOString(), machine: `${spawnSync('nproc').stdout.toString().trim()} cores, ${process.version}` };
const misses: string[] = [];
const target = (name: string, value: number, limit: number, better: 'lower' | 'higher') => {
  const ok = better === 'lower' ? value <= limit : value >= limit;
  const line = `${name}: ${value.toFixed(2)} (target ${better === 'lower' ? '<=' : '>='} ${limit}) ${ok ? 'met' : `MISSED by ${Math.abs(value - limit).toFixed(2)}`}`;
  if (!ok) misses.push(line);
  console.log(`  ${line}`);
  return { value, limit, met: ok };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The median time of `n` sequential calls, in ms, after `warm` calls. */
async function medianMs(fn: () => Promise<unknown>, n: number, warm: number): Promise<number> {
  for (let i = 0; i < warm; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
/** CPU time (user + system) a process has used, in microseconds. */
const cpuMicros = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString());
};

function waitFor(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${out}`)), 30_000);
    const look = (chunk: Buffer) => {
      out += chunk;
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
  });
}

/** The Node flags `npm start` runs the server with. */
const START_FLAGS = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ').filter((t) => t.startsWith('--'));

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts one of the servers on a port and waits until it answers. */
async function startServer(kind: 'local' | 'sagemaker' | 'bare' | 'bare-large' | 'bare-task' | 'bare-embedding' | 'bare-tokens' | 'bare-qa' | 'bare-detect', port: number, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<Server> {
  const script = { local: [...START_FLAGS, join(ROOT, 'bin', 'serve.ts')], sagemaker: [...START_FLAGS, join(ROOT, 'bin', 'serve-sagemaker.ts')], bare: [join(ROOT, 'scripts', 'bench', 'bare-server.mjs'), join(SAMPLES_DIR, 'breast_cancer_classifier', '1', 'model.onnx'), String(port)], 'bare-large': [join(ROOT, 'scripts', 'bench', 'bare-large-server.mjs'), join(FIXTURE_MODELS_DIR, 'conv_large', '1', 'model.onnx'), String(port)], 'bare-task': [join(ROOT, 'scripts', 'bench', 'bare-task-server.mjs'), SAMPLES_DIR, String(port)], 'bare-embedding': [join(ROOT, 'scripts', 'bench', 'bare-embedding-server.mjs'), join(ROOT, 'test', 'fixtures', 'image-feature-extraction', 'vit-224'), String(port)], 'bare-tokens': [join(ROOT, 'scripts', 'bench', 'token-classification.ts'), TOKEN_TAGGER, String(port)], 'bare-qa': [join(ROOT, 'scripts', 'bench', 'question-answering.ts'), QA_MODEL, String(port)], 'bare-detect': [join(ROOT, 'scripts', 'bench', 'object-detection.ts'), join(ROOT, 'test', 'fixtures', 'object-detection', 'yolov8', 'model.onnx'), String(port)] }[kind];
  const defaults = kind === 'sagemaker' ? { HOST: '127.0.0.1', MODEL_DIR: SAMPLES_DIR, MODEL_NAME: 'breast_cancer_classifier' } : {};
  const child = spawn(process.execPath, [...nodeFlags, ...script], { cwd: ROOT, env: { ...process.env, PORT: String(port), ...defaults, ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  await waitFor(child, kind.startsWith('bare') ? /ready/ : /on http/);
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    stop: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    }),
  };
}

interface Load {
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly total: number;
  /** The server's CPU time per request (all its threads), in microseconds. */
  readonly cpuMicrosPerRequest?: number;
}

/** A warm-up, then `seconds` (or `amount` requests) of load; with `pid`, the server's CPU per request. */
async function load(url: string, body: string | Buffer, options: { seconds?: number; amount?: number; connections?: number; headers?: Record<string, string>; pid?: number; warmup?: boolean } = {}): Promise<Load> {
  const request = { url, method: 'POST' as const, body, headers: { 'content-type': 'application/json', ...options.headers }, connections: options.connections ?? 16 };
  if (options.warmup !== false) await autocannon({ ...request, duration: 1 });
  const cpuBefore = options.pid === undefined ? 0 : cpuMicros(options.pid);
  const result = await autocannon({ ...request, ...(options.amount ? { amount: options.amount } : { duration: options.seconds ?? 5 }) });
  const cpuMicrosPerRequest = options.pid === undefined ? undefined : (cpuMicros(options.pid) - cpuBefore) / result.requests.total;
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, total: result.requests.total, cpuMicrosPerRequest };
}
const row = (name: string, r: Load) => console.log(`  ${name.padEnd(40)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms${r.cpuMicrosPerRequest === undefined ? '' : `  server CPU ${r.cpuMicrosPerRequest.toFixed(0)} us/req`}  errors ${r.errors}`);
/** The run of several whose throughput is the median (rounds interleave variants: drifts of the shared machine hit all alike). */
const medianRun = (runs: Load[]) => [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(runs.length / 2)];

const FLASK_PACKAGES = ['python3-flask', 'python3-sklearn', 'gunicorn'];
const hasFlask = () => spawnSync('/usr/bin/python3', ['-c', 'import flask, sklearn']).status === 0 && spawnSync('sh', ['-c', 'command -v gunicorn']).status === 0;

/** The Flask baseline's packages: present, installed now (as root, or with password-less sudo), or the line that installs them. */
function ensureFlask(): boolean {
  if (hasFlask()) return true;
  const line = `apt-get update && apt-get install -y ${FLASK_PACKAGES.join(' ')}`;
  console.log(`  the Flask baseline needs Debian's ${FLASK_PACKAGES.join(', ')}: ${line}`);
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!(root || sudo) || process.env.BENCH_NO_INSTALL === '1') return false;
  console.log('  installing them now (BENCH_NO_INSTALL=1 skips this)...');
  const aptGet = (args: string[]) => spawnSync(sudo ? 'sudo' : 'apt-get', sudo ? ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args] : args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  aptGet(['update', '-qq']);
  aptGet(['install', '-y', '-qq', ...FLASK_PACKAGES]);
  return hasFlask();
}

const features = readGolden('breast_cancer_classifier').inputs[0].data.slice(0, 30);
const seconds = QUICK ? 3 : 8;
const v2Body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: features }] });
const bareBody = JSON.stringify({ features });
const INFER = '/v2/models/breast_cancer_classifier/infer';

// (a) ------------------------------------------------------------------------------------------
if (runs('a')) {
  console.log('\n(a) in process: handler per request vs raw session.run (1 row)');
  const service = createTestService(SAMPLES_DIR);
  const handler = createApiGatewayHandler(service);
  const context = fakeLambdaContext(3_600_000);
  const inProcess: Record<string, unknown>[] = [];
  for (const name of ['iris_forest', 'breast_cancer_classifier', 'diabetes_regressor', 'digits_mlp']) {
    const model = await service.loadModel(name);
    const request = goldenRequest(readGolden(name), 1);
    const event = { httpMethod: 'POST', path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request), isBase64Encoded: false, requestContext: {} } as unknown as APIGatewayProxyEvent;
    const feeds = { [request.inputs[0].name]: new Tensor('float32', Float32Array.from(request.inputs[0].data), request.inputs[0].shape) };
    // Interleaved rounds, median per call: both sides see the same machine state.
    const rounds = QUICK ? 4 : 10;
    const perRound = 2000;
    const block = async (fn: () => Promise<unknown>) => {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await fn();
      return ((performance.now() - started) / perRound) * 1000;
    };
    for (let i = 0; i < 1000; i++) await handler(event, context);
    const rawTimes: number[] = [];
    const fullTimes: number[] = [];
    for (let r = 0; r < rounds; r++) {
      rawTimes.push(await block(() => model.session.run(feeds)));
      fullTimes.push(await block(() => handler(event, context)));
    }
    const [raw, full] = [median(rawTimes), median(fullTimes)];
    console.log(`  ${name.padEnd(26)} raw ${raw.toFixed(1)} us, handler ${full.toFixed(1)} us, ratio ${(full / raw).toFixed(2)}`);
    inProcess.push({ model: name, rawMicros: raw, handlerMicros: full, ratio: full / raw, target: name === 'digits_mlp' ? undefined : target(`(a) ${name} handler/raw`, full / raw, 3, 'lower') });
  }
  report.inProcess = inProcess;
}

// (b) ------------------------------------------------------------------------------------------
if (runs('b')) {
  console.log(`\n(b) HTTP on loopback, breast_cancer_classifier, 1 row, autocannon at 16 and 64 connections, ${seconds} s each, the median of ${QUICK ? 1 : 3} interleaved rounds`);
  const bare = await startServer('bare', 18081);
  const ours = await startServer('local', 18080);
  const container = await startServer('sagemaker', 18083);
  const http: Record<string, unknown> = {};
  for (const connections of [16, 64]) {
    console.log(`  ${connections} connections:`);
    const runsOf: Record<'bare' | 'local' | 'sagemaker', Load[]> = { bare: [], local: [], sagemaker: [] };
    for (let round = 0; round < (QUICK ? 1 : 3); round++) {
      runsOf.bare.push(await load(`${bare.url}/predict`, bareBody, { seconds, connections, pid: bare.child.pid }));
      runsOf.local.push(await load(`${ours.url}${INFER}`, v2Body, { seconds, connections, pid: ours.child.pid }));
      runsOf.sagemaker.push(await load(`${container.url}/invocations`, v2Body, { seconds, connections, pid: container.child.pid }));
    }
    const [b, l, sm] = [medianRun(runsOf.bare), medianRun(runsOf.local), medianRun(runsOf.sagemaker)];
    row('bare Node + onnxruntime', b);
    row('ModelShip local server', l);
    row('ModelShip SageMaker container', sm);
    http[`c${connections}`] = {
      runs: runsOf,
      localThroughput: target(`(b) ${connections} conns: local server throughput / bare`, l.requestsPerSecond / b.requestsPerSecond, 0.85, 'higher'),
      localP99: target(`(b) ${connections} conns: local server p99 / bare p99`, l.p99 / Math.max(b.p99, 1), 1.5, 'lower'),
      sagemakerThroughput: target(`(b) ${connections} conns: SageMaker container throughput / bare`, sm.requestsPerSecond / b.requestsPerSecond, 0.85, 'higher'),
      sagemakerP99: target(`(b) ${connections} conns: SageMaker container p99 / bare p99`, sm.p99 / Math.max(b.p99, 1), 1.5, 'lower'),
    };
  }
  await Promise.all([bare.stop(), ours.stop(), container.stop()]);
  if (ensureFlask()) {
    const gunicorn = spawn('gunicorn', ['-w', '2', '-b', '127.0.0.1:18082', '--chdir', join(ROOT, 'scripts', 'bench'), 'flask_app:app'], { cwd: ROOT });
    await waitFor(gunicorn, /Booting worker with pid: \d+[\s\S]*Booting worker with pid: \d+/);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // workers train their model at import
    const flask = await load('http://127.0.0.1:18082/predict', bareBody, { seconds });
    gunicorn.kill();
    row('Flask + sklearn (2 workers), 16', flask);
    http.flask = flask;
  } else {
    console.log('  Flask baseline not run: its packages are missing (the line above installs them)');
    http.flask = 'not run: packages missing';
  }
  report.http = http;
}

// (o) ------------------------------------------------------------------------------------------
if (runs('o')) {
  console.log(`\n(o) observability: throughput with each per-request observer off (MODELSHIP_OBSERVE), 16 connections, median of ${QUICK ? 1 : 5} interleaved rounds`);
  console.log('  local server (capture sampling at CAPTURE_PERCENT=1: 1% of requests written):');
  const variants: [string, string][] = [['all on', 'all'], ['metrics off', 'stats,capture'], ['console statistics off', 'metrics,capture'], ['capture sampling off', 'metrics,stats'], ['all off', 'none']];
  const servers = new Map<string, Server>();
  for (const [i, [label, observe]] of variants.entries()) servers.set(label, await startServer('local', 18100 + i, { MODELSHIP_OBSERVE: observe, CAPTURE_PERCENT: '1', LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-observe-')) }));
  const runsOf = new Map<string, Load[]>(variants.map(([label]) => [label, []]));
  for (let round = 0; round < (QUICK ? 1 : 5); round++) {
    for (const [label] of variants) runsOf.get(label)!.push(await load(`${servers.get(label)!.url}${INFER}`, v2Body, { seconds: QUICK ? 3 : 4, pid: servers.get(label)!.child.pid }));
  }
  await Promise.all([...servers.values()].map((s) => s.stop()));
  const local: Record<string, Load> = {};
  for (const [label] of variants) row(label, (local[label] = medianRun(runsOf.get(label)!)));
  // On 2 cores shared with the load generator, the server's CPU per request is the steadier measure
  // of what an observer costs (throughput follows it where the server's core is the bottleneck).
  const cpu = (label: string) => median(runsOf.get(label)!.map((r) => r.cpuMicrosPerRequest!));
  for (const [label] of variants.slice(1, -1)) console.log(`  ${label}: saves ${(cpu('all on') - cpu(label)).toFixed(1)} us of server CPU per request (median of the rounds)`);
  console.log(`  all off: saves ${(cpu('all on') - cpu('all off')).toFixed(1)} us (all on: ${cpu('all on').toFixed(1)} us)`);
  const localCost = target('(o) local server: CPU cost of all observers together (% of its CPU per request)', (100 * (cpu('all on') - cpu('all off'))) / cpu('all on'), 10, 'lower');

  console.log('  Lambda handler (lambda/entry/api.ts with its Powertools middlewares, in one process, calls back to back; logs and metric records to a pipe):');
  const bodyFile = join(mkdtempSync(join(tmpdir(), 'bench-body-')), 'body.json');
  writeFileSync(bodyFile, v2Body);
  const lambdaVariants: [string, Record<string, string>][] = [
    ['all on (tracing on)', {}],
    ['metrics off', { MODELSHIP_OBSERVE: 'log,capture' }],
    ['log line off', { MODELSHIP_OBSERVE: 'metrics,capture' }],
    ['all off (tracing on)', { MODELSHIP_OBSERVE: 'none' }],
    ['all off, tracing off', { MODELSHIP_OBSERVE: 'none', POWERTOOLS_TRACE_ENABLED: 'false' }],
  ];
  const lambdaCall = async (env: Record<string, string>) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'lambda-observers.ts'), bodyFile, String(QUICK ? 5000 : 20_000)], { cwd: ROOT, env: { ...process.env, MODEL_DIR: SAMPLES_DIR, MODEL_NAMES: 'breast_cancer_classifier', PRELOAD_MODELS: 'true', ORT_INTRA_OP_THREADS: '1', AWS_LAMBDA_FUNCTION_NAME: 'bench', AWS_REGION: 'us-east-1', ...env } });
    let err = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk) => (err += chunk));
    await new Promise((resolve) => child.on('exit', resolve));
    return JSON.parse(err.trim().split('\n').pop()!) as { microsPerCall: number; callsPerSecond: number };
  };
  const lambdaRuns = new Map<string, number[]>(lambdaVariants.map(([label]) => [label, []]));
  for (let round = 0; round < (QUICK ? 1 : 3); round++) for (const [label, env] of lambdaVariants) lambdaRuns.get(label)!.push((await lambdaCall(env)).microsPerCall);
  const lambda: Record<string, number> = {};
  for (const [label] of lambdaVariants) {
    lambda[label] = median(lambdaRuns.get(label)!);
    console.log(`  ${label.padEnd(40)} ${lambda[label].toFixed(0).padStart(5)} us per invocation (${(1e6 / lambda[label]).toFixed(0)} a second)`);
  }
  const lambdaCost = (100 * (lambda['all on (tracing on)'] - lambda['all off (tracing on)'])) / lambda['all on (tracing on)'];
  console.log(`  Lambda: metrics and the log line together cost ${lambdaCost.toFixed(0)}% of the handler's own throughput; tracing ${(lambda['all off (tracing on)'] - lambda['all off, tracing off']).toFixed(0)} us per invocation`);
  report.observability = { local, localCost, lambdaMicros: lambda, lambdaCostPercent: lambdaCost };
}

// (t) ------------------------------------------------------------------------------------------
if (runs('t')) {
  console.log('\n(t) concurrency defaults: intra-op threads, spinning, and the SageMaker container\'s concurrency limit');
  console.log('  one request at a time, in process (as a Lambda instance runs), us per run (median of 5 x 500):');
  const pixels = Float32Array.from({ length: 3 * 320 * 320 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const models: [string, string, () => Record<string, Tensor>][] = [
    ['breast_cancer_classifier (1 row)', join(SAMPLES_DIR, 'breast_cancer_classifier', '1', 'model.onnx'), () => ({ features: new Tensor('float32', Float32Array.from(features), [1, 30]) })],
    ['conv_large (1x3x320x320)', join(FIXTURE_MODELS_DIR, 'conv_large', '1', 'model.onnx'), () => ({ image: new Tensor('float32', pixels, [1, 3, 320, 320]) })],
  ];
  const inProcess: Record<string, Record<string, number>> = {};
  for (const [label, file, feeds] of models) {
    inProcess[label] = {};
    for (const [variant, options] of [['1 thread', defaultSessionOptions(1)], ['2 threads', defaultSessionOptions(2)], ['2 threads, spinning', defaultSessionOptions(2, true)]] as const) {
      const session = await InferenceSession.create(file, options);
      const input = feeds();
      const n = label.startsWith('conv') ? (QUICK ? 20 : 100) : 500;
      for (let i = 0; i < n; i++) await session.run(input);
      const times: number[] = [];
      for (let r = 0; r < 5; r++) {
        const started = performance.now();
        for (let i = 0; i < n; i++) await session.run(input);
        times.push(((performance.now() - started) / n) * 1000);
      }
      inProcess[label][variant] = median(times);
      await session.release();
    }
    console.log(`  ${label.padEnd(34)} ${Object.entries(inProcess[label]).map(([v, us]) => `${v} ${us.toFixed(0)} us`).join(', ')}`);
  }
  console.log(`  SageMaker container under load (${QUICK ? 3 : 5} s each): breast_cancer at 16 connections, conv_large (binary) at 4`);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], parameters: { binary_data_size: pixels.byteLength } }] }));
  const convBody = Buffer.concat([header, Buffer.from(pixels.buffer)]);
  const convHeaders = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
  const containerVariants: [string, Record<string, string>][] = [
    ['1 thread, 32 in flight (default)', { ORT_INTRA_OP_THREADS: '1' }],
    ['2 threads, 32 in flight', { ORT_INTRA_OP_THREADS: '2' }],
    ['2 threads, spinning, 32 in flight', { ORT_INTRA_OP_THREADS: '2', ORT_ALLOW_SPINNING: 'true' }],
    ['1 thread, 1 in flight', { ORT_INTRA_OP_THREADS: '1', MAX_CONCURRENCY: '1' }],
    ['1 thread, 2 in flight', { ORT_INTRA_OP_THREADS: '1', MAX_CONCURRENCY: '2' }],
    ['1 thread, 8 in flight', { ORT_INTRA_OP_THREADS: '1', MAX_CONCURRENCY: '8' }],
  ];
  const underLoad: Record<string, Record<string, Load>> = {};
  for (const [label, env] of containerVariants) {
    const small = await startServer('sagemaker', 18110, env);
    const smallLoad = await load(`${small.url}/invocations`, v2Body, { seconds: QUICK ? 3 : 5, pid: small.child.pid });
    await small.stop();
    const conv = await startServer('sagemaker', 18111, { ...env, MODEL_DIR: FIXTURE_MODELS_DIR, MODEL_NAME: 'conv_large' });
    const convLoad = await load(`${conv.url}/invocations`, convBody, { seconds: QUICK ? 3 : 5, connections: 4, headers: convHeaders, pid: conv.child.pid });
    await conv.stop();
    underLoad[label] = { small: smallLoad, conv: convLoad };
    console.log(`  ${label.padEnd(36)} small ${smallLoad.requestsPerSecond.toFixed(0).padStart(6)} req/s p99 ${smallLoad.p99} ms | conv ${convLoad.requestsPerSecond.toFixed(0).padStart(4)} req/s p99 ${convLoad.p99} ms | errors ${smallLoad.errors + convLoad.errors}`);
  }
  report.concurrency = { inProcess, underLoad };
}

// (c) ------------------------------------------------------------------------------------------
let staged: ReturnType<typeof stageImageContext> | undefined;
if (runs('c') || runs('s') || runs('y')) staged = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'bench-stage-')) });
if (runs('c')) {
  console.log('\n(c) cold start: process spawn to first correct answer, model from an S3 API server (median of 7)');
  const s3 = await startTestS3();
  await s3.upload(SAMPLES_DIR, 'models/');
  const eventFile = join(mkdtempSync(join(tmpdir(), 'bench-event-')), 'event.json');
  writeFileSync(eventFile, JSON.stringify({ httpMethod: 'POST', path: INFER, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(goldenRequest(readGolden('breast_cancer_classifier'), 1)), isBase64Encoded: false, requestContext: {} }));
  const coldEnv = { PATH: process.env.PATH, MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint, MODEL_NAMES: 'breast_cancer_classifier', MODEL_VERSION: '1', PRELOAD_MODELS: 'true', ORT_INTRA_OP_THREADS: '1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench' };
  // Asynchronous spawns: the S3 API server runs in this process and must keep answering.
  const cold = async (mode: string, env: Record<string, string> = {}) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'cold-start.mjs'), mode, staged!.directory, eventFile], { env: { ...coldEnv, ...env }, cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    await new Promise((resolve) => child.on('exit', resolve));
    const total = performance.now() - started;
    const lines = stdout.split('\n');
    const result = JSON.parse(lines.find((l) => l.includes('"mode"'))!);
    const loaded = lines.find((l) => l.includes('"model loaded"'));
    return { total, ...result, ...(loaded ? { fetchMs: JSON.parse(loaded).fetchMs, sessionMs: JSON.parse(loaded).sessionMs } : {}) };
  };
  const coldRuns: Record<'modelship' | 'untraced' | 'bare', Awaited<ReturnType<typeof cold>>[]> = { modelship: [], untraced: [], bare: [] };
  for (let i = 0; i < 7; i++) {
    coldRuns.modelship.push(await cold('modelship'));
    coldRuns.untraced.push(await cold('modelship', { POWERTOOLS_TRACE_ENABLED: 'false' }));
    coldRuns.bare.push(await cold('bare'));
  }
  await s3.close();
  const coldMs = (mode: keyof typeof coldRuns) => median(coldRuns[mode].map((r) => r.total));
  const phase = (mode: keyof typeof coldRuns, key: string) => median(coldRuns[mode].map((r) => r.phases[key])).toFixed(0);
  console.log(`  ModelShip handler:     ${coldMs('modelship').toFixed(0)} ms (imports + fetch + session during init ${phase('modelship', 'importsAndLoad')} ms, of which fetch ${median(coldRuns.modelship.map((r) => r.fetchMs))} ms and session ${median(coldRuns.modelship.map((r) => r.sessionMs))} ms; first answer at ${phase('modelship', 'firstAnswer')} ms)`);
  console.log(`  same, tracing off:     ${coldMs('untraced').toFixed(0)} ms (init ${phase('untraced', 'importsAndLoad')} ms; first answer at ${phase('untraced', 'firstAnswer')} ms)`);
  console.log(`  bare script:           ${coldMs('bare').toFixed(0)} ms (imports ${phase('bare', 'imports')}, download at ${phase('bare', 'download')}, session at ${phase('bare', 'session')}, first answer at ${phase('bare', 'firstAnswer')} ms)`);
  report.coldStart = { runs: coldRuns, modelshipMs: coldMs('modelship'), untracedMs: coldMs('untraced'), bareMs: coldMs('bare'), ratio: target('(c) cold start / bare', coldMs('modelship') / coldMs('bare'), 1.3, 'lower'), untracedRatio: coldMs('untraced') / coldMs('bare') };
}

// (d) ------------------------------------------------------------------------------------------
if (runs('d')) {
  console.log(`\n(d) large tensors: conv on 1x3x320x320 FP32 (1.2 MB) over HTTP, each path vs a bare server doing the same work over the same transport (median of ${QUICK ? 20 : 60}, two rounds)`);
  const pixels = Float32Array.from({ length: 3 * 320 * 320 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const ours = await startServer('local', 18090, { MODEL_DIR: FIXTURE_MODELS_DIR, MODEL_NAMES: 'conv_large', ORT_INTRA_OP_THREADS: '1' });
  const bare = await startServer('bare-large', 18091, { ORT_INTRA_OP_THREADS: '1' });
  const timeIt = (fn: () => Promise<unknown>) => medianMs(fn, QUICK ? 20 : 60, 3);
  const post = (url: string, body: string | Buffer, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers }).then((r) => r.arrayBuffer());
  const jsonBody = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], data: Array.from(pixels) }] });
  const bareJsonBody = JSON.stringify({ shape: [1, 3, 320, 320], data: Array.from(pixels) });
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], parameters: { binary_data_size: pixels.byteLength } }], parameters: { binary_data_output: true } }));
  const binaryBody = Buffer.concat([header, Buffer.from(pixels.buffer)]);
  const binaryHeaders = { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) };
  const convService = createTestService(FIXTURE_MODELS_DIR);
  const conv = await convService.loadModel('conv_large');
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    rounds.push({
      raw: await timeIt(() => conv.session.run({ image: new Tensor('float32', pixels, [1, 3, 320, 320]) })),
      bareBinary: await timeIt(() => post(`${bare.url}/binary`, Buffer.from(pixels.buffer), { 'Content-Type': 'application/octet-stream' })),
      binary: await timeIt(() => post(`${ours.url}/v2/models/conv_large/infer`, binaryBody, binaryHeaders)),
      bareJson: await timeIt(() => post(`${bare.url}/json`, bareJsonBody, { 'Content-Type': 'application/json' })),
      json: await timeIt(() => post(`${ours.url}/v2/models/conv_large/infer`, jsonBody, { 'Content-Type': 'application/json' })),
    });
  }
  await Promise.all([ours.stop(), bare.stop()]);
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  console.log(`  raw session.run ${best('raw').toFixed(2)} ms`);
  console.log(`  binary: bare ${best('bareBinary').toFixed(2)} ms, ModelShip ${best('binary').toFixed(2)} ms (${(binaryBody.length / 1e6).toFixed(2)} MB body)`);
  console.log(`  JSON:   bare ${best('bareJson').toFixed(2)} ms, ModelShip ${best('json').toFixed(2)} ms (${(jsonBody.length / 1e6).toFixed(2)} MB body)`);
  report.largeTensors = { rounds, jsonBodyBytes: jsonBody.length, binaryBodyBytes: binaryBody.length, binaryRatio: target('(d) binary / bare binary', best('binary') / best('bareBinary'), 1.3, 'lower'), jsonRatio: target('(d) JSON / bare JSON', best('json') / best('bareJson'), 1.3, 'lower') };
}

// (e) ------------------------------------------------------------------------------------------
if (runs('e')) {
  const total = QUICK ? 30_000 : 300_000;
  const every = QUICK ? 3_000 : 10_000;
  console.log(`\n(e) memory of the local server over ${total.toLocaleString('en')} requests after warm-up: RSS, and the heap after a full GC (inspector), every ${every.toLocaleString('en')}`);
  const ours = await startServer('local', 18095, {}, ['--inspect=127.0.0.1:0']);
  const inspector = await Inspector.connect(/Debugger listening on (ws:\/\/\S+)/.exec(ours.output())![1]);
  await load(`${ours.url}${INFER}`, v2Body, { amount: 20_000, warmup: false });
  const samples: { requests: number; rssKb: number; heapMb: number }[] = [];
  const sample = async (requests: number) => samples.push({ requests, rssKb: rssKb(ours.child.pid!), heapMb: (await inspector.heapAfterGc()) / 1048576 });
  await sample(0);
  let errors = 0;
  for (let done = every; done <= total; done += every) {
    errors += (await load(`${ours.url}${INFER}`, v2Body, { amount: every, warmup: false })).errors;
    await sample(done);
  }
  inspector.close();
  await ours.stop();
  const line = (pick: (s: (typeof samples)[number]) => number, unit: string) => samples.map((s) => `${(s.requests / 1000).toFixed(0)}k ${pick(s).toFixed(1)}`).join(', ') + ` ${unit}`;
  console.log(`  RSS:             ${line((s) => s.rssKb / 1024, 'MB')}`);
  console.log(`  heap after GC:   ${line((s) => s.heapMb, 'MB')}`);
  const fitted = (pick: (s: (typeof samples)[number]) => number) => leastSquaresSlope(samples.map((s) => [s.requests, pick(s)])) * total;
  const rssGrowth = (100 * fitted((s) => s.rssKb)) / samples[0].rssKb;
  const heapGrowth = fitted((s) => s.heapMb);
  console.log(`  errors ${errors}; fitted growth over the run: RSS ${rssGrowth.toFixed(1)}%, heap after GC ${heapGrowth.toFixed(2)} MB`);
  report.memory = { samples, errors, rssGrowthPercent: target('(e) RSS fitted growth over the run (%)', rssGrowth, 5, 'lower'), heapGrowthMb: target('(e) heap after GC, fitted growth over the run (MB)', heapGrowth, 1, 'lower') };
}

// (i) ------------------------------------------------------------------------------------------
if (runs('i')) {
  console.log(`\n(i) images and text over HTTP, one request at a time (median of ${QUICK ? 50 : 300}, two rounds): ModelShip vs a bare server doing the same with the same libraries`);
  const { default: sharp } = await import('sharp');
  const jpeg = await sharp(readFileSync(join(ROOT, 'test', 'fixtures', 'images', 'line-0.png'))).resize(224, 224, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const sentence = 'multiplayer puzzle game with cute monsters and a level editor';
  const ours = await startServer('local', 18120, { MODEL_NAMES: 'text_orientation,debian_sections' });
  const bare = await startServer('bare-task', 18121);
  const timeIt = (fn: () => Promise<unknown>) => medianMs(fn, QUICK ? 50 : 300, 20);
  const post = (url: string, body: string | Buffer, type: string) => fetch(url, { method: 'POST', body, headers: { 'Content-Type': type } }).then((r) => r.text());
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    rounds.push({
      bareImage: await timeIt(() => post(`${bare.url}/image`, jpeg, 'image/jpeg')),
      image: await timeIt(() => post(`${ours.url}/v2/models/text_orientation/infer`, jpeg, 'image/jpeg')),
      bareText: await timeIt(() => post(`${bare.url}/text`, sentence, 'text/plain')),
      text: await timeIt(() => post(`${ours.url}/v2/models/debian_sections/infer`, sentence, 'text/plain')),
    });
  }
  await Promise.all([ours.stop(), bare.stop()]);
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  const tensorJson = JSON.stringify({ inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [1, 3, 224, 224], data: Array.from(Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.fround(((i * 7919) % 255) / 127.5 - 1))) }] });
  console.log(`  image (224x224 JPEG, ${jpeg.length} bytes): bare ${best('bareImage').toFixed(2)} ms, ModelShip ${best('image').toFixed(2)} ms`);
  console.log(`  text (${sentence.length} characters): bare ${best('bareText').toFixed(2)} ms, ModelShip ${best('text').toFixed(2)} ms`);
  console.log(`  payload: the JPEG is ${(jpeg.length / 1024).toFixed(1)} KB; the same image as a v2 JSON FP32 tensor 1x3x224x224 is ${(tensorJson.length / 1024).toFixed(0)} KB, ${((3 * 224 * 224 * 4) / 1024).toFixed(0)} KB as a binary tensor`);
  report.tasks = { rounds, jpegBytes: jpeg.length, tensorJsonBytes: tensorJson.length, imageRatio: target('(i) image request / bare', best('image') / best('bareImage'), 1.2, 'lower'), textRatio: target('(i) text request / bare', best('text') / best('bareText'), 1.2, 'lower') };
}

// (h) ------------------------------------------------------------------------------------------
if (runs('h')) {
  const n = QUICK ? 50 : 300;
  console.log(`\n(h) question answering on the tiny BERT fixture, one request at a time (median of ${n}, two rounds, calls alternating): ModelShip over HTTP vs a bare node:http server doing the module's own work, that work in process vs transformers.js's pipeline`);
  const { questionAnswerer } = await import('./bench/question-answering.ts');
  const { env: tjs, pipeline } = await import('@huggingface/transformers');
  const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
  const repo = new TempRepository('bench-qa-');
  for (const file of ['model.onnx', ...files]) repo.file(`qa/1/${file}`, readFileSync(join(QA_MODEL, file)));
  mkdirSync(join(repo.dir, 'tjs', 'qa', 'onnx'), { recursive: true });
  for (const file of files) writeFileSync(join(repo.dir, 'tjs', 'qa', file), readFileSync(join(QA_MODEL, file)));
  writeFileSync(join(repo.dir, 'tjs', 'qa', 'onnx', 'model.onnx'), readFileSync(join(QA_MODEL, 'model.onnx')));
  const expected = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'question-answering', 'expected.json'), 'utf8')) as { cases: { name: string; question: string; context: string }[] };
  const short = expected.cases.find((c) => c.name === 'short default')!;
  const long = expected.cases.find((c) => c.name === 'long default stride')!;
  const body = (c: { question: string; context: string }) => ({ inputs: { question: c.question, context: c.context } });
  // In process: the module's parse + run on a session made with the server's options, no HTTP, no core.
  const direct = await questionAnswerer(QA_MODEL);
  tjs.allowRemoteModels = false;
  tjs.localModelPath = join(repo.dir, 'tjs');
  const answerer = await pipeline('question-answering', 'qa', { dtype: 'fp32' });
  const ours = await startServer('local', 18125, { MODEL_DIR: repo.dir, MODEL_NAMES: 'qa' });
  const bare = await startServer('bare-qa', 18124);
  const post = (url: string, c: { question: string; context: string }) => fetch(url, { method: 'POST', body: JSON.stringify(body(c)), headers: { 'Content-Type': 'application/json' } }).then((r) => r.text());
  const oursUrl = `${ours.url}/v2/models/qa/infer`;
  const same = (await post(oursUrl, long)) === (await post(bare.url, long)) && (await post(oursUrl, short)) === JSON.stringify(await direct(body(short)));
  // Calls alternate (bare, ModelShip, bare, …) so a busy shared machine slows both alike.
  const calls: Record<string, () => Promise<unknown>> = {
    shortDirect: () => direct(body(short)),
    shortTransformersJs: () => answerer(short.question, short.context),
    shortBare: () => post(bare.url, short),
    shortHttp: () => post(oursUrl, short),
    longBare: () => post(bare.url, long),
    longHttp: () => post(oursUrl, long),
  };
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(calls).map((k) => [k, []]));
    for (const pair of [['shortDirect', 'shortTransformersJs'], ['shortBare', 'shortHttp'], ['longBare', 'longHttp']]) {
      for (let i = 0; i < n + 20; i++) {
        for (const key of pair) {
          const started = performance.now();
          await calls[key]();
          if (i >= 20) times[key].push(performance.now() - started);
        }
      }
    }
    rounds.push(Object.fromEntries(Object.entries(times).map(([k, t]) => [k, median(t)])));
  }
  await Promise.all([ours.stop(), bare.stop()]);
  await answerer.dispose();
  rmSync(repo.dir, { recursive: true, force: true });
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  console.log(`  one window (${[...short.context].length} characters): ModelShip ${best('shortHttp').toFixed(2)} ms, bare server ${best('shortBare').toFixed(2)} ms; in process ${best('shortDirect').toFixed(2)} ms, transformers.js ${best('shortTransformersJs').toFixed(2)} ms; same answer: ${same}`);
  console.log(`  one question over ${[...long.context].length} characters (4 windows): ModelShip ${best('longHttp').toFixed(2)} ms, bare server ${best('longBare').toFixed(2)} ms (transformers.js has no windows)`);
  report.questionAnswering = {
    rounds,
    sameAnswer: same,
    httpRatio: target('(h) one-window question: ModelShip / bare server', best('shortHttp') / best('shortBare'), 1.2, 'lower'),
    longHttpRatio: target('(h) 4-window question: ModelShip / bare server', best('longHttp') / best('longBare'), 1.2, 'lower'),
    httpOverDirect: best('shortHttp') / best('shortDirect'),
    transformersJsRatio: target('(h) in process / transformers.js pipeline (one window)', best('shortDirect') / best('shortTransformersJs'), 1, 'lower'),
  };
}

if (runs('n')) {
  const n = QUICK ? 50 : 200;
  console.log(`\n(n) object detection, one request at a time (median of ${n}, two rounds, calls alternating): a 640x480 JPEG through a YOLOv8 export (Ultralytics' own, 320x320, 3 classes) over HTTP vs a bare node:http server doing the same decode + letterbox + session.run + NMS, and vs that work in process (no HTTP at all); and NMS on 8,400 candidates`);
  const { objectDetector } = await import('./bench/object-detection.ts');
  const { ultralyticsDetections } = await import('../lambda/core/tasks/object-detection/ultralytics.ts');
  const { nonMaxSuppression } = await import('../lambda/core/tasks/object-detection/nms.ts');
  const fixtures = join(ROOT, 'test', 'fixtures', 'object-detection');
  const jpeg = readFileSync(join(fixtures, 'images', 'scene.jpg'));
  const repo = new TempRepository('bench-detect-').copy(join(fixtures, 'yolov8'), 'yolo/1');
  // In process: the bare server's steps on a session made with the server's options, no HTTP, no core.
  const inProcess = await objectDetector(join(fixtures, 'yolov8', 'model.onnx'));
  const direct = () => inProcess.detect(jpeg);
  // The core without HTTP: the InferenceService's task path (registry, parse, run, metrics hooks).
  const service = createTestService(repo.dir);
  const servedModel = await service.loadModel('yolo', '1');
  const viaService = () => service.runTaskInput(servedModel, { kind: 'raw', contentType: 'image/jpeg', body: jpeg });
  const ours = await startServer('local', 18177, { MODEL_DIR: repo.dir, MODEL_NAMES: 'yolo' });
  const bare = await startServer('bare-detect', 18178);
  const postTo = (url: string) => () => fetch(url, { method: 'POST', body: jpeg, headers: { 'Content-Type': 'image/jpeg' } }).then((r) => r.text());
  const post = postTo(`${ours.url}/v2/models/yolo/infer`);
  const postBare = postTo(`${bare.url}/detect`);
  const expected = await direct();
  const same = (await post()) === expected && (await postBare()) === expected;
  // Calls alternate (in process, service, HTTP, bare HTTP, …) so a busy shared machine slows all alike.
  const steps = [['direct', direct], ['service', viaService], ['http', post], ['bare', postBare]] as const;
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    const times: Record<string, number[]> = Object.fromEntries(steps.map(([key]) => [key, []]));
    for (let i = 0; i < 20; i++) for (const [, fn] of steps) await fn();
    for (let i = 0; i < n; i++) {
      for (const [key, fn] of steps) {
        const started = performance.now();
        await fn();
        times[key].push(performance.now() - started);
      }
    }
    rounds.push(Object.fromEntries(steps.map(([key]) => [key, median(times[key])])));
  }
  await Promise.all([ours.stop(), bare.stop()]);
  await inProcess.release();
  rmSync(repo.dir, { recursive: true, force: true });
  // NMS and decoding on YOLO's full 640x640 grid (80x80 + 40x40 + 20x20 = 8,400 anchors), COCO's 80
  // classes, made-up boxes scattered over the image with scores that all pass 0.25: the worst case.
  const anchors = 8400;
  const classes = 80;
  const random = (() => {
    let state = 12345;
    return () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  })();
  const output = new Float32Array((4 + classes) * anchors);
  for (let a = 0; a < anchors; a++) {
    output[a] = random() * 640;
    output[anchors + a] = random() * 640;
    output[2 * anchors + a] = 10 + random() * 120;
    output[3 * anchors + a] = 10 + random() * 120;
    output[(4 + Math.floor(random() * classes)) * anchors + a] = 0.26 + random() * 0.74;
  }
  const boxes = new Float32Array(anchors * 4);
  const scores = new Float32Array(anchors);
  const labels = new Int32Array(anchors);
  for (let a = 0; a < anchors; a++) {
    const [x, y, w, h] = [output[a], output[anchors + a], output[2 * anchors + a], output[3 * anchors + a]];
    boxes.set([x - w / 2, y - h / 2, x + w / 2, y + h / 2], a * 4);
    labels[a] = Math.floor(random() * classes);
    scores[a] = 0.26 + random() * 0.74;
  }
  const wide = { ...inProcess.detector, labels: Array.from({ length: classes }, (_, i) => String(i)), width: 640, height: 640 };
  const nmsMs = await medianMs(async () => nonMaxSuppression({ boxes, scores, classes: labels, count: anchors }, 0.7, 300), QUICK ? 20 : 100, 5);
  const decodeMs = await medianMs(async () => ultralyticsDetections(wide, { data: output, dims: [1, 4 + classes, anchors] }, 0, 640, 480, {}), QUICK ? 20 : 100, 5);
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  console.log(`  scene.jpg (640x480, ${jpeg.length} bytes): in process ${best('direct').toFixed(2)} ms, through the InferenceService ${best('service').toFixed(2)} ms, ModelShip over HTTP ${best('http').toFixed(2)} ms, bare server over HTTP ${best('bare').toFixed(2)} ms; same answer: ${same}`);
  console.log(`  NMS of 8,400 candidates (80 classes, all over 0.25): ${nmsMs.toFixed(2)} ms; decoding a [1, 84, 8400] output with it: ${decodeMs.toFixed(2)} ms`);
  report.objectDetection = { rounds, sameAnswer: same, nms8400Ms: nmsMs, decode8400Ms: decodeMs, serviceRatio: best('service') / best('direct'), bareRatio: target('(n) 640x480 JPEG detection over HTTP / bare server', best('http') / best('bare'), 1.1, 'lower'), httpRatio: target('(n) 640x480 JPEG detection over HTTP / in process', best('http') / best('direct'), 1.1, 'lower'), bareHttpRatio: best('bare') / best('direct') };
}

// (v) ------------------------------------------------------------------------------------------
if (runs('v')) {
  console.log(`\n(v) image embeddings over HTTP, one request at a time (median of ${QUICK ? 50 : 300}, two rounds): a 224x224 JPEG through image-feature-extraction (a ViT at 224x224, 197 tokens) vs a bare server doing decode + preprocess + session.run + CLS; transformers.js's pipeline in process for reference`);
  const { default: sharp } = await import('sharp');
  const jpeg = await sharp(readFileSync(join(ROOT, 'test', 'fixtures', 'images', 'crop-shapes.png'))).resize(224, 224, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const folder = join(ROOT, 'test', 'fixtures', 'image-feature-extraction', 'vit-224');
  const repository = new TempRepository('bench-embeddings-').copy(folder, 'vit_embeddings/1').config('vit_embeddings', { description: 'A random-weight ViT at 224x224 (bench)' }).dir;
  const ours = await startServer('local', 18122, { MODEL_DIR: repository, MODEL_NAMES: 'vit_embeddings' });
  const bare = await startServer('bare-embedding', 18123);
  const timeIt = (fn: () => Promise<unknown>) => medianMs(fn, QUICK ? 50 : 300, 20);
  const post = (url: string) => fetch(url, { method: 'POST', body: jpeg, headers: { 'Content-Type': 'image/jpeg' } }).then((r) => r.text());
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.localModelPath = '/';
  const tjsFolder = new TempRepository('bench-embeddings-tjs-').copy(folder, '.').copy(join(folder, 'model.onnx'), 'onnx/model.onnx').dir;
  const extractor = await t.pipeline('image-feature-extraction', tjsFolder, { dtype: 'fp32', session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    rounds.push({
      bare: await timeIt(() => post(`${bare.url}/embed`)),
      modelship: await timeIt(() => post(`${ours.url}/v2/models/vit_embeddings/infer`)),
      transformersJs: await timeIt(async () => extractor(await t.RawImage.fromBlob(new Blob([new Uint8Array(jpeg)])))),
    });
  }
  await Promise.all([ours.stop(), bare.stop()]);
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  console.log(`  224x224 JPEG (${jpeg.length} bytes): bare ${best('bare').toFixed(2)} ms, ModelShip ${best('modelship').toFixed(2)} ms, transformers.js pipeline in process ${best('transformersJs').toFixed(2)} ms`);
  report.imageEmbeddings = { rounds, jpegBytes: jpeg.length, ratio: target('(v) image embedding request / bare', best('modelship') / best('bare'), 1.1, 'lower') };
}

// (u) ------------------------------------------------------------------------------------------
if (runs('u')) {
  const texts = Array.from({ length: 16 }, (_, i) => `${['a chess engine with a graphical board', 'tools to capture and analyse network packets', 'TrueType font family for code', 'a synthesizer for live music'][i % 4]} ${i}`);
  console.log(`\n(u) OpenAI-compatible /v1/embeddings, ${texts.length} texts per request, 16 connections, ${seconds} s per run, median of ${QUICK ? 1 : 3} interleaved rounds: local server vs a bare server doing tokenize + run + mean pool + normalize`);
  const ours = await startServer('local', 18125, { MODEL_NAMES: 'debian_embeddings' });
  const bare = await startServer('bare-task', 18126);
  const body = JSON.stringify({ model: 'debian_embeddings', input: texts, encoding_format: 'float' });
  const runsOf: Record<'bare' | 'float' | 'base64', Load[]> = { bare: [], float: [], base64: [] };
  for (let round = 0; round < (QUICK ? 1 : 3); round++) {
    runsOf.bare.push(await load(`${bare.url}/embeddings`, JSON.stringify({ input: texts }), { seconds, pid: bare.child.pid }));
    runsOf.float.push(await load(`${ours.url}/v1/embeddings`, body, { seconds, pid: ours.child.pid }));
    runsOf.base64.push(await load(`${ours.url}/v1/embeddings`, body.replace('"float"', '"base64"'), { seconds, pid: ours.child.pid }));
  }
  await Promise.all([ours.stop(), bare.stop()]);
  const [b, f, b64] = [medianRun(runsOf.bare), medianRun(runsOf.float), medianRun(runsOf.base64)];
  row('bare Node + tokenizer + onnxruntime', b);
  row('/v1/embeddings, float', f);
  row('/v1/embeddings, base64', b64);
  report.embeddings = { runs: runsOf, floatThroughput: target('(u) /v1/embeddings (float) throughput / bare', f.requestsPerSecond / b.requestsPerSecond, 0.85, 'higher'), base64Throughput: b64.requestsPerSecond / b.requestsPerSecond };
}

// (r) ------------------------------------------------------------------------------------------
if (runs('r')) {
  const n = QUICK ? 50 : 300;
  console.log(`\n(r) token classification on the trained debian_package_tags test model, one request at a time (median of ${n}, two rounds): ModelShip over HTTP vs a bare node:http server doing the module's own work, that work in process vs transformers.js's pipeline`);
  const { tokenClassifier } = await import('./bench/token-classification.ts');
  const { env: tjs, pipeline } = await import('@huggingface/transformers');
  const files = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
  const repo = new TempRepository('bench-tokens-');
  for (const file of ['model.onnx', ...files]) repo.file(`tags/1/${file}`, readFileSync(join(TOKEN_TAGGER, file)));
  mkdirSync(join(repo.dir, 'tjs', 'tags', 'onnx'), { recursive: true });
  for (const file of files) writeFileSync(join(repo.dir, 'tjs', 'tags', file), readFileSync(join(TOKEN_TAGGER, file)));
  writeFileSync(join(repo.dir, 'tjs', 'tags', 'onnx', 'model.onnx'), readFileSync(join(TOKEN_TAGGER, 'model.onnx')));
  const short = 'The python3-lxml package builds on libxml2 and libxslt1.1; install python3-lxml-dbg for debugging symbols.';
  const long = Array.from({ length: 12 }, (_, i) => `Part ${i}: this package depends on libssl3, zlib1g and libgcc-s1, and python3-numpy ${i}.x ships with it.`).join(' ');
  const body = (text: string, strategy: string) => ({ inputs: text, parameters: { aggregation_strategy: strategy } });
  const direct = await tokenClassifier(TOKEN_TAGGER);
  tjs.allowRemoteModels = false;
  tjs.localModelPath = join(repo.dir, 'tjs');
  const tagger = await pipeline('token-classification', 'tags', { dtype: 'fp32' });
  const ours = await startServer('local', 18130, { MODEL_DIR: repo.dir, MODEL_NAMES: 'tags' });
  const bare = await startServer('bare-tokens', 18131);
  const post = (url: string, text: string, strategy: string) => fetch(url, { method: 'POST', body: JSON.stringify(body(text, strategy)), headers: { 'Content-Type': 'application/json' } }).then((r) => r.text());
  const oursUrl = `${ours.url}/v2/models/tags/infer`;
  const timeIt = (fn: () => Promise<unknown>) => medianMs(fn, n, 20);
  const rounds: Record<string, number>[] = [];
  for (let round = 0; round < 2; round++) {
    rounds.push({
      noneDirect: await timeIt(() => direct(body(short, 'none'))),
      noneTransformersJs: await timeIt(() => tagger(short)),
      simpleDirect: await timeIt(() => direct(body(short, 'simple'))),
      simpleTransformersJs: await timeIt(() => tagger(short, { aggregation_strategy: 'simple' })),
      simpleBare: await timeIt(() => post(bare.url, short, 'simple')),
      simpleHttp: await timeIt(() => post(oursUrl, short, 'simple')),
      longBare: await timeIt(() => post(bare.url, long, 'first')),
      longHttp: await timeIt(() => post(oursUrl, long, 'first')),
    });
  }
  await Promise.all([ours.stop(), bare.stop()]);
  await tagger.dispose();
  rmSync(repo.dir, { recursive: true, force: true });
  const best = (key: string) => Math.min(...rounds.map((r) => r[key]));
  console.log(`  one window (${[...short].length} characters), "simple": ModelShip ${best('simpleHttp').toFixed(2)} ms, bare server ${best('simpleBare').toFixed(2)} ms; in process ${best('simpleDirect').toFixed(2)} ms, transformers.js ${best('simpleTransformersJs').toFixed(2)} ms (no offsets there)`);
  console.log(`  one window, "none": in process ${best('noneDirect').toFixed(2)} ms, transformers.js ${best('noneTransformersJs').toFixed(2)} ms`);
  console.log(`  ${[...long].length} characters in stride windows, "first": ModelShip ${best('longHttp').toFixed(2)} ms, bare server ${best('longBare').toFixed(2)} ms (transformers.js truncates and has no "first")`);
  report.tokenClassification = {
    rounds,
    httpRatio: target('(r) one-window "simple": ModelShip / bare server', best('simpleHttp') / best('simpleBare'), 1.2, 'lower'),
    longHttpRatio: target('(r) long text in windows: ModelShip / bare server', best('longHttp') / best('longBare'), 1.2, 'lower'),
    transformersJsRatio: target('(r) in process / transformers.js pipeline ("none")', best('noneDirect') / best('noneTransformersJs'), 1, 'lower'),
    transformersJsSimpleRatio: target('(r) in process / transformers.js pipeline ("simple")', best('simpleDirect') / best('simpleTransformersJs'), 1, 'lower'),
  };
}

// (x) ------------------------------------------------------------------------------------------
if (runs('x')) {
  const delayMicros = 2000;
  console.log(`\n(x) dynamic batching: conv_large (1x3x320x320, binary) on the SageMaker container, ${QUICK ? 3 : 6} s per point; batching: maxBatchSize 32, preferredBatchSizes 8/16/32, maxQueueDelay ${delayMicros} us`);
  const pixels = Float32Array.from({ length: 3 * 320 * 320 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], parameters: { binary_data_size: pixels.byteLength } }] }));
  const body = Buffer.concat([header, Buffer.from(pixels.buffer)]);
  const headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) };
  const plain = new TempRepository('bench-batching-off-').fixture('conv_large').dir;
  const batched = new TempRepository('bench-batching-on-').fixture('conv_large').config('conv_large', { dynamicBatching: { maxBatchSize: 32, maxQueueDelayMicroseconds: delayMicros, preferredBatchSizes: [8, 16, 32] } }).dir;
  const points: Record<string, Record<string, Load>> = {};
  for (const [label, dir] of [['off', plain], ['on', batched]] as const) {
    const server = await startServer('sagemaker', 18130, { MODEL_DIR: dir, MODEL_NAME: 'conv_large' });
    points[label] = {};
    for (const clients of [1, 8, 32]) points[label][clients] = await load(`${server.url}/invocations`, body, { seconds: QUICK ? 3 : 6, connections: clients, headers, pid: server.child.pid });
    await server.stop();
  }
  for (const clients of [1, 8, 32]) {
    const [off, on] = [points.off[clients], points.on[clients]];
    console.log(`  ${String(clients).padStart(2)} clients: without ${off.requestsPerSecond.toFixed(0).padStart(5)} req/s p99 ${off.p99} ms | with ${on.requestsPerSecond.toFixed(0).padStart(5)} req/s p99 ${on.p99} ms | ${(on.requestsPerSecond / off.requestsPerSecond).toFixed(2)}x`);
  }
  // A small MatMul model, where the run itself is a small part of a request.
  const digitsBody = Buffer.from(JSON.stringify(goldenRequest(readGolden('digits_mlp'), 1)));
  const small: Record<string, Load> = {};
  for (const [label, batching] of [['off', undefined], ['on', { maxBatchSize: 32, maxQueueDelayMicroseconds: delayMicros, preferredBatchSizes: [8, 16, 32] }]] as const) {
    const dir = new TempRepository(`bench-batching-digits-${label}-`).sample('digits_mlp').config('digits_mlp', batching === undefined ? {} : { dynamicBatching: batching }).dir;
    const server = await startServer('sagemaker', 18131, { MODEL_DIR: dir, MODEL_NAME: 'digits_mlp' });
    small[label] = await load(`${server.url}/invocations`, digitsBody, { seconds: QUICK ? 3 : 6, connections: 32, headers: { 'content-type': 'application/json' }, pid: server.child.pid });
    await server.stop();
  }
  console.log(`  digits_mlp (1x8x8 JSON), 32 clients: without ${small.off.requestsPerSecond.toFixed(0)} req/s p99 ${small.off.p99} ms | with ${small.on.requestsPerSecond.toFixed(0)} req/s p99 ${small.on.p99} ms | ${(small.on.requestsPerSecond / small.off.requestsPerSecond).toFixed(2)}x`);
  // The ceiling: what a batch saves in onnxruntime itself, per row, at the server's one intra-op thread.
  console.log('  in process, session.run per row at 1 intra-op thread (the most batching can save here):');
  const ceilings: Record<string, Record<number, number>> = {};
  for (const [label, path, shape] of [['conv_large', join(FIXTURE_MODELS_DIR, 'conv_large', '1', 'model.onnx'), [3, 320, 320]], ['text_orientation', join(SAMPLES_DIR, 'text_orientation', '1', 'model.onnx'), [3, 48, 192]], ['digits_mlp', join(SAMPLES_DIR, 'digits_mlp', '1', 'model.onnx'), [8, 8]]] as const) {
    const session = await InferenceSession.create(path, { intraOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } });
    ceilings[label] = {};
    for (const rows of [1, 8, 32]) {
      const size = rows * shape.reduce((a: number, b: number) => a * b, 1);
      const feeds = { [session.inputNames[0]]: new Tensor('float32', Float32Array.from({ length: size }, (_, i) => (i % 255) / 255), [rows, ...shape]) };
      for (let i = 0; i < 3; i++) await session.run(feeds);
      const repeats = Math.max(5, Math.round((QUICK ? 64 : 256) / rows));
      const started = performance.now();
      for (let i = 0; i < repeats; i++) await session.run(feeds);
      ceilings[label][rows] = ((performance.now() - started) * 1000) / repeats / rows;
    }
    console.log(`    ${label.padEnd(16)} batch 1: ${ceilings[label][1].toFixed(0).padStart(5)} us/row, 8: ${ceilings[label][8].toFixed(0).padStart(5)}, 32: ${ceilings[label][32].toFixed(0).padStart(5)} -> at most ${(ceilings[label][1] / ceilings[label][32]).toFixed(2)}x from batching`);
    await session.release();
  }
  const oneRun = 1000 / points.off[1].requestsPerSecond;
  report.batching = {
    points,
    digits32: small,
    ceilings,
    throughput32: target('(x) 32 clients: throughput with batching / without', points.on[32].requestsPerSecond / points.off[32].requestsPerSecond, 2, 'higher'),
    p99At32: target('(x) 32 clients: p99 with batching - p99 without, in ms, against maxQueueDelay + 2 run times', points.on[32].p99 - points.off[32].p99, delayMicros / 1000 + 2 * oneRun, 'lower'),
    latencyAt1: target('(x) 1 client: p50 added by batching (ms), against maxQueueDelay', points.on[1].p50 - points.off[1].p50, delayMicros / 1000, 'lower'),
  };
}

// (q) ------------------------------------------------------------------------------------------
if (runs('q')) {
  console.log('\n(q) modelship optimize: size and single-row session.run (median, 1 intra-op thread), FP32 against INT8 and --graph');
  const { optimize } = await import('../cli/optimize/optimize.ts');
  const { DataType, encodeModel, makeNode, makeTensor } = await import('../lambda/convert/onnx/onnx-model.ts');
  // A MatMul-heavy model: an MLP of four 1024-wide layers (weights drawn once from a fixed seed), its golden set its own FP32 outputs.
  const mlp = new TempRepository('bench-optimize-').sample('debian_sections').sample('text_orientation');
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.1;
  const widths = [256, 1024, 1024, 1024, 10];
  const nodes = [];
  const initializers = [];
  for (let l = 0; l < widths.length - 1; l++) {
    initializers.push(makeTensor(`w${l}`, DataType.FLOAT, [widths[l], widths[l + 1]], Float32Array.from({ length: widths[l] * widths[l + 1] }, random)), makeTensor(`b${l}`, DataType.FLOAT, [widths[l + 1]], Float32Array.from({ length: widths[l + 1] }, random)));
    nodes.push(makeNode('Gemm', [l === 0 ? 'x' : `h${l}`, `w${l}`, `b${l}`], [l === widths.length - 2 ? 'logits' : `g${l + 1}`], {}, `dense${l}`));
    if (l < widths.length - 2) nodes.push(makeNode('Relu', [`g${l + 1}`], [`h${l + 1}`], {}, `relu${l}`));
  }
  const io = (name: string, width: number) => ({ name, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } } });
  const mlpBytes = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'mlp', node: nodes, initializer: initializers, input: [io('x', 256)], output: [io('logits', 10)], valueInfo: [] } });
  mkdirSync(join(mlp.dir, 'wide_mlp', '1'), { recursive: true });
  writeFileSync(join(mlp.dir, 'wide_mlp', '1', 'model.onnx'), mlpBytes);
  const rows = 64;
  const x = Float32Array.from({ length: rows * 256 }, (_, i) => Math.sin(i));
  const mlpSession = await InferenceSession.create(mlpBytes);
  const logits = (await mlpSession.run({ x: new Tensor('float32', x, [rows, 256]) })).logits.data as Float32Array;
  writeFileSync(join(mlp.dir, 'wide_mlp', '1', 'golden.json'), JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 256], data: [...x] }], outputs: [{ name: 'logits', datatype: 'FP32', shape: [rows, 10], data: [...logits] }], targets: [], tolerance: { absolute: 1e-5, relative: 1e-4 } }));
  const results: Record<string, unknown> = {};
  for (const model of ['debian_sections', 'wide_mlp', 'text_orientation']) {
    for (const [i, mode] of (['int8', 'graph'] as const).entries()) {
      const { report: r } = await optimize({ modelsDir: mlp.dir, model, from: 1, to: 2 + i, mode, serviceFor: (dir) => createTestService(dir), latencyRuns: QUICK ? 200 : 1000 });
      results[`${model}/${mode}`] = r;
      const metric = Object.entries(r.metrics.delta).filter(([k]) => k === 'accuracy' || k === 'f1').map(([k, v]) => `${k} ${(v * 100).toFixed(2)} pt`).join(', ');
      console.log(`  ${model.padEnd(16)} ${mode.padEnd(5)} ${(r.bytes.source / 1e6).toFixed(2)} MB -> ${(r.bytes.result / 1e6).toFixed(2)} MB (${r.bytes.ratio.toFixed(2)}x smaller); ${r.latencyMicros.source.toFixed(0)} -> ${r.latencyMicros.result.toFixed(0)} us (${(r.latencyMicros.source / r.latencyMicros.result).toFixed(2)}x faster); max |diff| ${Object.values(r.maxAbsDifference).map((v) => v.toExponential(1)).join(', ')}${metric ? `; ${metric}` : ''}${r.quantization ? `; quantized ${Object.entries(Object.groupBy(r.quantization.quantized, (q) => q.op)).map(([op, list]) => `${list!.length} ${op}`).join(', ')}` : ''}`);
      for (const w of r.warnings) console.log(`    warning: ${w}`);
    }
  }
  const int8 = (model: string) => results[`${model}/int8`] as { bytes: { ratio: number }; latencyMicros: { ratio: number }; metrics: { delta: { accuracy?: number } } };
  report.optimize = {
    results,
    size: target('(q) debian_sections INT8: times smaller', int8('debian_sections').bytes.ratio, 3, 'higher'),
    speed: target('(q) wide_mlp (MatMul-heavy) INT8: single-row speed-up', 1 / int8('wide_mlp').latencyMicros.ratio, 1, 'higher'),
    metric: target('(q) debian_sections INT8: accuracy change on the golden set, points', Math.abs(int8('debian_sections').metrics.delta.accuracy ?? 0) * 100, 1, 'lower'),
  };
}

// (g) ------------------------------------------------------------------------------------------
const TREES_PACKAGES = ['xgboost==3.2.0', 'lightgbm==4.7.0', 'scikit-learn==1.7.2'];
const TREES_PYTHON = join(ROOT, '.venv-trees', 'bin', 'python');
/** A Python with XGBoost, LightGBM and scikit-learn: the tree fixtures' virtual environment (training/trees/README.md), made now, pinned, where missing. */
function ensureTreesPython(): string | undefined {
  const usable = (python: string) => spawnSync(python, ['-c', 'import xgboost, lightgbm, sklearn']).status === 0;
  if (usable(TREES_PYTHON)) return TREES_PYTHON;
  const line = `python3 -m venv .venv-trees && .venv-trees/bin/pip install ${TREES_PACKAGES.join(' ')}`;
  console.log(`  the native side needs XGBoost and LightGBM in Python: ${line}`);
  if (process.env.BENCH_NO_INSTALL === '1' || spawnSync('python3', ['--version']).status !== 0) return undefined;
  console.log('  installing them now (BENCH_NO_INSTALL=1 skips this)...');
  spawnSync('python3', ['-m', 'venv', join(ROOT, '.venv-trees')], { stdio: ['ignore', 'ignore', 'inherit'] });
  spawnSync(join(ROOT, '.venv-trees', 'bin', 'pip'), ['install', '-q', ...TREES_PACKAGES], { stdio: ['ignore', 'ignore', 'inherit'] });
  return usable(TREES_PYTHON) ? TREES_PYTHON : undefined;
}

if (runs('g')) {
  console.log('\n(g) native tree models, 500 trees of depth 8 (XGBoost binary:logistic, LightGBM binary): conversion, ONNX size, and the');
  console.log('    in-process Lambda handler (staged model.onnx, v2 features tensor) against the library\'s own predict in Python, one thread each');
  const python = ensureTreesPython();
  if (python === undefined) {
    console.log('  skipped: no Python with xgboost and lightgbm');
    report.trees = { skipped: 'no Python with xgboost and lightgbm' };
  } else {
    const { convertNativeModel, NATIVE_MODEL_FILES } = await import('../lambda/convert/registry.ts');
    const dir = join(ROOT, '.bench', 'trees');
    console.log('  training (once; cached in .bench/trees) and timing the native predict...');
    const run = spawnSync(python, [join(ROOT, 'scripts', 'bench', 'trees_native.py'), dir, ...(QUICK ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1' } });
    if (run.status !== 0) throw new Error(`scripts/bench/trees_native.py exited ${run.status}`);
    const native = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<'xgboost' | 'lightgbm', { version: string; trees: number; singleRowMicros: number; batchMicros: number; singleRowDMatrixMicros?: number; first: number[] }> & { rows: number };
    const rows = JSON.parse(readFileSync(join(dir, 'rows.json'), 'utf8')) as (number | null)[][];
    const width = rows[0].length;
    const results: Record<string, unknown> = {};
    for (const [library, file] of [['xgboost', 'model.json'], ['lightgbm', 'model.txt']] as const) {
      const source = readFileSync(join(dir, library, file));
      const conversionTimes: number[] = [];
      let conversion: ReturnType<typeof convertNativeModel> | undefined;
      for (let i = 0; i < (QUICK ? 1 : 3); i++) {
        const started = performance.now();
        conversion = convertNativeModel(file, source);
        conversionTimes.push(performance.now() - started);
      }
      const { onnx, record } = conversion!;
      // The folder as cdk synth stages it: the native file, its model.onnx and conversion.json (a Lambda function never converts).
      const name = `trees_${library}`;
      const repo = new TempRepository(`bench-trees-${library}-`).file(`${name}/1/${file}`, source).file(`${name}/1/model.onnx`, onnx).file(`${name}/1/conversion.json`, JSON.stringify(record)).config(name, { maxBatchSize: 1000 });
      const service = createTestService(repo.dir, { nativeModelFiles: NATIVE_MODEL_FILES });
      const handler = createApiGatewayHandler(service);
      const context = fakeLambdaContext(3_600_000);
      const event = (n: number) => ({ httpMethod: 'POST', path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'features', datatype: record.inputType, shape: [n, width], data: rows.slice(0, n).flat().map((v) => (v === null ? 'NaN' : v)) }] }), isBase64Encoded: false, requestContext: {} }) as unknown as APIGatewayProxyEvent;
      const [one, all] = [event(1), event(rows.length)];
      // The answers first: the converted model gives what the library gave for the same rows.
      const answer = JSON.parse((await handler(event(3), context)).body) as { outputs: { name: string; data: number[] }[] };
      const probabilities = answer.outputs.find((o) => o.name === 'probabilities')!.data;
      const got = [0, 1, 2].map((r) => probabilities[r * 2 + 1]);
      const worst = Math.max(...got.map((v, r) => Math.abs(v - native[library].first[r]) / Math.max(1e-12, Math.abs(native[library].first[r]))));
      for (let i = 0; i < 300; i++) await handler(one, context);
      const single = await medianMs(() => handler(one, context), QUICK ? 300 : 2000, 0);
      // onnxruntime alone on the same row: what the handler adds to the tree ensemble's own time.
      const loaded = await service.loadModel(name);
      const feeds = { features: new Tensor(record.inputType === 'FP32' ? 'float32' : 'float64', rows[0].map((v) => (v === null ? Number.NaN : v)), [1, width]) };
      const raw = await medianMs(() => loaded.session.run(feeds), QUICK ? 300 : 2000, 100);
      const allFeeds = { features: new Tensor(record.inputType === 'FP32' ? 'float32' : 'float64', rows.flat().map((v) => (v === null ? Number.NaN : v)), [rows.length, width]) };
      const rawBatch = await medianMs(() => loaded.session.run(allFeeds), QUICK ? 10 : 40, 3);
      // The same row by feature name, as a client of :predict sends it (null = missing).
      const named = { ...one, path: `/v1/models/${name}:predict`, body: JSON.stringify({ instances: [Object.fromEntries(record.features.map((f, i) => [f.name, rows[0][i]]))] }) } as APIGatewayProxyEvent;
      const byName = await medianMs(() => handler(named, context), QUICK ? 300 : 2000, 100);
      const batch = await medianMs(() => handler(all, context), QUICK ? 10 : 40, 3);
      const n = native[library];
      console.log(`  ${library.padEnd(8)} ${n.version}: ${record.trees} trees; convert ${median(conversionTimes).toFixed(0)} ms; ${(source.length / 1e6).toFixed(2)} MB ${file} -> ${(onnx.length / 1e6).toFixed(2)} MB model.onnx (${(onnx.length / source.length).toFixed(2)}x); max rel. diff on 3 rows ${worst.toExponential(1)}`);
      console.log(`           1 row: native ${n.singleRowMicros.toFixed(0)} us${n.singleRowDMatrixMicros === undefined ? '' : ` (with a DMatrix ${n.singleRowDMatrixMicros.toFixed(0)} us)`}, ModelShip handler ${(single * 1000).toFixed(0)} us (${((single * 1000) / n.singleRowMicros).toFixed(2)}x; session.run alone ${(raw * 1000).toFixed(0)} us; by name through :predict ${(byName * 1000).toFixed(0)} us); ${rows.length} rows: native ${(n.batchMicros / 1000).toFixed(2)} ms, handler ${batch.toFixed(2)} ms (${((batch * 1000) / n.batchMicros).toFixed(2)}x; session.run alone ${rawBatch.toFixed(2)} ms)`);
      results[library] = {
        version: n.version,
        trees: record.trees,
        sourceBytes: source.length,
        onnxBytes: onnx.length,
        conversionMs: median(conversionTimes),
        nativeSingleRowMicros: n.singleRowMicros,
        handlerSingleRowMicros: single * 1000,
        sessionRunSingleRowMicros: raw * 1000,
        predictByNameSingleRowMicros: byName * 1000,
        nativeBatchMicros: n.batchMicros,
        handlerBatchMicros: batch * 1000,
        sessionRunBatchMicros: rawBatch * 1000,
        maxRelativeDifference: worst,
        convert: target(`(g) ${library}: conversion seconds`, median(conversionTimes) / 1000, 5, 'lower'),
        singleRow: target(`(g) ${library}: 1 row, handler / native predict`, (single * 1000) / n.singleRowMicros, 1, 'lower'),
        batchRows: target(`(g) ${library}: ${rows.length} rows, handler / native predict`, (batch * 1000) / n.batchMicros, 2, 'lower'),
      };
    }
    report.trees = results;
  }
}

// (p) ------------------------------------------------------------------------------------------
const PMML_PYTHON = join(ROOT, '.venv-pmml', 'bin', 'python');
const PMML_PACKAGES = ['scikit-learn==1.6.1', 'sklearn2pmml==0.133.1', 'pandas==2.2.3', 'numpy==2.4.6', 'skl2onnx==1.20.0', 'onnx==1.23.2'];

/** The Python that exports the bench models (sklearn2pmml needs Java too); installed into .venv-pmml when missing. */
function ensurePmmlPython(): string | undefined {
  const usable = () => spawnSync(PMML_PYTHON, ['-c', 'import sklearn2pmml, skl2onnx']).status === 0 && spawnSync('java', ['-version']).status === 0;
  if (usable()) return PMML_PYTHON;
  console.log(`  the models are exported by Python (and Java): python3 -m venv .venv-pmml && .venv-pmml/bin/pip install ${PMML_PACKAGES.join(' ')}`);
  if (process.env.BENCH_NO_INSTALL === '1' || spawnSync('python3', ['--version']).status !== 0) return undefined;
  spawnSync('python3', ['-m', 'venv', join(ROOT, '.venv-pmml')], { stdio: ['ignore', 'ignore', 'inherit'] });
  spawnSync(join(ROOT, '.venv-pmml', 'bin', 'pip'), ['install', '-q', ...PMML_PACKAGES], { stdio: ['ignore', 'ignore', 'inherit'] });
  return usable() ? PMML_PYTHON : undefined;
}

if (runs('p')) {
  console.log('\n(p) PMML: a 100-tree random forest (wine, depth 8) and a Poisson GLM (diabetes), exported by sklearn2pmml and converted,');
  console.log('    against the same scikit-learn models exported by skl2onnx; one row through the in-process Lambda handler, one thread');
  const python = ensurePmmlPython();
  if (python === undefined) {
    console.log('  skipped: no Python with sklearn2pmml and skl2onnx, or no Java');
    report.pmml = { skipped: 'no Python with sklearn2pmml and skl2onnx, or no Java' };
  } else {
    const { convertNativeModel, NATIVE_MODEL_FILES } = await import('../lambda/convert/registry.ts');
    const dir = join(ROOT, '.bench', 'pmml');
    if (!existsSync(join(dir, 'rows.json'))) {
      console.log('  exporting (once; cached in .bench/pmml)...');
      const run = spawnSync(python, [join(ROOT, 'scripts', 'bench', 'pmml_models.py'), dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (run.status !== 0) throw new Error(`scripts/bench/pmml_models.py exited ${run.status}`);
    }
    const rows = JSON.parse(readFileSync(join(dir, 'rows.json'), 'utf8')) as { rf: number[][]; glm: number[][]; rfProba: number[][]; glmPredict: number[] };
    const results: Record<string, unknown> = {};
    for (const kind of ['rf', 'glm'] as const) {
      const source = readFileSync(join(dir, kind, 'model.pmml'));
      const started = performance.now();
      const { onnx, record } = convertNativeModel('model.pmml', source);
      const conversionMs = performance.now() - started;
      const baseline = readFileSync(join(dir, kind, 'model.onnx'));
      const pmmlName = `pmml_${kind}`;
      const onnxName = `skl2onnx_${kind}`;
      const repo = new TempRepository(`bench-pmml-${kind}-`).file(`${pmmlName}/1/model.pmml`, source).file(`${pmmlName}/1/model.onnx`, onnx).file(`${pmmlName}/1/conversion.json`, JSON.stringify(record)).file(`${onnxName}/1/model.onnx`, baseline);
      const service = createTestService(repo.dir, { nativeModelFiles: NATIVE_MODEL_FILES });
      const handler = createApiGatewayHandler(service);
      const context = fakeLambdaContext(3_600_000);
      const row = rows[kind][0];
      const baselineModel = await service.loadModel(onnxName);
      const baselineInput = baselineModel.signature.inputs[0];
      const event = (name: string, input: string, datatype: string) => ({ httpMethod: 'POST', path: `/v2/models/${name}/infer`, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: input, datatype, shape: [1, row.length], data: row }] }), isBase64Encoded: false, requestContext: {} }) as unknown as APIGatewayProxyEvent;
      const converted = event(pmmlName, 'features', 'FP64');
      const direct = event(onnxName, baselineInput.name, baselineInput.datatype.v2);
      // The answers first: the converted model gives scikit-learn's answer for the row.
      const answer = JSON.parse((await handler(converted, context)).body) as { outputs: { name: string; data: number[] }[] };
      const got = kind === 'rf' ? answer.outputs.find((o) => o.name === 'probabilities')!.data : answer.outputs.find((o) => o.name === 'prediction')!.data;
      const want = kind === 'rf' ? rows.rfProba[0] : [rows.glmPredict[0]];
      const worst = Math.max(...want.map((w, i) => Math.abs(got[i] - w) / Math.max(1e-12, Math.abs(w))));
      const n = QUICK ? 300 : 3000;
      const pmmlMs = await medianMs(() => handler(converted, context), n, 300);
      const onnxMs = await medianMs(() => handler(direct, context), n, 300);
      const ratio = pmmlMs / onnxMs;
      console.log(`  ${kind === 'rf' ? 'random forest' : 'Poisson GLM  '}: convert ${conversionMs.toFixed(0)} ms, ${(source.length / 1e3).toFixed(0)} kB model.pmml -> ${(onnx.length / 1e3).toFixed(0)} kB model.onnx (skl2onnx ${(baseline.length / 1e3).toFixed(0)} kB); max rel. diff vs scikit-learn ${worst.toExponential(1)}; 1 row: converted ${(pmmlMs * 1000).toFixed(0)} us, skl2onnx ${(onnxMs * 1000).toFixed(0)} us (${ratio.toFixed(2)}x)`);
      results[kind] = { conversionMs, pmmlBytes: source.length, onnxBytes: onnx.length, skl2onnxBytes: baseline.length, maxRelativeDifference: worst, convertedSingleRowMicros: pmmlMs * 1000, skl2onnxSingleRowMicros: onnxMs * 1000, singleRow: target(`(p) ${kind}: 1 row, converted PMML / skl2onnx`, ratio, 1.2, 'lower') };
    }
    report.pmml = results;
  }
}

// (s) ------------------------------------------------------------------------------------------
if (runs('s')) {
  console.log('\nsession options (digits_mlp, batch of 64; creation ms / run us, median of 5 creations, 2000 runs)');
  const digits = readFileSync(join(SAMPLES_DIR, 'digits_mlp', '1', 'model.onnx'));
  const batch = new Tensor('float32', Float32Array.from({ length: 64 * 64 }, (_, i) => i % 17), [64, 8, 8]);
  const optimizedPath = join(mkdtempSync(join(tmpdir(), 'bench-opt-')), 'digits.opt.onnx');
  const variants: [string, InferenceSession.SessionOptions, Uint8Array | string][] = [
    ['1 thread, no spinning (Lambda default)', { intraOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } }, digits],
    ['1 thread, spinning', { intraOpNumThreads: 1 }, digits],
    ['2 threads, no spinning', { intraOpNumThreads: 2, extra: { session: { intra_op: { allow_spinning: '0' } } } }, digits],
    ['graph optimization disabled', { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' }, digits],
    ['memory arena off', { intraOpNumThreads: 1, enableCpuMemArena: false }, digits],
    ['writing an optimized model file', { intraOpNumThreads: 1, optimizedModelFilePath: optimizedPath }, digits],
  ];
  const sessions: Record<string, unknown>[] = [];
  for (const [label, options, source] of [...variants, ['loading the optimized model file', { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' as const }, optimizedPath] as [string, InferenceSession.SessionOptions, string]]) {
    const creations: number[] = [];
    let session: InferenceSession | undefined;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      session = typeof source === 'string' ? await InferenceSession.create(source, options) : await InferenceSession.create(source, options);
      creations.push(performance.now() - started);
    }
    const started = performance.now();
    for (let i = 0; i < 2000; i++) await session!.run({ image: batch });
    const runMicros = ((performance.now() - started) / 2000) * 1000;
    console.log(`  ${label.padEnd(40)} ${median(creations).toFixed(2).padStart(7)} ms  ${runMicros.toFixed(1).padStart(8)} us`);
    sessions.push({ label, creationMs: median(creations), runMicros });
  }
  rmSync(optimizedPath, { force: true });
  report.sessionOptions = sessions;
  console.log(`\nimage: the Dockerfile adds ${(staged!.bytes / 1e6).toFixed(1)} MB (x86_64)`);
  report.imageBytes = { x86_64: staged!.bytes, target: target('image MB added (x86_64; sharp for image models included)', staged!.bytes / 1e6, 80, 'lower') };
}

if (runs('k')) {
  console.log('\nscale: cdk synth of generated repositories (scripts/bench/synth-scale.ts; built-in CloudFormation validation on, no Docker, no bundling)');
  const scale: unknown[] = [];
  // About 5 models per hashed nested stack (test/lib/scale.test.ts deploys 200 over 32), function groups apart.
  for (const [models, modelStacks] of QUICK ? [[200, 32]] : [[200, 32], [1000, 192]]) {
    const child = spawnSync(process.execPath, ['--max-old-space-size=16384', join(ROOT, 'scripts', 'bench', 'synth-scale.ts'), String(models), String(modelStacks)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (child.status !== 0) throw new Error(`synth-scale ${models} failed: ${child.stderr}`);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxRssMiB: number; stacks: number; error?: string; quotas: { quota: string; limit: number; value: number; where: string; share: number }[] };
    console.log(`  ${models} models over modelStacks=${modelStacks}: ${result.seconds.toFixed(1)} s, peak RSS ${result.maxRssMiB.toFixed(0)} MiB, ${result.stacks} templates${result.error === undefined ? '' : `; synth failed: ${result.error}`}`);
    for (const q of [...result.quotas].sort((a, b) => b.share - a.share)) console.log(`    ${q.quota.padEnd(48)} ${String(q.value).padStart(8)} of ${String(q.limit).padStart(8)} (${(q.share * 100).toFixed(0)}%) ${q.where}`);
    const first = [...result.quotas].sort((a, b) => b.share - a.share)[0];
    console.log(`    first quota met as it grows: ${first.quota}${first.share > 1 ? ' (exceeded)' : ''}`);
    scale.push({ models, modelStacks, ...result, firstQuota: first.quota });
  }
  report.scale = scale;
}

if (runs('l')) {
  const n = QUICK ? 200 : 1000;
  console.log(`\n(l) client libraries: @modelship/client per call vs a raw fetch of the same body and signed headers, local server with AUTH=iam (median of ${n}, interleaved)`);
  const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench/secret' };
  const repo = new TempRepository('bench-client-').sample('iris_forest').fixture('identity_fp32');
  const server = await startServer('local', 18095, { MODEL_DIR: repo.dir, AUTH: 'iam', LOCAL_ACCESS_KEY_ID: credentials.accessKeyId, LOCAL_SECRET_ACCESS_KEY: credentials.secretAccessKey, MODELSHIP_OBSERVE: 'none', ORT_INTRA_OP_THREADS: '1' });
  const client = new ModelShipClient({ url: server.url, region: 'us-east-1', credentials });
  const cases: { name: string; model: string; inputs: Record<string, NamedInput> }[] = [
    { name: 'small row (JSON)', model: 'iris_forest', inputs: { features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } } },
    { name: '1 MB tensor (binary)', model: 'identity_fp32', inputs: { x: { data: Float32Array.from({ length: 1 << 18 }, (_, i) => i / 7), shape: [1 << 17, 2] } } },
  ];
  const results: Record<string, unknown>[] = [];
  for (const c of cases) {
    const model = client.model(c.model);
    // The baseline: the body the client sends, signed once (the server accepts a signature for 15 minutes), posted with fetch, the answer read as bytes.
    const encoded = encodeInferRequest(toInputList(c.inputs), {}, client.encoding);
    const call = { method: 'POST' as const, path: `v2/models/${c.model}/infer`, headers: encoded.headers, body: encoded.body, idempotent: true };
    const headers = await client.transport.sign(call);
    const url = `${server.url}/${call.path}`;
    const raw = async () => {
      const response = await fetch(url, { method: 'POST', headers, body: encoded.body });
      if (response.status !== 200) throw new Error(`raw fetch answered ${response.status}: ${await response.text()}`);
      return response.arrayBuffer();
    };
    const viaClient = () => model.infer({ inputs: c.inputs });
    for (let i = 0; i < 20; i++) {
      await raw();
      await viaClient();
    }
    const rawTimes: number[] = [];
    const clientTimes: number[] = [];
    for (let i = 0; i < n; i++) {
      let started = performance.now();
      await raw();
      rawTimes.push(performance.now() - started);
      started = performance.now();
      await viaClient();
      clientTimes.push(performance.now() - started);
    }
    const rawMs = median(rawTimes);
    const clientMs = median(clientTimes);
    console.log(`  ${c.name.padEnd(22)} raw fetch ${rawMs.toFixed(3)} ms, client ${clientMs.toFixed(3)} ms (${typeof encoded.body === 'string' ? Buffer.byteLength(encoded.body) : encoded.body.length} bytes sent)`);
    results.push({ case: c.name, rawMs, clientMs, ratio: target(`(l) client / raw fetch, ${c.name}`, clientMs / rawMs, 1.1, 'lower') });
  }
  // The Python client, the same two calls, from the project's Python environment (npm test makes it).
  const python = join(ROOT, '.python', 'bin', 'python');
  if (spawnSync(python, ['-c', 'import modelship_client, numpy']).status !== 0) console.log('  Python client: not run (run node scripts/ensure-python.ts first)');
  else {
    const child = spawnSync(python, [join(ROOT, 'scripts', 'bench', 'python_client.py'), server.url, credentials.accessKeyId, credentials.secretAccessKey, String(QUICK ? 100 : 500)], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`the Python client bench failed: ${child.stderr}`);
    for (const r of JSON.parse(child.stdout) as { case: string; rawMs: number; clientMs: number; bytes: number }[]) {
      console.log(`  Python ${r.case.padEnd(22)} urllib3 ${r.rawMs.toFixed(3)} ms, client ${r.clientMs.toFixed(3)} ms (${r.bytes} bytes sent)`);
      results.push({ case: `Python, ${r.case}`, rawMs: r.rawMs, clientMs: r.clientMs, ratio: target(`(l) Python client / urllib3, ${r.case}`, r.clientMs / r.rawMs, 1.1, 'lower') });
    }
  }
  await server.stop();
  report.clients = results;
}

if (runs('y')) {
  console.log('\n(y) a Lambda cold start by part, and what SnapStart leaves to a restore (one fresh process per model, model from an S3 API server)');
  const { encodeModel, DataType } = await import('../lambda/convert/onnx/onnx-model.ts');
  const s3 = await startTestS3();
  const repo = new TempRepository('bench-init-');
  const onnxSamples = ['breast_cancer_classifier', 'diabetes_regressor', 'digits_mlp', 'iris_forest', 'debian_sections', 'debian_embeddings', 'text_orientation'].filter((m) => existsSync(join(SAMPLES_DIR, m, '1', 'model.onnx')));
  for (const m of onnxSamples) repo.sample(m);
  // A 100 MB model: one MatMul by a 5000 x 5000 float32 weight (its bytes random, so nothing compresses or folds).
  const side = 5000;
  const weight = new Float32Array(side * side).map(() => Math.random() - 0.5);
  const tensorType = (dims: (number | string)[]) => ({ tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } });
  repo.file('large_matmul/1/model.onnx', encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'modelship-bench',
    graph: {
      name: 'large_matmul',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], attribute: [] }],
      initializer: [{ name: 'w', dims: [side, side], dataType: DataType.FLOAT, rawData: new Uint8Array(weight.buffer) }],
      input: [{ name: 'x', type: tensorType(['batch', side]) }],
      output: [{ name: 'y', type: tensorType(['batch', side]) }],
      valueInfo: [],
    },
  }));
  await s3.upload(repo.dir, 'models/');
  const env = { PATH: process.env.PATH!, MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint, PRELOAD_MODELS: 'false', ORT_INTRA_OP_THREADS: '1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', POWERTOOLS_TRACE_ENABLED: 'false', POWERTOOLS_METRICS_DISABLED: 'true' };
  const rows: Record<string, number | string>[] = [];
  const f = (ms: number) => ms.toFixed(1).padStart(8);
  console.log(`  ${'model'.padEnd(26)} ${'MB'.padStart(6)} ${'module'.padStart(8)} ${'catalog'.padStart(8)} ${'download'.padStart(8)} ${'sha256'.padStart(8)} ${'session'.padStart(8)} ${'1st run'.padStart(8)} | ${'cold'.padStart(8)} | ${'2nd run'.padStart(8)} ${'restore'.padStart(8)}`);
  for (const m of [...onnxSamples, 'large_matmul']) {
    // Asynchronously: s3rver runs in this process and must keep answering.
    const child = await execFileAsync(process.execPath, [join(ROOT, 'scripts', 'bench', 'init-parts.ts'), staged!.directory, m], { env: { ...env, MODEL_NAMES: m }, cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
    const line = child.stdout.split('\n').find((l) => l.startsWith('{"model"'));
    if (line === undefined) throw new Error(`init parts of ${m} printed no result: ${child.stderr}`);
    const r = JSON.parse(line) as Record<string, number> & { model: string };
    const cold = r.moduleLoadMs + r.catalogMs + r.downloadMs + r.hashMs + r.sessionMs + r.firstRunMs;
    rows.push({ ...r, coldMs: cold });
    console.log(`  ${m.padEnd(26)} ${(r.bytes / 1e6).toFixed(1).padStart(6)} ${f(r.moduleLoadMs)} ${f(r.catalogMs)} ${f(r.downloadMs)} ${f(r.hashMs)} ${f(r.sessionMs)} ${f(r.firstRunMs)} | ${f(cold)} | ${f(r.secondRunMs)} ${f(r.afterRestoreMs)}`);
  }
  console.log('  cold: every part a cold start pays today (ms); with SnapStart all of it is in the snapshot, and a restored environment pays the restore (Lambda) plus the after-restore hook (restore column) before its request.');
  report.initParts = rows;
  await s3.close();
}

// (z) ------------------------------------------------------------------------------------------
if (runs('z')) {
  console.log(`\n(z) zero-shot-classification (1 text x 5 labels, bert-nli) and text pairs (a query x 8 descriptions, debian-reranker), median of ${QUICK ? 50 : 300}: ModelShip over HTTP vs a bare server doing the same work (requests interleaved); that work in process vs transformers.js`);
  const r = await benchTextPairs({ startServer: (env) => startServer('local', 18160, env), medianMs, quick: QUICK });
  console.log(`  zero-shot: HTTP ModelShip ${r.zeroShotHttp.toFixed(2)} ms, bare ${r.zeroShotBareHttp.toFixed(2)} ms; in process ${r.zeroShotDirect.toFixed(2)} ms, transformers.js ${r.zeroShotTransformersJs.toFixed(2)} ms`);
  console.log(`  pairs:     HTTP ModelShip ${r.pairsHttp.toFixed(2)} ms, bare ${r.pairsBareHttp.toFixed(2)} ms; in process ${r.pairsDirect.toFixed(2)} ms, transformers.js ${r.pairsTransformersJs.toFixed(2)} ms`);
  report.textPairs = {
    ...r,
    zeroShotOverBare: target('(z) zero-shot request / bare server', r.zeroShotHttp / r.zeroShotBareHttp, 1.2, 'lower'),
    zeroShotOverTransformersJs: target('(z) zero-shot in process / transformers.js pipeline', r.zeroShotDirect / r.zeroShotTransformersJs, 1, 'lower'),
    pairsOverBare: target('(z) pairs request / bare server', r.pairsHttp / r.pairsBareHttp, 1.2, 'lower'),
    pairsOverTransformersJs: target('(z) pairs in process / transformers.js tokenizer + model', r.pairsDirect / r.pairsTransformersJs, 1, 'lower'),
  };
}

report.missedTargets = misses;
mkdirSync(join(ROOT, '.bench'), { recursive: true });
writeFileSync(join(ROOT, '.bench', 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${misses.length === 0 ? 'all targets met' : `targets missed:\n  ${misses.join('\n  ')}`}\nwritten .bench/report.json`);
process.exit(0);
