import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { finalizeJob, isFolderImage, jobPrefix, planJob, processChunk, readManifest, runJob, startJob } from '../../../lambda/jobs/batch-job.ts';
import { S3BatchStore } from '../../../lambda/stores/batch-store.ts';
import { LEAF_YES } from '../../fixtures/tabular-models.ts';
import { tabularRepository } from '../../fixtures/tabular-repository.ts';
import { createTestService, readGolden, ROOT, SAMPLES_DIR, startTestS3, type TestS3 } from '../../helpers.ts';

const exec = promisify(execFile);
const service = createTestService(SAMPLES_DIR);
const golden = readGolden('iris_forest');
const rows = Array.from({ length: golden.inputs[0].shape[0] }, (_, r) => golden.inputs[0].data.slice(r * 4, r * 4 + 4));
const labels = ['setosa', 'versicolor', 'virginica'];
const expectedLabel = (r: number) => labels[golden.outputs[0].data[r]];

describe('batch prediction against a real S3 API server', () => {
  let s3: TestS3;
  let store: S3BatchStore;
  before(async () => {
    s3 = await startTestS3();
    store = new S3BatchStore(s3.client, 'models');
  });
  after(() => s3.close());

  const put = (key: string, body: string) => s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: body }));
  const jsonl = async (key: string) => (Buffer.from((await store.read(key)) ?? []).toString('utf8').trim() || '').split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('scores JSON Lines rows across chunks, in input order, each with its line number', async () => {
    await put('batch/input/iris_forest/rows.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const manifest = await runJob(store, service, 'batch/input/iris_forest/rows.jsonl', { linesPerChunk: 7, batchSize: 4 });
    assert.equal(manifest.status, 'succeeded');
    assert.equal(manifest.chunks, Math.ceil(rows.length / 7));
    assert.equal(manifest.rows, rows.length);
    assert.equal(manifest.version, '1');
    const results = await jsonl(manifest.results);
    assert.deepEqual(results.map((r) => r.line), rows.map((_, i) => i + 1));
    assert.deepEqual(results.map((r) => r.prediction.label), rows.map((_, i) => expectedLabel(i)));
  });

  it('puts malformed lines in the errors file with the reason, and scores the rest', async () => {
    const lines = [JSON.stringify(rows[0]), '{not json', JSON.stringify([1, 2, 3]), '', JSON.stringify(['a', 2, 3, 4]), JSON.stringify(rows[1])];
    await put('batch/input/iris_forest/messy.jsonl', lines.join('\n'));
    const manifest = await runJob(store, service, 'batch/input/iris_forest/messy.jsonl', { linesPerChunk: 100, batchSize: 10 });
    assert.equal(manifest.status, 'completed_with_errors');
    assert.deepEqual([manifest.succeeded, manifest.failed], [2, 3]);
    assert.deepEqual((await jsonl(manifest.results)).map((r) => r.line), [1, 6]);
    const errors = await jsonl(manifest.errors);
    assert.deepEqual(errors.map((e) => e.line), [2, 3, 5]);
    assert.match(errors[0].error, /^not valid JSON: /);
    assert.match(errors[1].error, /dimension 1 is 3 but model "iris_forest" expects 4/);
    assert.match(errors[2].error, /value at index 0 is "a", not a number/);
  });

  it('reads CSV with a header, and v2 request lines', async () => {
    await put('batch/input/iris_forest/rows.csv', ['a,b,c,d', ...rows.slice(0, 5).map((r) => r.join(','))].join('\n') + '\n');
    const csv = await runJob(store, service, 'batch/input/iris_forest/rows.csv', { linesPerChunk: 2 });
    assert.deepEqual((await jsonl(csv.results)).map((r) => [r.line, r.prediction.label]), rows.slice(0, 5).map((_, i) => [i + 2, expectedLabel(i)]));
    await put('batch/input/iris_forest/requests.jsonl', JSON.stringify({ id: 'r1', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4], data: rows.slice(0, 2).flat() }] }));
    const v2 = await runJob(store, service, 'batch/input/iris_forest/requests.jsonl');
    const [answer] = await jsonl(v2.results);
    assert.equal(answer.response.id, 'r1');
    assert.deepEqual(answer.response.outputs[0].data, golden.outputs[0].data.slice(0, 2));
  });

  it('scores a converted model from JSON Lines of objects and CSV with a header, by feature name', async () => {
    const tabular = createTestService(tabularRepository('batch-').dir);
    const objects = [{ age: 25, color: 'green' }, { age: 40, member: true, color: null }, { age: 'old' }, { age: 40, color: 'red', member: false }];
    await put('batch/input/trees_classifier/rows.jsonl', objects.map((o) => JSON.stringify(o)).join('\n') + '\n');
    const manifest = await runJob(store, tabular, 'batch/input/trees_classifier/rows.jsonl', { linesPerChunk: 3, batchSize: 4 });
    assert.deepEqual((await jsonl(manifest.results)).map((r) => [r.line, r.prediction.label]), [[1, 'yes'], [2, 'yes'], [4, 'no']]);
    assert.match((await jsonl(manifest.errors))[0].error, /^instances\[0\]: feature "age" is numeric; expected a number/);
    // Columns in any order, by name; an empty cell is missing; booleans and categories as text.
    await put('batch/input/trees_classifier/rows.csv', ['member,color,age', 'false,green,25', 'true,,40', ',,', 'False,blue,40'].join('\n') + '\n');
    const csv = await runJob(store, tabular, 'batch/input/trees_classifier/rows.csv', { linesPerChunk: 2 });
    assert.deepEqual((await jsonl(csv.results)).map((r) => [r.line, r.prediction.label, r.prediction.probabilities[1]]), [[2, 'yes', Math.fround(LEAF_YES.greenYoung)], [3, 'yes', Math.fround(LEAF_YES.member)], [4, 'no', Math.fround(LEAF_YES.otherYoung)], [5, 'no', Math.fround(LEAF_YES.nonMember)]]);
  });

  it('scores JSON Lines of texts and of base64 images for text and image models, a bad line named in the errors', async () => {
    const texts = ['real-time strategy game of ancient warfare', 'TrueType font family with wide Unicode coverage', '', 'network packet analyzer'];
    await put('batch/input/debian_sections/texts.jsonl', texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
    const manifest = await runJob(store, service, 'batch/input/debian_sections/texts.jsonl', { linesPerChunk: 2, batchSize: 8 });
    assert.equal(manifest.status, 'completed_with_errors');
    assert.deepEqual((await jsonl(manifest.results)).map((r) => [r.line, r.prediction[0].label]), [[1, 'games'], [2, 'fonts'], [4, 'net']]);
    const [error] = await jsonl(manifest.errors);
    assert.deepEqual([error.line, /empty/.test(error.error)], [3, true]);
    const image = (name: string) => JSON.stringify({ b64: readFileSync(join(ROOT, 'test', 'fixtures', 'images', name)).toString('base64') });
    await put('batch/input/text_orientation/scans.jsonl', [image('line-0.jpg'), image('line-5-180.png'), JSON.stringify({ b64: 'bm90IGFuIGltYWdl' })].join('\n'));
    const images = await runJob(store, service, 'batch/input/text_orientation/scans.jsonl');
    assert.deepEqual((await jsonl(images.results)).map((r) => [r.line, r.prediction[0].label]), [[1, '0'], [2, '180']]);
    assert.match((await jsonl(images.errors))[0].error, /not a supported image/);
  });

  it('scores a folder of image files once its .images marker arrives, naming each file, and refuses a folder for a tensor model', async () => {
    const images = join(ROOT, 'test', 'fixtures', 'images');
    const files = ['line-0.jpg', 'line-1-180.png', 'line-2.png', 'line-3-180.png'];
    for (const f of files) await s3.client.send(new PutObjectCommand({ Bucket: 'models', Key: `batch/input/text_orientation/scans/${f}`, Body: readFileSync(join(images, f)) }));
    await put('batch/input/text_orientation/scans/broken.png', 'not an image');
    assert.equal(isFolderImage('batch/input/text_orientation/scans/line-0.jpg'), true, 'an image in a folder waits for its marker');
    await put('batch/input/text_orientation/scans.images', '');
    const manifest = await runJob(store, service, 'batch/input/text_orientation/scans.images');
    assert.deepEqual([manifest.format, manifest.status, manifest.rows, manifest.succeeded, manifest.failed], ['images', 'completed_with_errors', 5, 4, 1]);
    const results = await jsonl(manifest.results);
    assert.deepEqual(results.map((r) => [r.file.split('/').pop(), r.prediction[0].label]), [['line-0.jpg', '0'], ['line-1-180.png', '180'], ['line-2.png', '0'], ['line-3-180.png', '180']]);
    const [error] = await jsonl(manifest.errors);
    assert.equal(error.file, 'batch/input/text_orientation/scans/broken.png');
    assert.match(error.error, /not a supported image/);
    await put('batch/input/iris_forest/pics/a.png', 'x');
    await put('batch/input/iris_forest/pics.images', '');
    const tensorModel = await runJob(store, service, 'batch/input/iris_forest/pics.images');
    assert.deepEqual([tensorModel.status, /model "iris_forest" does not take images/.test(tensorModel.error!)], ['failed', true]);
    await put('batch/input/text_orientation/empty.images', '');
    const empty = await runJob(store, service, 'batch/input/text_orientation/empty.images');
    assert.match(empty.error!, /no JPEG, PNG or WebP images under batch\/input\/text_orientation\/empty\//);
  });

  it('writes each chunk once: retried chunks and repeated finalising add no duplicate rows', async () => {
    await put('batch/input/iris_forest/retry.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    const plan = await startJob(store, service, 'batch/input/iris_forest/retry.jsonl', 10);
    assert.equal(await processChunk(store, service, plan, 0), true);
    assert.equal(await processChunk(store, service, plan, 0), false, 'a redelivered message does nothing');
    assert.equal(await finalizeJob(store, plan), undefined, 'not finished while chunks are missing');
    // A worker that died after writing results but before its stats: the retry rewrites the same rows.
    await store.write(`${jobPrefix(plan.model, plan.job)}chunks/000001.results.jsonl`, 'partial garbage\n');
    for (const chunk of plan.chunks.slice(1)) await processChunk(store, service, plan, chunk.index);
    const first = await finalizeJob(store, plan);
    const again = await finalizeJob(store, plan);
    assert.equal(first!.rows, rows.length);
    assert.equal(again!.rows, rows.length);
    const results = await jsonl(first!.results);
    assert.equal(results.length, rows.length);
    assert.equal(new Set(results.map((r) => r.line)).size, rows.length);
    assert.equal((await readManifest(store, plan.model, plan.job))!.status, 'succeeded');
  });

  it('scores a 100,000-row file in order', async () => {
    const n = 100_000;
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify(rows[i % rows.length]));
    await put('batch/input/iris_forest/large.jsonl', lines.join('\n') + '\n');
    const manifest = await runJob(store, service, 'batch/input/iris_forest/large.jsonl', { linesPerChunk: 10_000, batchSize: 1000 });
    assert.equal(manifest.rows, n);
    assert.equal(manifest.succeeded, n);
    assert.equal(manifest.chunks, 10);
    const results = Buffer.from((await store.read(manifest.results))!).toString('utf8').trim().split('\n');
    assert.equal(results.length, n);
    for (const i of [0, 1, 37, 38, 49_999, 99_999]) {
      const result = JSON.parse(results[i]);
      assert.equal(result.line, i + 1);
      assert.equal(result.prediction.label, expectedLabel(i % rows.length));
    }
  });

  it('plans a file without a trailing newline, and refuses an input outside batch/input/<model>/', async () => {
    await put('batch/input/iris_forest/tail.jsonl', `${JSON.stringify(rows[0])}\n${JSON.stringify(rows[1])}`);
    const plan = await planJob(store, 'batch/input/iris_forest/tail.jsonl', 1);
    assert.deepEqual(plan.chunks.map((c) => [c.firstLine, c.lines]), [[1, 1], [2, 1]]);
    await assert.rejects(planJob(store, 'uploads/rows.jsonl'), /batch input "uploads\/rows.jsonl" must be batch\/input\/<model>\/<file>.jsonl or .csv/);
  });

  // A bad input cannot kill a job.

  it('turns a poisoned line (nested thousands deep, as a row or in a v2 id) into an error entry and scores the rest', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const lines = rows.slice(0, 19).map((r) => JSON.stringify(r));
    lines.splice(7, 0, deep);
    lines.splice(12, 0, `{"id": ${deep}, "inputs": []}`);
    lines.push(`{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, ${deep}]}]}`);
    lines.push('["constructor", 1, 2, 3]', '[1e400, 1, 2, 3]');
    await put('batch/input/iris_forest/poisoned.jsonl', lines.join('\n'));
    const manifest = await runJob(store, service, 'batch/input/iris_forest/poisoned.jsonl', { linesPerChunk: 5, batchSize: 4 });
    assert.equal(manifest.status, 'completed_with_errors');
    assert.deepEqual([manifest.succeeded, manifest.failed], [19, 5]);
    const errors = await jsonl(manifest.errors);
    assert.deepEqual(errors.map((e) => e.line), [8, 13, 22, 23, 24]);
    assert.match(errors[3].error, /value at index 0 is "constructor", not a number/);
    assert.match(errors[4].error, /out of range for FP32/);
    for (const e of errors) assert.doesNotMatch(e.error, /call stack/);
    assert.deepEqual((await jsonl(manifest.results)).map((r) => r.prediction.label), rows.slice(0, 19).map((_, i) => expectedLabel(i)));
  });

  it('cuts chunks by bytes as well as lines, and answers an over-long line as an error without reading it', async () => {
    const long = JSON.stringify(Array.from({ length: 400 }, () => 1.5)); // ~1.6 KB
    const lines = [...rows.slice(0, 30).map((r) => JSON.stringify(r)), long, JSON.stringify(rows[30])];
    await put('batch/input/iris_forest/bytes.jsonl', lines.join('\n'));
    const plan = await planJob(store, 'batch/input/iris_forest/bytes.jsonl', { linesPerChunk: 1000, maxChunkBytes: 100, maxLineBytes: 1000 });
    assert.ok(plan.chunks.filter((c) => !c.oversized).every((c) => c.end - c.start < 100 + 30), 'no chunk past the byte bound by more than a line');
    assert.ok(plan.chunks.length >= 6, `${plan.chunks.length} chunks`);
    assert.deepEqual(plan.chunks.filter((c) => c.oversized).map((c) => c.firstLine), [31]);
    assert.deepEqual(plan.chunks.map((c) => c.lines).reduce((a, b) => a + b, 0), lines.length);
    const manifest = await runJob(store, service, 'batch/input/iris_forest/bytes.jsonl', { linesPerChunk: 1000, maxChunkBytes: 100, maxLineBytes: 1000 });
    assert.deepEqual([manifest.succeeded, manifest.failed], [31, 1]);
    assert.match((await jsonl(manifest.errors))[0].error, /^line is \d+ bytes, over the batch line limit/);
    assert.deepEqual((await jsonl(manifest.results)).map((r) => r.line), [...Array.from({ length: 30 }, (_, i) => i + 1), 32]);
  });

  it('fails a job whose CSV has no header line within the limit, naming it in the manifest', async () => {
    await put('batch/input/iris_forest/noheader.csv', '1,'.repeat(40_000));
    const manifest = await runJob(store, service, 'batch/input/iris_forest/noheader.csv');
    assert.equal(manifest.status, 'failed');
    assert.match(manifest.error!, /the CSV header line is over 65536 bytes/);
  });

  it('starts a new job for a new upload under the same name and size: never the old results', async () => {
    const key = 'batch/input/iris_forest/same.jsonl';
    await put(key, `${JSON.stringify(rows[0])}\n`);
    const first = await runJob(store, service, key);
    const other = JSON.stringify(rows.find((_, i) => expectedLabel(i) !== expectedLabel(0))!.map((v) => Number(v.toFixed(1))));
    const replacement = `${other}${' '.repeat(JSON.stringify(rows[0]).length - other.length)}\n`;
    assert.equal(replacement.length, JSON.stringify(rows[0]).length + 1, 'same size');
    await put(key, replacement);
    const second = await runJob(store, service, key);
    assert.notEqual(second.job, first.job);
    assert.notEqual((await jsonl(second.results))[0].prediction.label, (await jsonl(first.results))[0].prediction.label);
  });
});

describe('modelship batch (CLI)', () => {
  it('runs a local CSV file and prints a summary with rows per second', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'batch-cli-'));
    const input = join(dir, 'flowers.csv');
    writeFileSync(input, ['sepal_length,sepal_width,petal_length,petal_width', ...rows.map((r) => r.join(','))].join('\n'));
    const { stdout, stderr } = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'batch', '--model', 'iris_forest', '--input', input, '--work-dir', join(dir, 'work'), '--lines-per-chunk', '10'], { cwd: ROOT });
    assert.match(stdout, new RegExp(`^Scored ${rows.length} of ${rows.length} rows with iris_forest version 1 in [\\d.]+ s \\(\\d+ rows/s\\); no line was rejected\\.$`, 'm'));
    assert.match(stderr, /\[#+\] 4\/4 chunks/);
    const job = /^Job (flowers-[0-9a-f]{10}): /m.exec(stdout)![1];
    const results = readFileSync(join(dir, 'work', 'batch', 'output', 'iris_forest', job, 'results.jsonl'), 'utf8').trim().split('\n');
    assert.equal(results.length, rows.length);
    const status = await exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'batch-status', '--model', 'iris_forest', '--job', job, '--work-dir', join(dir, 'work')], { cwd: ROOT });
    assert.equal(JSON.parse(status.stdout).status, 'succeeded');
  });
});

describe('batch memory on inputs of a few hundred MB', () => {
  /** Runs one phase in a fresh process (as its Lambda function would) and reads its peak RSS. */
  const phase = async (name: 'plan' | 'work', dir: string, key: string) => {
    const { stdout } = await exec(process.execPath, ['--max-semi-space-size=16', join(ROOT, 'test', 'fixtures', 'batch-memory.ts'), name, dir, key], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { peakRssMb: number; chunks: number; manifest: { status: string; failed: number; succeeded: number; error?: string } };
  };
  /** Splitter and worker memory as the stack configures them (lib/batch.ts). */
  const SPLITTER_MB = 1024;
  const WORKER_MB = 3008;

  it('keeps the splitter and the worker within their memory on 200 MB of JSON Lines in 5,000 long lines', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'batch-big-'));
    const key = 'batch/input/iris_forest/big.jsonl';
    const line = Buffer.from(`[${'0.5,'.repeat(10_000)}0.5]\n`); // 40 KB: a row of the wrong width
    mkdirSync(join(dir, 'batch', 'input', 'iris_forest'), { recursive: true });
    const fd = openSync(join(dir, key), 'w');
    for (let i = 0; i < 5000; i++) writeSync(fd, line);
    closeSync(fd);
    const plan = await phase('plan', dir, key);
    const work = await phase('work', dir, key);
    console.log(`batch memory, ${((line.length * 5000) / 1048576).toFixed(0)} MB JSONL in 5,000 lines: splitter peak RSS ${plan.peakRssMb} MB (${plan.chunks} chunks), worker peak RSS ${work.peakRssMb} MB`);
    assert.equal(work.manifest.failed, 5000, 'every line answered, as an error (wrong width)');
    assert.ok(plan.peakRssMb < SPLITTER_MB / 2, `splitter peak ${plan.peakRssMb} MB`);
    assert.ok(work.peakRssMb < WORKER_MB / 4, `worker peak ${work.peakRssMb} MB`);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the splitter within its memory on a 50 MB CSV with no newline', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'batch-big-'));
    const key = 'batch/input/iris_forest/flat.csv';
    mkdirSync(join(dir, 'batch', 'input', 'iris_forest'), { recursive: true });
    writeFileSync(join(dir, key), Buffer.alloc(50 * 1024 * 1024, '1,'));
    const plan = await phase('plan', dir, key);
    console.log(`batch memory, 50 MB CSV without a newline: splitter peak RSS ${plan.peakRssMb} MB, job ${plan.manifest.status}: ${plan.manifest.error}`);
    assert.equal(plan.manifest.status, 'failed');
    assert.ok(plan.peakRssMb < SPLITTER_MB / 4, `splitter peak ${plan.peakRssMb} MB`);
    rmSync(dir, { recursive: true, force: true });
  });
});
