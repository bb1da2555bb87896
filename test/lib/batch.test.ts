import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { SAMPLE_MODELS } from '../helpers.ts';
import { buildStack } from './stack-fixture.ts';

describe('BatchScoring', () => {
  const { app, template } = buildStack();
  /** A deployment manifest as synth staged it for upload, checked against the hash the function holds. */
  const readManifest = (path: string, sha256: string): string => {
    const outdir = app.synth().directory;
    for (const asset of readdirSync(outdir).filter((d) => d.startsWith('asset.'))) {
      const file = join(outdir, asset, path);
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256, `${path}: hash`);
      return bytes.toString('utf8');
    }
    throw new Error(`manifest ${path} is in no staged asset`);
  };

  it('lets SQS queues use the chunk dead-letter queue, and no queue use the splitter\'s (fed by Lambda and EventBridge)', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    const policy = (prefix: string) => Object.entries(queues).find(([id]) => id.startsWith(prefix))![1].Properties.RedriveAllowPolicy;
    assert.deepEqual(policy('BatchDeadLetters'), { redrivePermission: 'allowAll' });
    assert.deepEqual(policy('BatchSplitterDeadLetters'), { redrivePermission: 'denyAll' });
  });

  it('starts a job when a file lands under batch/input/ (S3 through EventBridge)', () => {
    // Set on the bucket itself: no custom resource (and its function) to turn it on at deploy.
    const store = Object.entries(template.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('ModelStore') && !id.startsWith('ModelStoreAccessLogs'))!;
    assert.deepEqual(store[1].Properties.NotificationConfiguration, { EventBridgeConfiguration: { EventBridgeEnabled: true } });
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['aws.s3'], 'detail-type': ['Object Created'], detail: { bucket: { name: [{ Ref: Match.stringLikeRegexp('^ModelStore') }] }, object: { key: [{ prefix: 'batch/input/' }] } } },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BatchSplitter'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 }, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it('runs the splitter and the worker on the inference image with their own commands', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', ImageConfig: { Command: ['batch.splitHandler'] }, Timeout: 900 });
    template.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', ImageConfig: { Command: ['batch.chunkHandler'] }, MemorySize: 3008 });
  });

  it('pins both functions to the deployed models, their live versions and hashes, as the API functions are', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { ImageConfig?: { Command: string[] }; Environment: { Variables: Record<string, string> } } }[];
    for (const command of ['batch.splitHandler', 'batch.chunkHandler']) {
      const env = functions.find((f) => f.Properties.ImageConfig?.Command[0] === command)!.Properties.Environment.Variables;
      assert.equal(env.MODEL_NAMES, SAMPLE_MODELS.join(','), command);
      assert.deepEqual(JSON.parse(env.MODEL_VERSIONS), Object.fromEntries(SAMPLE_MODELS.map((m) => [m, 1])));
      // The pin itself while it fits the environment, else the deployment manifest it names (by hash).
      const pin = env.MODEL_MANIFEST === undefined ? env.MODEL_SHA256S : readManifest(env.MODEL_MANIFEST, env.MODEL_MANIFEST_SHA256);
      assert.deepEqual(Object.keys(JSON.parse(pin)).sort(), SAMPLE_MODELS.flatMap((m) => [`${m}/1`, `${m}/1/files`, `${m}/config.json`]).sort());
    }
  });

  it('fans chunks out on an encrypted queue with a dead-letter queue after 3 receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BatchDeadLetters'), 'Arn'] }, maxReceiveCount: 3 },
      VisibilityTimeout: 3600,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 20 } });
  });

  it('pages on-call when anything lands in a dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 0,
      AlarmDescription: Match.stringLikeRegexp('^Batch prediction: .*Check first:'),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^MonitoringAlarmTopic') }],
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'chunks + splits' })]),
    });
  });

  it('lets batch functions write only under batch/output/', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('BatchWorkerRole'));
    const statements = policies.flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement);
    const put = statements.filter((s: any) => [s.Action].flat().includes('s3:PutObject'));
    assert.equal(put.length, 1);
    assert.match(JSON.stringify(put[0].Resource), /\/batch\/output\/\*/);
  });
});
