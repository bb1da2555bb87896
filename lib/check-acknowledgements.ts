/**
 * Findings of the deploy checkers (cfn-guard's Control Tower controls, checkov) where a rule does
 * not fit ModelShip, acknowledged next to the construct they concern, each with its reason. The
 * reasons several constructs share are written once here. cfn-guard findings are acknowledged the
 * way cdk-nag's are (`Validations.of(c).acknowledge`, read at synth); checkov reads skips from the
 * resource's template Metadata (`checkov: skip: [{id, comment}]`).
 */
import { CfnResource, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { guardFinding } from './guard-checks.ts';

/** Acknowledges a cfn-guard finding (by the guard rule's name) on a construct and everything under it. */
export function acknowledgeGuard(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: guardFinding(rule), reason });
}

/** Skips a checkov check on a construct's CloudFormation resource (itself, or its default child), with the reason in the template. */
export function skipCheckov(scope: IConstruct, id: string, reason: string): void {
  const resource = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (resource === undefined || !CfnResource.isCfnResource(resource)) throw new Error(`${scope.node.path}: no CloudFormation resource to skip checkov ${id} on`);
  const current = (resource.getMetadata('checkov') ?? {}) as { skip?: { id: string; comment: string }[] };
  resource.addMetadata('checkov', { ...current, skip: [...(current.skip ?? []).filter((s) => s.id !== id), { id, comment: reason }] });
}

export const OUTSIDE_VPC =
  "Outside a VPC: ModelShip's functions call only AWS APIs (S3, CloudWatch, X-Ray, SQS, Lambda, SageMaker Runtime), IAM-signed over TLS, and reach no resource inside a VPC; a VPC would add NAT gateway or interface endpoint charges per Availability Zone and network set-up to cold starts without protecting anything more.";
export const ENVIRONMENT_KEY =
  "Lambda encrypts environment variables at rest with its AWS managed key; ModelShip's hold model names, versions, hashes and resource names, never secrets, so a customer managed key would add cost and a key policy without protecting a secret.";
export const NO_RESERVED_CONCURRENCY =
  "No reserved concurrency unless a model's config.json sets reservedConcurrency: reserving some for every function would cut the account's pool (1,000 by default, 100 of it never reservable) into fixed slices and fail deploys of many models. What bounds each function's load is the API stage's throttling (inference), the SQS event source's maximum concurrency (batch workers) or its trigger (a deploy, a schedule, a batch upload).";
export const SYNCHRONOUS_INVOKE = 'Invoked synchronously (by API Gateway), so a failure is answered to the caller; a dead-letter queue only receives failed asynchronous invocations.';

/**
 * The findings every ModelShip function shares: outside a VPC (guard CT.LAMBDA.PR.3, checkov
 * CKV_AWS_117), its environment under Lambda's own key (CKV_AWS_173), no reserved concurrency unless
 * configured (CKV_AWS_115), and, when it has no dead-letter queue, why none fits (CKV_AWS_116).
 */
export function acknowledgeFunction(fn: lambda.IFunction, options: { readonly noDeadLetterQueue?: string } = {}): void {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  acknowledgeGuard(fn, 'lambda_inside_vpc_check', OUTSIDE_VPC);
  skipCheckov(cfn, 'CKV_AWS_117', OUTSIDE_VPC);
  skipCheckov(cfn, 'CKV_AWS_173', ENVIRONMENT_KEY);
  if (cfn.reservedConcurrentExecutions === undefined) skipCheckov(cfn, 'CKV_AWS_115', NO_RESERVED_CONCURRENCY);
  if (cfn.deadLetterConfig === undefined) {
    if (options.noDeadLetterQueue === undefined) throw new Error(`${fn.node.path}: a function without a dead-letter queue must say why (noDeadLetterQueue)`);
    skipCheckov(cfn, 'CKV_AWS_116', options.noDeadLetterQueue);
  }
}

export const LOGS_AWS_KEYS =
  "CloudWatch Logs encrypts this log group at rest with keys it manages. A customer managed key is opt-in (modelship:logEncryption=kms) and applies to the log groups that carry captured requests and answers; the others hold operational logs only (ModelShip never logs request or response bodies).";

/**
 * A log group's findings, from its own settings: without a KMS key (guard CT.CLOUDWATCH.PR.3,
 * checkov CKV_AWS_158), and kept under a year (guard CT.CLOUDWATCH.PR.2), which the settings decide.
 */
export function acknowledgeLogGroup(logGroup: logs.ILogGroup): void {
  const cfn = logGroup.node.defaultChild as logs.CfnLogGroup;
  if (cfn.kmsKeyId === undefined) {
    acknowledgeGuard(logGroup, 'cloudwatch_log_group_encrypted_check', LOGS_AWS_KEYS);
    skipCheckov(cfn, 'CKV_AWS_158', LOGS_AWS_KEYS);
  }
  const days = cfn.retentionInDays;
  if (days !== undefined && days < 365) {
    acknowledgeGuard(
      logGroup,
      'cloudwatch_log_group_retention_period_check',
      `Kept ${days} days, as modelship:logRetentionDays says (default 30): operational logs whose storage grows with traffic. Set it to 365 or more where a one-year retention policy applies, and this control passes.`,
    );
  }
}

export const SQS_MANAGED_KEYS =
  'Encrypted at rest with SQS-managed keys (SSE-SQS, SqsManagedSseEnabled), which this check does not count: it accepts only a KMS key. The queue holds pointers to files in the model store or failed-event records, and the AWS managed KMS key for SQS would refuse the EventBridge, SNS and Lambda deliveries into the dead-letter queues.';

/**
 * A queue's findings: SQS-managed encryption (checkov CKV_AWS_27) and, for a dead-letter queue of
 * deliveries that are not SQS queues (whose redrive-allow policy is denyAll), why cfn-guard's
 * CT.SQS.PR.1 does not see it as the dead-letter queue it is.
 */
export function acknowledgeQueue(queue: sqs.IQueue, options: { readonly deadLetterQueueOf?: string } = {}): void {
  skipCheckov(queue, 'CKV_AWS_27', SQS_MANAGED_KEYS);
  if (options.deadLetterQueueOf !== undefined) {
    acknowledgeGuard(
      queue,
      'sqs_dlq_check',
      `The dead-letter queue of ${options.deadLetterQueueOf}, none of them an SQS queue, so its redrive-allow policy is denyAll: no queue may move messages into it. The control counts a queue as a dead-letter queue only when that policy admits queues (allowAll or byQueue).`,
    );
  }
}
