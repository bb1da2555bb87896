import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ModelShipSageMakerChecks } from '../../lib/nag-packs.ts';
import { buildStack, onnxSamplesDirectory } from './stack-fixture.ts';

function violations(context: Record<string, unknown>): string[] {
  const { stack } = buildStack(context);
  return [new AwsSolutionsChecks(), new ServerlessChecks(), new ModelShipSageMakerChecks()].flatMap((pack) => {
    const report = pack.validateScope(stack);
    return report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`);
  });
}

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  it('finds nothing unacknowledged with the defaults', () => {
    assert.deepEqual(violations({}), []);
  });

  it('finds nothing unacknowledged with API keys, WAF, KMS, CORS and an alarm email', () => {
    assert.deepEqual(
      violations({
        'modelship:authMode': 'apiKey',
        'modelship:waf': true,
        'modelship:storeEncryption': 'kms',
        'modelship:corsOrigins': 'https://app.example.com',
        'modelship:alarmEmail': 'oncall@example.com',
        'modelship:modelsDir': onnxSamplesDirectory(),
      }),
      [],
    );
  });

  it('still reports a finding that nobody acknowledged', () => {
    // GIVEN a bucket with no access logs and no TLS policy added beside ModelShip's
    const { stack } = buildStack({});
    new s3.Bucket(stack, 'Stray', {});
    // THEN the packs flag it: the acknowledgements are specific, not blanket
    const found = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    assert.ok(found.includes('AwsSolutions-S1'), found.join(', '));
    assert.ok(found.includes('AwsSolutions-S10'), found.join(', '));
  });
});

describe('cdk-nag over model stacks', () => {
  it('finds nothing unacknowledged in the nested stacks, with API keys, WAF and KMS', () => {
    // validateScope walks the nested stacks too: the models' resources are checked where they are.
    assert.deepEqual(violations({ 'modelship:modelStacks': 4, 'modelship:authMode': 'apiKey', 'modelship:waf': true, 'modelship:storeEncryption': 'kms' }), []);
  });
});
