import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { percentile, RequestStats } from '../../../../lambda/adapters/local/console.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { optimize } from '../../../../cli/optimize/optimize.ts';
import { convertNativeModel, NATIVE_MODEL_FILES } from '../../../../lambda/convert/registry.ts';
import { tabularRepository } from '../../../fixtures/tabular-repository.ts';
import { createTestService, ROOT, SAMPLE_MODELS, SAMPLES_DIR, startTestLocalServer, TempRepository } from '../../../helpers.ts';

/** Debian's Chromium (installed by scripts/ensure-chromium.ts), headless, offline-safe flags; Playwright gives it a fresh profile. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('request statistics', () => {
  it('computes per-second rates, error rates and nearest-rank percentiles', () => {
    const stats = new RequestStats();
    const t0 = 1_800_000_000_000;
    for (let i = 1; i <= 100; i++) stats.record({ statusCode: i <= 90 ? 200 : i <= 95 ? 400 : 503, durationMs: i }, t0 + 10);
    stats.record({ statusCode: 200, durationMs: 7 }, t0 + 2000);
    const { series, lastMinute } = stats.snapshot(3, t0 + 3000);
    assert.deepEqual(series.time, [t0 / 1000, t0 / 1000 + 1, t0 / 1000 + 2]);
    assert.deepEqual(series.rate, [100, 0, 1]);
    assert.deepEqual(series.clientErrorRate, [5, null, 0]);
    assert.deepEqual(series.serverErrorRate, [5, null, 0]);
    assert.deepEqual([series.p50[0], series.p95[0], series.p99[0]], [50, 95, 99]);
    assert.equal(lastMinute.requests, 101);
    assert.ok(Math.abs(lastMinute.errorRatePercent - (100 * 10) / 101) < 1e-9);
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([3], 99), 3);
  });
});

describe('local console in headless Chromium', () => {
  let server: LocalStack;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  before(async () => {
    server = await startTestLocalServer(SAMPLES_DIR);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(`${server.url}/`);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('lists every model with its signature', async () => {
    await page.waitForSelector('[data-model="iris_forest"] table');
    const names = await Promise.all((await page.locator('#models .model').all()).map((div) => div.getAttribute('data-model')));
    assert.deepEqual(names.sort(), [...SAMPLE_MODELS].sort());
    const iris = await page.textContent('[data-model="iris_forest"]');
    assert.match(iris!, /features\s*FP32\s*\[-1, 4\]/);
    assert.match(iris!, /probabilities\s*FP32\s*\[-1, 3\]/);
    assert.match(iris!, /labels: setosa, versicolor, virginica/);
    const digits = await page.textContent('[data-model="digits_mlp"]');
    assert.match(digits!, /image\s*FP32\s*\[-1, 8, 8\]/);
  });

  it('sends a request from the form and shows the answer, and shows a bad request\'s error', async () => {
    await page.selectOption('#model', 'iris_forest');
    const example = JSON.parse(await page.inputValue('#body'));
    assert.equal(example.inputs[0].name, 'features', 'the form is filled with an example request');
    await page.click('#send');
    await page.locator('#status', { hasText: /^HTTP/ }).waitFor();
    assert.match((await page.textContent('#status'))!, /^HTTP 200 in [\d.]+ ms$/);
    const answer = JSON.parse((await page.textContent('#response'))!);
    assert.equal(answer.model_name, 'iris_forest');
    assert.deepEqual(answer.outputs.map((o: { name: string }) => o.name), ['label', 'probabilities']);

    await page.fill('#body', '{"inputs": [');
    await page.click('#send');
    await page.locator('#status', { hasText: /^HTTP 400/ }).waitFor();
    assert.match((await page.textContent('#response'))!, /request body is not valid JSON/);
  });

  it('offers a text box for text models and an image upload for image models, and shows top-k bars or the embedding size', async () => {
    await page.selectOption('#model', 'debian_sections');
    assert.match((await page.textContent('#body-label'))!, /Text \(text-classification\)/);
    await page.fill('#body', 'real-time strategy game of ancient warfare');
    await page.click('#send');
    await page.locator('#answer .bar').first().waitFor();
    assert.equal(await page.locator('#answer .bar').count(), 6, 'one bar per label');
    assert.equal(await page.locator('#answer .bar').first().getAttribute('data-label'), 'games');

    await page.selectOption('#model', 'debian_embeddings');
    await page.fill('#body', 'a network packet analyzer');
    await page.click('#send');
    await page.locator('#answer', { hasText: 'embedding of 128 dimensions' }).waitFor();

    await page.selectOption('#model', 'text_orientation');
    assert.equal(await page.isVisible('#image'), true, 'an image model gets a file input');
    assert.equal(await page.isVisible('#body'), false);
    await page.setInputFiles('#image', join(ROOT, 'test', 'fixtures', 'images', 'line-3-180.png'));
    await page.click('#send');
    await page.locator('#answer .bar[data-label="180"]').waitFor();
    assert.equal(await page.locator('#answer .bar').first().getAttribute('data-label'), '180');
    await page.selectOption('#model', 'iris_forest');
    assert.equal(await page.isVisible('#body'), true, 'tensor models get the JSON body back');
  });

  it('plots live request rate, error rate and latency percentiles', async () => {
    // 40 good and 10 bad requests from outside the page.
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
    for (let i = 0; i < 50; i++) {
      const response = await fetch(`${server.url}/v2/models/iris_forest/infer`, { method: 'POST', body: i % 5 === 4 ? '{' : body });
      await response.arrayBuffer();
    }
    // The page polls every second; the counts include the five form requests of the tests before.
    await page.locator('#summary[data-requests="55"]').waitFor({ timeout: 10_000 });
    const requests = Number(await page.getAttribute('#summary', 'data-requests'));
    const errorRate = Number(await page.getAttribute('#summary', 'data-error-rate'));
    assert.equal(requests, 55);
    assert.ok(Math.abs(errorRate - (100 * 11) / 55) < 1e-9, `error rate ${errorRate}`);
    assert.match((await page.textContent('#summary'))!, /latency p50 [\d.]+ \/ p95 [\d.]+ \/ p99 [\d.]+ ms/);
    // Three charts drawn by uPlot, each with its series in the legend.
    assert.equal(await page.locator('#charts canvas').count(), 3);
    const legends = await page.locator('#charts .u-legend').allTextContents();
    assert.match(legends[0]!, /requests\/s/);
    assert.match(legends[1]!, /4xx %.*5xx %/s);
    assert.match(legends[2]!, /p50.*p95.*p99/s);
    // The series the charts plot: the rate sums to the requests made.
    const stats = (await (await fetch(`${server.url}/console/api/stats`)).json()) as { series: { rate: number[] } };
    assert.equal(stats.series.rate.reduce((a, b) => a + b, 0), 55);
    assert.deepEqual(pageErrors.filter((e) => !/status of 400/.test(e)), [], 'no script errors');
  });

  it('shows what image and text models take (an image, a text), one heading per form, and clears the answer when the model changes', async () => {
    const sections = (await page.textContent('[data-model="debian_sections"]'))!;
    assert.match(sections, /send: a text \(text\/plain\)/);
    assert.match(sections, /answers: labels with their scores, best first/);
    assert.doesNotMatch(sections, /input_ids|attention_mask/);
    assert.match((await page.textContent('[data-model="debian_embeddings"]'))!, /answers: an embedding per text/);
    const orientation = (await page.textContent('[data-model="text_orientation"]'))!;
    assert.match(orientation, /send: an image \(JPEG, PNG or WebP, as the body\)/);
    assert.equal(await page.locator('[data-model="text_orientation"] table').count(), 0, 'no tensor table for an image model');
    assert.match((await page.textContent('[data-model="iris_forest"]'))!, /features\s*FP32\s*\[-1, 4\]/, 'tensor models keep their tensors');

    // An answer for iris, then another model: the iris answer is gone.
    await page.selectOption('#model', 'iris_forest');
    await page.click('#send');
    await page.locator('#status', { hasText: /^HTTP 200/ }).waitFor();
    assert.notEqual((await page.textContent('#response'))!, '');
    await page.selectOption('#model', 'text_orientation');
    assert.equal(await page.textContent('#response'), '');
    assert.equal(await page.textContent('#answer'), '');
    assert.equal(await page.textContent('#status'), '');
    // The image form: one visible heading above the file input.
    const visibleLabels = await page.locator('#request-form label:visible').allTextContents();
    assert.deepEqual(visibleLabels.filter((l) => /image/i.test(l)), ['Image (image-classification): JPEG, PNG or WebP']);
    assert.equal(await page.isVisible('#body-label'), false);
    await page.selectOption('#model', 'debian_sections');
    assert.equal(await page.isVisible('#body-label'), true);
  });

  it('serves the page without the API key but not the data behind it', async () => {
    const local = await startTestLocalServer(SAMPLES_DIR, { apiKey: 'k-123456' });
    const keyedPage = await browser.newPage();
    try {
      // In the browser: the page asks for the key, then lists the models once it is entered.
      await keyedPage.goto(`${local.url}/`);
      await keyedPage.locator('#models', { hasText: 'enter the key below' }).waitFor();
      await keyedPage.fill('#api-key', 'k-123456');
      await keyedPage.locator('#api-key').dispatchEvent('change');
      await keyedPage.waitForSelector('[data-model="iris_forest"] table');
      assert.equal((await fetch(`${local.url}/`)).status, 200);
      assert.equal((await fetch(`${local.url}/console/api/models`)).status, 401);
      const withKey = await fetch(`${local.url}/console/api/models`, { headers: { 'x-api-key': 'k-123456' } });
      assert.equal(withKey.status, 200);
      assert.equal(((await withKey.json()) as unknown[]).length, SAMPLE_MODELS.length);
    } finally {
      await keyedPage.close();
      await local.close();
    }
  });
});

describe('local console: optimized versions against their source', () => {
  it('shows what modelship optimize recorded (size, latency, metrics, differences, quantized ops) and names a bad record', { timeout: 120_000 }, async () => {
    // A real INT8 version of a real sample, then a copy whose record was edited into nonsense.
    const repo = new TempRepository('console-optimized-').sample('digits_mlp').sample('iris_forest');
    const { report, directory } = await optimize({ modelsDir: repo.dir, model: 'digits_mlp', mode: 'int8', serviceFor: (dir) => createTestService(dir), latencyRuns: 20 });
    assert.equal(report.version, 2);
    const broken = { ...JSON.parse(readFileSync(join(directory, 'optimization.json'), 'utf8')), version: 3, bytes: { source: 'large' } };
    repo.copy(directory, 'digits_mlp/3').file('digits_mlp/3/optimization.json', JSON.stringify(broken));
    const local = await startTestLocalServer(repo.dir);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      // The data: only versions with a record; each one summarised, the bad one named.
      const list = (await (await fetch(`${local.url}/console/api/models`)).json()) as { name: string; optimizations: any[] }[];
      assert.deepEqual(list.find((m) => m.name === 'iris_forest')!.optimizations, []);
      const [good, bad] = list.find((m) => m.name === 'digits_mlp')!.optimizations;
      assert.equal(good.version, 2);
      assert.deepEqual([good.from, good.optimization, good.bytes, good.latencyMicros, good.metrics, good.maxAbsDifference], [1, 'int8', report.bytes, report.latencyMicros, report.metrics, report.maxAbsDifference]);
      assert.deepEqual(good.quantized, [{ op: 'Gemm', as: report.quantization!.quantized[0].as, count: report.quantization!.quantized.length }]);
      assert.equal(bad.version, 3);
      assert.match(bad.problem, /optimization\.json is not a modelship optimize report: field "bytes\.source": .*number/);

      // The page: the comparison table, source against result.
      const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${local.url}/`);
      const block = page.locator('[data-model="digits_mlp"] .optimization[data-version="2"]');
      await block.locator('table').waitFor();
      const rows = await block.locator('tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
      assert.deepEqual(rows[0], ['', 'v1', 'v2', 'change']);
      // digits_mlp is small: its sizes read in kB.
      assert.deepEqual(rows[1], ['size', `${(report.bytes.source / 1e3).toFixed(1)} kB`, `${(report.bytes.result / 1e3).toFixed(1)} kB`, `${report.bytes.ratio.toFixed(2)}× smaller`]);
      assert.equal(rows[2][0], 'latency, 1 row');
      assert.match(rows[2][3]!, /^\d+\.\d\d× (faster|slower)$/);
      const accuracy = rows.find((r) => r[0] === 'accuracy')!;
      assert.deepEqual(accuracy.slice(1, 3), [report.metrics.source.accuracy!.toFixed(4), report.metrics.result.accuracy!.toFixed(4)]);
      assert.match(accuracy[3]!, new RegExp(`^[+−]?${Math.abs(report.metrics.delta.accuracy! * 100).toFixed(2)} pt`));
      assert.ok(rows.some((r) => r[0] === 'max |diff| probabilities' && r[2] === report.maxAbsDifference.probabilities.toExponential(2)), JSON.stringify(rows));
      assert.match((await block.textContent())!, /v2: int8 of v1.*quantized: \d+ Gemm \(/s);
      assert.match((await page.textContent('[data-model="digits_mlp"] .optimization[data-version="3"]'))!, /v3: optimization\.json is not a modelship optimize report: field "bytes\.source"/);
      assert.equal(await page.locator('[data-model="iris_forest"] .optimization').count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await local.close();
    }
  });
});

describe('local console with native models, in headless Chromium', () => {
  let server: LocalStack;
  let browser: Browser;
  const pageErrors: string[] = [];
  before(async () => {
    // A LightGBM model converted at start, and the hand-written converted classifier with named classes.
    const repo = tabularRepository('console-native-').copy(join(ROOT, 'test', 'fixtures', 'trees', 'lgb_multiclass_cat'), 'penguins/1');
    server = await startTestLocalServer(repo.dir, { repository: { nativeModelFiles: NATIVE_MODEL_FILES, convertNative: convertNativeModel } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('shows the source format, trees and features, and a form with one field per feature that scores a row', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/`);
    await page.waitForSelector('[data-model="penguins"] .source');
    assert.match((await page.textContent('[data-model="penguins"] .source'))!, /^converted from lightgbm model\.txt \(LightGBM[^)]*\): classification, multiclass, link softmax, \d+ trees, input FP64$/);
    assert.match((await page.textContent('[data-model="penguins"]'))!, /island\s*categorical\s*Biscoe, Dream, Torgersen/);

    await page.selectOption('#model', 'trees_classifier');
    assert.equal(await page.isVisible('#body'), false, 'no JSON body: one field per feature');
    assert.deepEqual(await page.locator('#features-input [data-feature]').evaluateAll((fields) => fields.map((f) => `${f.getAttribute('data-feature')}:${f.tagName}`)), ['age:INPUT', 'color:SELECT', 'member:SELECT']);
    await page.fill('#feature-0', '25');
    await page.selectOption('#feature-1', 'green');
    await page.click('#send');
    await page.locator('#answer', { hasText: 'label: yes' }).waitFor();
    assert.equal(await page.locator('#answer .bar').first().getAttribute('data-label'), 'yes');
    assert.deepEqual(JSON.parse((await page.textContent('#response'))!).predictions[0].label, 'yes');
    // A missing age (the field left empty) goes left, as the tree sends it; a member alone decides nothing there.
    await page.fill('#feature-0', '');
    await page.selectOption('#feature-1', 'red');
    await page.click('#send');
    await page.locator('#answer', { hasText: 'label: no' }).waitFor();
    assert.deepEqual(pageErrors, []);
  });
});

describe('local console with a model that cannot be served, in headless Chromium', () => {
  it('lists it as FAILING with the reason, never with a live version', async () => {
    const repo = new TempRepository('console-failing-').sample('iris_forest').sample('iris_forest', 'pinned_away').config('pinned_away', { versionPolicy: { pinned: 5 } });
    const server = await startTestLocalServer(repo.dir);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/`);
      await page.waitForSelector('[data-model="pinned_away"] .problem');
      assert.equal(await page.textContent('[data-model="pinned_away"] h3'), 'pinned_away  FAILING  (versions 1)');
      assert.match((await page.textContent('[data-model="pinned_away"] .problem'))!, /pins version 5, which is not in the store/);
      assert.equal(await page.textContent('[data-model="iris_forest"] h3'), 'iris_forest  v1  (versions 1)');
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
