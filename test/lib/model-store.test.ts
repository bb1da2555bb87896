import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { buildStack } from './stack-fixture.ts';

describe('ModelStore', () => {
  const { template } = buildStack();
  const modelBucket = () => {
    const buckets = Object.fromEntries(Object.entries(template.findResources('AWS::S3::Bucket')).filter(([id]) => id.startsWith('ModelStore') && !id.startsWith('ModelStoreAccessLogs')));
    assert.equal(Object.keys(buckets).length, 1, 'one model store bucket');
    return Object.values(buckets)[0] as { Properties: Record<string, any>; DeletionPolicy: string; UpdateReplacePolicy: string };
  };

  it('blocks public access and encrypts with S3-managed keys by default', () => {
    const bucket = modelBucket();
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.deepEqual(bucket.Properties.BucketEncryption, { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
  });

  it('writes server access logs to its log bucket', () => {
    assert.ok(modelBucket().Properties.LoggingConfiguration.DestinationBucketName.Ref.startsWith('ModelStoreAccessLogs'));
  });

  it('keeps a deleted or overwritten access log for 30 days (a versioned log bucket)', () => {
    const logs = Object.entries(template.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('ModelStoreAccessLogs'))![1] as { Properties: Record<string, any> };
    assert.deepEqual(logs.Properties.VersioningConfiguration, { Status: 'Enabled' });
    assert.deepEqual(logs.Properties.LifecycleConfiguration.Rules, [{ ExpirationInDays: 365, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }]);
  });

  it('expires noncurrent versions after 90 days by default', () => {
    const rules = modelBucket().Properties.LifecycleConfiguration.Rules;
    assert.equal(rules[0].NoncurrentVersionExpiration.NoncurrentDays, 90);
  });

  it('is retained when the stack is deleted, by default', () => {
    assert.equal(modelBucket().DeletionPolicy, 'Retain');
    assert.equal(modelBucket().UpdateReplacePolicy, 'Retain');
  });

  it('denies requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^ModelStore[0-9A-F]{8}$') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('uploads ./models under models/ on deploy without pruning older versions', () => {
    template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: 'models/', Prune: false });
  });

  it('encrypts with a rotating customer managed key when storeEncryption is kms', () => {
    const kms = buildStack({ 'modelship:storeEncryption': 'kms' }).template;
    kms.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: 'ModelShip model store' });
    kms.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
    });
  });

  it('is deleted with the stack when retainModelStore is false', () => {
    const { template: t } = buildStack({ 'modelship:retainModelStore': false });
    const buckets = Object.values(t.findResources('AWS::S3::Bucket')) as { DeletionPolicy: string }[];
    assert.ok(buckets.every((b) => b.DeletionPolicy === 'Delete'));
  });
});
