/**
 * image-feature-extraction against transformers.js 4.3.1 (src/pipelines/image-feature-extraction.js,
 * `ImageFeatureExtractionPipeline._call`: last_hidden_state, or pooler_output with `pool: true`; and
 * CLIPVisionModelWithProjection's image_embeds, as its model card uses it) on the same folders and
 * images: small random-weight ViT, DINOv2 and CLIP vision towers (training/vision_tasks/vision_models.py).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { imageFeatureExtraction, type ImageEmbedder } from '../../../../lambda/core/tasks/image-feature-extraction.ts';
import type { TaskInput } from '../../../../lambda/core/tasks/task.ts';
import { loadFixture, maxGap, testImages, transformersFolder, transformersJs, type LoadedFixture } from './vision-helpers.ts';

const TOLERANCE = 1e-4;
type Vector = number[];

const json = (body: Record<string, unknown>): TaskInput => ({ kind: 'json', route: 'infer', body });
const b64 = (image: Buffer) => image.toString('base64');

async function embed(fixture: LoadedFixture<ImageEmbedder>, images: Buffer[], parameters: Record<string, unknown> = {}): Promise<Vector[]> {
  const request = imageFeatureExtraction.parse(fixture.loaded, json({ inputs: images.map(b64), parameters }))!;
  const { answer } = await imageFeatureExtraction.run(fixture.loaded, request, fixture.context);
  // A list of images answers one [[...]] per image.
  return (answer as Vector[][]).map((perImage) => {
    assert.equal(perImage.length, 1);
    return perImage[0];
  });
}

/** Rows of a transformers.js [n, tokens, dims] or [n, dims] tensor: token 0, the patch-token mean, or the row. */
function rows(tensor: { dims: number[]; data: Float32Array }, how: 'cls' | 'mean' | 'row', prefix = 1): Vector[] {
  const { dims, data } = tensor;
  if (how === 'row') return Array.from({ length: dims[0] }, (_, i) => Array.from(data.subarray(i * dims[1], (i + 1) * dims[1])));
  const [n, tokens, size] = dims;
  return Array.from({ length: n }, (_, i) => {
    const base = i * tokens * size;
    if (how === 'cls') return Array.from(data.subarray(base, base + size));
    const mean = new Array<number>(size).fill(0);
    for (let t = prefix; t < tokens; t++) for (let d = 0; d < size; d++) mean[d] += data[base + t * size + d] / (tokens - prefix);
    return mean;
  });
}

const l2 = (v: Vector): Vector => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

function assertVectors(actual: Vector[], expected: Vector[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    const gap = maxGap(a, expected[i]);
    assert.ok(gap <= TOLERANCE, `${what}, image ${i}: largest difference ${gap} (dims ${a.length} vs ${expected[i].length})`);
  });
}

describe('image-feature-extraction: equal to transformers.js on ViT, DINOv2 and CLIP vision exports', () => {
  const fixtures: LoadedFixture<ImageEmbedder>[] = [];
  let t: Awaited<ReturnType<typeof transformersJs>>;
  before(async () => {
    t = await transformersJs();
  });
  after(() => fixtures.forEach((f) => f.close()));
  const load = async (...args: Parameters<typeof loadFixture<ImageEmbedder>> extends [unknown, ...infer R] ? R : never) => {
    const fixture = await loadFixture(imageFeatureExtraction, ...args);
    fixtures.push(fixture);
    return fixture;
  };
  const rawImages = (images: Buffer[]) => Promise.all(images.map((image) => t.RawImage.fromBlob(new Blob([new Uint8Array(image)]))));

  it('ViT: CLS by default, patch mean, pooler_output (pool: true), normalize', async () => {
    const vit = await load('vit');
    assert.equal(vit.loaded.pooling, 'cls');
    const images = await testImages(32, 32);
    const extractor = await t.pipeline('image-feature-extraction', transformersFolder(vit.dir), { dtype: 'fp32' });
    const hidden = (await extractor(await rawImages(images))) as unknown as { dims: number[]; data: Float32Array };
    assert.deepEqual(hidden.dims, [4, 17, 16]);
    assertVectors(await embed(vit, images), rows(hidden, 'cls'), 'cls');
    assertVectors(await embed(vit, images, { pooling: 'mean' }), rows(hidden, 'mean'), 'mean');
    assertVectors(await embed(vit, images, { normalize: true }), rows(hidden, 'cls').map(l2), 'cls normalized');
    const pooled = (await extractor(await rawImages(images), { pool: true })) as unknown as { dims: number[]; data: Float32Array };
    assertVectors(await embed(vit, images, { pooling: 'pooler' }), rows(pooled, 'row'), 'pooler');
    assertVectors(await embed(vit, images, { pool: true }), rows(pooled, 'row'), 'pool: true');
  });

  it('DINOv2: resize the shortest edge and centre-crop as BitImageProcessor, CLS = pooler_output', async () => {
    const dinov2 = await load('dinov2');
    // 40×52 is already at the resize target (shortest edge 40), so only the crop to 32×32 differs from the input.
    const images = await testImages(40, 52);
    const extractor = await t.pipeline('image-feature-extraction', transformersFolder(dinov2.dir), { dtype: 'fp32' });
    const hidden = (await extractor(await rawImages(images))) as unknown as { dims: number[]; data: Float32Array };
    const pooled = (await extractor(await rawImages(images), { pool: true })) as unknown as { dims: number[]; data: Float32Array };
    assertVectors(await embed(dinov2, images), rows(hidden, 'cls'), 'cls');
    assertVectors(await embed(dinov2, images), rows(pooled, 'row'), 'cls against pooler_output');
    assertVectors(await embed(dinov2, images, { pooling: 'mean' }), rows(hidden, 'mean'), 'mean');
  });

  it('CLIPVisionModelWithProjection: image_embeds by default; a single image answers [[...]]', async () => {
    const clip = await load('clip-vision');
    assert.equal(clip.loaded.pooling, 'pooler');
    assert.equal(clip.loaded.pooled, 'image_embeds');
    const images = await testImages(32, 32);
    const dir = transformersFolder(clip.dir, { 'vision_model.onnx': 'model.onnx' });
    const model = await t.CLIPVisionModelWithProjection.from_pretrained(dir, { dtype: 'fp32' });
    const processor = await t.AutoProcessor.from_pretrained(dir);
    const { image_embeds } = (await model(await processor(await rawImages(images)))) as { image_embeds: { dims: number[]; data: Float32Array } };
    assertVectors(await embed(clip, images), rows(image_embeds, 'row'), 'image_embeds');
    assertVectors(await embed(clip, images, { normalize: true }), rows(image_embeds, 'row').map(l2), 'image_embeds normalized');
    const request = imageFeatureExtraction.parse(clip.loaded, { kind: 'raw', contentType: 'image/png', body: images[0] })!;
    const { answer, signals } = await imageFeatureExtraction.run(clip.loaded, request, clip.context);
    assertVectors(answer as Vector[], [rows(image_embeds, 'row')[0]], 'one raw image');
    assert.ok(Math.abs(signals[0][0] - Math.hypot(...rows(image_embeds, 'row')[0])) < 1e-4, 'the drift signal is the embedding norm');
  });

  it("a CLIP model's vision tower: the two-tower folder's model.onnx and the one-file export's image_embeds agree", async () => {
    const images = await testImages(32, 32);
    const alone = await load('clip-vision');
    const towers = await load('clip-towers', { task: 'image-feature-extraction' });
    const oneFile = await load('clip', { task: 'image-feature-extraction' });
    assert.equal(oneFile.loaded.pooled, 'image_embeds');
    assertVectors(await embed(towers, images), await embed(alone, images), 'towers');
    // CLIPModel answers its image_embeds L2-normalized (modeling_clip.py, CLIPModel.forward); the tower does not.
    assertVectors(await embed(oneFile, images, { normalize: true }), await embed(alone, images, { normalize: true }), 'one file (text fed a placeholder)');
    await assert.rejects(embed(oneFile, images, { pooling: 'cls' }), /token output/);
  });

  it('refuses what it cannot answer: bad parameters, not an image, an image over image.maxPixels', async () => {
    const vit = await load('vit', { image: { maxPixels: 1000 } });
    const [image] = await testImages(32, 32);
    assert.throws(() => imageFeatureExtraction.parse(vit.loaded, json({ inputs: b64(image), parameters: { pooling: 'max' } })), /"parameters.pooling" must be "cls", "mean" or "pooler"/);
    assert.throws(() => imageFeatureExtraction.parse(vit.loaded, json({ inputs: b64(image), parameters: { normalize: 'yes' } })), /"parameters.normalize" must be true or false/);
    assert.throws(() => imageFeatureExtraction.parse(vit.loaded, json({ inputs: b64(image), parameters: { top_k: 3 } })), /"top_k", which this model does not take/);
    const run = (body: Buffer) => imageFeatureExtraction.run(vit.loaded, imageFeatureExtraction.parse(vit.loaded, { kind: 'raw', contentType: 'image/png', body })!, vit.context);
    await assert.rejects(run(Buffer.from('not an image at all')), (e: Error & { statusCode?: number }) => e.statusCode === 400 && /not a supported image/.test(e.message));
    const big = await testImages(40, 40);
    await assert.rejects(run(big[0]), (e: Error & { statusCode?: number }) => e.statusCode === 400 && /1600 pixels\), over the limit of 1000/.test(e.message));
  });

  it('refuses at load what it cannot serve, naming it', async () => {
    await assert.rejects(loadFixture(imageFeatureExtraction, 'vit', { pooling: 'max' }), /image embeddings pool by "cls", "mean" or "pooler"/);
    await assert.rejects(loadFixture(imageFeatureExtraction, 'clip-vision', { pooling: 'cls', outputName: 'nope' }), /"outputName" is "nope"/);
  });
});
