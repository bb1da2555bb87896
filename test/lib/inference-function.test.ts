import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { SAMPLE_MODELS } from '../helpers.ts';
import { buildStack, repositoryWith } from './stack-fixture.ts';

describe('InferenceFunction', () => {
  const { template } = buildStack();

  it('creates one container-image function per model', () => {
    // Model functions run the image's default command; batch functions override it.
    const functions = template.findResources('AWS::Lambda::Function', { Properties: { PackageType: 'Image', ImageConfig: Match.absent() } });
    assert.equal(Object.keys(functions).length, SAMPLE_MODELS.length);
  });

  it('applies the stated defaults: 2048 MB, 30 s, 512 MB /tmp, x86_64, active tracing, JSON logs', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      MemorySize: 2048,
      Timeout: 30,
      EphemeralStorage: { Size: 512 },
      Architectures: ['x86_64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
    });
  });

  it("points each function at its model's bucket, prefix and live version, and preloads it", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          MODEL_BUCKET: { Ref: Match.stringLikeRegexp('^ModelStore') },
          MODEL_PREFIX: 'models/',
          MODEL_NAMES: 'iris_forest',
          MODEL_VERSION: '1',
          PRELOAD_MODELS: 'true',
          ORT_INTRA_OP_THREADS: '2',
        }),
      },
    });
  });

  it('publishes a version behind a live alias', () => {
    template.resourceCountIs('AWS::Lambda::Version', SAMPLE_MODELS.length);
    template.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', FunctionVersion: Match.anyValue() });
  });

  it('keeps logs for 30 days by default', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it("lets each function read only its own model's prefix", () => {
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^ModelirisforestRole') }] } });
    const statements = Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const s3 = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    assert.deepEqual(s3.map((s: any) => s.Action).sort(), ['s3:GetObject', 's3:ListBucket']);
    const get = s3.find((s: any) => s.Action === 's3:GetObject');
    assert.deepEqual(get.Resource['Fn::Join'][1].slice(1), ['/models/iris_forest/*']);
    const list = s3.find((s: any) => s.Action === 's3:ListBucket');
    assert.deepEqual(list.Condition, { StringLike: { 's3:prefix': ['models/iris_forest/*'] } });
    const text = JSON.stringify(statements);
    for (const other of SAMPLE_MODELS.filter((m) => m !== 'iris_forest')) assert.ok(!text.includes(other), `iris function must not reach ${other}`);
  });

  it('does not use the managed basic execution role', () => {
    const roles = template.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] }) } });
    const inference = Object.entries(roles).filter(([id]) => /^Model[a-z]+Role/.test(id));
    assert.equal(inference.length, SAMPLE_MODELS.length);
    for (const [, role] of inference) assert.equal((role as any).Properties.ManagedPolicyArns, undefined);
  });

  it("takes memory, timeout, storage and concurrency from the model's config.json", () => {
    const dir = repositoryWith({ big: { memorySizeMb: 4096, timeoutSeconds: 60, ephemeralStorageMb: 2048, reservedConcurrency: 20, provisionedConcurrency: 2 } });
    const { template: t } = buildStack({ 'modelship:modelsDir': dir, 'modelship:architecture': 'arm64' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 4096,
      Timeout: 60,
      EphemeralStorage: { Size: 2048 },
      ReservedConcurrentExecutions: 20,
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ ORT_INTRA_OP_THREADS: '3' }) },
    });
    t.hasResourceProperties('AWS::Lambda::Alias', { Name: 'live', ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 } });
  });

  it('lets small models share one function through functionGroup', () => {
    const dir = repositoryWith({ a: { functionGroup: 'small' }, b: { functionGroup: 'small' }, c: undefined });
    const { template: t } = buildStack({ 'modelship:modelsDir': dir });
    assert.equal(Object.keys(t.findResources('AWS::Lambda::Function', { Properties: { PackageType: 'Image', ImageConfig: Match.absent() } })).length, 2);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ MODEL_NAMES: 'a,b', MODEL_VERSION: Match.absent() }) } });
  });
});
