/**
 * InferenceFunction: a Lambda function (container image, CPU) serving one model, or a few small
 * ones sharing a function, from the model store; published as a version behind a `live` alias that
 * the API calls.
 */
import { Annotations, Duration, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ModelConfig } from '../lambda/core/config.ts';
import { MetricName, METRICS_NAMESPACE, METRICS_SERVICE, modelDimensions } from '../lambda/observability/metrics.ts';
import type { ImageArchitecture } from './image-context.ts';
import { acknowledgeFunction, SYNCHRONOUS_INVOKE } from './check-acknowledgements.ts';
import { createFunctionRole } from './function-role.ts';
import type { ModelStore } from './model-store.ts';

/** Defaults for every function, in one place. */
export const FUNCTION_DEFAULTS = {
  memorySizeMb: 2048,
  timeoutSeconds: 30,
  ephemeralStorageMb: 512,
  logRetentionDays: 30,
} as const;

/** Lambda gives a function one full vCPU per 1769 MB of memory, up to 6. */
export const vcpusForMemory = (memoryMb: number): number => Math.min(6, Math.max(1, Math.ceil(memoryMb / 1769)));

export interface ServedModel {
  readonly name: string;
  /** The version the live alias serves. */
  readonly liveVersion: number;
  readonly config: ModelConfig;
  /** sha256 of each version's model file at deploy. @default - not verified at load */
  readonly sha256?: Readonly<Record<number, string>>;
  /** sha256 of config.json at deploy ("none" without one). @default - not verified at load */
  readonly configSha256?: string;
  /** Digest of each version's side files at deploy (tokenizer, preprocessing, HF config). @default - not verified at load */
  readonly filesSha256?: Readonly<Record<number, string>>;
  /** A text model (its live version carries a tokenizer.json): the API gives it the OpenAI/Cohere-compatible routes under /openai/{name}/v1. @default false */
  readonly takesText?: boolean;
  /** An image embedding model: the API gives it the OpenAI-compatible /v1/embeddings (image items) under /openai/{name}/v1. @default false */
  readonly embedsImages?: boolean;
}

/**
 * The pin for the runtime: what was deployed, {"<name>/<version>": sha256} of every version served,
 * {"<name>/<version>/files": digest} of their side files and {"<name>/config.json": sha256}. The
 * runtime serves only those versions, with that config. Every version is in it, however many.
 */
export function deploymentPin(models: readonly ServedModel[]): Record<string, string> {
  const configs = models.filter((m) => m.configSha256 !== undefined).map((m) => [`${m.name}/config.json`, m.configSha256!] as const);
  const files = (m: ServedModel, v: string | number) => (m.filesSha256?.[Number(v)] === undefined ? [] : [[`${m.name}/${v}/files`, m.filesSha256[Number(v)]] as const]);
  const versions = models.flatMap((m) => Object.entries(m.sha256 ?? {}).flatMap(([v, hash]) => [[`${m.name}/${v}`, hash] as const, ...files(m, v)]));
  if (versions.length === 0) return {};
  return Object.fromEntries([...versions, ...configs]);
}

/** MODEL_SHA256S: the pin itself in the environment (SageMaker models, and tests). */
export function sha256Environment(models: readonly ServedModel[]): Record<string, string> {
  const pin = deploymentPin(models);
  return Object.keys(pin).length === 0 ? {} : { MODEL_SHA256S: JSON.stringify(pin) };
}

/** Lambda's limit on a function's description. */
const DESCRIPTION_LIMIT = 256;

/**
 * A description naming the models, within `limit` characters: as many names as fit, then how many
 * more ("and 7 more"). Lambda refuses a description over 256 characters, which a function group of
 * ten models passed.
 */
export function describeModels(prefix: string, names: readonly string[], limit = DESCRIPTION_LIMIT): string {
  const all = `${prefix}${names.join(', ')}`;
  if (all.length <= limit) return all;
  for (let shown = names.length - 1; shown >= 0; shown--) {
    const text = `${prefix}${names.slice(0, shown).join(', ')}${shown > 0 ? ', ' : ''}and ${names.length - shown} more`;
    if (text.length <= limit) return text;
  }
  return `${prefix}${names.length} models`.slice(0, limit);
}

export interface InferenceFunctionProps {
  /** The models this function serves: usually one; small models may share. */
  readonly models: readonly ServedModel[];
  readonly store: ModelStore;
  /** The image's build context (see stageImageContext). */
  readonly imageDirectory: string;
  /** @default 'x86_64' */
  readonly architecture?: ImageArchitecture;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** Origins the handler answers CORS for. @default - CORS off */
  readonly corsOrigins?: string[];
  /** Encrypt the function's log group with this key (its logs carry captured payloads). @default - CloudWatch Logs' own encryption */
  readonly logEncryptionKey?: kms.IKey;
  /** SnapStart for models whose config.json does not set `snapStart` (modelship:snapStart). @default false */
  readonly snapStart?: boolean;
}

/** Regions without Lambda SnapStart (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html, "Supported Regions"). */
export const SNAPSTART_UNSUPPORTED_REGIONS: readonly string[] = ['ap-southeast-6', 'ap-east-2'];

/**
 * Whether a function serving these models runs with SnapStart, or why it cannot. Each model's
 * config.json `snapStart` wins over the stack's default; models sharing a function must agree. The
 * combinations Lambda refuses (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html,
 * "Supported features and limitations": provisioned concurrency, Amazon EFS, ephemeral storage over
 * 512 MB) fail synth here, naming the setting to change, instead of failing the deploy. ModelShip
 * functions mount no EFS.
 */
export function resolveSnapStart(models: readonly ServedModel[], stackDefault: boolean, ephemeralStorageMb: number, region: string): boolean {
  const wanted = models.map((m) => ({ name: m.name, on: m.config.snapStart ?? stackDefault, own: m.config.snapStart !== undefined }));
  const on = wanted.filter((w) => w.on);
  if (on.length === 0) return false;
  if (on.length !== wanted.length) {
    const off = wanted.filter((w) => !w.on).map((w) => w.name);
    throw new Error(`models ${on.map((w) => w.name).join(', ')} ask for SnapStart but ${off.join(', ')}, sharing their function (functionGroup), do not: one function has one setting; set "snapStart" alike in their config.json files`);
  }
  const source = (name: string) => (wanted.find((w) => w.name === name)!.own ? `models/${name}/config.json "snapStart": true` : 'context modelship:snapStart=true');
  const provisioned = models.filter((m) => m.config.provisionedConcurrency !== undefined);
  if (provisioned.length > 0) {
    const m = provisioned[0];
    throw new Error(`${source(m.name)} and "provisionedConcurrency": ${m.config.provisionedConcurrency} cannot go together: Lambda does not support SnapStart with provisioned concurrency; keep one (provisioned concurrency keeps environments initialized and billed; SnapStart resumes new ones from a snapshot)`);
  }
  if (ephemeralStorageMb > 512) {
    const m = models.find((x) => (x.config.ephemeralStorageMb ?? 512) > 512)!;
    throw new Error(`${source(m.name)} and "ephemeralStorageMb": ${ephemeralStorageMb} cannot go together: Lambda supports SnapStart only with up to 512 MB of ephemeral storage; lower ephemeralStorageMb to 512 or turn SnapStart off`);
  }
  if (!Token.isUnresolved(region) && SNAPSTART_UNSUPPORTED_REGIONS.includes(region)) {
    throw new Error(`${source(models[0].name)}: Lambda SnapStart is not offered in ${region}; deploy to another region or turn SnapStart off`);
  }
  return true;
}

/** A ModelShip metric of one model (namespace ModelShip, dimensions service and Model), whatever serves it. */
export function modelMetric(metricName: string, model: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: modelDimensions(model), ...props });
}

export class InferenceFunction extends Construct {
  readonly function: lambda.DockerImageFunction;
  /** The `live` alias on the published version: what the API invokes. */
  readonly alias: lambda.Alias;
  readonly logGroup: logs.LogGroup;
  readonly models: readonly ServedModel[];
  /** Whether SnapStart is on for the function's published versions. */
  readonly snapStart: boolean;

  constructor(scope: Construct, id: string, props: InferenceFunctionProps) {
    super(scope, id);
    if (props.models.length === 0) throw new Error('InferenceFunction needs at least one model');
    this.models = props.models;
    const configs = props.models.map((m) => m.config);
    // A shared function is sized for its most demanding model.
    const pick = (key: 'memorySizeMb' | 'timeoutSeconds' | 'ephemeralStorageMb', fallback: number) =>
      Math.max(...configs.map((c) => c[key] ?? fallback));
    const memorySizeMb = pick('memorySizeMb', FUNCTION_DEFAULTS.memorySizeMb);
    const reserved = configs.map((c) => c.reservedConcurrency).filter((v) => v !== undefined);
    const provisioned = configs.map((c) => c.provisionedConcurrency).filter((v) => v !== undefined);
    const names = props.models.map((m) => m.name);
    const ephemeralStorageMb = pick('ephemeralStorageMb', FUNCTION_DEFAULTS.ephemeralStorageMb);
    /** On published versions only: the live alias points at this deploy's published version. */
    this.snapStart = resolveSnapStart(props.models, props.snapStart ?? false, ephemeralStorageMb, Stack.of(this).region);

    const { role, logGroup } = createFunctionRole(this, {
      roleId: 'Role',
      logsId: 'Logs',
      description: describeModels('ModelShip inference function for ', names),
      logRetentionDays: props.logRetentionDays ?? FUNCTION_DEFAULTS.logRetentionDays,
      containerImage: true,
      logEncryptionKey: props.logEncryptionKey,
    });
    this.logGroup = logGroup;

    this.function = new lambda.DockerImageFunction(this, 'Resource', {
      role,
      description: describeModels('ModelShip inference: ', names),
      code: lambda.DockerImageCode.fromImageAsset(props.imageDirectory),
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: memorySizeMb,
      timeout: Duration.seconds(pick('timeoutSeconds', FUNCTION_DEFAULTS.timeoutSeconds)),
      ephemeralStorageSize: Size.mebibytes(ephemeralStorageMb),
      snapStart: this.snapStart ? lambda.SnapStartConf.ON_PUBLISHED_VERSIONS : undefined,
      reservedConcurrentExecutions: reserved.length > 0 ? reserved.reduce((a, b) => a + b, 0) : undefined,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        MODEL_BUCKET: props.store.bucket.bucketName,
        MODEL_PREFIX: props.store.prefix,
        MODEL_NAMES: names.join(','),
        // A single-model function is pinned to its live version, so each published function
        // version keeps serving the model version it was deployed with (canary and rollback).
        ...(props.models.length === 1 ? { MODEL_VERSION: String(props.models[0].liveVersion) } : {}),
        PRELOAD_MODELS: 'true',
        ...props.store.pinEnvironment(deploymentPin(props.models), role, this),
        ORT_INTRA_OP_THREADS: String(vcpusForMemory(memorySizeMb)),
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...(props.corsOrigins !== undefined ? { CORS_ORIGINS: props.corsOrigins.join(',') } : {}),
      },
    });
    for (const name of names) {
      props.store.grantReadModel(this.function, name);
      Validations.of(role).acknowledge({
        id: props.store.modelObjectsFinding(name, this),
        reason: `The function reads the objects of model ${name} only: every key under its own prefix (versions, config); model object keys are not known at synth.`,
      });
    }
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: 'API Gateway invokes the function synchronously; the caller gets the error. A dead-letter queue applies only to asynchronous invocations.',
    });
    acknowledgeFunction(this.function, { noDeadLetterQueue: SYNCHRONOUS_INVOKE });

    if (props.models.some((m) => m.config.shadow !== undefined)) {
      // Shadow copies run in asynchronous invocations of this function's own versions. A separate
      // policy (not the role's default one, which the function depends on) avoids a cycle.
      const shadow = new iam.Policy(this, 'ShadowInvoke', {
        statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${this.function.functionArn}:*`] })],
        roles: [role],
      });
      const stack = Stack.of(this);
      const fnId = stack.resolve(stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)) as string;
      Validations.of(shadow).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${fnId}.Arn>:*]`,
        reason: 'Shadowing invokes this same function asynchronously at the version that is running, which is published with each deploy.',
      });
    }

    if (this.snapStart) {
      Annotations.of(this.function).acknowledgeWarning('@aws-cdk/aws-lambda:snapStartRequirePublish', 'The live alias, which API Gateway and CodeDeploy use, points at the version this deploy publishes; $LATEST is never invoked.');
    }
    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.function.currentVersion,
      provisionedConcurrentExecutions: provisioned.length > 0 ? provisioned.reduce((a, b) => a + b, 0) : undefined,
    });
  }

  /** Lets a principal invoke the live alias. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.alias.grantInvoke(grantee);
  }

  /** A ModelShip metric of one served model. */
  metric(metricName: string, model: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return modelMetric(metricName, model, props);
  }

  /** Milliseconds in onnxruntime per request. @default p99 over 5 minutes */
  metricInferenceTime(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.inferenceTime, model, { statistic: 'p99', ...props });
  }

  /** Milliseconds to fetch a model and create its session. @default Maximum over 5 minutes */
  metricModelLoadTime(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.modelLoadTime, model, { statistic: 'Maximum', ...props });
  }

  /** Model loads that failed. @default Sum over 5 minutes */
  metricModelLoadFailures(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(MetricName.modelLoadFailures, model, { statistic: 'Sum', ...props });
  }

  /** Milliseconds from process start to ready, per cold start. @default p99 over 5 minutes */
  metricInitDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: MetricName.initDuration,
      dimensionsMap: { service: METRICS_SERVICE, function_name: this.function.functionName },
      statistic: 'p99',
      ...props,
    });
  }

  /** Cold starts, from Powertools' ColdStart metric. @default Sum over 5 minutes */
  metricColdStarts(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: 'ColdStart',
      dimensionsMap: { service: METRICS_SERVICE, function_name: this.function.functionName },
      statistic: 'Sum',
      ...props,
    });
  }
}
