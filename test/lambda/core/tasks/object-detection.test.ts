/**
 * object-detection served: YOLOv8 and YOLO26 (Ultralytics' own exports) and a DETR (a Hugging Face
 * export) dropped into a repository with no ModelShip config, through the local server (the same
 * pipeline and core as every adapter; the Lambda handler and the SageMaker container once): raw
 * images, base64 JSON with parameters, :predict, v2 BYTES, metadata, the 400s, detectors refused at
 * load, the console in headless Chromium, capture with drift signals, the golden gate, and batch over
 * a folder of images on a real S3 API server. The answers are checked
 * against Ultralytics' own (test/fixtures/object-detection/expected.json; the reference test
 * checks every image and parameter against it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { InferenceSession } from 'onnxruntime-node';
import { withConsolePage } from '../../../console-page.ts';
import { parseModelConfig } from '../../../../lambda/core/config.ts';
import { readSignature } from '../../../../lambda/core/signature.ts';
import { taskFolder } from '../../../../lambda/core/tasks/hf-folder.ts';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import { compareDetections, objectDetection } from '../../../../lambda/core/tasks/object-detection.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { runJob } from '../../../../lambda/jobs/batch-job.ts';
import { runTaskGolden } from '../../../../lambda/jobs/task-golden.ts';
import { S3BatchStore } from '../../../../lambda/stores/batch-store.ts';
import { createApiGatewayHandler } from '../../../../lambda/adapters/api-gateway/handler.ts';
import { createTestService, fakeLambdaContext, ROOT, startTestLocalServer, startTestS3, startTestSageMakerServer, TempRepository } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'object-detection');
const image = (name: string): Buffer => readFileSync(join(FIXTURES, 'images', name));
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
type Detection = { score: number; label: string; box: { xmin: number; ymin: number; xmax: number; ymax: number } };

function repository(prefix: string): TempRepository {
  return new TempRepository(prefix).copy(join(FIXTURES, 'yolov8'), 'yolo/1').copy(join(FIXTURES, 'yolo26'), 'yolo26/1').copy(join(FIXTURES, 'detr'), 'detr/1');
}

/** Ultralytics' detections (boxes within 0.5 px, same labels in the same order). */
function assertLikeUltralytics(actual: Detection[], reference: Detection[], where: string): void {
  assert.equal(actual.length, reference.length, where);
  reference.forEach((r, i) => {
    assert.equal(actual[i].label, r.label, `${where} #${i}`);
    for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) assert.ok(Math.abs(actual[i].box[k] - r.box[k]) <= 0.5, `${where} #${i} ${k}`);
  });
}

describe('object-detection served', () => {
  let server: LocalStack;
  before(async () => {
    server = await startTestLocalServer(repository('detect-').config('small', { task: 'object-detection', image: { maxPixels: 10_000 } }).copy(join(FIXTURES, 'yolov8'), 'small/1').dir);
  });
  after(() => server.close());
  const post = (path: string, body: string | Buffer, type = 'application/json') => fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type } });

  it('detects in a raw JPEG as Ultralytics does, best first, and answers base64 JSON with parameters, lists, :predict and v2 BYTES', async () => {
    const raw = await post('/v2/models/yolo/infer', image('scene.jpg'), 'image/jpeg');
    assert.equal(raw.status, 200);
    const detections = (await raw.json()) as Detection[];
    assertLikeUltralytics(detections, expected.yolov8.images['scene.jpg'].detections, 'raw scene.jpg');
    assert.ok(detections.every((d, i) => i === 0 || detections[i - 1].score >= d.score), 'sorted by score');
    assert.deepEqual(Object.keys(detections[0]), ['score', 'label', 'box']);

    const b64 = image('wide.png').toString('base64');
    const filtered = await post('/v2/models/yolo/infer', JSON.stringify({ inputs: b64, parameters: { threshold: 0.5, classes: ['square'] } }));
    assertLikeUltralytics((await filtered.json()) as Detection[], expected.yolov8.images['wide.png'].withParameters['threshold=0.5,classes=[square]'], 'wide.png filtered');
    const list = (await (await post('/v2/models/yolo/infer', JSON.stringify({ inputs: [b64, image('tall.png').toString('base64')], parameters: { iou_threshold: 0.3 } }))).json()) as Detection[][];
    assertLikeUltralytics(list[0], expected.yolov8.images['wide.png'].withParameters['iou_threshold=0.3'], 'list[0]');
    assertLikeUltralytics(list[1], expected.yolov8.images['tall.png'].withParameters['iou_threshold=0.3'], 'list[1]');
    const predict = (await (await post('/v1/models/yolo:predict', JSON.stringify({ instances: [{ b64: image('exif.jpg').toString('base64') }], parameters: { max_detections: 1 } }))).json()) as { predictions: Detection[][] };
    assertLikeUltralytics(predict.predictions[0], expected.yolov8.images['exif.jpg'].withParameters['max_detections=1'], ':predict exif.jpg');
    const v2 = (await (await post('/v2/models/yolo26/infer', JSON.stringify({ id: 'r1', inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [image('scene.jpg').toString('base64')] }] }))).json()) as { id: string; outputs: { name: string; datatype: string; shape: number[]; data: string[] }[] };
    assert.deepEqual([v2.id, v2.outputs[0].name, v2.outputs[0].datatype, v2.outputs[0].shape], ['r1', 'detections', 'BYTES', [1]]);
    assertLikeUltralytics(JSON.parse(v2.outputs[0].data[0]), expected.yolo26.images['scene.jpg'].detections, 'v2 yolo26');
  });

  it('answers a Hugging Face DETR in whole pixels, and describes each detector (labels, input size, defaults)', async () => {
    const detr = (await (await post('/v2/models/detr/infer', image('scene.jpg'), 'image/jpeg')).json()) as Detection[];
    assert.ok(detr.length > 0 && detr.every((d) => Number.isInteger(d.box.xmin) && d.score > 0.5 && ['circle', 'square', 'triangle'].includes(d.label)));
    const parameters = async (model: string) => ((await (await fetch(`${server.url}/v2/models/${model}`)).json()) as { parameters: Record<string, unknown> }).parameters;
    const yolo = await parameters('yolo');
    assert.deepEqual([yolo.task, yolo.labels, yolo.family, yolo.input_size], ['object-detection', ['circle', 'square', 'triangle'], 'ultralytics', { width: 320, height: 320, letterbox: true }]);
    assert.deepEqual((yolo.parameters as Record<string, unknown>).threshold, 0.25);
    assert.equal((await parameters('yolo26')).family, 'ultralytics (end-to-end)');
    const detrMeta = await parameters('detr');
    assert.deepEqual([detrMeta.task, detrMeta.family, detrMeta.input_size], ['object-detection', 'DetrForObjectDetection', { resize: { shortestEdge: 480, longestEdge: 640 } }]);
  });

  it('refuses bad input with 400s naming the problem', async () => {
    const cases: [string, string | Buffer, string, RegExp][] = [
      ['/v2/models/yolo/infer', Buffer.from('not an image at all'), 'image/jpeg', /not a supported image/],
      ['/v2/models/small/infer', image('scene.jpg'), 'image/jpeg', /640x480 \(307200 pixels\), over the limit of 10000 \(image.maxPixels/],
      ['/v2/models/yolo/infer', JSON.stringify({ inputs: image('tall.png').toString('base64'), parameters: { threshold: 1.5 } }), 'application/json', /"parameters.threshold" must be a number in \[0, 1\], got 1.5/],
      ['/v2/models/yolo/infer', JSON.stringify({ inputs: image('tall.png').toString('base64'), parameters: { classes: ['dog'] } }), 'application/json', /"parameters.classes" names "dog", which this model does not detect; its labels are "circle", "square", "triangle"/],
      ['/v2/models/yolo/infer', JSON.stringify({ inputs: image('tall.png').toString('base64'), parameters: { max_detections: 0 } }), 'application/json', /max_detections" must be a positive integer/],
      ['/v2/models/detr/infer', JSON.stringify({ inputs: image('tall.png').toString('base64'), parameters: { top_k: 3 } }), 'application/json', /"top_k", which this model does not take \(threshold, iou_threshold, max_detections, classes\)/],
    ];
    for (const [path, body, type, pattern] of cases) {
      const response = await post(path, body, type);
      const { error } = (await response.json()) as { error: string };
      assert.equal(response.status, 400, `${pattern}: ${error}`);
      assert.match(error, pattern);
    }
  });
  it('the console draws the boxes on the uploaded image, and sends a threshold as base64 JSON (headless Chromium)', { timeout: 60_000 }, async () => {
    await withConsolePage(server.url, async (page, errors) => {
      await page.waitForSelector('[data-model="yolo"]');
      await page.selectOption('#model', 'yolo');
      await page.setInputFiles('#image', join(FIXTURES, 'images', 'exif.jpg'));
      await page.click('#send');
      await page.locator('[data-testid="detect-canvas"][data-drawn="true"]').waitFor();
      const reference = expected.yolov8.images['exif.jpg'];
      // The canvas is the image as displayed: upright, 640x480, though stored 480x640.
      const canvas = page.locator('[data-testid="detect-canvas"]');
      assert.deepEqual(await Promise.all(['width', 'height', 'data-boxes'].map(async (a) => Number(await canvas.getAttribute(a)))), [640, 480, reference.detections.length]);
      await page.fill('[data-testid="detect-threshold"]', '0.5');
      await page.click('#send');
      const above = reference.detections.filter((d: Detection) => d.score > 0.5).length;
      await page.locator('[data-testid="detect-count"]', { hasText: new RegExp(`^${above} detections$`) }).waitFor();
      await page.locator('[data-testid="detect-canvas"][data-drawn="true"]').waitFor();
      assert.deepEqual(errors, []);
    });
  });
});

describe('object-detection elsewhere', () => {
  it('refuses at load a detector whose outputs it cannot read, naming what it found', async () => {
    // DETR's graph (3 classes and no-object) with a config.json naming one label; and a graph that is no detector at all.
    const repo = new TempRepository('detect-refused-').copy(join(FIXTURES, 'detr', 'model.onnx'), 'odd/1/model.onnx').file('odd/1/config.json', JSON.stringify({ architectures: ['DetrForObjectDetection'], id2label: { 0: 'a' } }));
    repo.copy(join(ROOT, 'test', 'fixtures', 'models', 'identity_fp32'), 'plain').config('plain', { task: 'object-detection' });
    for (const [model, pattern] of [
      ['odd', /"logits" scores 4 classes but id2label names 1 .*it has outputs "logits" \[-1, -1, 4\], "pred_boxes" \[-1, -1, 4\]/],
      ['plain', /not a detector ModelShip can read: it has inputs "[^"]+" .* and outputs "[^"]+"/],
    ] as const) {
      const folder = join(repo.dir, model, '1');
      const files = new Map(['config.json'].filter((f) => existsSync(join(folder, f))).map((f) => [f, readFileSync(join(folder, f))] as const));
      const session = await InferenceSession.create(join(folder, 'model.onnx'));
      const config = parseModelConfig(existsSync(join(repo.dir, model, 'config.json')) ? readFileSync(join(repo.dir, model, 'config.json'), 'utf8') : undefined, model);
      const parts = { where: `${model}/1`, config, files, signature: readSignature(session), onnx: readFileSync(join(folder, 'model.onnx')), createSession: () => Promise.reject(new Error('unused')) };
      await session.release();
      assert.throws(() => objectDetection.load(taskFolder(parts)), pattern);
    }
    // Served, such a version answers 503 (the detail goes to the log).
    const server = await startTestLocalServer(repo.dir);
    try {
      for (const model of ['odd', 'plain']) {
        const response = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: image('tall.png'), headers: { 'Content-Type': 'image/png' } });
        assert.equal(response.status, 503, await response.text());
      }
    } finally {
      await server.close();
    }
  });

  it('captures each image with its detections and the drift signals (count, best and mean score, box area)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'detect-capture-'));
    const server = await startTestLocalServer(repository('detect-capture-').config('yolo', { capture: { percent: 100 } }).dir, { dataDir, flushIntervalMs: 60_000 });
    try {
      assert.equal((await fetch(`${server.url}/v2/models/yolo/infer`, { method: 'POST', body: image('tall.png'), headers: { 'Content-Type': 'image/png' } })).status, 200);
      await server.runtime.flush();
      const [record] = readFileSync(join(dataDir, capturePrefix('yolo', 1, new Date()), 'captures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const reference = expected.yolov8.images['tall.png'].detections as Detection[];
      assert.equal(record.task, 'object-detection');
      assert.equal(record.request.detections[0].length, reference.length);
      const [count, max, mean, area] = record.drift.rows[0];
      assert.equal(count, reference.length);
      assert.ok(Math.abs(max - reference[0].score) < 1e-4);
      assert.ok(Math.abs(mean - reference.reduce((a, d) => a + d.score, 0) / reference.length) < 1e-4);
      assert.ok(area > 0 && area < 1);
    } finally {
      await server.close();
    }
  });

  it('compares golden detections by label and IoU ≥ 0.9, scores within the tolerance', () => {
    const a = { score: 0.9, label: 'circle', box: { xmin: 10, ymin: 10, xmax: 110, ymax: 110 } };
    assert.equal(compareDetections([a], [{ ...a, box: { ...a.box, xmax: 111 } }], 1e-3), undefined);
    assert.match(compareDetections([a], [{ ...a, box: { ...a.box, xmax: 130 } }], 1e-3)!, /no "circle" .*best IoU 0.833/);
    assert.match(compareDetections([a], [{ ...a, label: 'square' }], 1e-3)!, /no "circle"/);
    assert.match(compareDetections([a], [{ ...a, score: 0.8 }], 1e-3)!, /scores 0.8, expected 0.9/);
    assert.match(compareDetections([a], [a, { ...a, label: 'square' }], 1e-3)!, /2 detections answered, 1 expected/);
  });

  it('answers the same through the Lambda handler (a base64 image body) and the SageMaker container', async () => {
    const service = createTestService(repository('detect-adapters-').dir);
    const reference = expected.yolov8.images['wide.png'].detections as Detection[];
    const handler = createApiGatewayHandler(service);
    const lambda = await handler({ httpMethod: 'POST', path: '/v2/models/yolo/infer', headers: { 'Content-Type': 'image/png' }, body: image('wide.png').toString('base64'), isBase64Encoded: true, requestContext: {} } as never, fakeLambdaContext());
    assert.equal(lambda.statusCode, 200, lambda.body);
    assertLikeUltralytics(JSON.parse(lambda.body), reference, 'API Gateway');
    const container = await startTestSageMakerServer(service, 'yolo');
    try {
      const response = await fetch(`${container.url}/invocations`, { method: 'POST', body: image('wide.png'), headers: { 'Content-Type': 'image/png' } });
      assert.equal(response.status, 200);
      assertLikeUltralytics((await response.json()) as Detection[], reference, 'SageMaker');
    } finally {
      await container.close();
    }
  });

  it("gates a version on a golden.json of Ultralytics' detections, and refuses one whose answers moved", async () => {
    const golden = (expected: unknown[]) => JSON.stringify({ task: 'object-detection', requests: ['tall.png', 'wide.png'].map((f) => ({ inputs: image(f).toString('base64') })), expected, tolerance: 1e-3, minAgreement: 1 });
    const reference = ['tall.png', 'wide.png'].map((f) => expected.yolov8.images[f].detections as Detection[]);
    const moved = reference.map((list, i) => (i === 0 ? list.map((d, j) => (j === 0 ? { ...d, box: { ...d.box, xmax: d.box.xmax + 0.3 * (d.box.xmax - d.box.xmin) } } : d)) : list));
    const repo = repository('detect-golden-').file('yolo/1/golden.json', golden(reference)).copy(join(FIXTURES, 'yolov8'), 'yolo/2').file('yolo/2/golden.json', golden(moved));
    const service = createTestService(repo.dir);
    const good = await runTaskGolden(service, 'yolo', 1);
    assert.deepEqual([good.passed, good.problems], [true, []]);
    const bad = await runTaskGolden(service, 'yolo', 2);
    assert.equal(bad.passed, false);
    assert.match(bad.problems.join('\n'), /request 0: no "\w+" at .*best IoU 0\.7/);
  });

  it('scores a folder of images in batch, one line per image with its detections', async () => {
    const s3 = await startTestS3();
    try {
      const store = new S3BatchStore(s3.client, 'models');
      const service = createTestService(repository('detect-batch-').dir);
      for (const name of ['scene.jpg', 'tall.png']) await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `batch/input/yolo/photos/${name}`, Body: image(name) }));
      await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: 'batch/input/yolo/photos.images', Body: '' }));
      const manifest = await runJob(store, service, 'batch/input/yolo/photos.images');
      assert.equal(manifest.status, 'succeeded');
      const lines = Buffer.from((await store.read(manifest.results))!).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.file.split('/').pop()), ['scene.jpg', 'tall.png']);
      assertLikeUltralytics(lines[0].prediction, expected.yolov8.images['scene.jpg'].detections, 'batch scene.jpg');
      assertLikeUltralytics(lines[1].prediction, expected.yolov8.images['tall.png'].detections, 'batch tall.png');
    } finally {
      await s3.close();
    }
  });
});
