/**
 * What serves the models: their functions (or SageMaker endpoints), the API in front of them, their
 * alarms and dashboard, and their delivery. Composed in the main stack for a small repository, or
 * spread over nested stacks for a large one (modelship:modelStacks), each stack holding its share
 * of the models whole: functions, API, alarms and dashboard together, so nothing about one model
 * crosses stacks but the store, the alarm topic and the shared API key and web ACL.
 *
 * A model's stack is chosen by a hash of its name, never by its position among the others (a
 * function group has a stack of its own, named by the group), and construct ids name the model:
 * adding or removing a model leaves every other model's resources, logical ids and stack as they were.
 */
import { createHash } from 'node:crypto';
import { NestedStack, type NestedStackProps } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ModelDelivery, type DeploymentConfigs } from './delivery.ts';
import { GpuEndpoint } from './gpu-endpoint.ts';
import { InferenceApi } from './inference-api.ts';
import { InferenceFunction } from './inference-function.ts';
import type { DiscoveredModel } from './model-discovery.ts';
import type { ModelStore } from './model-store.ts';
import { InferenceMonitoring } from './monitoring.ts';
import type { ModelShipSettings } from './settings.ts';

/** The models of one Lambda function: one model, or a functionGroup's models. */
export interface FunctionModels {
  /** "model:<name>" for a model of its own, else the functionGroup. */
  readonly key: string;
  readonly models: readonly DiscoveredModel[];
}

/** The Lambda functions of a repository: one per model, except models that name a shared functionGroup. */
export function functionsOf(models: readonly DiscoveredModel[]): FunctionModels[] {
  const groups = new Map<string, DiscoveredModel[]>();
  for (const model of models.filter((m) => m.config.target === 'lambda')) {
    const key = model.config.functionGroup ?? `model:${model.name}`;
    groups.set(key, [...(groups.get(key) ?? []), model]);
  }
  return [...groups.entries()].map(([key, grouped]) => ({ key, models: grouped }));
}

/**
 * Which of `count` nested stacks a function (by its key) or a SageMaker model ("endpoint:<name>")
 * belongs to: a hash of the name alone, so it never changes while count does not.
 */
export function modelStackOf(key: string, count: number): number {
  return Number.parseInt(createHash('sha256').update(key).digest('hex').slice(0, 8), 16) % count;
}

/** The construct id of the nested stack with that index. */
export const modelStackId = (index: number): string => `Models${String(index).padStart(2, '0')}`;

/** The models of one nested stack. */
export interface ModelPlacement {
  /** The nested stack's construct id: ModelsNN, or Group<functionGroup>. */
  readonly id: string;
  readonly functions: readonly FunctionModels[];
  readonly endpointModels: readonly DiscoveredModel[];
}

/**
 * Which models go in which nested stack: each function group in a stack of its own (named by the
 * group: ten models weigh like ten, and two in one hashed stack would pass 500 resources), the
 * other functions and the SageMaker models over `count` stacks by modelStackOf. Empty stacks are
 * left out.
 */
export function placeModels(functions: readonly FunctionModels[], endpointModels: readonly DiscoveredModel[], count: number): ModelPlacement[] {
  const single = functions.filter((f) => f.key.startsWith('model:'));
  const placements: ModelPlacement[] = [];
  for (let index = 0; index < count; index++) {
    const mine = single.filter((f) => modelStackOf(f.key, count) === index);
    const endpoints = endpointModels.filter((m) => modelStackOf(`endpoint:${m.name}`, count) === index);
    if (mine.length + endpoints.length > 0) placements.push({ id: modelStackId(index), functions: mine, endpointModels: endpoints });
  }
  for (const group of functions.filter((f) => !f.key.startsWith('model:'))) placements.push({ id: `Group${group.key}`, functions: [group], endpointModels: [] });
  return placements;
}

export interface ModelServingProps {
  readonly functions: readonly FunctionModels[];
  /** Models served by SageMaker endpoints. */
  readonly endpointModels: readonly DiscoveredModel[];
  readonly store: ModelStore;
  readonly settings: ModelShipSettings;
  /** The inference image's build context. */
  readonly imageDirectory: string;
  /** The SageMaker image's build context, when endpointModels is not empty. */
  readonly sageMakerImageDirectory?: string;
  /** Models that capture: their functions' logs are encrypted with logKey. */
  readonly captured: readonly DiscoveredModel[];
  readonly logKey?: kms.IKey;
  /** The alarm topic. @default - the monitoring creates one */
  readonly topic?: sns.ITopic;
  /** The API key shared by every API (apiKey mode). @default - the API creates one */
  readonly apiKey?: apigw.IApiKey;
  /** The web ACL shared by every API (waf). @default - the API creates one */
  readonly webAclArn?: string;
  /** Create the account's API Gateway CloudWatch role here. @default true */
  readonly cloudWatchRole?: boolean;
  /** The dashboard's opening text. @default - the stack's overview */
  readonly dashboardTitle?: string;
  /** The traffic-shifting configurations, shared by every stack of the deployment. */
  readonly deploymentConfigs: DeploymentConfigs;
}

/** The serving resources of some models, in one scope. */
export class ModelServing {
  readonly functions: InferenceFunction[];
  readonly endpoints: GpuEndpoint[];
  readonly api: InferenceApi;
  readonly monitoring: InferenceMonitoring;
  readonly deliveries: ModelDelivery[];

  constructor(scope: Construct, props: ModelServingProps) {
    const { settings, store } = props;
    const captures = (models: readonly DiscoveredModel[]) => models.some((m) => props.captured.includes(m));
    this.functions = props.functions.map(
      ({ key, models }) =>
        new InferenceFunction(scope, key.startsWith('model:') ? `Model-${models[0].name}` : `Group-${key}`, {
          models,
          store,
          imageDirectory: props.imageDirectory,
          architecture: settings.architecture,
          logRetentionDays: settings.logRetentionDays,
          corsOrigins: settings.corsOrigins,
          snapStart: settings.snapStart,
          logEncryptionKey: captures(models) ? props.logKey : undefined,
        }),
    );
    this.endpoints = props.endpointModels.map(
      (model) => new GpuEndpoint(scope, `Endpoint-${model.name}`, { model, store, imageDirectory: props.sageMakerImageDirectory!, logRetentionDays: settings.logRetentionDays }),
    );
    this.api = new InferenceApi(scope, 'Api', {
      backends: [...this.functions, ...this.endpoints],
      authMode: settings.authMode,
      stageName: settings.stageName,
      throttleRateLimit: settings.throttleRateLimit,
      throttleBurstLimit: settings.throttleBurstLimit,
      apiKeyQuotaPerDay: settings.apiKeyQuotaPerDay,
      corsOrigins: settings.corsOrigins,
      waf: settings.waf,
      wafRateLimit: settings.wafRateLimit,
      logRetentionDays: settings.logRetentionDays,
      cloudWatchRole: props.cloudWatchRole,
      apiKey: props.apiKey,
      webAclArn: props.webAclArn,
    });
    this.monitoring = new InferenceMonitoring(scope, 'Monitoring', {
      api: this.api,
      functions: this.functions,
      endpoints: this.endpoints,
      alarmEmail: settings.alarmEmail,
      topic: props.topic,
      title: props.dashboardTitle,
    });
    // Each model function ships new versions through CodeDeploy, gated and watched by its alarms.
    this.deliveries = this.functions.map((fn) => {
      const alarms = fn.models.flatMap((m) => Object.values(this.monitoring.alarms.get(m.name) ?? {}));
      return new ModelDelivery(fn, 'Delivery', { fn, store, alarms, deploymentConfigs: props.deploymentConfigs, logRetentionDays: settings.logRetentionDays });
    });
  }
}

export interface ModelStackProps extends NestedStackProps, ModelServingProps {}

/** A nested stack serving its share of the models (see modelStackOf). */
export class ModelStack extends NestedStack {
  readonly serving: ModelServing;

  constructor(scope: Construct, id: string, props: ModelStackProps) {
    super(scope, id, { description: props.description });
    this.serving = new ModelServing(this, props);
  }
}
