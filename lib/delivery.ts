/**
 * ModelDelivery: safe shipping of a model function's new versions. Each `cdk deploy` that changes
 * the function (a new model version changes its MODEL_VERSION) publishes a version; CodeDeploy
 * shifts the `live` alias to it (canary or linear per the model's config, default 10% for 5
 * minutes) after a pre-traffic hook has passed the golden gate, and rolls back by itself when the
 * model's alarms fire.
 */
import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { acknowledgeFunction } from './check-acknowledgements.ts';
import { createFunctionRole } from './function-role.ts';
import { PROJECT_ROOT } from './image-context.ts';
import { describeModels, type InferenceFunction } from './inference-function.ts';
import type { ModelStore } from './model-store.ts';

export interface ModelDeliveryProps {
  readonly fn: InferenceFunction;
  readonly store: ModelStore;
  /** Where the traffic-shifting configurations come from (shared: an account holds at most 50 custom ones). */
  readonly deploymentConfigs: DeploymentConfigs;
  /** Alarms that roll a deployment back: the models' own. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** @default 30 */
  readonly logRetentionDays?: number;
}

/** A model's traffic shifting, from its config.json. */
export interface DeploymentSettings {
  readonly strategy: 'canary' | 'linear' | 'allAtOnce';
  readonly percent: number;
  readonly intervalMinutes: number;
}

/** CodeDeploy's predefined Lambda configurations, by strategy, percent and minutes. */
const PREDEFINED: Record<string, codedeploy.ILambdaDeploymentConfig> = {
  'canary-10-5': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
  'canary-10-10': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_10MINUTES,
  'canary-10-15': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_15MINUTES,
  'canary-10-30': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_30MINUTES,
  'linear-10-1': codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
  'linear-10-2': codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_2MINUTES,
  'linear-10-3': codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_3MINUTES,
  'linear-10-10': codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_10MINUTES,
};

/** CodeDeploy's quota of custom deployment configurations per account and region (not adjustable). */
export const CUSTOM_DEPLOYMENT_CONFIGS_PER_ACCOUNT = 50;

/**
 * The traffic-shifting configurations of a deployment, one per distinct setting, shared by every
 * model that uses it: CodeDeploy's predefined ones where a setting matches (the default, a 10%
 * canary for 5 minutes, among them), else one custom configuration in the given scope. An account
 * holds at most 50 custom ones, which one per model function passed at 50 functions.
 */
export class DeploymentConfigs {
  private readonly custom = new Map<string, codedeploy.LambdaDeploymentConfig>();
  private readonly scope: Construct;

  constructor(scope: Construct) {
    this.scope = scope;
    scope.node.addValidation({
      validate: () =>
        this.custom.size <= CUSTOM_DEPLOYMENT_CONFIGS_PER_ACCOUNT
          ? []
          : [`the models' config.json files ask for ${this.custom.size} different traffic shiftings (deployment: strategy, percent, intervalMinutes), past the ${CUSTOM_DEPLOYMENT_CONFIGS_PER_ACCOUNT} custom deployment configurations CodeDeploy allows per account; use fewer combinations (CodeDeploy's own: a 10% canary for 5, 10, 15 or 30 minutes, 10% linear every 1, 2, 3 or 10 minutes, all at once)`],
    });
  }

  configFor(settings: DeploymentSettings): codedeploy.ILambdaDeploymentConfig {
    if (settings.strategy === 'allAtOnce') return codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE;
    const key = `${settings.strategy}-${settings.percent}-${settings.intervalMinutes}`;
    const predefined = PREDEFINED[key];
    if (predefined !== undefined) return predefined;
    let config = this.custom.get(key);
    if (config === undefined) {
      const interval = Duration.minutes(settings.intervalMinutes);
      config = new codedeploy.LambdaDeploymentConfig(this.scope, `DeploymentConfig-${key}`, {
        trafficRouting:
          settings.strategy === 'canary'
            ? codedeploy.TrafficRouting.timeBasedCanary({ interval, percentage: settings.percent })
            : codedeploy.TrafficRouting.timeBasedLinear({ interval, percentage: settings.percent }),
      });
      this.custom.set(key, config);
    }
    return config;
  }
}

export class ModelDelivery extends Construct {
  readonly deploymentGroup: codedeploy.LambdaDeploymentGroup;
  readonly deploymentConfig: codedeploy.ILambdaDeploymentConfig;
  readonly preTrafficHook: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: ModelDeliveryProps) {
    super(scope, id);
    const { fn, store } = props;
    // A shared function ships on its first model's settings.
    this.deploymentConfig = props.deploymentConfigs.configFor(fn.models[0].config.deployment);

    const { role: hookRole, logGroup: hookLogs } = createFunctionRole(this, {
      roleId: 'HookRole',
      logsId: 'HookLogs',
      description: describeModels('ModelShip golden gate for ', fn.models.map((m) => m.name)),
      logRetentionDays: props.logRetentionDays,
    });
    this.preTrafficHook = new nodejs.NodejsFunction(this, 'PreTrafficHook', {
      description: describeModels('ModelShip pre-traffic golden gate for ', fn.models.map((m) => m.name)),
      entry: join(PROJECT_ROOT, 'lambda', 'entry', 'pre-traffic-hook.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(5),
      role: hookRole,
      logGroup: hookLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      projectRoot: PROJECT_ROOT,
      environment: {
        // The version being deployed: a new hook configuration comes with each new function version.
        TARGET_FUNCTION: fn.function.currentVersion.functionArn,
        MODEL_BUCKET: store.bucket.bucketName,
        MODEL_PREFIX: store.prefix,
        CHECKS: JSON.stringify(fn.models.map((m) => ({ model: m.name, version: m.liveVersion, threshold: m.config.goldenGate }))),
      },
      bundling: { format: nodejs.OutputFormat.ESM, target: 'node24', minify: true, banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    });
    fn.function.currentVersion.grantInvoke(hookRole);
    for (const model of fn.models) {
      store.grantReadModel(hookRole, model.name);
      Validations.of(hookRole).acknowledge({ id: store.modelObjectsFinding(model.name, this), reason: `The gate reads the golden file of model ${model.name}, under its own prefix only.` });
    }
    const noDlq = 'CodeDeploy invokes the hook; if the hook never reports, CodeDeploy times the hook out and fails the deployment, so no traffic shifts. Nothing is lost.';
    Validations.of(this.preTrafficHook).acknowledge({ id: 'Serverless-LambdaDLQ', reason: noDlq });
    acknowledgeFunction(this.preTrafficHook, { noDeadLetterQueue: noDlq });

    this.deploymentGroup = new codedeploy.LambdaDeploymentGroup(this, 'Resource', {
      alias: fn.alias,
      deploymentConfig: this.deploymentConfig,
      alarms: [...props.alarms],
      autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      preHook: this.preTrafficHook,
    });
    const stack = Stack.of(this);
    const hookId = stack.resolve(stack.getLogicalId(this.preTrafficHook.node.defaultChild as lambda.CfnFunction)) as string;
    Validations.of(this.deploymentGroup).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${hookId}.Arn>:*]`,
      reason: 'CodeDeploy (aws-cdk-lib\'s grant) may invoke any version of this deployment\'s own pre-traffic hook, which is republished with each deployment.',
    });
    Validations.of(this.deploymentGroup).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
      reason: 'CodeDeploy\'s documented service role policy for Lambda deployments: it shifts this alias and invokes this hook.',
    });
  }
}
