/** The core's front door, called directly as every adapter calls it: routing, versions, hooks and error answers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unitHash } from '../../../lambda/core/ab-assignment.ts';
import type { FeedbackEvent } from '../../../lambda/core/feedback.ts';
import { InferenceService } from '../../../lambda/core/inference-service.ts';
import type { CoreRequest } from '../../../lambda/core/request.ts';
import type { InferenceRecord } from '../../../lambda/core/session-run.ts';
import type { ShadowJob } from '../../../lambda/core/shadow.ts';
import { createTestRepository, createTestService, SAMPLES_DIR, TempRepository } from '../../helpers.ts';

const ROW = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
const post = (path: string, body?: string | Uint8Array, headers: Record<string, string> = {}): CoreRequest => ({ method: 'POST', path, body, headers });

describe('inference service', () => {
  const service = createTestService(SAMPLES_DIR);

  it('answers server and model routes with JSON, naming the answering version on inferences', async () => {
    assert.equal((await service.handle({ method: 'GET', path: '/v2/health/live' })).body, '{"live":true}');
    const answer = await service.handle(post('/v2/models/iris_forest/infer', ROW));
    assert.equal(answer.statusCode, 200);
    assert.deepEqual([answer.headers['X-Model-Name'], answer.headers['X-Model-Version'], answer.observed], ['iris_forest', '1', { model: 'iris_forest', version: 1 }]);
    assert.equal(answer.error, undefined);
  });

  it('takes the body as text or bytes alike', async () => {
    const text = await service.handle(post('/v2/models/iris_forest/infer', ROW));
    const bytes = await service.handle(post('/v2/models/iris_forest/infer', Buffer.from(ROW)));
    assert.equal(bytes.body, text.body);
  });

  it('answers errors as responses carrying the error, never throwing', async () => {
    const answer = await service.handle(post('/v2/models/nope/infer', ROW));
    assert.equal(answer.statusCode, 404);
    assert.equal(answer.error?.reason, 'not_found');
    assert.deepEqual(JSON.parse(answer.body as string), { error: 'model "nope" not found; available: breast_cancer_classifier, car_mpg, debian_embeddings, debian_sections, diabetes_regressor, digits_mlp, iris_forest, penguin_species, text_orientation' });
    assert.deepEqual(answer.observed, { reason: 'not_found' });
  });

  it('answers 504 for a request already past its deadline, before running the model', async () => {
    const answer = await service.handle({ ...post('/v2/models/iris_forest/infer', ROW), deadline: Date.now() - 1 });
    assert.equal(answer.statusCode, 504);
    assert.match(answer.error!.message, /ran past its time budget \(before inference\)/);
  });

  it('answers an unexpected failure as an internal error, the detail and its stack kept for the log', async () => {
    const repository = createTestRepository(SAMPLES_DIR);
    const broken = new InferenceService({ repository, hooks: { onFeedback: () => { throw new TypeError('disk on fire'); } } });
    const answer = await broken.handle(post('/v2/models/iris_forest/feedback', '{"model_version": "1", "outcome": 1}'));
    assert.equal(answer.statusCode, 500);
    assert.deepEqual(JSON.parse(answer.body as string), { error: 'internal error' }, 'the body holds no internals');
    assert.match(answer.error!.message, /^unexpected error on POST \/v2\/models\/iris_forest\/feedback: disk on fire$/);
    assert.match((answer.error!.cause as Error).stack!, /TypeError: disk on fire/);
  });

  it('tells its hooks, given at construction, about inferences, feedback and shadow copies', async () => {
    const repo = new TempRepository('hooks-').sample('iris_forest').config('iris_forest', { shadow: { version: 1, percent: 100 } });
    const [records, events, jobs]: [InferenceRecord[], FeedbackEvent[], ShadowJob[]] = [[], [], []];
    const hooked = createTestService(repo.dir, {}, { onInference: (r) => records.push(r), onFeedback: (e) => void events.push(e), onShadow: (j) => jobs.push(j) });
    await hooked.handle(post('/v2/models/iris_forest/infer', ROW));
    await hooked.handle(post('/v1/models/iris_forest:predict', '{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'));
    assert.deepEqual(records.map((r) => [r.model, r.version, r.batchSize, Object.keys(r.classCounts ?? {}).sort().join()]), [['iris_forest', 1, 1, 'setosa'], ['iris_forest', 1, 2, 'setosa,virginica']]);
    const feedback = await hooked.handle(post('/v2/models/iris_forest/feedback', '{"id": "r-1", "model_version": 1, "label": "setosa", "predicted": "setosa"}'));
    assert.equal(feedback.statusCode, 202);
    assert.deepEqual(events.map((e) => [e.model, e.version, e.id, e.outcome]), [['iris_forest', 1, 'r-1', 1]]);
    // The shadow version is the live one here, so no copy is made; a versioned route is never copied either.
    assert.deepEqual(jobs, []);
  });

  it('copies plain-route JSON requests, not versioned or binary ones, to a shadow version', async () => {
    const repo = new TempRepository('shadow-hooks-').sample('iris_forest').config('iris_forest', { versionPolicy: { pinned: 1 }, shadow: { version: 2, percent: 100 } });
    repo.file('iris_forest/2/model.onnx', new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(`${SAMPLES_DIR}/iris_forest/1/model.onnx`))));
    const jobs: ShadowJob[] = [];
    const hooked = createTestService(repo.dir, {}, { onShadow: (j) => jobs.push(j) });
    await hooked.handle(post('/v2/models/iris_forest/infer', ROW));
    await hooked.handle(post('/v2/models/iris_forest/versions/1/infer', ROW));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }] }));
    const binary = await hooked.handle(post('/v2/models/iris_forest/infer', Buffer.concat([header, Buffer.from(new Float32Array([5.1, 3.5, 1.4, 0.2]).buffer)]), { 'inference-header-content-length': String(header.length) }));
    assert.equal(binary.statusCode, 200);
    assert.deepEqual(jobs.map((j) => [j.kind, j.liveVersion, j.shadowVersion]), [['infer', 1, 2]]);
  });

  it('draws plain-route versions by the A/B weights, and keeps a versioned route on its version', async () => {
    // A key whose hash lands in version 2's share of 1:1 weights: the same key always gets it.
    const repo = new TempRepository('ab-').sample('iris_forest').config('iris_forest', { abTest: { weights: { '1': 1, '2': 1 } } });
    repo.file('iris_forest/2/model.onnx', new Uint8Array(await import('node:fs').then((fs) => fs.readFileSync(`${SAMPLES_DIR}/iris_forest/1/model.onnx`))));
    const split = createTestService(repo.dir);
    const key = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((k) => unitHash(`iris_forest:${k}`) >= 0.5)!;
    for (let i = 0; i < 5; i++) assert.equal((await split.handle(post('/v2/models/iris_forest/infer', ROW, { 'x-assignment-key': key }))).headers['X-Model-Version'], '2');
    assert.equal((await split.handle(post('/v2/models/iris_forest/versions/1/infer', ROW, { 'x-assignment-key': key }))).headers['X-Model-Version'], '1');
  });
});
