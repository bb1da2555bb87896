/**
 * ModelStore: the S3 bucket that holds the model repository (same layout as ./models, under a
 * prefix), secure by default, and the deployment that uploads ./models into it on `cdk deploy`.
 */
import { DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

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
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log destination of the model bucket; logging it to itself would loop.',
    });

    if (props.kmsEncryption) {
      this.encryptionKey = new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'ModelShip model store', removalPolicy });
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
      // Batch inputs written under batch/input/ start jobs through EventBridge.
      eventBridgeEnabled: true,
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 90), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      removalPolicy,
    });

    // The bucket's EventBridge switch is set by a custom resource that aws-cdk-lib owns.
    for (const handler of Stack.of(this).node.children.filter((c) => c.node.id.startsWith('BucketNotificationsHandler'))) {
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: "aws-cdk-lib's bucket-notifications custom resource (which turns on EventBridge for the model store at deploy) uses the managed basic execution policy for its logs.",
      });
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

  /** The finding id cdk-nag gives a grant on one model's objects, for acknowledging it. */
  modelObjectsFinding(model: string): string {
    return this.objectsFinding(`${this.modelPrefix(model)}*`);
  }

  /** The finding id cdk-nag gives a grant on the objects matching a key pattern of this bucket. */
  objectsFinding(keyPattern: string): string {
    const logicalId = Stack.of(this).resolve(Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)) as string;
    return `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/${keyPattern}]`;
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
}
