/**
 * GpuEndpoint: a model served by SageMaker instead of Lambda — a real-time endpoint on GPU
 * instances with autoscaling, or SageMaker Serverless — from a second image built on the same
 * inference core, plus the thin proxy function the API calls, so callers see the same /v2 API.
 */
import { join } from 'node:path';
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { captureModelPrefix } from '../lambda/core/capture-layout.ts';
import { sageMakerConfigSchema, sageMakerServerlessConfigSchema } from '../lambda/core/config.ts';
import { METRICS_NAMESPACE } from '../lambda/observability/metrics.ts';
import { acknowledgeFunction, skipCheckov, SYNCHRONOUS_INVOKE } from './check-acknowledgements.ts';
import { createFunctionRole } from './function-role.ts';
import { createKey } from './keys.ts';
import { PROJECT_ROOT } from './image-context.ts';
import { sha256Environment, type ServedModel } from './inference-function.ts';
import type { ModelStore } from './model-store.ts';

export interface GpuEndpointProps {
  /** The model; its config's target is "sagemaker" or "sagemaker-serverless". */
  readonly model: ServedModel;
  readonly store: ModelStore;
  /** The SageMaker image's build context (see stageSageMakerImageContext). */
  readonly imageDirectory: string;
  /** @default 30 */
  readonly logRetentionDays?: number;
}

/**
 * Instance families with local NVMe storage: SageMaker encrypts those volumes in hardware and
 * refuses a KmsKeyId for them.
 */
export const hasLocalNvme = (instanceType: string): boolean =>
  /^ml\.(g4dn|g5|g6|g6e|p3dn|p4d|p4de|p5|p5e|inf2|trn1|[cmr][5-7][a-z]*d)\./.test(instanceType);

export class GpuEndpoint extends Construct {
  readonly model: ServedModel;
  readonly serverless: boolean;
  readonly role: iam.Role;
  readonly key: kms.Key;
  readonly cfnModel: sagemaker.CfnModel;
  readonly endpointConfig: sagemaker.CfnEndpointConfig;
  readonly endpoint: sagemaker.CfnEndpoint;
  readonly scaling?: appscaling.ScalableTarget;
  /** The function the API invokes; it forwards to the endpoint. */
  readonly proxy: nodejs.NodejsFunction;
  readonly alias: lambda.Alias;
  readonly proxyLogGroup: logs.LogGroup;
  /** InferenceFunction-compatible view for the API: the models this backend serves. */
  readonly models: readonly ServedModel[];

  constructor(scope: Construct, id: string, props: GpuEndpointProps) {
    super(scope, id);
    const { model, store } = props;
    this.model = model;
    this.models = [model];
    this.serverless = model.config.target === 'sagemaker-serverless';
    const realtime = sageMakerConfigSchema.parse(model.config.sagemaker ?? {});
    const serverless = sageMakerServerlessConfigSchema.parse(model.config.sagemakerServerless ?? {});

    const image = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: props.imageDirectory,
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
    this.key = createKey(this, 'Key', { description: `ModelShip SageMaker endpoint for ${model.name}` });

    // Least privilege: pull this image, read this model's prefix, write this endpoint's logs and
    // ModelShip metrics, and (with data capture) write captures under this model's prefix.
    this.role = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `ModelShip SageMaker execution role for ${model.name}`,
    });
    image.repository.grantPull(this.role);
    store.grantReadModel(this.role, model.name);
    this.key.grantEncryptDecrypt(this.role);
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/sagemaker/Endpoints/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));
    this.role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': [METRICS_NAMESPACE, '/aws/sagemaker/Endpoints'] } },
    }));
    const capturePrefix = captureModelPrefix(model.name);
    Validations.of(this.role).acknowledge({
      id: store.modelObjectsFinding(model.name, this),
      reason: `SageMaker copies the objects of model ${model.name} only (every key under its own prefix) into /opt/ml/model.`,
    });
    if (realtime.dataCapturePercent !== undefined && !this.serverless) {
      this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [store.bucket.arnForObjects(`${capturePrefix}*`)] }));
      store.encryptionKey?.grantEncrypt(this.role);
      Validations.of(this.role).acknowledge({
        id: store.objectsFinding(`${capturePrefix}*`, this),
        reason: `Data capture writes objects named by SageMaker (date and time) under ${capturePrefix} only.`,
      });
    }

    this.cfnModel = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: {
        image: image.imageUri,
        mode: 'SingleModel',
        // The model's own prefix, uncompressed: SageMaker copies it to /opt/ml/model.
        modelDataSource: { s3DataSource: { s3Uri: `s3://${store.bucket.bucketName}/${store.modelPrefix(model.name)}`, s3DataType: 'S3Prefix', compressionType: 'None' } },
        environment: {
          MODEL_NAME: model.name,
          MODEL_VERSION: String(model.liveVersion),
          USE_GPU: this.serverless ? 'false' : 'true',
          PUBLISH_METRICS: 'cloudwatch',
          ...sageMakerPin(model),
          MAX_REQUEST_BYTES: String(model.config.maxRequestBytes ?? (this.serverless ? 4 * 1024 * 1024 : 25 * 1024 * 1024)),
          ...(realtime.maxConcurrency !== undefined ? { MAX_CONCURRENCY: String(realtime.maxConcurrency) } : {}),
        },
      },
    });
    this.cfnModel.node.addDependency(this.role);
    skipCheckov(
      this.cfnModel,
      'CKV_AWS_370',
      'No network isolation: the container publishes its metrics with cloudwatch:PutMetricData (PUBLISH_METRICS=cloudwatch), which an isolated container cannot reach. Its role allows only that, the image pull, its own log group, its model prefix and its capture prefix.',
    );

    const encryptVolume = this.serverless || !hasLocalNvme(realtime.instanceType);
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      kmsKeyId: encryptVolume ? this.key.keyArn : undefined,
      productionVariants: [
        this.serverless
          ? {
              variantName: 'AllTraffic',
              modelName: this.cfnModel.attrModelName,
              serverlessConfig: { memorySizeInMb: serverless.memorySizeMb, maxConcurrency: serverless.maxConcurrency, provisionedConcurrency: serverless.provisionedConcurrency },
            }
          : {
              variantName: 'AllTraffic',
              modelName: this.cfnModel.attrModelName,
              instanceType: realtime.instanceType,
              initialInstanceCount: realtime.initialInstanceCount,
              initialVariantWeight: 1,
            },
      ],
      dataCaptureConfig:
        realtime.dataCapturePercent !== undefined && !this.serverless
          ? {
              enableCapture: true,
              initialSamplingPercentage: realtime.dataCapturePercent,
              destinationS3Uri: `s3://${store.bucket.bucketName}/${capturePrefix}`,
              kmsKeyId: store.encryptionKey?.keyArn,
              captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
              captureContentTypeHeader: { jsonContentTypes: ['application/json'] },
            }
          : undefined,
    });
    if (!encryptVolume) {
      Validations.of(this.endpointConfig).acknowledge({
        id: 'ModelShipSageMaker-SageMakerEndpointConfigurationKMSKeyConfigured',
        reason: `${realtime.instanceType} has local NVMe storage, which SageMaker encrypts in hardware and for which it refuses a KmsKeyId.`,
      });
    }
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', { endpointConfigName: this.endpointConfig.attrEndpointConfigName });

    if (!this.serverless) {
      this.scaling = new appscaling.ScalableTarget(this, 'Scaling', {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        resourceId: `endpoint/${this.endpoint.attrEndpointName}/variant/AllTraffic`,
        scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        minCapacity: realtime.minInstanceCount,
        maxCapacity: realtime.maxInstanceCount,
      });
      this.scaling.node.addDependency(this.endpoint);
      if (realtime.scaleOn === 'gpu') {
        this.scaling.scaleToTrackMetric('GpuUtilization', {
          targetValue: realtime.targetGpuUtilizationPercent,
          customMetric: this.metricGpuUtilization({ statistic: 'Average' }),
          scaleInCooldown: Duration.minutes(5),
          scaleOutCooldown: Duration.minutes(1),
        });
      } else {
        this.scaling.scaleToTrackMetric('InvocationsPerInstance', {
          targetValue: realtime.targetInvocationsPerInstance,
          predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
          scaleInCooldown: Duration.minutes(5),
          scaleOutCooldown: Duration.minutes(1),
        });
      }
    }

    const { role: proxyRole, logGroup: proxyLogGroup } = createFunctionRole(this, {
      roleId: 'ProxyRole',
      logsId: 'ProxyLogs',
      description: `ModelShip proxy to the SageMaker endpoint of ${model.name}`,
      logRetentionDays: props.logRetentionDays,
    });
    this.proxyLogGroup = proxyLogGroup;
    proxyRole.addToPolicy(new iam.PolicyStatement({ actions: ['sagemaker:InvokeEndpoint'], resources: [this.endpoint.ref] }));
    this.proxy = new nodejs.NodejsFunction(this, 'Proxy', {
      description: `ModelShip API proxy to the SageMaker endpoint of ${model.name}`,
      entry: join(PROJECT_ROOT, 'lambda', 'entry', 'sagemaker-proxy.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(65),
      role: proxyRole,
      logGroup: this.proxyLogGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      projectRoot: PROJECT_ROOT,
      environment: { ENDPOINT_NAME: this.endpoint.attrEndpointName, MODEL_NAME: model.name },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node24',
        minify: true,
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
    this.alias = new lambda.Alias(this, 'Live', { aliasName: 'live', version: this.proxy.currentVersion });
    Validations.of(this.proxy).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: 'API Gateway invokes the proxy synchronously; the caller gets the error. A dead-letter queue applies only to asynchronous invocations.',
    });
    acknowledgeFunction(this.proxy, { noDeadLetterQueue: SYNCHRONOUS_INVOKE });
    this.acknowledgeExecutionRole();
  }

  private acknowledgeExecutionRole(): void {
    const v = Validations.of(this.role);
    v.acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken (image pull) supports no resource-level permissions, and cloudwatch:PutMetricData is limited by a namespace condition instead.' });
    v.acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*]`,
      reason: 'SageMaker names each endpoint log group /aws/sagemaker/Endpoints/<endpoint name> at creation; the name is not known before.',
    });
    v.acknowledge({ id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', reason: 'SageMaker encrypts the endpoint volume (and captures) with this endpoint\'s own key.' });
    v.acknowledge({ id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', reason: 'SageMaker re-encrypts data keys of this endpoint\'s own key.' });
  }

  /** A SageMaker metric of this endpoint's variant. */
  metric(metricName: string, namespace: 'AWS/SageMaker' | '/aws/sagemaker/Endpoints', props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace,
      metricName,
      dimensionsMap: { EndpointName: this.endpoint.attrEndpointName, VariantName: 'AllTraffic' },
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Microseconds the container took. @default p99 per minute */
  metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', 'AWS/SageMaker', { statistic: 'p99', ...props });
  }

  /** Microseconds SageMaker added around the container. @default p99 per minute */
  metricOverheadLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('OverheadLatency', 'AWS/SageMaker', { statistic: 'p99', ...props });
  }

  /** @default Sum per minute */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', 'AWS/SageMaker', { statistic: 'Sum', ...props });
  }

  /** @default Sum per minute */
  metricInvocation4XXErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation4XXErrors', 'AWS/SageMaker', { statistic: 'Sum', ...props });
  }

  /** @default Sum per minute */
  metricInvocation5XXErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', 'AWS/SageMaker', { statistic: 'Sum', ...props });
  }

  /** Percent, summed over GPUs. @default Average per minute */
  metricGpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('GPUUtilization', '/aws/sagemaker/Endpoints', { statistic: 'Average', ...props });
  }

  /** @default Maximum per minute */
  metricGpuMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('GPUMemoryUtilization', '/aws/sagemaker/Endpoints', { statistic: 'Maximum', ...props });
  }

  /** @default Average per minute */
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('CPUUtilization', '/aws/sagemaker/Endpoints', { statistic: 'Average', ...props });
  }

  /** @default Maximum per minute */
  metricMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('MemoryUtilization', '/aws/sagemaker/Endpoints', { statistic: 'Maximum', ...props });
  }
}

/** SageMaker's limit on one environment value of a model's container. */
const SAGEMAKER_ENVIRONMENT_VALUE_CHARS = 1024;

/**
 * MODEL_SHA256S for the endpoint's container: every version's hashes, within SageMaker's 1024
 * characters per environment value (about six versions). Past that synth stops, naming the fix,
 * rather than leave a version out of the pin.
 */
function sageMakerPin(model: ServedModel): Record<string, string> {
  const env = sha256Environment([model]);
  const length = env.MODEL_SHA256S?.length ?? 0;
  if (length > SAGEMAKER_ENVIRONMENT_VALUE_CHARS) {
    throw new Error(`model ${model.name}: the hashes of its ${Object.keys(model.sha256 ?? {}).length} versions take ${length} characters, past the ${SAGEMAKER_ENVIRONMENT_VALUE_CHARS} SageMaker allows in one environment value of an endpoint's container; move versions it no longer serves out of models/${model.name}/ (they stay in the model store), or serve it from Lambda`);
  }
  return env;
}
