/**
 * The vision tasks served: image-feature-extraction and zero-shot-image-classification through the
 * local server (the pipeline and core every adapter shares) in every request shape, data capture
 * with their drift signals, the golden gate with their `compare`, and batch over a folder of images
 * in S3 (s3rver). The answers' equality with transformers.js is image-feature-extraction.test.ts's
 * and zero-shot-image-classification.test.ts's; here the served answers equal the modules' own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { runJob } from '../../../../lambda/jobs/batch-job.ts';
import { gateTaskAnswers } from '../../../../lambda/jobs/task-golden.ts';
import { S3BatchStore } from '../../../../lambda/stores/batch-store.ts';
import { writeVisionRepository } from '../../../../scripts/samples/vision-fixtures.ts';
import { createApiGatewayHandler } from '../../../../lambda/adapters/api-gateway/handler.ts';
import { createTestService, fakeLambdaContext, startTestLocalServer, startTestS3, startTestSageMakerServer, TempRepository, type TestS3 } from '../../../helpers.ts';
import { withConsolePage } from '../../../console-page.ts';
import { maxGap, testImages } from './vision-helpers.ts';

type Label = { label: string; score: number };
const LABELS = ['a diagram', 'a photo', 'handwriting'];

describe('vision tasks served: every request shape, capture, the golden gate, batch', () => {
  let server: LocalStack;
  let repo: string;
  let dataDir: string;
  let images: Buffer[];
  before(async () => {
    repo = writeVisionRepository(new TempRepository('vision-serving-').dir);
    configure(repo, 'vit_embeddings', { capture: { percent: 100 } });
    configure(repo, 'clip_zero_shot', { capture: { percent: 100 }, image: { maxPixels: 40_000 } });
    dataDir = mkdtempSync(join(tmpdir(), 'vision-serving-data-'));
    server = await startTestLocalServer(repo, { dataDir, flushIntervalMs: 60_000 });
    images = await testImages(48, 40);
  });
  after(() => server.close());
  const post = async (path: string, body: string | Buffer, type = 'application/json') => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type } });
    return { status: response.status, json: (await response.json()) as any };
  };
  const b64 = (i: number) => images[i].toString('base64');

  it('embeddings: a raw image answers [[...]], a JSON batch one [[...]] per image, :predict and v2 BYTES the same vectors', async () => {
    const raw = await post('/v2/models/vit_embeddings/infer', images[0], 'image/png');
    assert.equal(raw.status, 200);
    const [[vector]] = [raw.json as number[][]];
    assert.equal(vector.length, 16);
    const batch = await post('/v2/models/vit_embeddings/infer', JSON.stringify({ inputs: [b64(0), b64(1)], parameters: { pooling: 'mean', normalize: true } }));
    assert.equal(batch.status, 200);
    assert.equal(batch.json.length, 2);
    assert.ok(Math.abs(Math.hypot(...batch.json[1][0]) - 1) < 1e-6, 'normalized');
    const predict = await post('/v1/models/vit_embeddings:predict', JSON.stringify({ instances: [{ b64: b64(0) }] }));
    assert.equal(predict.status, 200);
    assert.ok(maxGap(predict.json.predictions[0][0], vector) < 1e-6);
    const v2 = await post('/v2/models/vit_embeddings/infer', JSON.stringify({ id: 'r1', inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [b64(0), b64(1)] }] }));
    assert.equal(v2.status, 200);
    assert.deepEqual([v2.json.id, v2.json.outputs[0].name, v2.json.outputs[0].datatype, v2.json.outputs[0].shape], ['r1', 'embedding', 'FP32', [2, 16]]);
    assert.ok(maxGap(v2.json.outputs[0].data.slice(0, 16), vector) < 1e-6);
  });

  it('zero-shot: JSON with candidate labels, one file and two towers alike, :predict and v2; metadata says what to send', async () => {
    const body = JSON.stringify({ inputs: b64(0), parameters: { candidate_labels: LABELS, hypothesis_template: 'a picture of {}' } });
    const one = await post('/v2/models/clip_zero_shot/infer', body);
    const towers = await post('/v2/models/clip_towers_zero_shot/infer', body);
    assert.equal(one.status, 200);
    assert.deepEqual((one.json as Label[]).map((l) => l.label).sort(), [...LABELS].sort());
    assert.equal(zeroShotGap(one.json, towers.json) < 1e-5, true, `one file ${JSON.stringify(one.json)} vs towers ${JSON.stringify(towers.json)}`);
    const predict = await post('/v1/models/clip_zero_shot:predict', JSON.stringify({ instances: [{ b64: b64(0) }, { b64: b64(1) }], parameters: { candidate_labels: LABELS, hypothesis_template: 'a picture of {}' } }));
    assert.equal(predict.status, 200);
    assert.equal(zeroShotGap(predict.json.predictions[0], one.json) < 1e-5, true);
    const v2 = await post('/v2/models/siglip_zero_shot/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64(2)] }], parameters: { candidate_labels: LABELS } }));
    assert.equal(v2.status, 200);
    assert.deepEqual(v2.json.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]), [['label', [1, 3]], ['score', [1, 3]]]);
    const metadata = (await (await fetch(`${server.url}/v2/models/clip_towers_zero_shot`)).json()) as { parameters: Record<string, unknown> };
    assert.deepEqual([metadata.parameters.task, metadata.parameters.family, metadata.parameters.input_size], ['zero-shot-image-classification', 'clip', { width: 32, height: 32 }]);
    const embeddings = (await (await fetch(`${server.url}/v2/models/dinov2_embeddings`)).json()) as { parameters: Record<string, unknown> };
    assert.deepEqual([embeddings.parameters.task, embeddings.parameters.pooling, embeddings.parameters.input_size], ['image-feature-extraction', 'cls', { width: 32, height: 32 }]);
  });

  it('POST /v1/embeddings takes image items ({"image": data URL}, the Jina/Voyage shape): the vectors /infer answers; 400 for mixed items or the wrong model', async () => {
    const dataUrl = (i: number) => `data:image/png;base64,${b64(i)}`;
    const answer = await post('/v1/embeddings', JSON.stringify({ model: 'clip_image_embeddings', input: [{ image: dataUrl(0) }, { image: b64(1) }] }));
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.deepEqual([answer.json.object, answer.json.data.length, answer.json.data[1].index, answer.json.usage.total_tokens], ['list', 2, 1, 0]);
    for (const i of [0, 1]) {
      const infer = await post('/v2/models/clip_image_embeddings/infer', images[i], 'image/png');
      assert.ok(maxGap(answer.json.data[i].embedding, infer.json[0]) < 1e-6, `image ${i}: /v1/embeddings and /infer agree`);
    }
    const base64 = await post('/v1/embeddings', JSON.stringify({ model: 'clip_image_embeddings', input: [{ image: dataUrl(0) }], encoding_format: 'base64' }));
    const floats = new Float32Array(new Uint8Array(Buffer.from(base64.json.data[0].embedding, 'base64')).buffer);
    assert.ok(maxGap(Array.from(floats), answer.json.data[0].embedding) < 1e-6);
    const mixed = await post('/v1/embeddings', JSON.stringify({ model: 'clip_image_embeddings', input: [{ image: dataUrl(0) }, 'a text'] }));
    assert.deepEqual([mixed.status, /item 1 is not an image item/.test(mixed.json.error.message)], [400, true]);
    const wrong = await post('/v1/embeddings', JSON.stringify({ model: 'clip_zero_shot', input: [{ image: dataUrl(0) }] }));
    assert.deepEqual([wrong.status, /zero-shot-image-classification model, which does not embed images/.test(wrong.json.error.message)], [400, true]);
    const text = await post('/v1/embeddings', JSON.stringify({ model: 'vit_embeddings', input: 'a text' }));
    assert.deepEqual([text.status, /it embeds images: send \{"image"/.test(text.json.error.message)], [400, true]);
    const broken = await post('/v1/embeddings', JSON.stringify({ model: 'vit_embeddings', input: [{ image: Buffer.from('no image').toString('base64') }] }));
    assert.deepEqual([broken.status, /not a supported image/.test(broken.json.error.message)], [400, true]);
  });

  it('answers 400 naming the problem: no candidate labels, not an image, over image.maxPixels, a bad pooling', async () => {
    const noLabels = await post('/v2/models/clip_zero_shot/infer', images[0], 'image/png');
    assert.deepEqual([noLabels.status, /no candidate labels/.test(noLabels.json.error)], [400, true]);
    const notImage = await post('/v2/models/clip_zero_shot/infer', JSON.stringify({ inputs: Buffer.from('just text').toString('base64'), parameters: { candidate_labels: LABELS } }));
    assert.deepEqual([notImage.status, /not a supported image/.test(notImage.json.error)], [400, true]);
    const [big] = await testImages(250, 200);
    const tooBig = await post('/v2/models/clip_zero_shot/infer', JSON.stringify({ inputs: big.toString('base64'), parameters: { candidate_labels: LABELS } }));
    assert.deepEqual([tooBig.status, /50000 pixels\), over the limit of 40000/.test(tooBig.json.error)], [400, true]);
    const pooling = await post('/v2/models/vit_embeddings/infer', JSON.stringify({ inputs: b64(0), parameters: { pooling: 'max' } }));
    assert.deepEqual([pooling.status, /"parameters.pooling" must be/.test(pooling.json.error)], [400, true]);
  });

  it('the Lambda handler (API Gateway events, a base64 image body) and the SageMaker container answer as the local server does, /v1/embeddings image items included', async () => {
    const service = createTestService(repo);
    const handler = createApiGatewayHandler(service);
    const event = (path: string, body: string, type: string, isBase64Encoded: boolean) => handler({ httpMethod: 'POST', path, headers: { 'Content-Type': type }, body, isBase64Encoded, requestContext: {} } as never, fakeLambdaContext());
    const local = (await post('/v2/models/vit_embeddings/infer', images[1], 'image/png')).json as number[][];
    const lambdaImage = await event('/v2/models/vit_embeddings/infer', b64(1), 'image/png', true);
    assert.equal(lambdaImage.statusCode, 200, lambdaImage.body);
    assert.ok(maxGap((JSON.parse(lambdaImage.body) as number[][])[0], local[0]) < 1e-6);
    const zeroShot = JSON.stringify({ inputs: b64(1), parameters: { candidate_labels: LABELS } });
    const localLabels = (await post('/v2/models/clip_towers_zero_shot/infer', zeroShot)).json as Label[];
    const lambdaLabels = await event('/v2/models/clip_towers_zero_shot/infer', zeroShot, 'application/json', false);
    assert.ok(zeroShotGap(JSON.parse(lambdaLabels.body) as Label[], localLabels) < 1e-9, lambdaLabels.body);
    const openai = await event('/openai/vit_embeddings/v1/embeddings', JSON.stringify({ model: 'vit_embeddings', input: [{ image: `data:image/png;base64,${b64(1)}` }] }), 'application/json', false);
    assert.equal(openai.statusCode, 200, openai.body);
    assert.ok(maxGap((JSON.parse(openai.body) as { data: { embedding: number[] }[] }).data[0].embedding, local[0]) < 1e-6);
    const container = await startTestSageMakerServer(service, 'clip_towers_zero_shot');
    try {
      const response = await fetch(`${container.url}/invocations`, { method: 'POST', body: zeroShot, headers: { 'Content-Type': 'application/json' } });
      assert.equal(response.status, 200);
      assert.ok(zeroShotGap((await response.json()) as Label[], localLabels) < 1e-9);
    } finally {
      await container.close();
    }
  });

  it('the console: an embedding\'s size and norm; zero-shot with a candidate-labels field, one bar per label (headless Chromium)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vision-console-')), 'shapes.png');
    writeFileSync(file, images[0]);
    await withConsolePage(server.url, async (page, errors) => {
      await page.waitForSelector('[data-model="clip_zero_shot"]');
      await page.selectOption('#model', 'clip_zero_shot');
      await page.setInputFiles('#image', file);
      await page.fill('[name="candidate_labels"]', LABELS.join(', '));
      await page.click('#send');
      await page.locator('#answer .bar').first().waitFor();
      const expected = (await post('/v2/models/clip_zero_shot/infer', JSON.stringify({ inputs: b64(0), parameters: { candidate_labels: LABELS } }))).json as Label[];
      const bars = await page.locator('#answer .bar').evaluateAll((els) => els.map((e) => [e.getAttribute('data-label'), e.querySelector('em')?.textContent]));
      assert.deepEqual(bars, expected.map((l) => [l.label, l.score.toFixed(3)]));
      await page.selectOption('#model', 'vit_embeddings');
      await page.setInputFiles('#image', file);
      await page.click('#send');
      await page.locator('#answer', { hasText: 'embedding of 16 dimensions' }).waitFor();
      const vector = (await post('/v2/models/vit_embeddings/infer', images[0], 'image/png')).json[0] as number[];
      assert.match(await page.locator('#answer').innerText(), new RegExp(`norm ${Math.hypot(...vector).toFixed(4)}`));
      assert.deepEqual(errors, []);
    });
  });

  it('captures images by hash with the answer and drift signals: the embedding norm; the top label and score', async () => {
    await server.runtime.flush();
    const read = (model: string) => readFileSync(join(dataDir, capturePrefix(model, 1, new Date()), 'captures.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const [raw] = read('vit_embeddings');
    assert.deepEqual([raw.kind, raw.task], ['task', 'image-feature-extraction']);
    assert.deepEqual(raw.request.images, [{ sha256: createHash('sha256').update(images[0]).digest('hex'), bytes: images[0].length }]);
    assert.ok(Math.abs(raw.drift.rows[0][0] - Math.hypot(...raw.response[0])) < 1e-4, 'the norm of the answered (not normalized) embedding');
    const zeroShot = read('clip_zero_shot').find((r) => r.response?.length === 3 && r.request.candidate_labels !== undefined);
    assert.ok(zeroShot, 'a zero-shot capture');
    assert.deepEqual(zeroShot.request.candidate_labels, LABELS);
    const top = zeroShot.response[0] as Label;
    assert.deepEqual(zeroShot.drift.rows[0], [LABELS.indexOf(top.label), top.score]);
  });

  it('the golden gate checks embeddings by cosine and labels with scores, and refuses answers that differ', async () => {
    const service = createTestService(repo);
    const requests = [{ inputs: b64(0) }, { inputs: b64(1), parameters: { pooling: 'mean' } }];
    const expected = await Promise.all(requests.map(async (r) => (await post('/v2/models/dinov2_embeddings/infer', JSON.stringify(r))).json));
    const pass = await gateTaskAnswers(service, 'dinov2_embeddings', 1, { task: 'image-feature-extraction', requests, expected, tolerance: 0.001 });
    assert.equal(pass.passed, true, pass.problems.join('; '));
    const fail = await gateTaskAnswers(service, 'dinov2_embeddings', 1, { task: 'image-feature-extraction', requests, expected: [expected[1], expected[0]], tolerance: 0.001 });
    assert.equal(fail.passed, false);
    assert.match(fail.problems.join('; '), /cosine/);
    const zeroShot = [{ inputs: b64(2), parameters: { candidate_labels: LABELS } }];
    const answer = (await post('/v2/models/siglip_zero_shot/infer', JSON.stringify(zeroShot[0]))).json as Label[];
    assert.equal((await gateTaskAnswers(service, 'siglip_zero_shot', 1, { task: 'zero-shot-image-classification', requests: zeroShot, expected: [answer], tolerance: 1e-4 })).passed, true);
    const swapped = [{ ...answer[0], label: answer[1].label }, { ...answer[1], label: answer[0].label }, answer[2]];
    assert.equal((await gateTaskAnswers(service, 'siglip_zero_shot', 1, { task: 'zero-shot-image-classification', requests: zeroShot, expected: [swapped], tolerance: 1e-4 })).passed, false);
  });

  describe('batch over a folder of images', () => {
    let s3: TestS3;
    before(async () => {
      s3 = await startTestS3();
    });
    after(() => s3.close());

    it('embeds each image and classifies each against config.json labels, one line per image, a broken file in the errors', async () => {
      const batchRepo = writeVisionRepository(new TempRepository('vision-batch-').dir, ['vit_embeddings', 'clip_zero_shot']);
      configure(batchRepo, 'clip_zero_shot', { labels: LABELS });
      const service = createTestService(batchRepo);
      const store = new S3BatchStore(s3.client, 'models');
      const put = (key: string, body: string | Buffer) => s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: body }));
      const lines = async (key: string) => (await (await s3.client.send(new GetObjectCommand({ Bucket: 'models', Key: key }))).Body!.transformToString()).trim().split('\n').map((l) => JSON.parse(l));
      for (const model of ['vit_embeddings', 'clip_zero_shot']) {
        for (const [i, image] of images.slice(0, 3).entries()) await put(`batch/input/${model}/photos/${i}.png`, image);
        await put(`batch/input/${model}/photos/broken.png`, 'not an image');
        await put(`batch/input/${model}/photos.images`, '');
      }
      const embedded = await runJob(store, service, 'batch/input/vit_embeddings/photos.images');
      assert.deepEqual([embedded.format, embedded.rows, embedded.succeeded, embedded.failed], ['images', 4, 3, 1]);
      const vectors = await lines(embedded.results!);
      assert.equal(vectors.length, 3);
      assert.equal(vectors[0].prediction[0].length, 16);
      const classified = await runJob(store, service, 'batch/input/clip_zero_shot/photos.images');
      assert.deepEqual([classified.succeeded, classified.failed], [3, 1]);
      const labelled = await lines(classified.results!);
      for (const line of labelled) assert.deepEqual((line.prediction as Label[]).map((l) => l.label).sort(), [...LABELS].sort(), JSON.stringify(line));
      assert.match((await lines(classified.errors!))[0].error, /not a supported image/);
    });
  });
});

/** Merges fields into a repository model's config.json. */
function configure(dir: string, model: string, fields: Record<string, unknown>): void {
  const file = join(dir, model, 'config.json');
  writeFileSync(file, JSON.stringify({ ...(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>), ...fields }));
}

/** The largest score gap between two zero-shot answers, label by label. */
function zeroShotGap(a: Label[], b: Label[]): number {
  const scores = new Map(b.map((l) => [l.label, l.score]));
  return Math.max(...a.map((l) => Math.abs(l.score - (scores.get(l.label) ?? Number.POSITIVE_INFINITY))));
}
