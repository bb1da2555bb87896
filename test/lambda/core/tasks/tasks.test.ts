/**
 * Image and text models end to end through the local server (the same pipeline and core as every
 * adapter), on the real samples: PaddleOCR's text direction classifier (real images in), and the
 * Debian section classifier and embedder (real text, Qwen3's real tokenizer). Preprocessing is
 * checked against tensors Pillow and NumPy computed from the same preprocessor_config.json.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { imageSpec, imageToPixels } from '../../../../lambda/core/tasks/images.ts';
import { parseModelConfig } from '../../../../lambda/core/config.ts';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import { driftReport, rowsFromCaptures, type Baseline } from '../../../../lambda/jobs/drift.ts';
import { evaluateGolden, goldenInferRequest, type GateThreshold, type TaskGoldenFile } from '../../../../lambda/jobs/golden-gate.ts';
import type { ShadowResult } from '../../../../lambda/core/shadow.ts';
import { createApiGatewayHandler } from '../../../../lambda/adapters/api-gateway/handler.ts';
import { createTestService, fakeLambdaContext, ROOT, SAMPLES_DIR, startTestLocalServer, startTestSageMakerServer, TempRepository } from '../../../helpers.ts';

const IMAGES = join(ROOT, 'test', 'fixtures', 'images');
const image = (name: string) => readFileSync(join(IMAGES, name));
type Label = { label: string; score: number };

/** Pixels against a reference tensor: the largest and the mean difference within the tolerance. */
function assertPixelsClose(name: string, actual: Float32Array, expected: Float32Array, tolerance: { maxAbs: number; meanAbs: number }): void {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    max = Math.max(max, d);
    sum += d;
  }
  assert.ok(max <= tolerance.maxAbs && sum / actual.length <= tolerance.meanAbs, `${name}: max |diff| ${max.toFixed(4)}, mean ${(sum / actual.length).toFixed(5)} (tolerance ${JSON.stringify(tolerance)})`);
}

describe('image and text models: preprocessing, tasks, answers', () => {
  let server: LocalStack;
  before(async () => {
    server = await startTestLocalServer(SAMPLES_DIR);
  });
  after(() => server.close());
  const post = (path: string, body: string | Buffer, type: string) => fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type } });
  const json = async (path: string, body: unknown) => post(path, JSON.stringify(body), 'application/json');

  it('builds the same pixels as Pillow + NumPy from preprocessor_config.json (resize, EXIF, rescale, normalize)', async () => {
    const reference = JSON.parse(readFileSync(join(IMAGES, 'reference.json'), 'utf8')) as { images: Record<string, { file: string; shape: number[] }>; tolerance: { maxAbs: number; meanAbs: number } };
    const spec = imageSpec(JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', '1', 'preprocessor_config.json'), 'utf8')), parseModelConfig(undefined, 'none'), [-1, 3, -1, -1], 'sample');
    for (const [name, { file, shape }] of Object.entries(reference.images)) {
      const bytes = readFileSync(join(IMAGES, file));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const actual = await imageToPixels(image(name), spec);
      assert.equal(actual.length, shape.reduce((a, b) => a * b, 1), name);
      assertPixelsClose(name, actual, expected, reference.tolerance);
    }
  });

  it('resizes the shortest edge and centre-crops as transformers does: long side truncated, crop offset floored (odd leftovers)', async () => {
    type Crop = { file: string; shape: number[]; preprocessor: Record<string, unknown>; tolerance: { maxAbs: number; meanAbs: number } };
    const reference = JSON.parse(readFileSync(join(IMAGES, 'crop-reference.json'), 'utf8')) as { images: Record<string, Crop> };
    for (const [name, { file, shape, preprocessor, tolerance }] of Object.entries(reference.images)) {
      const spec = imageSpec(preprocessor, parseModelConfig(undefined, 'none'), [-1, 3, -1, -1], name);
      const bytes = readFileSync(join(IMAGES, file));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const actual = await imageToPixels(image(name), spec);
      assert.equal(actual.length, shape.reduce((a, b) => a * b, 1), name);
      assertPixelsClose(name, actual, expected, tolerance);
    }
  });

  it('classifies real images sent raw (JPEG, PNG, EXIF-rotated), as base64 JSON batches, and through :predict', async () => {
    for (let n = 0; n < 6; n++) {
      for (const [file, type, expected] of [[`line-${n}.png`, 'image/png', '0'], [`line-${n}.jpg`, 'image/jpeg', '0'], [`line-${n}-180.png`, 'image/png', '180']] as const) {
        const response = await post('/v2/models/text_orientation/infer', image(file), type);
        assert.equal(response.status, 200, file);
        const labels = (await response.json()) as Label[];
        assert.equal(labels[0].label, expected, `${file}: ${JSON.stringify(labels)}`);
        assert.ok(labels[0].score > 0.5 && labels.length === 2);
      }
    }
    const rotated = (await (await post('/v2/models/text_orientation/infer', image('exif-rotated.jpg'), 'image/jpeg')).json()) as Label[];
    assert.equal(rotated[0].label, '0', 'the EXIF orientation is applied before the model sees the pixels');
    const batch = await json('/v2/models/text_orientation/infer', { inputs: [image('line-3.png').toString('base64'), `data:image/png;base64,${image('line-3-180.png').toString('base64')}`], parameters: { top_k: 1 } });
    assert.deepEqual(((await batch.json()) as Label[][]).map((l) => [l.length, l[0].label]), [[1, '0'], [1, '180']]);
    const predict = await json('/v1/models/text_orientation:predict', { instances: [{ b64: image('line-4-180.png').toString('base64') }] });
    assert.equal(((await predict.json()) as { predictions: Label[][] }).predictions[0][0].label, '180');
  });

  it('classifies held-out texts at the accuracy recorded when the sample was trained', async () => {
    const golden = JSON.parse(readFileSync(join(SAMPLES_DIR, 'debian_sections', '1', 'golden.json'), 'utf8')) as { texts: string[]; labels: string[]; expectedLabels: string[] };
    const evaluation = JSON.parse(readFileSync(join(SAMPLES_DIR, 'debian_sections', '1', 'evaluation.json'), 'utf8')) as { metrics: { accuracy: number } };
    const predicted: string[] = [];
    for (let i = 0; i < golden.texts.length; i += 100) {
      const response = await json('/v2/models/debian_sections/infer', { inputs: golden.texts.slice(i, i + 100), parameters: { top_k: 1 } });
      assert.equal(response.status, 200);
      predicted.push(...((await response.json()) as Label[][]).map((l) => l[0].label));
    }
    const accuracy = predicted.filter((p, i) => p === golden.labels[i]).length / predicted.length;
    assert.ok(Math.abs(accuracy - evaluation.metrics.accuracy) < 0.005, `accuracy ${accuracy} against the recorded ${evaluation.metrics.accuracy}`);
    const sameAsTraining = predicted.filter((p, i) => p === golden.expectedLabels[i]).length / predicted.length;
    assert.ok(sameAsTraining >= 0.995, `the server's tokenizer and graph agree with training on ${sameAsTraining} of the texts`);
    const one = await post('/v2/models/debian_sections/infer', 'real-time strategy game of ancient warfare', 'text/plain');
    assert.equal(((await one.json()) as Label[])[0].label, 'games');
  });

  it('embeds texts of one section closer to each other than to texts of another, as the golden embeddings say', async () => {
    const golden = JSON.parse(readFileSync(join(SAMPLES_DIR, 'debian_embeddings', '1', 'golden.json'), 'utf8')) as { texts: string[]; labels: string[]; expectedEmbeddings: number[][]; tolerance: number };
    const response = await json('/v2/models/debian_embeddings/infer', { inputs: golden.texts });
    const embeddings = (await response.json()) as number[][];
    assert.equal(embeddings.length, golden.texts.length);
    embeddings.forEach((e, i) => e.forEach((v, d) => assert.ok(Math.abs(v - golden.expectedEmbeddings[i][d]) <= golden.tolerance, `text ${i} dim ${d}`)));
    const cosine = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
    for (const section of new Set(golden.labels)) {
      const own = embeddings.filter((_, i) => golden.labels[i] === section);
      const others = embeddings.filter((_, i) => golden.labels[i] !== section);
      if (own.length < 2) continue;
      const within = own.flatMap((a, i) => own.slice(i + 1).map((b) => cosine(a, b)));
      const across = own.flatMap((a) => others.map((b) => cosine(a, b)));
      const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
      assert.ok(mean(within) > mean(across), `${section}: within ${mean(within).toFixed(3)}, across ${mean(across).toFixed(3)}`);
    }
    const single = (await (await post('/v2/models/debian_embeddings/infer', 'a network packet analyzer', 'text/plain')).json()) as number[][];
    assert.equal(single.length, 1, 'number[][] for one text too');
    assert.ok(Math.abs(Math.hypot(...single[0]) - 1) < 1e-5, 'L2-normalized (modules.json has Normalize)');
  });

  it('takes v2 BYTES inputs (texts as "str", images as "base64") and answers BYTES labels with FP32 scores, or the classification extension', async () => {
    const texts = await json('/v2/models/debian_sections/infer', { id: 'r1', inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['TrueType font family', 'network packet analyzer'], parameters: { content_type: 'str' } }] });
    const answer = (await texts.json()) as { id: string; outputs: { name: string; datatype: string; shape: number[]; data: (string | number)[] }[] };
    assert.equal(answer.id, 'r1');
    const [labels, scores] = answer.outputs;
    assert.deepEqual([labels.name, labels.datatype, labels.shape, scores.name, scores.datatype, scores.shape], ['label', 'BYTES', [2, 6], 'score', 'FP32', [2, 6]]);
    assert.deepEqual([labels.data[0], labels.data[6]], ['fonts', 'net']);
    assert.ok(Math.abs((scores.data as number[]).slice(0, 6).reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax scores of one text sum to 1');
    const triton = await json('/v2/models/debian_sections/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['TrueType font family'] }], outputs: [{ name: 'logits', parameters: { classification: 2 } }] });
    const classified = ((await triton.json()) as { outputs: { name: string; shape: number[]; data: string[] }[] }).outputs;
    assert.deepEqual([classified.length, classified[0].name, classified[0].shape], [1, 'logits', [1, 2]]);
    assert.match(classified[0].data[0], /^0\.9\d*:2:fonts$/, 'Triton\'s "score:index:label"');
    const imageV2 = await json('/v2/models/text_orientation/infer', { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: [image('line-1-180.png').toString('base64')], parameters: { content_type: 'base64' } }] });
    assert.equal(((await imageV2.json()) as { outputs: { data: string[] }[] }).outputs[0].data[0], '180');
    const embedding = await json('/v2/models/debian_embeddings/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['network packet analyzer'] }] });
    assert.deepEqual(((await embedding.json()) as { outputs: { name: string; shape: number[] }[] }).outputs.map((o) => [o.name, o.shape]), [['embedding', [1, 128]]]);
    const badShape = await json('/v2/models/debian_sections/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: ['a', 'b'] }] });
    assert.equal(badShape.status, 400);
    const unknownOutput = await json('/v2/models/debian_sections/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['a b'] }], outputs: [{ name: 'nope' }] });
    assert.match(((await unknownOutput.json()) as { error: string }).error, /has no output "nope"/);
  });

  it('says in its metadata what each model takes: task, content types, labels, and for text the maximum length', async () => {
    const text = ((await (await fetch(`${server.url}/v2/models/debian_sections`)).json()) as { parameters: Record<string, unknown> }).parameters;
    assert.deepEqual([text.task, text.content_types, (text.labels as string[]).length, text.max_length], ['text-classification', ['text/plain'], 6, 128]);
    const embed = ((await (await fetch(`${server.url}/v2/models/debian_embeddings`)).json()) as { parameters: Record<string, unknown> }).parameters;
    assert.deepEqual([embed.task, embed.pooling, embed.normalize], ['feature-extraction', 'mean', true]);
    const img = ((await (await fetch(`${server.url}/v2/models/text_orientation`)).json()) as { parameters: Record<string, unknown> }).parameters;
    assert.deepEqual([img.task, img.content_types, img.labels], ['image-classification', ['image/jpeg', 'image/png', 'image/webp', 'application/x-image'], ['0', '180']]);
  });

  it('answers bad input with a 4xx that names it, and nothing crashes', async () => {
    const cases: [string, string | Buffer, string, number, RegExp][] = [
      ['/v2/models/text_orientation/infer', Buffer.from('not an image at all'), 'image/png', 400, /not a supported image/],
      ['/v2/models/text_orientation/infer', image('line-0.jpg').subarray(0, 600), 'image/jpeg', 400, /image|decoded/],
      ['/v2/models/text_orientation/infer', image('line-0.png'), 'image/gif', 415, /not supported/],
      ['/v2/models/text_orientation/infer', 'hello', 'text/plain', 415, /takes images/],
      ['/v2/models/text_orientation/infer', JSON.stringify({ inputs: ['%%%not base64%%%'] }), 'application/json', 400, /not base64/],
      ['/v2/models/debian_sections/infer', '   ', 'text/plain', 400, /empty/],
      ['/v2/models/debian_sections/infer', JSON.stringify({ inputs: ['ok', ''] }), 'application/json', 400, /text 1 is empty/],
      ['/v2/models/debian_sections/infer', image('line-0.png'), 'image/png', 415, /takes text/],
      ['/v2/models/debian_sections/infer', JSON.stringify({ inputs: 'fine', parameters: { top_k: 0 } }), 'application/json', 400, /top_k/],
      ['/v2/models/debian_sections/infer', JSON.stringify({ inputs: 'fine', parameters: { temperature: 2 } }), 'application/json', 400, /"temperature"/],
      ['/v2/models/iris_forest/infer', image('line-0.png'), 'image/png', 415, /takes tensors/],
      ['/v2/models/iris_forest/infer', JSON.stringify({ inputs: ['some text'] }), 'application/json', 400, /inputs\[0\] must be a JSON object with name, shape, datatype and data/],
    ];
    for (const [path, body, type, status, message] of cases) {
      const response = await post(path, body, type);
      const text = await response.text();
      assert.equal(response.status, status, `${path} ${type}: ${text}`);
      assert.match(JSON.parse(text).error, message, text);
    }
  });

  it('survives truncated and garbage images: every answer is a 200 or a 400, never a crash', async () => {
    const sources = [image('line-0.jpg'), image('line-1.png'), image('exif-rotated.jpg')];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 60; i++) {
      const source = sources[i % sources.length];
      const bytes = Buffer.from(source.subarray(0, Math.floor(random() * source.length)));
      if (i % 2 === 1) for (let j = 0; j < 20; j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const response = await post('/v2/models/text_orientation/infer', bytes, i % 3 === 0 ? 'image/png' : 'image/jpeg');
      assert.ok(response.status === 200 || response.status === 400, `case ${i}: ${response.status} ${await response.text()}`);
      await response.arrayBuffer().catch(() => undefined);
    }
    assert.equal((await post('/v2/models/text_orientation/infer', image('line-0.png'), 'image/png')).status, 200, 'still serving');
  });
});

describe('image and text models: folders, limits and truncation', () => {
  it('refuses images over the pixel limit before decoding them, truncates long texts and says so, or rejects them when configured', async () => {
    const repo = new TempRepository('tasks-').sample('text_orientation').sample('debian_sections').sample('debian_sections', 'strict_sections')
      .config('text_orientation', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', 'config.json'), 'utf8')), image: { maxPixels: 10_000 } })
      .config('debian_sections', { maxLength: 8 })
      .config('strict_sections', { maxLength: 8, truncation: 'reject' });
    const server = await startTestLocalServer(repo.dir);
    try {
      const big = await fetch(`${server.url}/v2/models/text_orientation/infer`, { method: 'POST', body: image('line-0.png'), headers: { 'Content-Type': 'image/png' } });
      assert.equal(big.status, 400);
      assert.match(((await big.json()) as { error: string }).error, /pixels\), over the limit of 10000 \(image.maxPixels/);
      const long = 'a free and open source multiplayer real-time strategy game of ancient warfare for the whole family';
      const cut = await fetch(`${server.url}/v2/models/debian_sections/infer`, { method: 'POST', body: JSON.stringify({ inputs: ['short text', long] }), headers: { 'Content-Type': 'application/json' } });
      assert.equal(cut.status, 200);
      assert.equal(cut.headers.get('x-truncated-inputs'), '1', 'the answer says which inputs were cut');
      const refused = await fetch(`${server.url}/v2/models/strict_sections/infer`, { method: 'POST', body: long, headers: { 'Content-Type': 'text/plain' } });
      assert.equal(refused.status, 400);
      assert.match(((await refused.json()) as { error: string }).error, /text 0 is \d+ tokens, over the model's maximum of 8/);
    } finally {
      await server.close();
    }
  });

  it('reads an Optimum-style folder (onnx/model.onnx, task from config.json architectures, index_to_name.json labels)', async () => {
    const sections = join(SAMPLES_DIR, 'debian_sections', '1');
    const hfConfig = JSON.parse(readFileSync(join(sections, 'config.json'), 'utf8')) as Record<string, unknown>;
    const repo = new TempRepository('optimum-')
      .copy(join(sections, 'model.onnx'), 'optimum/1/onnx/model.onnx')
      .copy(join(sections, 'tokenizer.json'), 'optimum/1/tokenizer.json')
      .copy(join(sections, 'tokenizer_config.json'), 'optimum/1/tokenizer_config.json')
      .file('optimum/1/config.json', JSON.stringify({ ...hfConfig, id2label: undefined }))
      .file('optimum/1/index_to_name.json', JSON.stringify(Object.fromEntries(['games', 'science', 'fonts', 'sound', 'graphics', 'net'].map((s, i) => [String(i), s.toUpperCase()]))));
    const server = await startTestLocalServer(repo.dir);
    try {
      const response = await fetch(`${server.url}/v2/models/optimum/infer`, { method: 'POST', body: 'TrueType font family', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as Label[])[0].label, 'FONTS');
    } finally {
      await server.close();
    }
  });

  it('refuses a version whose tokenizer or preprocessing changed after deploy (503), and names a text model without a tokenizer', async () => {
    const repo = new TempRepository('side-files-').sample('debian_sections').sample('debian_sections', 'no_tokenizer');
    rmSync(join(repo.dir, 'no_tokenizer', '1', 'tokenizer.json'));
    const server = await startTestLocalServer(repo.dir, { repository: { expectedSha256: { 'debian_sections/1/files': '0'.repeat(64) } } });
    try {
      const changed = await fetch(`${server.url}/v2/models/debian_sections/infer`, { method: 'POST', body: 'text', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(changed.status, 503);
      const missing = await fetch(`${server.url}/v2/models/no_tokenizer/infer`, { method: 'POST', body: 'text', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(missing.status, 503);
    } finally {
      await server.close();
    }
  });
});

describe('image and text models on every transport', () => {
  it('answers a raw image and a text through a Lambda API Gateway event and the SageMaker container, as the local server does', async () => {
    const service = createTestService(SAMPLES_DIR);
    const handler = createApiGatewayHandler(service);
    const png = image('line-2-180.png');
    const lambdaImage = await handler({ httpMethod: 'POST', path: '/v2/models/text_orientation/infer', headers: { 'Content-Type': 'image/png' }, body: png.toString('base64'), isBase64Encoded: true, requestContext: {} } as never, fakeLambdaContext());
    assert.equal(lambdaImage.statusCode, 200, lambdaImage.body);
    assert.equal((JSON.parse(lambdaImage.body) as Label[])[0].label, '180');
    const lambdaText = await handler({ httpMethod: 'POST', path: '/v2/models/debian_sections/infer', headers: { 'Content-Type': 'text/plain' }, body: 'real-time strategy game of ancient warfare', isBase64Encoded: false, requestContext: {} } as never, fakeLambdaContext());
    assert.equal((JSON.parse(lambdaText.body) as Label[])[0].label, 'games');
    const container = await startTestSageMakerServer(service, 'text_orientation');
    try {
      const response = await fetch(`${container.url}/invocations`, { method: 'POST', body: png, headers: { 'Content-Type': 'image/png' } });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as Label[])[0].label, '180');
    } finally {
      await container.close();
    }
  });
});

describe('image and text models: capture and drift', () => {
  it('captures texts (images by hash and size) with the answer and drift signals, and the drift job sees a shift in predicted classes', async () => {
    const repo = new TempRepository('task-capture-').sample('debian_sections').sample('text_orientation')
      .config('debian_sections', { capture: { percent: 100 } })
      .config('text_orientation', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', 'config.json'), 'utf8')), capture: { percent: 100 } });
    const dataDir = mkdtempSync(join(tmpdir(), 'task-capture-data-'));
    const server = await startTestLocalServer(repo.dir, { dataDir, flushIntervalMs: 60_000 });
    const golden = JSON.parse(readFileSync(join(SAMPLES_DIR, 'debian_sections', '1', 'golden.json'), 'utf8')) as { texts: string[]; labels: string[] };
    const send = (texts: string[]) => fetch(`${server.url}/v2/models/debian_sections/infer`, { method: 'POST', body: JSON.stringify({ inputs: texts }), headers: { 'Content-Type': 'application/json' } });
    try {
      // Traffic like training's (held-out texts of every section), then traffic of games only.
      const spread = golden.texts.filter((_, i) => i % 3 === 0).slice(0, 200); // held-out texts are grouped by section
      assert.equal((await send(spread)).status, 200);
      const png = image('line-0.png');
      assert.equal((await fetch(`${server.url}/v2/models/text_orientation/infer`, { method: 'POST', body: png, headers: { 'Content-Type': 'image/png' } })).status, 200);
      await server.runtime.flush();
      const file = (model: string) => join(dataDir, capturePrefix(model, 1, new Date()), 'captures.jsonl');
      const [record] = readFileSync(file('debian_sections'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual([record.kind, record.task, record.request.texts.length, record.response.length, record.drift.rows.length], ['task', 'text-classification', 200, 200, 200]);
      assert.deepEqual(record.drift.rows[0].length, 3, 'predicted class, top score, text length');
      assert.equal(record.drift.rows[1][2], spread[1].length);
      const [imageRecord] = readFileSync(file('text_orientation'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(imageRecord.request.images, [{ sha256: createHash('sha256').update(png).digest('hex'), bytes: png.length }], 'an image is captured as its hash and size');
      assert.equal(imageRecord.request.tensor, undefined, 'and not as pixels, by default');
      const baseline = JSON.parse(readFileSync(join(SAMPLES_DIR, 'debian_sections', '1', 'baseline.json'), 'utf8')) as Baseline;
      const like = driftReport(baseline, rowsFromCaptures(readFileSync(file('debian_sections'), 'utf8'), 'captures'));
      assert.ok(!like.find((f) => f.name === 'predicted class')!.drifted, `held-out traffic: ${JSON.stringify(like)}`);
      const games = golden.texts.filter((_, i) => golden.labels[i] === 'games');
      const shifted = driftReport(baseline, rowsFromCaptures(JSON.stringify({ drift: { rows: (await (await send(games)).json() as Label[][]).map((l, i) => [['games', 'science', 'fonts', 'sound', 'graphics', 'net'].indexOf(l[0].label), l[0].score, games[i].length]) } }), 'shifted'));
      assert.ok(shifted.find((f) => f.name === 'predicted class')!.drifted, `games-only traffic: ${JSON.stringify(shifted)}`);
    } finally {
      await server.close();
    }
  });
});

describe('image and text models: the golden gate', () => {
  it('passes each sample on its golden file (labels, scores, embeddings) and fails a version whose answers changed', async () => {
    const repo = new TempRepository('task-gate-').sample('debian_sections').sample('debian_embeddings').sample('text_orientation')
      .sample('text_orientation', 'flipped').config('flipped', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', 'config.json'), 'utf8')), labels: ['180', '0'] });
    const server = await startTestLocalServer(repo.dir);
    const gate = async (model: string, golden: string, threshold?: GateThreshold) => {
      const file = JSON.parse(readFileSync(join(SAMPLES_DIR, golden, '1', 'golden.json'), 'utf8')) as TaskGoldenFile;
      const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(goldenInferRequest(file)), headers: { 'Content-Type': 'application/json' } });
      assert.equal(response.status, 200);
      return evaluateGolden(file, (await response.json()) as never, threshold);
    };
    try {
      const sections = await gate('debian_sections', 'debian_sections', { metric: 'accuracy', min: 0.7 });
      assert.deepEqual(sections.problems, []);
      assert.ok(Math.abs(sections.metrics.accuracy! - 0.7455) < 0.005, JSON.stringify(sections.metrics));
      assert.deepEqual((await gate('debian_embeddings', 'debian_embeddings')).problems, []);
      const orientation = await gate('text_orientation', 'text_orientation', { metric: 'accuracy', min: 1 });
      assert.deepEqual([orientation.passed, orientation.metrics.accuracy], [true, 1]);
      const flipped = await gate('flipped', 'text_orientation', { metric: 'accuracy', min: 0.9 });
      assert.equal(flipped.passed, false);
      assert.match(flipped.problems.join('\n'), /top labels agree with golden on 0\.0% of 12 inputs/);
      assert.match(flipped.problems.join('\n'), /accuracy 0\.0000 is below the minimum 0\.9/);
    } finally {
      await server.close();
    }
  });
});

describe('image and text models: shadow versions', () => {
  it('copies text and image requests to the shadow version off the request path, and reports agreement or the first difference', async () => {
    const sections = join(SAMPLES_DIR, 'debian_sections', '1');
    const hf = JSON.parse(readFileSync(join(sections, 'config.json'), 'utf8')) as { id2label: Record<string, string> };
    const repo = new TempRepository('task-shadow-').sample('debian_sections').sample('text_orientation')
      .copy(sections, 'debian_sections/2')
      .copy(join(SAMPLES_DIR, 'text_orientation', '1'), 'text_orientation/2')
      // Version 3 names its classes in the opposite order: the same logits, other labels.
      .copy(sections, 'debian_sections/3')
      .file('debian_sections/3/config.json', JSON.stringify({ ...hf, id2label: Object.fromEntries(Object.entries(hf.id2label).map(([k], i, all) => [k, all[all.length - 1 - i][1]])) }))
      .config('debian_sections', { versionPolicy: { pinned: 1 }, shadow: { version: 2 } })
      .config('text_orientation', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', 'config.json'), 'utf8')), versionPolicy: { pinned: 1 }, shadow: { version: 2 } });
    const results: ShadowResult[] = [];
    const server = await startTestLocalServer(repo.dir, { onShadowResult: (r) => results.push(r) });
    try {
      await fetch(`${server.url}/v2/models/debian_sections/infer`, { method: 'POST', body: 'network packet analyzer', headers: { 'Content-Type': 'text/plain' } }).then((r) => r.text());
      await fetch(`${server.url}/v2/models/text_orientation/infer`, { method: 'POST', body: image('line-2.png'), headers: { 'Content-Type': 'image/png' } }).then((r) => r.text());
      for (let i = 0; i < 100 && results.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(results.map((r) => [r.model, r.shadowVersion, r.agree]).sort(), [['debian_sections', 2, true], ['text_orientation', 2, true]]);
      const live = await startTestLocalServer(new TempRepository('task-shadow-3-').copy(repo.dir, '.').config('debian_sections', { versionPolicy: { pinned: 1 }, shadow: { version: 3 } }).dir, { onShadowResult: (r) => results.push(r) });
      try {
        await fetch(`${live.url}/v2/models/debian_sections/infer`, { method: 'POST', body: JSON.stringify({ inputs: ['network packet analyzer'] }), headers: { 'Content-Type': 'application/json' } }).then((r) => r.text());
        for (let i = 0; i < 100 && results.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(results[2].agree, false);
        assert.match(results[2].difference!, /answer value 0 differs: "net" vs "games"/);
      } finally {
        await live.close();
      }
    } finally {
      await server.close();
    }
  });
});

describe('image and text models: options', () => {
  it('captures the decoded image tensor when capture.images is "tensor", and scores a multi-label problem_type with sigmoid', async () => {
    const sections = join(SAMPLES_DIR, 'debian_sections', '1');
    const hf = JSON.parse(readFileSync(join(sections, 'config.json'), 'utf8')) as Record<string, unknown>;
    const repo = new TempRepository('task-options-').sample('text_orientation')
      .config('text_orientation', { ...JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', 'config.json'), 'utf8')), capture: { percent: 100, images: 'tensor' } })
      .copy(sections, 'tags/1')
      .file('tags/1/config.json', JSON.stringify({ ...hf, problem_type: 'multi_label_classification' }));
    const dataDir = mkdtempSync(join(tmpdir(), 'task-options-data-'));
    const server = await startTestLocalServer(repo.dir, { dataDir, flushIntervalMs: 60_000 });
    try {
      await fetch(`${server.url}/v2/models/text_orientation/infer`, { method: 'POST', body: image('line-0.png'), headers: { 'Content-Type': 'image/png' } }).then((r) => r.text());
      await server.runtime.flush();
      const [record] = readFileSync(join(dataDir, capturePrefix('text_orientation', 1, new Date()), 'captures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const bytes = Buffer.from(record.request.tensor.b64, 'base64');
      const pixels = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      assert.deepEqual(record.request.tensor.shape, [1, 3, 48, 192]);
      const spec = imageSpec(JSON.parse(readFileSync(join(SAMPLES_DIR, 'text_orientation', '1', 'preprocessor_config.json'), 'utf8')), parseModelConfig(undefined, 'none'), [-1, 3, -1, -1], 'sample');
      assert.deepEqual(Array.from(pixels), Array.from(await imageToPixels(image('line-0.png'), spec)), 'exactly the pixels the model saw');
      const golden = JSON.parse(readFileSync(join(sections, 'golden.json'), 'utf8')) as { texts: string[]; expectedLogits: number[][] };
      const answer = (await (await fetch(`${server.url}/v2/models/tags/infer`, { method: 'POST', body: golden.texts[0], headers: { 'Content-Type': 'text/plain' } })).json()) as Label[];
      const labels = ['games', 'science', 'fonts', 'sound', 'graphics', 'net'];
      for (const { label, score } of answer) assert.ok(Math.abs(score - 1 / (1 + Math.exp(-golden.expectedLogits[0][labels.indexOf(label)]))) < 1e-4, `${label}: ${score}`);
      assert.ok(Math.abs(answer.reduce((s, a) => s + a.score, 0) - 1) > 0.01, 'sigmoid scores need not sum to 1');
    } finally {
      await server.close();
    }
  });
});
