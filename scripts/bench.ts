/**
 * npm run bench — performance, everything side by side in one run with one load generator
 * (autocannon, on loopback). Prints a table per part and writes .bench/report.json. A benchmark:
 * it asserts nothing; where a target is missed the report says by how much.
 *   (a) in process: the Lambda handler's time per request vs raw session.run, per sample
 *   (b) local server and SageMaker container vs a bare Node http + onnxruntime server, at 16 and 64
 *       connections, and Flask + scikit-learn (gunicorn, 2 workers)
 *   (c) cold start: spawn to first correct answer, model fetched from an S3 API server, vs a bare script
 *   (d) large tensors: a 1x3x320x320 convolution end to end, JSON and binary, vs raw session.run
 *   (e) memory: server RSS after load and after 100,000 requests
 *   plus session options, and the image size.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { stageImageContext } from '../lib/image-context.ts';
import { createApiGatewayHandler } from '../lambda/adapters/api-gateway/handler.ts';
import { createTestService, fakeLambdaContext, goldenRequest, readGolden, startTestLocalServer, startTestS3, FIXTURE_MODELS_DIR, ROOT, SAMPLES_DIR } from '../test/helpers.ts';

const QUICK = process.env.BENCH_QUICK === '1';
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
const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

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

async function load(url: string, body: string, seconds: number, amount?: number, connections = 16, headers: Record<string, string> = {}) {
  const options = { url, method: 'POST' as const, body, headers: { 'content-type': 'application/json', ...headers }, connections };
  await autocannon({ ...options, duration: 2 });
  const result = await autocannon({ ...options, ...(amount ? { amount } : { duration: seconds }) });
  return { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, total: result.requests.total };
}

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

// (a) ------------------------------------------------------------------------------------------
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

// (b) ------------------------------------------------------------------------------------------
console.log('\n(b) HTTP on loopback, breast_cancer_classifier, 1 row, autocannon at 16 and 64 connections');
const features = readGolden('breast_cancer_classifier').inputs[0].data.slice(0, 30);
const seconds = QUICK ? 3 : 10;
const v2Body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: features }] });
const startFlags = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ').filter((t) => t.startsWith('--'));
const ours = spawn(process.execPath, [...startFlags, join(ROOT, 'bin', 'serve.ts')], { cwd: ROOT, env: { ...process.env, PORT: '18080' } });
await waitFor(ours, /on http/);
const rssAfterLoad = rssKb(ours.pid!);
const container = spawn(process.execPath, [join(ROOT, 'bin', 'serve-sagemaker.ts')], { cwd: ROOT, env: { ...process.env, PORT: '18083', HOST: '127.0.0.1', MODEL_DIR: SAMPLES_DIR, MODEL_NAME: 'breast_cancer_classifier' } });
await waitFor(container, /on http/);
const bare = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'bare-server.mjs'), join(SAMPLES_DIR, 'breast_cancer_classifier', '1', 'model.onnx'), '18081'], { cwd: ROOT });
await waitFor(bare, /ready/);
const row = (name: string, r: { requestsPerSecond: number; p50: number; p99: number; errors: number }) => console.log(`  ${name.padEnd(30)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}`);
const http: Record<string, unknown> = {};
for (const connections of [16, 64]) {
  console.log(`  ${connections} connections:`);
  // Each server measured right after the bare one, so drifts of the shared machine hit both alike.
  const bareLocal = await load('http://127.0.0.1:18081/predict', JSON.stringify({ features }), seconds, undefined, connections);
  const local = await load('http://127.0.0.1:18080/v2/models/breast_cancer_classifier/infer', v2Body, seconds, undefined, connections);
  const bareSm = await load('http://127.0.0.1:18081/predict', JSON.stringify({ features }), seconds, undefined, connections);
  const sm = await load('http://127.0.0.1:18083/invocations', v2Body, seconds, undefined, connections);
  row('bare Node + onnxruntime', bareLocal);
  row('ModelShip local server', local);
  row('bare Node + onnxruntime (again)', bareSm);
  row('ModelShip SageMaker container', sm);
  http[`c${connections}`] = {
    bare: [bareLocal, bareSm], local, sagemaker: sm,
    localThroughput: target(`(b) ${connections} conns: local server throughput / bare`, local.requestsPerSecond / bareLocal.requestsPerSecond, 0.85, 'higher'),
    localP99: target(`(b) ${connections} conns: local server p99 / bare p99`, local.p99 / Math.max(bareLocal.p99, 1), 1.5, 'lower'),
    sagemakerThroughput: target(`(b) ${connections} conns: SageMaker container throughput / bare`, sm.requestsPerSecond / bareSm.requestsPerSecond, 0.85, 'higher'),
    sagemakerP99: target(`(b) ${connections} conns: SageMaker container p99 / bare p99`, sm.p99 / Math.max(bareSm.p99, 1), 1.5, 'lower'),
  };
}
bare.kill();
container.kill();
if (ensureFlask()) {
  const gunicorn = spawn('gunicorn', ['-w', '2', '-b', '127.0.0.1:18082', '--chdir', join(ROOT, 'scripts', 'bench'), 'flask_app:app'], { cwd: ROOT });
  await waitFor(gunicorn, /Booting worker with pid: \d+[\s\S]*Booting worker with pid: \d+/);
  await new Promise((resolve) => setTimeout(resolve, 3000)); // workers train their model at import
  const flask = await load('http://127.0.0.1:18082/predict', JSON.stringify({ features }), seconds);
  gunicorn.kill();
  row('Flask + sklearn (2 workers), 16', flask);
  http.flask = flask;
} else {
  console.log('  Flask baseline not run: its packages are missing (the line above installs them)');
  http.flask = 'not run: packages missing';
}
report.http = http;

// (e) ------------------------------------------------------------------------------------------
console.log('\n(e) memory of the local server (RSS)');
const rssAfterWarm = rssKb(ours.pid!);
const many = await load('http://127.0.0.1:18080/v2/models/breast_cancer_classifier/infer', v2Body, 0, QUICK ? 10_000 : 100_000);
const rssAfterMany = rssKb(ours.pid!);
ours.kill();
console.log(`  after load ${rssAfterLoad} kB, after warm-up ${rssAfterWarm} kB, after ${many.total} more requests ${rssAfterMany} kB (errors ${many.errors})`);
report.memory = { rssAfterLoadKb: rssAfterLoad, rssAfterWarmupKb: rssAfterWarm, requests: many.total, rssAfterKb: rssAfterMany, growth: target('(e) RSS growth after warm-up (%)', (100 * (rssAfterMany - rssAfterWarm)) / rssAfterWarm, 10, 'lower') };

// (c) ------------------------------------------------------------------------------------------
console.log('\n(c) cold start: process spawn to first correct answer, model from an S3 API server (median of 5)');
const staged = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'bench-stage-')) });
const s3 = await startTestS3();
await s3.upload(SAMPLES_DIR, 'models/');
const eventFile = join(mkdtempSync(join(tmpdir(), 'bench-event-')), 'event.json');
writeFileSync(eventFile, JSON.stringify({ httpMethod: 'POST', path: '/v2/models/breast_cancer_classifier/infer', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(goldenRequest(readGolden('breast_cancer_classifier'), 1)), isBase64Encoded: false, requestContext: {} }));
const coldEnv = { PATH: process.env.PATH, MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint, MODEL_NAMES: 'breast_cancer_classifier', MODEL_VERSION: '1', PRELOAD_MODELS: 'true', ORT_INTRA_OP_THREADS: '1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench' };
// Asynchronous spawns: the S3 API server runs in this process and must keep answering.
const cold = async (mode: string) => {
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'cold-start.mjs'), mode, staged.directory, eventFile], { env: coldEnv, cwd: ROOT });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  await new Promise((resolve) => child.on('exit', resolve));
  const total = performance.now() - started;
  const lines = stdout.split('\n');
  const result = JSON.parse(lines.find((l) => l.includes('"mode"'))!);
  const loaded = lines.find((l) => l.includes('"model loaded"'));
  return { total, ...result, ...(loaded ? { fetchMs: JSON.parse(loaded).fetchMs, sessionMs: JSON.parse(loaded).sessionMs } : {}) };
};
const coldRuns: Record<'modelship' | 'bare', Awaited<ReturnType<typeof cold>>[]> = { modelship: [], bare: [] };
for (let i = 0; i < 5; i++) for (const mode of ['modelship', 'bare'] as const) coldRuns[mode].push(await cold(mode));
await s3.close();
const coldMs = (mode: 'modelship' | 'bare') => median(coldRuns[mode].map((r) => r.total));
console.log(`  ModelShip handler: ${coldMs('modelship').toFixed(0)} ms (imports + fetch + session during init ${median(coldRuns.modelship.map((r) => r.phases.importsAndLoad)).toFixed(0)} ms, of which fetch ${median(coldRuns.modelship.map((r) => r.fetchMs))} ms and session ${median(coldRuns.modelship.map((r) => r.sessionMs))} ms; first answer at ${median(coldRuns.modelship.map((r) => r.phases.firstAnswer)).toFixed(0)} ms)`);
console.log(`  bare script:       ${coldMs('bare').toFixed(0)} ms (imports ${median(coldRuns.bare.map((r) => r.phases.imports)).toFixed(0)}, download at ${median(coldRuns.bare.map((r) => r.phases.download)).toFixed(0)}, session at ${median(coldRuns.bare.map((r) => r.phases.session)).toFixed(0)}, first answer at ${median(coldRuns.bare.map((r) => r.phases.firstAnswer)).toFixed(0)} ms)`);
report.coldStart = { runs: coldRuns, modelshipMs: coldMs('modelship'), bareMs: coldMs('bare'), ratio: target('(c) cold start / bare', coldMs('modelship') / coldMs('bare'), 1.5, 'lower') };

// (d) ------------------------------------------------------------------------------------------
console.log('\n(d) large tensors: conv on 1x3x320x320 FP32 (1.2 MB), end to end over HTTP vs raw run (mean of 20)');
const convService = createTestService(FIXTURE_MODELS_DIR);
const conv = await convService.loadModel('conv_large');
const pixels = Float32Array.from({ length: 3 * 320 * 320 }, (_, i) => ((i * 7919) % 1000) / 1000);
const convServer = await startTestLocalServer(FIXTURE_MODELS_DIR);
const timeIt = async (fn: () => Promise<unknown>, n = 20) => {
  for (let i = 0; i < 3; i++) await fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - started) / n;
};
const rawConv = await timeIt(() => conv.session.run({ image: new Tensor('float32', pixels, [1, 3, 320, 320]) }));
const jsonBody = JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], data: Array.from(pixels) }] });
const jsonConv = await timeIt(async () => (await fetch(`${convServer.url}/v2/models/conv_large/infer`, { method: 'POST', body: jsonBody, headers: { 'Content-Type': 'application/json' } })).arrayBuffer());
const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 320, 320], parameters: { binary_data_size: pixels.byteLength } }], parameters: { binary_data_output: true } }));
const binaryBody = Buffer.concat([header, Buffer.from(pixels.buffer)]);
const binaryConv = await timeIt(async () => (await fetch(`${convServer.url}/v2/models/conv_large/infer`, { method: 'POST', body: binaryBody, headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) } })).arrayBuffer());
await convServer.close();
console.log(`  raw run ${rawConv.toFixed(2)} ms; JSON ${jsonConv.toFixed(2)} ms (${(jsonBody.length / 1e6).toFixed(1)} MB body); binary ${binaryConv.toFixed(2)} ms (${(binaryBody.length / 1e6).toFixed(1)} MB body)`);
report.largeTensors = { rawMs: rawConv, jsonMs: jsonConv, binaryMs: binaryConv, jsonBodyBytes: jsonBody.length, binaryBodyBytes: binaryBody.length, binaryRatio: target('(d) binary / raw', binaryConv / rawConv, 1.25, 'lower'), jsonRatio: target('(d) JSON / raw', jsonConv / rawConv, 2.5, 'lower') };

// Session options --------------------------------------------------------------------------------
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

console.log(`\nimage: the Dockerfile adds ${(staged.bytes / 1e6).toFixed(1)} MB (x86_64)`);
report.imageBytes = { x86_64: staged.bytes, target: target('image MB added (x86_64)', staged.bytes / 1e6, 60, 'lower') };
report.missedTargets = misses;
mkdirSync(join(ROOT, '.bench'), { recursive: true });
writeFileSync(join(ROOT, '.bench', 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n${misses.length === 0 ? 'all targets met' : `targets missed:\n  ${misses.join('\n  ')}`}\nwritten .bench/report.json`);
process.exit(0);
