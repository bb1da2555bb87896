import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { evaluateGolden, type GoldenFile } from '../../../lambda/jobs/golden-gate.ts';
import { createApiGatewayHandler } from '../../../lambda/adapters/api-gateway/handler.ts';
import { S3Source } from '../../../lambda/stores/s3-source.ts';
import { checkNewVersion, reportToCodeDeploy } from '../../../lambda/jobs/pre-traffic-hook.ts';
import { answerGoldenEvent, isGoldenEvent } from '../../../lambda/jobs/task-golden.ts';
import { createTestService, fakeLambdaContext, FIXTURE_MODELS_DIR, readGolden, SAMPLES_DIR, startTestS3, type TestS3 } from '../../helpers.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

/**
 * Stand-ins on loopback for the two AWS APIs the hook calls: Lambda Invoke (answered by the real
 * inference handler over real models) and CodeDeploy's PutLifecycleEventHookExecutionStatus
 * (recorded).
 */
async function startStandIns(modelsDir: string): Promise<{ url: string; server: Server; statuses: { status: string; deploymentId: string }[]; invoked: string[] }> {
  const service = createTestService(modelsDir);
  const handler = createApiGatewayHandler(service);
  const statuses: { status: string; deploymentId: string }[] = [];
  const invoked: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
    if (invoke !== null) {
      invoked.push(decodeURIComponent(invoke[1]));
      // The model function's own answer to a task model's golden gate (lambda/entry/api.ts), or an API event.
      const event = JSON.parse(body) as unknown;
      const result = isGoldenEvent(event) ? await answerGoldenEvent(service, event) : await handler(event as APIGatewayProxyEvent, fakeLambdaContext());
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Amz-Executed-Version': '7' });
      res.end(JSON.stringify(result));
      return;
    }
    if (req.headers['x-amz-target'] === 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus') {
      const request = JSON.parse(body) as { status: string; deploymentId: string; lifecycleEventHookExecutionId: string };
      statuses.push({ status: request.status, deploymentId: request.deploymentId });
      res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ lifecycleEventHookExecutionId: request.lifecycleEventHookExecutionId }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, statuses, invoked };
}

describe('pre-traffic hook: the golden gate on a new version', () => {
  let s3: TestS3;
  let standIns: Awaited<ReturnType<typeof startStandIns>>;
  let repo: string;
  before(async () => {
    // The store holds iris v1 (good) and v2: a deliberately wrong model shipped with v1's golden file.
    repo = mkdtempSync(join(tmpdir(), 'gate-'));
    cpSync(join(SAMPLES_DIR, 'iris_forest'), join(repo, 'iris_forest'), { recursive: true });
    cpSync(join(FIXTURE_MODELS_DIR, 'iris_wrong', '1', 'model.onnx'), join(repo, 'iris_forest', '2', 'model.onnx'));
    cpSync(join(SAMPLES_DIR, 'iris_forest', '1', 'golden.json'), join(repo, 'iris_forest', '2', 'golden.json'));
    // A task model whose golden.json lists requests and the answers v1 gives; v2 names its classes in the opposite order.
    const sections = join(SAMPLES_DIR, 'debian_sections', '1');
    cpSync(sections, join(repo, 'debian_sections', '1'), { recursive: true });
    cpSync(sections, join(repo, 'debian_sections', '2'), { recursive: true });
    const hf = JSON.parse(readFileSync(join(sections, 'config.json'), 'utf8')) as { id2label: Record<string, string> };
    const labels = Object.values(hf.id2label);
    writeFileSync(join(repo, 'debian_sections', '2', 'config.json'), JSON.stringify({ ...hf, id2label: Object.fromEntries(labels.map((_, i) => [String(i), labels[labels.length - 1 - i]])) }));
    const requests = ['TrueType font family', 'network packet analyzer', 'real-time strategy game'].map((inputs) => ({ inputs }));
    const service = createTestService(repo);
    const model = await service.loadModel('debian_sections', '1');
    const expected = await Promise.all(requests.map(async (r) => JSON.parse(await service.infer(model, r)) as unknown));
    for (const version of ['1', '2']) writeFileSync(join(repo, 'debian_sections', version, 'golden.json'), JSON.stringify({ task: 'text-classification', requests, expected, tolerance: 1e-5, minAgreement: 1 }));
    s3 = await startTestS3();
    await s3.upload(repo, 'models/');
    standIns = await startStandIns(repo);
  });
  after(async () => {
    standIns.server.close();
    await s3.close();
  });

  const check = (version: number, threshold?: { metric: 'accuracy'; min: number }) =>
    checkNewVersion({
      source: new S3Source({ bucket: 'models', prefix: 'models/', client: s3.client }),
      lambda: new LambdaClient({ endpoint: standIns.url, region: 'eu-west-1', credentials }),
      targetFunction: `arn:aws:lambda:eu-west-1:123456789012:function:iris:${version}`,
      model: 'iris_forest',
      version,
      threshold,
    });

  it('passes a good version: golden outputs within tolerance and accuracy over the threshold', async () => {
    const result = await check(1, { metric: 'accuracy', min: 0.85 });
    assert.deepEqual(result.problems, []);
    assert.equal(result.passed, true);
    assert.ok(Math.abs(result.metrics.accuracy! - 0.8947368421052632) < 1e-12);
    assert.ok(standIns.invoked.includes('arn:aws:lambda:eu-west-1:123456789012:function:iris:1'));
  });

  it('fails a deliberately wrong version, naming the outputs and the metric', async () => {
    const result = await check(2, { metric: 'accuracy', min: 0.85 });
    assert.equal(result.passed, false);
    assert.match(result.problems.join('\n'), /output "label" differs from golden beyond tolerance at \d+ of 38 values/);
    assert.match(result.problems.join('\n'), /output "probabilities" differs from golden/);
    assert.match(result.problems.join('\n'), /accuracy 0\.\d+ is below the minimum 0\.85/);
  });

  it('has the new function version gate a task model on its golden requests, with the task\'s compare', async () => {
    const taskCheck = (version: number) =>
      checkNewVersion({ source: new S3Source({ bucket: 'models', prefix: 'models/', client: s3.client }), lambda: new LambdaClient({ endpoint: standIns.url, region: 'eu-west-1', credentials }), targetFunction: `arn:aws:lambda:eu-west-1:123456789012:function:sections:${version}`, model: 'debian_sections', version, threshold: { metric: 'accuracy', min: 1 } });
    const good = await taskCheck(1);
    assert.deepEqual([good.passed, good.problems, good.metrics.accuracy], [true, [], 1]);
    const swapped = await taskCheck(2);
    assert.equal(swapped.passed, false);
    assert.match(swapped.problems.join('\n'), /answers agree with golden on 0\.0% of 3 requests/);
    assert.match(swapped.problems.join('\n'), /request 0: label 0 is "\w+", expected "fonts"/);
  });

  it('fails when the version has no golden file', async () => {
    const result = await check(3);
    assert.equal(result.passed, false);
    assert.match(result.problems[0], /no golden file at iris_forest\/3\/golden.json/);
  });

  it('reports the verdict to CodeDeploy', async () => {
    const codeDeploy = new CodeDeployClient({ endpoint: standIns.url, region: 'eu-west-1', credentials });
    await reportToCodeDeploy(codeDeploy, { DeploymentId: 'd-GOOD', LifecycleEventHookExecutionId: 'e1' }, await check(1));
    await reportToCodeDeploy(codeDeploy, { DeploymentId: 'd-BAD', LifecycleEventHookExecutionId: 'e2' }, await check(2));
    assert.deepEqual(standIns.statuses, [{ status: 'Succeeded', deploymentId: 'd-GOOD' }, { status: 'Failed', deploymentId: 'd-BAD' }]);
  });
});

describe('golden gate metrics', () => {
  it('recomputes each sample\'s recorded evaluation from its golden outputs', () => {
    const cases: [string, string, number][] = [['breast_cancer_classifier', 'f1', 0.9888888888888889], ['digits_mlp', 'accuracy', 0.9755555555555555], ['diabetes_regressor', 'rmse', 53.00979519972532]];
    for (const [model, metric, expected] of cases) {
      const golden = readGolden(model) as unknown as GoldenFile;
      const result = evaluateGolden(golden, { outputs: golden.outputs.map((o) => ({ ...o, shape: [...o.shape], data: [...o.data] })) }, { metric: metric as 'f1', min: 0 });
      assert.ok(Math.abs(result.metrics[metric as 'f1']! - expected) < 1e-4, `${model} ${metric} ${result.metrics[metric as 'f1']}`);
    }
  });

  it('enforces a maximum for error metrics', () => {
    const golden = readGolden('diabetes_regressor') as unknown as GoldenFile;
    const result = evaluateGolden(golden, { outputs: golden.outputs.map((o) => ({ ...o, shape: [...o.shape], data: [...o.data] })) }, { metric: 'rmse', max: 50 });
    assert.deepEqual(result.problems, ['rmse 53.0098 is above the maximum 50']);
  });
});
