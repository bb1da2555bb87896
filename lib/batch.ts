/**
 * BatchScoring: offline scoring next to real-time serving. A file dropped under
 * batch/input/<model>/ in the model store starts a job (S3 → EventBridge → splitter); the splitter
 * plans chunks and fans them out on SQS to workers that score them with the same image and core;
 * failed chunks are retried, then land in a dead-letter queue that pages on-call.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INPUT_PREFIX, OUTPUT_PREFIX } from '../lambda/jobs/batch-job.ts';
import { METRICS_SERVICE } from '../lambda/observability/metrics.ts';
import type { ImageArchitecture } from './image-context.ts';
import { deploymentPin, vcpusForMemory, type ServedModel } from './inference-function.ts';
import { acknowledgeFunction, acknowledgeQueue } from './check-acknowledgements.ts';
import { createDeadLetterQueue } from './dead-letter-queue.ts';
import { createFunctionRole } from './function-role.ts';
import type { ModelStore } from './model-store.ts';

export interface BatchScoringProps {
  readonly store: ModelStore;
  /** The models batch jobs may score: each at its live version, with the hashes it was deployed with. */
  readonly models: readonly ServedModel[];
  /** The inference image's build context (it holds batch.mjs beside index.mjs). */
  readonly imageDirectory: string;
  /** @default 'x86_64' */
  readonly architecture?: ImageArchitecture;
  /** Topic the dead-letter alarm notifies. */
  readonly alarmTopic: sns.ITopic;
  /** Lines per chunk. @default 5000 */
  readonly linesPerChunk?: number;
  /** Rows per inference batch. @default 256 */
  readonly batchSize?: number;
  /** Chunks scored at once. @default 20 */
  readonly maxConcurrency?: number;
  /** Worker memory; CPU scales with it. @default 3008 */
  readonly workerMemoryMb?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
}

export class BatchScoring extends Construct {
  readonly splitter: lambda.DockerImageFunction;
  readonly worker: lambda.DockerImageFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BatchScoringProps) {
    super(scope, id);
    const { store } = props;
    const architecture = props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const workerMemory = props.workerMemoryMb ?? 3008;
    const workerTimeout = Duration.minutes(10);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Marks it a dead-letter queue for SQS source queues (byQueue naming Chunks would be a reference cycle: Chunks names this queue).
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.ALLOW_ALL },
    });
    this.queue = new sqs.Queue(this, 'Chunks', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Longer than a worker may run, so a chunk in progress is not handed to a second worker.
      visibilityTimeout: Duration.seconds(workerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 3 },
    });
    for (const [queue, why] of [[this.deadLetterQueue, 'is the dead-letter queue of the chunk queue'], [this.queue, 'is a work queue whose dead-letter queue is DeadLetters']] as const) {
      Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: `This queue ${why}.` });
    }
    Validations.of(this.deadLetterQueue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is itself the dead-letter queue; its messages are kept 14 days and raise an alarm.' });
    acknowledgeQueue(this.deadLetterQueue);
    acknowledgeQueue(this.queue);

    // Pinned as the API's functions are: only the deployed models, at their live versions, verified
    // by the hashes recorded at deploy; never whatever is newest in the store.
    const pin = deploymentPin(props.models.map((m) => ({ ...m, sha256: m.sha256 === undefined ? undefined : { [m.liveVersion]: m.sha256[m.liveVersion] } })));
    const names = props.models.map((m) => m.name).join(',');
    const versions = JSON.stringify(Object.fromEntries(props.models.map((m) => [m.name, m.liveVersion])));
    // The names and live versions, when they fit the environment beside the pin; past that the pin
    // goes to a deployment manifest, which names the models and holds only their live versions.
    const pinned = (role: iam.IGrantable, scope: Construct) => {
      const env = store.pinEnvironment(pin, role, scope);
      return env.MODEL_MANIFEST !== undefined && names.length + versions.length > 1000 ? env : { MODEL_NAMES: names, MODEL_VERSIONS: versions, ...env };
    };
    const image = (cmd: string) => lambda.DockerImageCode.fromImageAsset(props.imageDirectory, { cmd: [cmd] });
    const environment = {
      MODEL_BUCKET: store.bucket.bucketName,
      MODEL_PREFIX: store.prefix,
      POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
      BATCH_LINES_PER_CHUNK: String(props.linesPerChunk ?? 5000),
      BATCH_SIZE: String(props.batchSize ?? 256),
    };
    const fn = (name: string, cmd: string, memoryMb: number, timeout: Duration, extra: Record<string, string>) => {
      const { role, logGroup } = createFunctionRole(this, {
        roleId: `${name}Role`,
        logsId: `${name}Logs`,
        description: `ModelShip batch ${name.toLowerCase()}`,
        logRetentionDays: props.logRetentionDays,
        containerImage: true,
      });
      // Batch jobs may score any model: read the whole repository, read inputs, write outputs.
      iam.Grant.addToPrincipal({ grantee: role, actions: ['s3:GetObject'], resourceArns: [store.bucket.arnForObjects(`${store.prefix}*`), store.bucket.arnForObjects(`${INPUT_PREFIX}*`), store.bucket.arnForObjects(`${OUTPUT_PREFIX}*`)] });
      iam.Grant.addToPrincipal({ grantee: role, actions: ['s3:PutObject'], resourceArns: [store.bucket.arnForObjects(`${OUTPUT_PREFIX}*`)] });
      iam.Grant.addToPrincipal({
        grantee: role,
        actions: ['s3:ListBucket'],
        resourceArns: [store.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${store.prefix}*`, `${OUTPUT_PREFIX}*`] } },
      });
      if (store.encryptionKey !== undefined) {
        store.encryptionKey.grantEncryptDecrypt(role);
        for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
          Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: 'Batch outputs are written into the KMS-encrypted model store: the key\'s encrypt actions, on that one key.' });
        }
      }
      for (const pattern of [`${store.prefix}*`, `${INPUT_PREFIX}*`, `${OUTPUT_PREFIX}*`]) {
        Validations.of(role).acknowledge({ id: store.objectsFinding(pattern), reason: `Batch jobs read the model repository and their inputs and write their outputs; object keys under ${pattern} come from users' files.` });
      }
      return new lambda.DockerImageFunction(this, name, {
        description: `ModelShip batch ${name.toLowerCase()}`,
        code: image(cmd),
        architecture,
        role,
        memorySize: memoryMb,
        timeout,
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: { ...environment, ...pinned(role, this), ORT_INTRA_OP_THREADS: String(vcpusForMemory(memoryMb)), ...extra },
      });
    };

    const splitterDlq = createDeadLetterQueue(this, 'SplitterDeadLetters', 'the splitter function (failed asynchronous invocations) and its EventBridge target');
    Validations.of(splitterDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the splitter function and its EventBridge target.' });
    Validations.of(splitterDlq).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is itself a dead-letter queue; it raises an alarm.' });
    this.splitter = fn('Splitter', 'batch.splitHandler', 1024, Duration.minutes(15), { CHUNK_QUEUE_URL: this.queue.queueUrl });
    this.queue.grantSendMessages(this.splitter);
    this.splitter.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SqsDestination(splitterDlq) });
    splitterDlq.grantSendMessages(this.splitter);
    (this.splitter.node.defaultChild as lambda.CfnFunction).deadLetterConfig = { targetArn: splitterDlq.queueArn };

    this.worker = fn('Worker', 'batch.chunkHandler', workerMemory, workerTimeout, {});
    this.worker.addEventSource(new sources.SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: Math.max(2, props.maxConcurrency ?? 20) }));
    const workerDlq = 'The worker is fed by SQS, whose redrive policy (3 receives, then DeadLetters) is its dead-letter path.';
    Validations.of(this.worker).acknowledge({ id: 'Serverless-LambdaDLQ', reason: workerDlq });
    acknowledgeFunction(this.worker, { noDeadLetterQueue: workerDlq });
    acknowledgeFunction(this.splitter);
    Validations.of(this.worker).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason: 'SQS event source mappings take no on-failure destination; failed chunks go to the queue\'s dead-letter queue after 3 receives, with an alarm.',
    });

    this.rule = new events.Rule(this, 'InputCreated', {
      description: 'A batch input file was written under batch/input/<model>/',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [store.bucket.bucketName] }, object: { key: [{ prefix: INPUT_PREFIX }] } },
      },
      targets: [new targets.LambdaFunction(this.splitter, { retryAttempts: 2, deadLetterQueue: splitterDlq })],
    });

    const depth = (queue: sqs.Queue) => queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' });
    this.deadLetterAlarm = new cloudwatch.MathExpression({
      expression: 'chunks + splits',
      usingMetrics: { chunks: depth(this.deadLetterQueue), splits: depth(splitterDlq) },
      period: Duration.minutes(1),
    }).createAlarm(this, 'DeadLetterAlarm', {
      alarmDescription: 'Batch prediction: chunks or jobs failed after retries and are in a dead-letter queue; their rows have no output yet. Check first: the worker and splitter logs for "batch chunk failed" with the cause; fix it, then redrive the dead-letter queue (aws sqs start-message-move-task) to finish the jobs.',
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new actions.SnsAction(props.alarmTopic));
  }
}
