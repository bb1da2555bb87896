/**
 * The same checks for every registered task that has a fixture (test/fixtures/task-checks/<task>.ts),
 * through the local server: metadata and the module's example, its console renderer, the golden gate
 * with the module's compare (passing on the version's own answers, failing on another request's),
 * a batch job over JSON Lines (and over an image folder for image tasks) answering as /infer does,
 * data capture with the module's named drift signals, drift on them against a baseline of the same
 * traffic and on shifted traffic, and shadow copies of JSON and raw requests. A task adds a fixture
 * file, not a test.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { capturePrefix } from '../../../../lambda/core/capture-layout.ts';
import type { ShadowResult } from '../../../../lambda/core/shadow.ts';
import { TASK_MODULES } from '../../../../lambda/core/tasks/registry.ts';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { runJob } from '../../../../lambda/jobs/batch-job.ts';
import { driftReport, rowsFromCaptures, taskBaseline } from '../../../../lambda/jobs/drift.ts';
import { runTaskGolden } from '../../../../lambda/jobs/task-golden.ts';
import { DirectoryBatchStore } from '../../../../lambda/stores/batch-store.ts';
import type { TaskFixture } from '../../../fixtures/task-checks/fixture.ts';
import { createTestService, ROOT, startTestLocalServer, TempRepository } from '../../../helpers.ts';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'task-checks');
const RENDERERS = join(ROOT, 'lambda', 'adapters', 'local', 'console', 'tasks');
const fixtures = new Map<string, TaskFixture>();
for (const module of TASK_MODULES) {
  const file = join(FIXTURES, `${module.name}.ts`);
  if (existsSync(file)) fixtures.set(module.name, ((await import(file)) as { fixture: TaskFixture }).fixture);
}

describe('every registered task', () => {
  it('has a fixture for the generic checks (a new task adds test/fixtures/task-checks/<task>.ts)', () => {
    const missing = TASK_MODULES.map((m) => m.name).filter((name) => !fixtures.has(name));
    assert.deepEqual(missing, [], `registered tasks without a fixture in test/fixtures/task-checks/: ${missing.join(', ')}`);
  });
});

describe('the generic checks of each task with a fixture', () => {
  const repo = new TempRepository('every-task-');
  const dataDir = mkdtempSync(join(tmpdir(), 'every-task-data-'));
  const shadows: ShadowResult[] = [];
  let server: LocalStack;
  before(async () => {
    for (const [task, fixture] of fixtures) {
      fixture.install(repo, task, 1);
      fixture.install(repo, task, 2);
      repo.config(task, { ...fixture.config, versionPolicy: { pinned: 1 }, capture: { percent: 100 }, shadow: { version: 2, percent: 100 } });
    }
    server = await startTestLocalServer(repo.dir, { dataDir, flushIntervalMs: 60_000, onShadowResult: (r) => shadows.push(r) });
  });
  after(() => server.close());
  const post = async (path: string, body: string | Uint8Array, type = 'application/json') => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type } });
    return { status: response.status, text: await response.text() };
  };
  /** Each request's answer over HTTP, on the version asked for (a versioned route makes no shadow copy). */
  const answers = async (task: string, version?: number) => {
    const path = version === undefined ? `/v2/models/${task}/infer` : `/v2/models/${task}/versions/${version}/infer`;
    const out: unknown[] = [];
    for (const request of fixtures.get(task)!.requests) {
      const { status, text } = await post(path, JSON.stringify(request));
      assert.equal(status, 200, `${task}: ${JSON.stringify(request).slice(0, 100)} → ${text}`);
      out.push(JSON.parse(text));
    }
    return out;
  };

  for (const module of TASK_MODULES) {
    const task = module.name;
    describe(task, { skip: fixtures.has(task) ? false : 'no fixture' }, () => {
      it('says its task, content types and description in metadata, and answers its own example', async () => {
        const parameters = ((await (await fetch(`${server.url}/v2/models/${task}`)).json()) as { parameters: Record<string, unknown> }).parameters;
        assert.equal(parameters.task, task);
        const service = createTestService(repo.dir);
        const loaded = await service.loadModel(task);
        assert.deepEqual(parameters.content_types, [...loaded.task!.module.contentTypes(loaded.task!.loaded)]);
        const example = module.example(loaded.task!.loaded);
        if (example !== undefined) assert.equal((await post(`/v2/models/${task}/versions/1/infer`, JSON.stringify(example))).status, 200, 'the example the console and the local server print');
        const fixture = fixtures.get(task)!;
        if (fixture.raw !== undefined) assert.equal((await post(`/v2/models/${task}/versions/1/infer`, fixture.raw.body, fixture.raw.contentType)).status, 200);
      });

      it('has a console renderer that says what to send and draws the answer', async () => {
        const file = join(RENDERERS, `${task}.js`);
        assert.ok(existsSync(file), `add lambda/adapters/local/console/tasks/${task}.js`);
        const renderer = (await import(file)) as { form: string; sends: string; answers: string; render: unknown };
        assert.ok(['text', 'image', 'json'].includes(renderer.form), `form is ${renderer.form}`);
        assert.ok(typeof renderer.sends === 'string' && typeof renderer.answers === 'string' && typeof renderer.render === 'function');
        const served = await fetch(`${server.url}/console/tasks/${task}.js`);
        assert.deepEqual([served.status, served.headers.get('content-type')], [200, 'text/javascript; charset=utf-8']);
        const models = (await (await fetch(`${server.url}/console/api/models`)).json()) as { name: string; task?: { task: string } }[];
        assert.equal(models.find((m) => m.name === task)?.task?.task, task);
      });

      it('passes the golden gate on its own answers (the module\'s compare) and fails on another request\'s', async () => {
        const fixture = fixtures.get(task)!;
        const expected = await answers(task, 1);
        const golden = { task, requests: fixture.requests, expected, tolerance: fixture.tolerance };
        writeFileSync(join(repo.dir, task, '1', 'golden.json'), JSON.stringify(golden));
        const service = createTestService(repo.dir);
        const passed = await runTaskGolden(service, task, 1, { metric: 'accuracy', min: 1 });
        assert.deepEqual([passed.passed, passed.problems, passed.metrics.accuracy], [true, [], 1]);
        writeFileSync(join(repo.dir, task, '1', 'golden.json'), JSON.stringify({ ...golden, expected: expected.map((_, i) => expected[(i + 1) % expected.length]) }));
        const failed = await runTaskGolden(service, task, 1);
        assert.equal(failed.passed, false, 'another request\'s answers must not pass');
        assert.match(failed.problems.join('\n'), /answers agree with golden on \d+\.\d% of \d+ requests[\s\S]*request \d+: /);
      });

      it('scores a batch job (JSON Lines, and an image folder for an image task) as /infer answers', async () => {
        const fixture = fixtures.get(task)!;
        const expected = await answers(task, 1);
        const store = new DirectoryBatchStore(mkdtempSync(join(tmpdir(), 'every-task-batch-')));
        const input = join(store.where('batch/input'), task);
        mkdirSync(input, { recursive: true });
        writeFileSync(join(input, 'requests.jsonl'), `${fixture.requests.map((r) => JSON.stringify(r)).join('\n')}\n`);
        const service = createTestService(repo.dir);
        const manifest = await runJob(store, service, `batch/input/${task}/requests.jsonl`);
        assert.deepEqual([manifest.status, manifest.succeeded, manifest.failed], ['succeeded', fixture.requests.length, 0], manifest.error);
        const lines = Buffer.from((await store.read(manifest.results))!).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; response: unknown });
        assert.deepEqual(lines.map((l) => [l.line, module.compare(expected[l.line - 1], l.response, fixture.tolerance)]), expected.map((_, i) => [i + 1, undefined]));
        if (fixture.images === undefined) return;
        mkdirSync(join(input, 'scans'));
        for (const { name, bytes } of fixture.images) writeFileSync(join(input, 'scans', name), bytes);
        writeFileSync(join(input, 'scans.images'), '');
        const images = await runJob(store, service, `batch/input/${task}/scans.images`);
        assert.deepEqual([images.format, images.status, images.succeeded], ['images', 'succeeded', fixture.images.length], images.error);
        const results = Buffer.from((await store.read(images.results))!).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { file: string; prediction: unknown });
        for (const { name, bytes } of fixture.images) {
          const direct = await post(`/v2/models/${task}/versions/1/infer`, bytes, name.endsWith('.png') ? 'image/png' : 'image/jpeg');
          const result = results.find((r) => r.file.endsWith(`/${name}`));
          assert.equal(module.compare(JSON.parse(direct.text), result?.prediction, fixture.tolerance), undefined, name);
        }
      });

      it('captures each answer with the module\'s named signals, and drift on them flags shifted traffic only', async () => {
        const fixture = fixtures.get(task)!;
        // Enough traffic for a baseline: the requests, a few times over (the plain route, so the captures are the live version's).
        for (let round = 0; round < 3; round++) await answers(task);
        await server.runtime.flush();
        const file = join(dataDir, capturePrefix(task, 1, new Date()), 'captures.jsonl');
        const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; task: string; request: unknown; drift: { signals: { name: string; kind: string }[]; rows: number[][] } });
        assert.ok(records.length >= fixture.requests.length * 3);
        for (const record of records) {
          assert.deepEqual([record.kind, record.task], ['task', task]);
          assert.deepEqual(record.drift.signals, module.signals.map(({ name, kind }) => ({ name, kind })));
          assert.ok(record.drift.rows.length > 0 && record.drift.rows.every((row) => row.length === module.signals.length && row.every(Number.isFinite)), JSON.stringify(record.drift.rows));
        }
        const rows = rowsFromCaptures(readFileSync(file, 'utf8'), file) as number[][];
        const baseline = taskBaseline(module.signals, rows);
        assert.equal(rowsFromCaptures(readFileSync(file, 'utf8'), file, baseline).length, rows.length, 'the baseline names the signals the captures carry');
        if (module.signals.length > 1) {
          const reordered = { features: baseline.features.map((f, i, all) => ({ ...all[all.length - 1 - i], index: f.index })) };
          assert.throws(() => rowsFromCaptures(readFileSync(file, 'utf8'), file, reordered), /baseline.json's feature ".+" is at position 0, where the task's captures carry ".+"/);
        }
        assert.deepEqual(driftReport(baseline, rows).filter((f) => f.drifted), [], 'the same traffic does not drift');
        // Shifted traffic: every numeric signal far above anything seen, every class the first.
        const shifted = rows.map((row) => row.map((v, i) => (module.signals[i].kind === 'numeric' ? v * 10 + 1000 : 0)));
        const moved = driftReport(baseline, shifted).filter((f) => f.drifted).map((f) => f.name);
        const numeric = module.signals.filter((s) => s.kind === 'numeric').map((s) => s.name);
        // PSI puts values past the reference's maximum in its last bin, so a signal with few distinct values may move too little alone; the traffic as a whole must drift.
        if (numeric.length > 0) assert.ok(moved.some((name) => numeric.includes(name)), `drifted: ${moved.join(', ') || 'none'}; numeric signals: ${numeric.join(', ')}`);
      });

      it('copies live requests to the shadow version (JSON and raw bodies), which agrees', async () => {
        const fixture = fixtures.get(task)!;
        const before = shadows.filter((r) => r.model === task).length;
        await post(`/v2/models/${task}/infer`, JSON.stringify(fixture.requests[0]));
        if (fixture.raw !== undefined) await post(`/v2/models/${task}/infer`, fixture.raw.body, fixture.raw.contentType);
        const wanted = before + 1 + (fixture.raw === undefined ? 0 : 1);
        // Off the request path: waited for (up to 30 s on a loaded machine), never assumed done.
        for (let i = 0; i < 1500 && shadows.filter((r) => r.model === task).length < wanted; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        const mine = shadows.filter((r) => r.model === task).slice(before);
        assert.ok(mine.length >= wanted - before, `${mine.length} shadow results`);
        assert.ok(mine.every((r) => r.agree && r.shadowVersion === 2), JSON.stringify(mine));
      });
    });
  }
});

// The renderers folder holds one file per task with a fixture at least (and the helpers they share).
describe('console renderers', () => {
  it('exist for every task with a fixture', () => {
    const files = new Set(readdirSync(RENDERERS));
    for (const task of fixtures.keys()) assert.ok(files.has(`${task}.js`), task);
  });
});
