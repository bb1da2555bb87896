/**
 * ModelStore: the S3 bucket that holds the model repository (same layout as ./models, under a
 * prefix), secure by default, and the deployment that uploads ./models into it on `cdk deploy`.
 */
import { createHash } from 'node:crypto';
import { DefaultStackSynthesizer, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { acknowledgeFunction, acknowledgeGuard, acknowledgeLogGroup, skipCheckov } from './check-acknowledgements.ts';
import { createKey } from './keys.ts';

/** Where deployment manifests live, under the repository prefix (no model is named so: names start with a letter or digit). */
export const MANIFEST_FOLDER = '.modelship/manifests/';

/**
 * The largest pin (JSON characters) that travels in a function's environment itself; a larger one
 * goes to a deployment manifest. Lambda allows 4 KB of environment in all; MODEL_NAMES of a
 * group of ten long names takes about 650 characters of it.
 */
export const PIN_ENVIRONMENT_LIMIT = 2048;

export interface ModelStoreProps {
  /** Local model repository uploaded on deploy. @default - nothing uploaded */
  readonly modelsDir?: string;
  /** Key prefix the repository lives under. @default 'models/' */
  readonly prefix?: string;
  /** Encrypt with a customer managed KMS key instead of S3-managed keys. @default false */
  readonly kmsEncryption?: boolean;
  /** Days before a replaced or deleted model object is removed for good. @default 90 */
  readonly noncurrentVersionDays?: number;
  /** Keep the bucket (and its log bucket) when the stack is deleted. @default true */
  readonly retain?: boolean;
}

export class ModelStore extends Construct {
  /** The bucket holding the models. */
  readonly bucket: s3.Bucket;
  /** The bucket receiving the model bucket's server access logs. */
  readonly accessLogBucket: s3.Bucket;
  /** The key the bucket is encrypted with, when KMS encryption is on. */
  readonly encryptionKey?: kms.Key;
  /** Key prefix of the repository, ending in '/'. */
  readonly prefix: string;
  /** The upload of the local repository, when one was given. */
  readonly deployment?: s3deploy.BucketDeployment;

  constructor(scope: Construct, id: string, props: ModelStoreProps = {}) {
    super(scope, id);
    const prefix = props.prefix ?? 'models/';
    if (!prefix.endsWith('/') || prefix.startsWith('/')) throw new Error(`ModelStore prefix must end with "/" and not start with one, got "${prefix}"`);
    this.prefix = prefix;
    const removalPolicy = props.retain ?? true ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      // Versioned, so a deleted or overwritten access log stays recoverable for 30 days.
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy,
    });
    const selfLogging = 'This bucket is the access-log destination of the model bucket; logging it to itself would loop.';
    Validations.of(this.accessLogBucket).acknowledge({ id: 'AwsSolutions-S1', reason: selfLogging });
    acknowledgeGuard(this.accessLogBucket, 's3_bucket_logging_enabled_check', selfLogging);
    skipCheckov(this.accessLogBucket, 'CKV_AWS_18', selfLogging);
    acknowledgeGuard(
      this.accessLogBucket,
      's3_bucket_default_encryption_kms_check',
      'S3 server access logs can be delivered only to a bucket encrypted with S3-managed keys (SSE-S3); S3 does not write them into an SSE-KMS bucket.',
    );

    if (props.kmsEncryption) {
      this.encryptionKey = createKey(this, 'Key', { description: 'ModelShip model store', removalPolicy });
    }
    this.bucket = new s3.Bucket(this, 'Resource', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: props.kmsEncryption ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: props.kmsEncryption ? true : undefined,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'model-store/',
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 90), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      removalPolicy,
    });

    // Both buckets send their object events to EventBridge: batch inputs written under batch/input/
    // start jobs that way, and deletions of models or access logs can be watched. Set on the bucket
    // resource itself rather than through aws-cdk-lib's eventBridgeEnabled, whose custom resource
    // (a Lambda function and its role) would set the same switch at deploy.
    for (const bucket of [this.bucket, this.accessLogBucket]) {
      (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
      acknowledgeGuard(
        bucket,
        's3_bucket_object_lock_enabled_check',
        'No Object Lock: it keeps objects unchanged for a retention period, while the lifecycle rules here expire replaced model versions (modelship:noncurrentVersionDays), captures (captureRetentionDays) and access logs (365 days) on schedule. Versioning keeps overwritten and deleted objects for those windows.',
      );
    }
    if (!props.kmsEncryption) {
      acknowledgeGuard(
        this.bucket,
        's3_bucket_default_encryption_kms_check',
        'Encrypted with S3-managed keys (SSE-S3) by default; modelship:storeEncryption=kms encrypts the model store with a customer managed key instead (and this control passes).',
      );
    }

    if (props.modelsDir !== undefined) {
      this.deployment = new s3deploy.BucketDeployment(this, 'Upload', {
        sources: [s3deploy.Source.asset(props.modelsDir)],
        destinationBucket: this.bucket,
        destinationKeyPrefix: prefix,
        // Versions removed from ./models stay addressable in the store until deleted there.
        prune: false,
        retainOnDelete: true,
        memoryLimit: 1024,
      });
      // The upload handler is a stack-level singleton that aws-cdk-lib creates and owns.
      for (const handler of Stack.of(this).node.children.filter((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'))) {
        acknowledgeDeploymentHandler(handler, this.bucket, this.encryptionKey !== undefined);
      }
    }
  }

  /**
   * The environment that pins what a function serves, {"<name>/<version>": sha256, ...}: the pin
   * itself (MODEL_SHA256S) while it is small, else a deployment manifest written into the store
   * with the models, named by its own sha256, whose path and sha256 alone travel in the
   * environment (MODEL_MANIFEST, MODEL_MANIFEST_SHA256). Every version stays pinned either way.
   * The grantee may read that one object; `dependent` is deployed after the upload that writes it.
   */
  pinEnvironment(pin: Readonly<Record<string, string>>, grantee: iam.IGrantable, dependent: Construct): Record<string, string> {
    if (Object.keys(pin).length === 0) return {};
    const text = JSON.stringify(pin);
    if (text.length <= PIN_ENVIRONMENT_LIMIT) return { MODEL_SHA256S: text };
    if (this.deployment === undefined) throw new Error(`a pin of ${text.length} characters needs a deployment manifest, which the model store writes only when it uploads a repository (modelsDir)`);
    const sha256 = createHash('sha256').update(text).digest('hex');
    const path = `${MANIFEST_FOLDER}${sha256}.json`;
    if (!this.manifests.has(path)) {
      this.manifests.add(path);
      this.deployment.addSource(s3deploy.Source.data(path, text));
    }
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${this.prefix}${path}`)] });
    this.encryptionKey?.grantDecrypt(grantee);
    dependent.node.addDependency(this.deployment);
    return { MODEL_MANIFEST: path, MODEL_MANIFEST_SHA256: sha256 };
  }

  private readonly manifests = new Set<string>();

  /** The key prefix of one model's objects. */
  modelPrefix(model: string): string {
    return `${this.prefix}${model}/`;
  }

  /**
   * Grants read access to one model's objects only: GetObject under its prefix and ListBucket
   * limited to that prefix (bucket.grantRead would allow every GetBucket and List action).
   */
  grantReadModel(grantee: iam.IGrantable, model: string): iam.Grant {
    const modelPrefix = this.modelPrefix(model);
    const read = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${modelPrefix}*`)] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${modelPrefix}*`] } },
    });
    this.encryptionKey?.grantDecrypt(grantee);
    return read;
  }

  /** The finding id cdk-nag gives a grant on one model's objects, for acknowledging it (in the stack of `scope`). */
  modelObjectsFinding(model: string, scope: Construct = this): string {
    return this.objectsFinding(`${this.modelPrefix(model)}*`, scope);
  }

  /**
   * The finding id cdk-nag gives a grant on the objects matching a key pattern of this bucket, as
   * seen from the stack of `scope`: the bucket's logical id there, or in a nested stack the
   * parameter that carries its ARN in (named by aws-cdk-lib after the bucket's unique id).
   */
  objectsFinding(keyPattern: string, scope: Construct = this): string {
    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    const home = Stack.of(this);
    const arn = Stack.of(scope) === home ? `${home.resolve(home.getLogicalId(cfnBucket)) as string}.Arn` : `referenceto${Names.uniqueId(cfnBucket)}Arn`;
    return `AwsSolutions-IAM5[Resource::<${arn}>/${keyPattern}]`;
  }
}

/**
 * cdk-nag findings on the BucketDeployment upload handler, a deploy-time custom resource whose role
 * aws-cdk-lib writes; each finding is named exactly, with why it is acceptable.
 */
function acknowledgeDeploymentHandler(handler: Construct, bucket: s3.Bucket, kmsEncrypted: boolean): void {
  const stack = Stack.of(handler);
  const bucketId = stack.resolve(stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)) as string;
  const v = Validations.of(handler);
  const why = 'BucketDeployment (aws-cdk-lib) writes this role for its deploy-time upload handler';
  v.acknowledge({ id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: `${why}: the managed basic execution policy lets it write its own logs.` });
  for (const action of ['s3:GetBucket*', 's3:GetObject*', 's3:List*']) {
    v.acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: `${why}: it reads the deployment asset from the CDK asset bucket.` });
  }
  v.acknowledge({ id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-<AWS::AccountId>-<AWS::Region>/*]`, reason: `${why}: asset object keys are content hashes, known only at deploy.` });
  for (const action of ['s3:Abort*', 's3:DeleteObject*']) {
    v.acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: `${why}: it uploads (and aborts multipart uploads) into the model store; prune is off, so it deletes nothing.` });
  }
  v.acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`, reason: `${why}: it writes the model repository's objects, whose keys come from ./models.` });
  if (kmsEncrypted) {
    for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
      v.acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason: `${why}: writing into the KMS-encrypted model store needs the key's encrypt actions, limited to that one key.` });
    }
  }
  const runtime = 'aws-cdk-lib pins the Python runtime of the BucketDeployment handler and updates it with the library';
  v.acknowledge({ id: 'AwsSolutions-L1', reason: `${runtime}; it runs only during deploys.` });
  v.acknowledge({ id: 'Serverless-LambdaLatestVersion', reason: `${runtime}; it runs only during deploys.` });
  v.acknowledge({ id: 'Serverless-LambdaDLQ', reason: 'The BucketDeployment handler is a CloudFormation custom resource invoked by the deploy, which reports its failures.' });
  v.acknowledge({ id: 'Serverless-LambdaTracing', reason: 'The BucketDeployment handler runs only during deploys, off the request path; its code and settings belong to aws-cdk-lib.' });
  acknowledgeFunction(handler as lambda.Function, { noDeadLetterQueue: 'The BucketDeployment handler is a CloudFormation custom resource invoked by the deploy, which reports its failures.' });
  const logGroup = handler.node.tryFindChild('LogGroup');
  if (logGroup !== undefined) acknowledgeLogGroup(logGroup as logs.ILogGroup);
}
