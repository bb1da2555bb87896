/**
 * DataCapture: sampled requests and answers of the Lambda models, kept as JSON Lines under
 * captures/<model>/<version>/<yyyy-mm-dd>/ in the model store (as SageMaker's data capture does for
 * endpoints). The function writes each sampled record as one line on stdout (no latency, cannot
 * fail the request); a subscription filter on its log group passes capture lines to a Firehose
 * stream, which decompresses them, extracts the messages, partitions by model and version, and
 * writes them in batches.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CAPTURE_FILTER_PATTERN } from '../lambda/observability/capture-sink.ts';
import { CAPTURE_ROOT } from '../lambda/core/capture-layout.ts';
import { acknowledgeLogGroup } from './check-acknowledgements.ts';
import type { InferenceFunction } from './inference-function.ts';
import type { ModelStore } from './model-store.ts';

export const CAPTURE_ERROR_PREFIX = 'capture-errors/';

export interface DataCaptureProps {
  readonly store: ModelStore;
  /** Functions serving at least one model with capture on; each gets a subscription filter. */
  readonly functions: readonly InferenceFunction[];
  /** Days captures are kept in the store. @default 90 */
  readonly retentionDays?: number;
  /** Seconds Firehose buffers before writing a file. @default 300 */
  readonly bufferSeconds?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** Encrypt Firehose's delivery log group (its error records may quote captures) with this key. @default - CloudWatch Logs' own encryption */
  readonly logEncryptionKey?: kms.IKey;
}

export class DataCapture extends Construct {
  readonly stream: firehose.CfnDeliveryStream;
  readonly role: iam.Role;
  readonly subscriptions: logs.SubscriptionFilter[];

  constructor(scope: Construct, id: string, props: DataCaptureProps) {
    super(scope, id);
    const { store } = props;
    const account = Stack.of(this).account;

    // Firehose writes captures and nothing else: put under captures/ and capture-errors/ only. The
    // L2 S3Bucket destination grants read and write on the whole bucket (models included), so the
    // stream is the L1 resource with this role.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'sts:ExternalId': account } } }),
      description: 'ModelShip data capture: Firehose writes capture files into the model store',
    });
    const objects = [store.bucket.arnForObjects(`${CAPTURE_ROOT}*`), store.bucket.arnForObjects(`${CAPTURE_ERROR_PREFIX}*`)];
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: objects }));
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'], resources: [store.bucket.bucketArn] }));
    // Listing, too, only where it writes: never the models' keys.
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [store.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${CAPTURE_ROOT}*`, `${CAPTURE_ERROR_PREFIX}*`] } } }));
    for (const pattern of [`${CAPTURE_ROOT}*`, `${CAPTURE_ERROR_PREFIX}*`]) {
      Validations.of(this.role).acknowledge({ id: store.objectsFinding(pattern), reason: `Firehose names its files (model, version, date, stream and time) under ${pattern}; it can write nowhere else in the store.` });
    }
    if (store.encryptionKey !== undefined) {
      store.encryptionKey.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');
    }
    const logGroup = new logs.LogGroup(this, 'DeliveryLogs', { retention: props.logRetentionDays ?? 30, encryptionKey: props.logEncryptionKey });
    acknowledgeLogGroup(logGroup);
    const logStream = new logs.LogStream(this, 'DeliveryLogStream', { logGroup });
    logGroup.grantWrite(this.role);

    this.stream = new firehose.CfnDeliveryStream(this, 'Stream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: store.bucket.bucketArn,
        roleArn: this.role.roleArn,
        prefix: `${CAPTURE_ROOT}!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: `${CAPTURE_ERROR_PREFIX}!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/`,
        // Dynamic partitioning needs at least 64 MiB of buffer; files are written at the interval.
        bufferingHints: { intervalInSeconds: props.bufferSeconds ?? 300, sizeInMBs: 64 },
        compressionFormat: 'UNCOMPRESSED',
        fileExtension: '.jsonl',
        encryptionConfiguration: store.encryptionKey === undefined ? { noEncryptionConfig: 'NoEncryption' } : { kmsEncryptionConfig: { awskmsKeyArn: store.encryptionKey.keyArn } },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: logGroup.logGroupName, logStreamName: logStream.logStreamName },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            // CloudWatch Logs delivers gzip-compressed batches of log events: unpack them, keep each
            // event's message (a capture line), read model and version from it, end each with \n.
            { type: 'Decompression', parameters: [{ parameterName: 'CompressionFormat', parameterValue: 'GZIP' }] },
            { type: 'CloudWatchLogProcessing', parameters: [{ parameterName: 'DataMessageExtraction', parameterValue: 'true' }] },
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: '{model: .model, version: (.version|tostring)}' },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
            { type: 'AppendDelimiterToRecord', parameters: [] },
          ],
        },
      },
    });
    this.stream.node.addDependency(this.role);

    store.bucket.addLifecycleRule({ id: 'ExpireCaptures', prefix: CAPTURE_ROOT, expiration: Duration.days(props.retentionDays ?? 90) });
    store.bucket.addLifecycleRule({ id: 'ExpireCaptureErrors', prefix: CAPTURE_ERROR_PREFIX, expiration: Duration.days(props.retentionDays ?? 90) });

    // CloudWatch Logs puts the filtered events into the stream with this role. (FirehoseDestination
    // from aws-logs-destinations needs an L2 stream; importing one adds an unused CIDR mapping that
    // CloudFormation's validation warns about, so the destination is this small object instead.)
    // Trusted only on behalf of the captured functions' log groups, not any log group in the account.
    const logsRole = new iam.Role(this, 'LogsRole', {
      assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', { conditions: { StringLike: { 'aws:SourceArn': props.functions.map((fn) => fn.logGroup.logGroupArn) } } }),
      description: 'ModelShip data capture: CloudWatch Logs sends capture lines to Firehose',
    });
    logsRole.addToPolicy(new iam.PolicyStatement({ actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'], resources: [this.stream.attrArn] }));
    const destination: logs.ILogSubscriptionDestination = { bind: () => ({ arn: this.stream.attrArn, role: logsRole }) };
    // Named by the function (not its position), so capturing another model leaves these in place.
    this.subscriptions = props.functions.map(
      (fn) =>
        new logs.SubscriptionFilter(this, `Subscription-${fn.node.id}`, {
          logGroup: fn.logGroup,
          destination,
          // Only capture lines ({"modelship": "capture", ...}); logs and metrics stay out.
          filterPattern: logs.FilterPattern.literal(CAPTURE_FILTER_PATTERN),
          // Not the former 'modelship-capture': on the upgrade that renamed these resources,
          // CloudFormation creates the new filter before deleting the old one by name.
          filterName: `modelship-capture-${fn.node.id}`,
        }),
    );
  }
}
