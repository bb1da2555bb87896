import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { validate } from 'dockerfile-utils';
import { capturePrefix } from '../../lambda/core/capture-layout.ts';
import { App } from 'aws-cdk-lib';
import { stageImageContext, type StagedImageContext } from '../../lib/image-context.ts';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { assertClose, emfRecords, listTree, metricValues, readGolden, ROOT, SAMPLES_DIR, startTestS3, TempRepository, type TestS3 } from '../helpers.ts';

const exec = promisify(execFile);

describe('inference image build context', () => {
  let staged: StagedImageContext;
  let s3: TestS3;
  before(async () => {
    staged = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'modelship-stage-')), architecture: 'x86_64' });
    s3 = await startTestS3();
    await s3.upload(SAMPLES_DIR, 'models/');
  });
  after(() => s3.close());

  it('implements the SnapStart hooks of the Runtime API in the staged handler, so the image needs no SnapStart label', () => {
    const bundle = readFileSync(join(staged.directory, 'index.mjs'), 'utf8');
    assert.ok(/AWS_LAMBDA_INITIALIZATION_TYPE\s*===\s*"snap-start"/.test(bundle), 'index.mjs checks for a SnapStart init');
    assert.ok(bundle.includes('/restore/next') && bundle.includes('/restore/error'), 'index.mjs waits on /runtime/restore/next and reports to /runtime/restore/error');
    assert.ok(bundle.includes('restored from the SnapStart snapshot'), 'index.mjs holds the after-restore hook');
    // AWS's two options are exclusive ways to declare it: hooks implemented, or the label for images without them.
    const dockerfile = readFileSync(join(staged.directory, 'Dockerfile'), 'utf8');
    assert.doesNotMatch(dockerfile, /^LABEL com\.amazonaws\.lambda\.feature\.snapstart/m);
    // test/lambda/entry/ric.test.ts drives those calls through AWS's runtime client.
  });

  it('holds exactly what the Dockerfile copies: the bundle, package.json, onnxruntime and sharp for linux/x64', () => {
    const files = listTree(staged.directory);
    assert.deepEqual(readdirSync(staged.directory).sort(), ['Dockerfile', 'batch.mjs', 'chunks', 'drift.mjs', 'index.mjs', 'node_modules', 'package.json']);
    assert.deepEqual(readdirSync(join(staged.directory, 'node_modules')).sort(), ['@img', 'detect-libc', 'onnxruntime-common', 'onnxruntime-node', 'semver', 'sharp']);
    assert.deepEqual(readdirSync(join(staged.directory, 'node_modules', '@img')).sort(), ['colour', 'sharp-libvips-linux-x64', 'sharp-linux-x64']);
    const binaries = files.filter((f) => f.includes('/bin/') || f.endsWith('.node') || /\.so(\.|$)/.test(f));
    assert.ok(binaries.length > 0);
    assert.ok(binaries.every((f) => f.startsWith('node_modules/onnxruntime-node/bin/napi-v6/linux/x64/') || /^node_modules\/@img\/sharp-(libvips-)?linux-x64\//.test(f)), binaries.join('\n'));
    assert.ok(!files.some((f) => /\.(ts|map)$/.test(f)), 'no TypeScript sources or source maps');
  });

  // The budget grew from 60 MB when image models arrived: libvips (sharp's native library) is 18 MB.
  it('adds at most 80 MB to the base image', () => {
    assert.ok(staged.bytes < 80 * 1024 * 1024, `${(staged.bytes / 1048576).toFixed(1)} MB`);
  });

  it('serves an image model from the staged directory: sharp loads from the image\'s own node_modules', async () => {
    const rest = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'rest-api-infer.json'), 'utf8'));
    const png = readFileSync(join(ROOT, 'test', 'fixtures', 'images', 'line-0-180.png'));
    // API Gateway hands a binary media type to Lambda base64-encoded.
    const event = { ...rest, path: '/v2/models/text_orientation/infer', headers: { ...rest.headers, 'Content-Type': 'image/png' }, multiValueHeaders: { 'Content-Type': ['image/png'] }, body: png.toString('base64'), isBase64Encoded: true };
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'modelship-events-')), 'events.json');
    writeFileSync(eventsFile, JSON.stringify([event]));
    const { stdout } = await exec(process.execPath, [join(ROOT, 'test', 'fixtures', 'lambda-runtime.mjs'), eventsFile], {
      cwd: staged.directory,
      env: { PATH: process.env.PATH, LAMBDA_TASK_ROOT: staged.directory, AWS_LAMBDA_FUNCTION_NAME: 'modelship-images', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint, MODEL_NAMES: 'text_orientation', MODEL_VERSION: '1', PRELOAD_MODELS: 'true', POWERTOOLS_TRACE_ENABLED: 'false' },
    });
    const [result] = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
    assert.equal(result.statusCode, 200, result.body);
    assert.equal(JSON.parse(result.body)[0].label, '180');
  });

  it('refuses to synthesize image models for an architecture whose sharp binaries npm did not install, naming the command that adds them', () => {
    const app = new App({ context: { 'modelship:modelsDir': new TempRepository('arm-images-').sample('text_orientation').dir, 'modelship:architecture': 'arm64', 'aws:cdk:bundling-stacks': [] } });
    assert.throws(() => new ModelShipStack(app, 'ArmImages', {}), /image models \(text_orientation\) on arm64 need sharp's native packages.*npm install --no-save --os=linux --cpu=arm64 --libc=glibc @img\/sharp-linux-arm64@/);
  });

  it('stages the arm64 binaries alone for arm64', () => {
    const arm = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'modelship-stage-arm-')), architecture: 'arm64' });
    const binaries = listTree(arm.directory).filter((f) => f.includes('/bin/'));
    assert.ok(binaries.every((f) => f.startsWith('node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/')));
  });

  it('runs the handler from the staged directory in a clean Node 24 process, against S3, as Lambda would', async () => {
    // Prepare: the events API Gateway would send, and an environment like the function's.
    const golden = readGolden('iris_forest');
    const rest = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'rest-api-infer.json'), 'utf8'));
    const infer = { ...rest, body: JSON.stringify({ id: 'staged', inputs: [{ ...golden.inputs[0], shape: [5, 4], data: golden.inputs[0].data.slice(0, 20) }] }) };
    const missing = { ...rest, path: '/v2/models/digits_mlp/infer' };
    const feedback = { ...rest, path: '/v2/models/iris_forest/feedback', body: JSON.stringify({ id: 'staged', model_version: '1', outcome: 1 }) };
    const shadow = { modelshipShadow: { model: 'iris_forest', liveVersion: 1, shadowVersion: 1, kind: 'predict', body: { instances: [[5.1, 3.5, 1.4, 0.2]] } } };
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'modelship-events-')), 'events.json');
    writeFileSync(eventsFile, JSON.stringify([infer, missing, feedback, shadow]));
    // The X-Ray daemon's place: a UDP socket collecting the segments the tracer sends.
    const daemon = createSocket('udp4');
    const segments: Record<string, unknown>[] = [];
    daemon.on('message', (message) => segments.push(JSON.parse(message.toString('utf8').split('\n')[1])));
    await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
    // Act: no inherited environment, no project node_modules in reach.
    const { stdout } = await exec(process.execPath, [join(ROOT, 'test', 'fixtures', 'lambda-runtime.mjs'), eventsFile], {
      cwd: staged.directory,
      env: {
        PATH: process.env.PATH,
        LAMBDA_TASK_ROOT: staged.directory,
        AWS_LAMBDA_FUNCTION_NAME: 'modelship-iris',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        _HANDLER: 'index.handler',
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
        AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        MODEL_BUCKET: 'models',
        MODEL_PREFIX: 'models/',
        S3_ENDPOINT: s3.endpoint,
        MODEL_NAMES: 'iris_forest',
        MODEL_VERSION: '1',
        PRELOAD_MODELS: 'true',
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    daemon.close();
    // Assess
    const results = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
    assert.equal(results.length, 4, stdout);
    assert.equal(results[0].statusCode, 200, results[0].body);
    const body = JSON.parse(results[0].body);
    assert.equal(body.id, 'staged');
    assertClose(body.outputs[1].data, golden.outputs[1].data.slice(0, 15), golden.tolerance, 'probabilities');
    assert.equal(results[1].statusCode, 404, 'a function serves only its own model');
    assert.match(stdout, /"message":"model loaded"/, 'structured logs from Powertools');
    const records = emfRecords(stdout);
    assert.ok(records.every((r) => r.namespace === 'ModelShip' && r.dimensions.service === 'modelship'), 'one namespace, the service dimension on every record');
    assert.equal(metricValues(records, 'ModelLoadTime', { Model: 'iris_forest' }, { exact: true }).length, 1, 'model load time published');
    assert.equal(metricValues(records, 'ModelLoadTime', { Model: 'iris_forest', Version: '1' }, { exact: true }).length, 1, 'and per version');
    assert.equal(metricValues(records, 'InitDuration', { function_name: 'modelship-iris' }).length, 1, 'init duration once');
    // One structured line per inference with the latency breakdown, the request id and the cold start flag.
    const inference = stdout.split('\n').find((l) => l.includes('"message":"inference"'));
    assert.ok(inference !== undefined, 'an inference log line');
    const line = JSON.parse(inference);
    assert.deepEqual([line.model, line.version, line.batchSize, line.coldStart, line.function_request_id], ['iris_forest', 1, 5, true, 'request-0']);
    for (const key of ['parseMs', 'inferenceMs', 'serializeMs']) assert.equal(typeof line[key], 'number', key);
    // Per model: requests, bytes each way (the bodies' exact sizes), latency, rows; failures by reason.
    const iris = { Model: 'iris_forest' };
    assert.deepEqual(metricValues(records, 'Requests', iris, { exact: true }), [1, 1], 'the inference and the feedback');
    assert.deepEqual(metricValues(records, 'RequestBytes', iris, { exact: true }), [Buffer.byteLength(infer.body), Buffer.byteLength(feedback.body)]);
    assert.deepEqual(metricValues(records, 'ResponseBytes', iris, { exact: true }), [Buffer.byteLength(results[0].body), Buffer.byteLength(results[2].body)]);
    assert.deepEqual(metricValues(records, 'RequestBytes', { ...iris, Version: '1' }, { exact: true }), [Buffer.byteLength(infer.body), Buffer.byteLength(feedback.body)], 'and per version');
    assert.deepEqual(metricValues(records, 'Predictions', { Model: 'iris_forest' }, { exact: true }), [5, 1, 1], 'the request, then the shadow job\'s two runs');
    assert.equal(metricValues(records, 'InferenceTime', { Model: 'iris_forest' }, { exact: true }).length, 3);
    assert.deepEqual(metricValues(records, 'Predictions', { Model: 'iris_forest', Version: '1' }, { exact: true }), [5, 1, 1], 'and per version');
    assert.deepEqual(metricValues(records, 'BadRequests', { Model: '(none)', Reason: 'not_found' }), [1], 'an unknown model counts under (none), by reason');
    // Per version: the predicted class distribution (labels from config), feedback, shadow agreement.
    const predicted = Object.fromEntries(['setosa', 'versicolor', 'virginica'].map((c) => [c, metricValues(records, 'PredictedClass', { Model: 'iris_forest', Version: '1', Class: c }).reduce((a, b) => a + b, 0)]));
    const labels = body.outputs[0].data as number[];
    assert.deepEqual(predicted, { setosa: labels.filter((l) => l === 0).length + 2, versicolor: labels.filter((l) => l === 1).length, virginica: 0 }, 'counts match the answer (plus the shadow job\'s two setosa rows)');
    assert.equal(results[2].statusCode, 202, 'feedback recorded');
    assert.deepEqual(metricValues(records, 'FeedbackEvents', { Model: 'iris_forest', Version: '1' }), [1], 'feedback published per version');
    assert.deepEqual(metricValues(records, 'FeedbackPositive', { Model: 'iris_forest', Version: '1' }), [1], 'positive outcomes published per version');
    assert.deepEqual(results[3], { model: 'iris_forest', liveVersion: 1, shadowVersion: 1, agree: true });
    assert.deepEqual(metricValues(records, 'ShadowAgreement', { Model: 'iris_forest', Version: '1' }), [1], 'shadow agreement published');
    // Traces: one handler subsegment per API invocation, annotated with the model and version that answered.
    const handlerSegments = segments.filter((s) => s.name === '## index.handler');
    assert.equal(handlerSegments.length, 3, JSON.stringify(segments));
    assert.deepEqual(handlerSegments[0].annotations, { ColdStart: true, Service: 'modelship', model: 'iris_forest', modelVersion: 1 });
    assert.equal((handlerSegments[1].annotations as Record<string, unknown>).ColdStart, false);
    assert.ok(!JSON.stringify(segments).includes('probabilities'), 'no response in the traces');
    // No payloads in the logs: neither the inputs sent nor the outputs answered appear outside the results.
    const logs = stdout.split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n');
    const inputs = golden.inputs[0].data.slice(0, 4).join(',');
    assert.ok(!logs.includes(inputs) && !logs.includes('"data"') && !logs.includes('probabilities'), 'a payload reached the logs');
  });

  it('writes sampled captures from the staged handler as single stdout lines the log subscription selects', async () => {
    // A copy of iris with capture on for every request, under its own name.
    const golden = readGolden('iris_forest');
    const repo = mkdtempSync(join(tmpdir(), 'captured-'));
    cpSync(join(SAMPLES_DIR, 'iris_forest'), join(repo, 'iris_captured'), { recursive: true });
    const config = JSON.parse(readFileSync(join(repo, 'iris_captured', 'config.json'), 'utf8'));
    writeFileSync(join(repo, 'iris_captured', 'config.json'), JSON.stringify({ ...config, capture: { percent: 100 } }));
    await s3.upload(repo, 'models/');
    const rest = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'events', 'rest-api-infer.json'), 'utf8'));
    const body = JSON.stringify({ id: 'cap-1', inputs: [{ ...golden.inputs[0], shape: [2, 4], data: golden.inputs[0].data.slice(0, 8) }] });
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'modelship-events-')), 'events.json');
    writeFileSync(eventsFile, JSON.stringify([{ ...rest, path: '/v2/models/iris_captured/infer', body }]));
    const { stdout } = await exec(process.execPath, [join(ROOT, 'test', 'fixtures', 'lambda-runtime.mjs'), eventsFile], {
      cwd: staged.directory,
      env: { PATH: process.env.PATH, LAMBDA_TASK_ROOT: staged.directory, AWS_LAMBDA_FUNCTION_NAME: 'modelship-captured', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint, MODEL_NAMES: 'iris_captured', MODEL_VERSION: '1', PRELOAD_MODELS: 'true', POWERTOOLS_TRACE_ENABLED: 'false' },
    });
    const [result] = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
    assert.equal(result.statusCode, 200);
    // What the subscription filter { $.modelship = "capture" } selects: exactly one line, the capture.
    const selected = stdout.split('\n').filter((l) => l.startsWith('{') && (JSON.parse(l) as { modelship?: string }).modelship === 'capture');
    assert.equal(selected.length, 1);
    const record = JSON.parse(selected[0]);
    // What Firehose's jq partitioning reads from it: {model: .model, version: (.version|tostring)}.
    assert.deepEqual([record.model, String(record.version), record.id, record.kind], ['iris_captured', '1', 'cap-1', 'infer']);
    assert.deepEqual(record.request.inputs[0].data, Array.from(new Float32Array(golden.inputs[0].data.slice(0, 8))));
    assert.deepEqual(record.response.outputs, JSON.parse(result.body).outputs);
    assert.deepEqual(metricValues(emfRecords(stdout), 'CapturedRecords', { Model: 'iris_captured', Version: '1' }), [1]);
    // The capture is the only place the payload appears: the ordinary log lines stay free of it.
    const others = stdout.split('\n').filter((l) => !l.startsWith('RESULT ') && l !== selected[0]).join('\n');
    assert.ok(!others.includes('"data"'), 'payload outside the capture line');
  });

  it('runs the drift job from the staged directory against captures in S3', async () => {
    const golden = readGolden('iris_forest');
    const record = { modelship: 'capture', model: 'iris_forest', version: 1, capturedAt: new Date().toISOString(), kind: 'infer', request: { inputs: golden.inputs }, response: { outputs: [] } };
    await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `${capturePrefix('iris_forest', 1, new Date())}stream-1`, Body: `${JSON.stringify(record)}\n` }));
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'modelship-events-')), 'events.json');
    writeFileSync(eventsFile, JSON.stringify([{ models: [{ model: 'iris_forest', minRows: 10 }] }]));
    const { stdout } = await exec(process.execPath, [join(ROOT, 'test', 'fixtures', 'lambda-runtime.mjs'), eventsFile, 'drift.handler'], {
      cwd: staged.directory,
      env: { PATH: process.env.PATH, LAMBDA_TASK_ROOT: staged.directory, AWS_LAMBDA_FUNCTION_NAME: 'modelship-drift', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', MODEL_BUCKET: 'models', MODEL_PREFIX: 'models/', S3_ENDPOINT: s3.endpoint },
    });
    const [result] = stdout.split('\n').filter((l) => l.startsWith('RESULT ')).map((l) => JSON.parse(l.slice(7)));
    // 38 held-out rows against 10 bins is a small sample (PSI's noise floor is about bins/rows), so
    // only the wiring is checked here; the drift job's own tests judge drift on 143 rows.
    assert.deepEqual(result[0].versions.map((v: { version: number; rows: number; features: unknown[] }) => [v.version, v.rows, v.features.length]), [[1, golden.inputs[0].shape[0], 4]]);
    const records = emfRecords(stdout);
    assert.deepEqual(metricValues(records, 'DriftPSIMax', { Model: 'iris_forest' }), [result[0].maxPsi]);
    assert.equal(metricValues(records, 'DriftPSI', { Model: 'iris_forest', Version: '1' }).length, 4);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'lambda', 'Dockerfile'), 'utf8');

  it('passes the linter with no findings', () => {
    assert.deepEqual(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  });

  it('builds on the Lambda Node.js 24 base image and starts index.handler in exec form', () => {
    assert.match(text, /^FROM public\.ecr\.aws\/lambda\/nodejs:24$/m);
    assert.match(text, /^CMD \["index\.handler"\]$/m);
    assert.doesNotMatch(text, /^(ADD|RUN) /m, 'no ADD, and no package manager at build time');
  });

  it('copies only paths that staging creates', () => {
    const copied = [...text.matchAll(/^COPY (.+) \$\{LAMBDA_TASK_ROOT\}/gm)].flatMap((m) => m[1].split(' '));
    const staged = stageImageContext({ outDir: mkdtempSync(join(tmpdir(), 'modelship-stage-copy-')) });
    for (const path of copied) assert.ok(existsSync(join(staged.directory, path)), `${path} is not staged`);
  });
});
