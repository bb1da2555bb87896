/** The dead-letter queue of deliveries that are not SQS queues (Lambda's asynchronous invocations, EventBridge targets, SNS subscriptions). */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledgeQueue } from './check-acknowledgements.ts';

/**
 * Encrypted (SSE-SQS), TLS only, messages kept 14 days; its redrive-allow policy is denyAll, since no
 * SQS queue sends to it. `deliveredBy` names what does, for the acknowledgement's reason.
 */
export function createDeadLetterQueue(scope: Construct, id: string, deliveredBy: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
  });
  acknowledgeQueue(queue, { deadLetterQueueOf: deliveredBy });
  return queue;
}
