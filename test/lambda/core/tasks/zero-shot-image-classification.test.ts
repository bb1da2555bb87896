/**
 * zero-shot-image-classification against transformers.js 4.3.1's pipeline
 * (src/pipelines/zero-shot-image-classification.js, `ZeroShotImageClassificationPipeline._call`:
 * softmax of logits_per_image for CLIP, sigmoid for SigLIP, texts padded to the longest or, for
 * SigLIP, to max_length) on the same folders and images: a small random-weight CLIP as one file and
 * as two towers (the same weights), and a SigLIP (training/vision_tasks/vision_models.py).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddingCache, zeroShotImageClassification, type ZeroShotImage } from '../../../../lambda/core/tasks/zero-shot-image-classification.ts';
import type { TaskInput } from '../../../../lambda/core/tasks/task.ts';
import { FIXTURE_CLIP_LOGIT_SCALE } from '../../../../scripts/samples/vision-fixtures.ts';
import { loadFixture, loadFolder, testImages, transformersFolder, transformersJs, type LoadedFixture } from './vision-helpers.ts';

const TOLERANCE = 1e-4;
type Label = { label: string; score: number };

const LABELS = ['a cat', 'a diagram of shapes', 'handwriting', 'a dog on the beach', 'noise', 'été à Genève'];
const TEMPLATE = 'This is a photo of {}.';

const json = (body: Record<string, unknown>): TaskInput => ({ kind: 'json', route: 'infer', body });

async function classify(fixture: LoadedFixture<ZeroShotImage>, images: Buffer[], parameters: Record<string, unknown>): Promise<Label[][]> {
  const request = zeroShotImageClassification.parse(fixture.loaded, json({ inputs: images.map((i) => i.toString('base64')), parameters }))!;
  return (await zeroShotImageClassification.run(fixture.loaded, request, fixture.context)).answer as Label[][];
}

function assertSame(actual: Label[][], expected: Label[][], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((answer, i) => {
    const problem = zeroShotImageClassification.compare(expected[i], answer, TOLERANCE);
    assert.equal(problem, undefined, `${what}, image ${i}: ${problem}\n  ours ${JSON.stringify(answer)}\n  transformers.js ${JSON.stringify(expected[i])}`);
    assert.equal(answer.length, expected[i].length);
  });
}

describe('zero-shot-image-classification: equal to transformers.js on CLIP (one file, two towers) and SigLIP', () => {
  const fixtures: LoadedFixture<ZeroShotImage>[] = [];
  let t: Awaited<ReturnType<typeof transformersJs>>;
  let images: Buffer[];
  before(async () => {
    t = await transformersJs();
    images = await testImages(32, 32);
  });
  after(() => fixtures.forEach((f) => f.close()));
  const load = async (name: 'clip' | 'clip-towers' | 'siglip', config: Record<string, unknown> = {}) => {
    const fixture = await loadFixture(zeroShotImageClassification, name, config);
    fixtures.push(fixture);
    return fixture;
  };
  const reference = async (dir: string, labels: string[], template = TEMPLATE): Promise<Label[][]> => {
    const classifier = await t.pipeline('zero-shot-image-classification', dir, { dtype: 'fp32' });
    const raw = await Promise.all(images.map((image) => t.RawImage.fromBlob(new Blob([new Uint8Array(image)]))));
    return (await classifier(raw, labels, { hypothesis_template: template })) as unknown as Label[][];
  };

  it('CLIP in one file: softmax over the scaled logits; a repeated label set reuses its text embeddings', async () => {
    const clip = await load('clip');
    assert.equal(clip.loaded.family, 'clip');
    const expected = await reference(transformersFolder(clip.dir), LABELS);
    assertSame(await classify(clip, images, { candidate_labels: LABELS }), expected, 'first run (the graph\'s own logits)');
    assert.ok(clip.loaded.calibration, 'the logit scale was fitted to the graph\'s logits');
    assert.ok(Math.abs(clip.loaded.calibration.scale - FIXTURE_CLIP_LOGIT_SCALE) < 1e-3, `scale ${clip.loaded.calibration.scale}`);
    assertSame(await classify(clip, images, { candidate_labels: LABELS }), expected, 'second run (cached text embeddings, a placeholder text)');
    const other = ['a photo', 'a drawing'];
    assertSame(await classify(clip, images, { candidate_labels: other, hypothesis_template: 'a picture: {}' }), await reference(clip.dir, other, 'a picture: {}'), 'another label set and template');
    assert.equal(zeroShotImageClassification.describe(clip.loaded).cached_label_sets, 2);
  });

  it('CLIP as two towers (model.onnx vision, text_model.onnx text, logitScale from config.json): the same answers, the label set\'s text embeddings cached', async () => {
    const towers = await load('clip-towers', { logitScale: FIXTURE_CLIP_LOGIT_SCALE });
    assert.ok(towers.loaded.towers);
    const oneFile = await load('clip');
    const expected = await reference(transformersFolder(oneFile.dir), LABELS);
    assertSame(await classify(towers, images, { candidate_labels: LABELS }), expected, 'towers');
    assertSame(await classify(towers, images, { candidate_labels: LABELS }), expected, 'towers, cached');
    assert.equal(towers.context.runs, 2, 'the vision tower ran once per request');
    assert.equal(zeroShotImageClassification.describe(towers.loaded).cached_label_sets, 1);
    await assert.rejects(loadFixture(zeroShotImageClassification, 'clip-towers'), /holds no logit scale; set "logitScale" in config.json/);
  });

  it('SigLIP: sigmoid with its bias, texts padded to max_length', async () => {
    const siglip = await load('siglip');
    assert.equal(siglip.loaded.family, 'siglip');
    assert.equal(siglip.loaded.scoreFunction, 'sigmoid');
    const expected = await reference(transformersFolder(siglip.dir), LABELS);
    assertSame(await classify(siglip, images, { candidate_labels: LABELS }), expected, 'first run');
    assert.ok(siglip.loaded.calibration, 'scale and bias were fitted');
    assertSame(await classify(siglip, images, { candidate_labels: LABELS }), expected, 'cached');
    const sums = expected.map((r) => r.reduce((s, l) => s + l.score, 0));
    assert.ok(sums.some((s) => Math.abs(s - 1) > 0.01), 'sigmoid scores need not sum to 1');
  });

  it('two SigLIP-style towers: a sigmoid of the scaled similarity plus config.json\'s logitBias, texts padded to max_length (the CLIP towers relabelled model_type "siglip", against transformers.js\'s logits_per_image)', async () => {
    const towers = await load('clip-towers', { logitScale: FIXTURE_CLIP_LOGIT_SCALE, logitBias: -3 });
    const config = JSON.parse(readFileSync(join(towers.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(towers.dir, 'config.json'), JSON.stringify({ ...config, model_type: 'siglip' }));
    const siglip = await loadFolder(zeroShotImageClassification, towers.dir, 'siglip-towers', { logitScale: FIXTURE_CLIP_LOGIT_SCALE, logitBias: -3 });
    assert.deepEqual([siglip.loaded.family, siglip.loaded.scoreFunction, siglip.loaded.text.padToMax], ['siglip', 'sigmoid', true]);
    await assert.rejects(loadFolder(zeroShotImageClassification, towers.dir, 'siglip-towers', { logitScale: FIXTURE_CLIP_LOGIT_SCALE }), /holds no logit bias; set "logitBias"/);
    // The reference: transformers.js's CLIPModel on the one-file export of the same weights, logits_per_image = 20 × cosine.
    const oneFile = await load('clip');
    const dir = transformersFolder(oneFile.dir);
    const model = await t.CLIPModel.from_pretrained(dir, { dtype: 'fp32' });
    const tokenizer = await t.AutoTokenizer.from_pretrained(dir);
    const processor = await t.AutoProcessor.from_pretrained(dir);
    const raw = await Promise.all(images.map((image) => t.RawImage.fromBlob(new Blob([new Uint8Array(image)]))));
    const { logits_per_image } = (await model({ ...tokenizer(LABELS.map((l) => TEMPLATE.replace('{}', l)), { padding: true, truncation: true }), ...(await processor(raw)) })) as { logits_per_image: { data: Float32Array } };
    const expected = images.map((_, i) => LABELS.map((label, j) => ({ label, score: 1 / (1 + Math.exp(-(logits_per_image.data[i * LABELS.length + j] - 3))) })).sort((a, b) => b.score - a.score));
    assertSame(await classify(siglip, images, { candidate_labels: LABELS }), expected, 'SigLIP-style towers');
  });

  it('one image answers one list; labels as a comma-separated string; config.json labels as the default set', async () => {
    const clip = await load('clip', { labels: ['a cat', 'handwriting'] });
    const request = zeroShotImageClassification.parse(clip.loaded, { kind: 'raw', contentType: 'image/png', body: images[0] })!;
    const answer = (await zeroShotImageClassification.run(clip.loaded, request, clip.context)).answer as Label[];
    assert.deepEqual(answer.map((l) => l.label).sort(), ['a cat', 'handwriting']);
    const single = zeroShotImageClassification.parse(clip.loaded, json({ inputs: images[1].toString('base64'), parameters: { candidate_labels: 'a dog, noise' } }))!;
    const result = await zeroShotImageClassification.run(clip.loaded, single, clip.context);
    assert.deepEqual((result.answer as Label[]).map((l) => l.label).sort(), ['a dog', 'noise']);
    assert.equal(result.signals.length, 1);
    assert.deepEqual(result.classCounts, {}, 'a request\'s own labels are not metric dimensions');
    const defaults = await zeroShotImageClassification.run(clip.loaded, request, clip.context);
    assert.deepEqual(defaults.classCounts, { [(defaults.answer as Label[])[0].label]: 1 }, 'config.json labels are');
    assert.deepEqual((result.captured as () => { candidate_labels: string[] })().candidate_labels, ['a dog', 'noise']);
  });

  it('bounds the text-embedding cache by label sets and by floats, least recently used dropped first', () => {
    const cache = new EmbeddingCache(2, 10);
    cache.set('a', new Float32Array(4));
    cache.set('b', new Float32Array(4));
    cache.get('a');
    cache.set('c', new Float32Array(4));
    assert.deepEqual([cache.get('a') !== undefined, cache.get('b'), cache.get('c') !== undefined, cache.size], [true, undefined, true, 2], 'b, the least recently used, went');
    cache.set('d', new Float32Array(8));
    assert.deepEqual([cache.get('a'), cache.get('c'), cache.get('d')?.length, cache.size], [undefined, undefined, 8, 1], 'over 10 floats: the oldest went until it fit');
    cache.set('e', new Float32Array(11));
    assert.deepEqual([cache.get('e'), cache.size], [undefined, 1], 'a set larger than the whole cache is not kept');
  });

  it('refuses bad requests with 400s naming the problem', async () => {
    const clip = await load('clip');
    const parse = (parameters: Record<string, unknown>) => zeroShotImageClassification.parse(clip.loaded, json({ inputs: images[0].toString('base64'), parameters }));
    const is400 = (pattern: RegExp) => (e: Error & { statusCode?: number }) => e.statusCode === 400 && pattern.test(e.message);
    assert.throws(() => parse({}), is400(/no candidate labels/));
    assert.throws(() => parse({ candidate_labels: [] }), is400(/must be a non-empty list/));
    assert.throws(() => parse({ candidate_labels: ['ok', ''] }), is400(/candidate_labels"\[1\] must be a non-empty string/));
    assert.throws(() => parse({ candidate_labels: ['a'], hypothesis_template: 'no slot' }), is400(/one "\{\}"/));
    assert.throws(() => zeroShotImageClassification.parse(clip.loaded, { kind: 'raw', contentType: 'image/png', body: images[0] }), is400(/no candidate labels/));
    const small = await load('clip', { image: { maxPixels: 100 } });
    const request = zeroShotImageClassification.parse(small.loaded, json({ inputs: images[0].toString('base64'), parameters: { candidate_labels: ['a'] } }))!;
    await assert.rejects(zeroShotImageClassification.run(small.loaded, request, small.context), is400(/over the limit of 100/));
    const junk = zeroShotImageClassification.parse(clip.loaded, json({ inputs: Buffer.from('plain text').toString('base64'), parameters: { candidate_labels: ['a'] } }))!;
    await assert.rejects(zeroShotImageClassification.run(clip.loaded, junk, clip.context), is400(/not a supported image/));
  });
});
