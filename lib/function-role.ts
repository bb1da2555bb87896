/**
 * The role and log group every ModelShip function gets: a role of its own, so logging is granted
 * on the function's log group alone rather than through the managed AWSLambdaBasicExecutionRole,
 * and the one cdk-nag finding that active tracing (and image pulls) always bring, acknowledged.
 */
import { Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeLogGroup } from './check-acknowledgements.ts';

export interface FunctionRoleProps {
  /** Construct ids of the role and the log group (stable: renaming replaces resources). */
  readonly roleId: string;
  readonly logsId: string;
  readonly description: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** The function is a container image: its role also pulls from ECR. @default false */
  readonly containerImage?: boolean;
  /** Encrypt the log group with this key (functions whose logs carry captured payloads). @default - CloudWatch Logs' own encryption */
  readonly logEncryptionKey?: kms.IKey;
}

export function createFunctionRole(scope: Construct, props: FunctionRoleProps): { role: iam.Role; logGroup: logs.LogGroup } {
  const logGroup = new logs.LogGroup(scope, props.logsId, { retention: props.logRetentionDays ?? 30, encryptionKey: props.logEncryptionKey });
  const role = new iam.Role(scope, props.roleId, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: props.description });
  logGroup.grantWrite(role);
  acknowledgeLogGroup(logGroup);
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: props.containerImage
      ? 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and ECR GetAuthorizationToken (image pull) support no resource-level permissions.'
      : 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions.',
  });
  return { role, logGroup };
}
