/** The customer managed key of log groups that hold captured payloads (modelship:logEncryption=kms). */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { createKey } from './keys.ts';

/**
 * A customer managed key for the log groups that carry captured payloads, rotated yearly, usable by
 * CloudWatch Logs for this account's log groups in this region only.
 */
export function capturedLogsKey(scope: Construct): kms.Key {
  const key = createKey(scope, 'CapturedLogsKey', { description: 'ModelShip: log groups that carry captured requests and answers' });
  const stack = Stack.of(scope);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) } },
    }),
  );
  return key;
}
