/**
 * The ModelShip stack: the model store, one inference function per model (or per shared group),
 * the API in front of them, and the dashboard and alarms, composed from ./models and cdk.json
 * context.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CfnOutput, CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { BatchScoring } from './batch.ts';
import { DataCapture } from './data-capture.ts';
import { DriftDetection } from './drift-detection.ts';
import { DeploymentConfigs, type ModelDelivery } from './delivery.ts';
import type { GpuEndpoint } from './gpu-endpoint.ts';
import { hasSharpBinaries, PROJECT_ROOT, sharpInstallLine, stageImageContext, stageSageMakerImageContext, takesImagesOnDisk } from './image-context.ts';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { API_KEY_DESCRIPTION, apiGatewayAccountLogging, rateLimitWebAcl, type InferenceApi } from './inference-api.ts';
import { describeModels, type InferenceFunction } from './inference-function.ts';
import { functionsOf, ModelServing, ModelStack, placeModels } from './model-stacks.ts';
import { capturedLogsKey } from './log-encryption.ts';
import { discoverModels, stageModels, type DiscoveredModel } from './model-discovery.ts';
import { ModelStore } from './model-store.ts';
import { InferenceMonitoring } from './monitoring.ts';
import { readSettings, type ModelShipSettings } from './settings.ts';

/** The nested stacks whose API URLs the main stack outputs too (CloudFormation allows 200 outputs). */
const MAIN_STACK_URL_OUTPUTS = 150;

/** CloudFormation's limit on the resources of one stack. */
const RESOURCES_PER_STACK = 500;

export interface ModelShipStackProps extends StackProps {
  /** Settings; read from cdk.json context when absent. @default readSettings(this.node) */
  readonly settings?: ModelShipSettings;
  /** A staged image build context to use instead of staging one (tests). @default - staged under build/ */
  readonly imageDirectory?: string;
  /** A staged SageMaker image context to use instead of staging one (tests). @default - staged under build/ when a model targets SageMaker */
  readonly sageMakerImageDirectory?: string;
}

export class ModelShipStack extends Stack {
  readonly store: ModelStore;
  readonly functions: InferenceFunction[];
  readonly endpoints: GpuEndpoint[];
  /** The API, when the models are in this stack (modelship:modelStacks=0); else each nested stack has its own. */
  readonly api?: InferenceApi;
  /** The alarm topic and dashboard (with the models' alarms when they are in this stack). */
  readonly monitoring: InferenceMonitoring;
  readonly deliveries: ModelDelivery[];
  /** What serves the models: one for this stack, or one per nested stack. */
  readonly serving: ModelServing[];
  readonly batch?: BatchScoring;
  /** The key of the log groups that carry captured payloads, with modelship:logEncryption=kms. */
  readonly logKey?: kms.Key;
  readonly capture?: DataCapture;
  readonly drift?: DriftDetection;
  readonly models: DiscoveredModel[];

  constructor(scope: Construct, id: string, props: ModelShipStackProps = {}) {
    super(scope, id, props);
    const settings = props.settings ?? readSettings(this.node);
    const modelsDir = resolve(PROJECT_ROOT, settings.modelsDir);
    this.models = discoverModels(modelsDir);

    this.store = new ModelStore(this, 'ModelStore', {
      // Native models are uploaded with their conversion beside them: a function never converts at cold start.
      modelsDir: stageModels(modelsDir, this.models, join(PROJECT_ROOT, 'build')),
      kmsEncryption: settings.storeEncryption === 'kms',
      noncurrentVersionDays: settings.noncurrentVersionDays,
      retain: settings.retainModelStore,
    });

    const lambdaModels = this.models.filter((m) => m.config.target === 'lambda');
    // Drift is checked for models that capture (Lambda capture, or SageMaker data capture) and carry a baseline.
    const captured = lambdaModels.filter((m) => (m.config.capture?.percent ?? 0) > 0);
    const endpointCaptured = this.models.filter((m) => m.config.target === 'sagemaker' && m.config.sagemaker?.dataCapturePercent !== undefined);
    const watched = [...captured.filter((m) => m.baselineVersions.length > 0), ...endpointCaptured.filter((m) => m.baselineVersions.includes(m.liveVersion))];
    // Image models need sharp's native packages for the functions' architecture in the image.
    const imageModels = lambdaModels.filter((m) => m.versions.some((v) => takesImagesOnDisk(join(modelsDir, m.name, String(v)), m.config)));
    if (props.imageDirectory === undefined && imageModels.length > 0 && !hasSharpBinaries(settings.architecture)) {
      throw new Error(`image models (${imageModels.map((m) => m.name).join(', ')}) on ${settings.architecture} need sharp's native packages for that architecture, which npm did not install here (it installs this machine's own). Add them with: ${sharpInstallLine(settings.architecture)}`);
    }
    // The inference image also runs batch jobs and the drift job.
    const imageDirectory =
      lambdaModels.length === 0 && watched.length === 0 ? '' : props.imageDirectory ?? stageImageContext({ outDir: join(PROJECT_ROOT, 'build', `image-${settings.architecture}`), architecture: settings.architecture }).directory;

    // Logs that carry captured payloads may get a key of their own (modelship:logEncryption=kms).
    this.logKey = captured.length > 0 && settings.logEncryption === 'kms' ? capturedLogsKey(this) : undefined;
    // Models whose config targets SageMaker get an endpoint and a proxy function instead.
    const gpuModels = this.models.filter((m) => m.config.target !== 'lambda');
    const sageMakerImageDirectory =
      gpuModels.length === 0 ? undefined : (props.sageMakerImageDirectory ?? stageSageMakerImageContext(join(PROJECT_ROOT, 'build', 'image-sagemaker')).directory);
    const functions = functionsOf(this.models);
    // One traffic-shifting configuration per distinct setting, in this stack, for every model.
    const deploymentConfigs = new DeploymentConfigs(this);
    const serving = { store: this.store, settings, imageDirectory, sageMakerImageDirectory, captured, logKey: this.logKey, deploymentConfigs };

    if (settings.modelStacks === 0) {
      const main = new ModelServing(this, { ...serving, functions, endpointModels: gpuModels });
      this.serving = [main];
      this.api = main.api;
      this.monitoring = main.monitoring;
    } else {
      // The alarm topic, API key, web ACL and API Gateway's account logging role are shared by the
      // nested stacks; each nested stack holds its models whole (functions, API, alarms, dashboard).
      this.monitoring = new InferenceMonitoring(this, 'Monitoring', {
        functions: [],
        alarmEmail: settings.alarmEmail,
        title: '# ModelShip\nJobs of the whole stack (batch, drift). Each nested stack ModelsNN has a dashboard of its models.',
      });
      const apiKey = settings.authMode === 'apiKey' ? new apigw.ApiKey(this, 'ApiKey', { description: API_KEY_DESCRIPTION }) : undefined;
      const webAcl = settings.waf ? rateLimitWebAcl(this, 'WebAcl', settings.wafRateLimit) : undefined;
      const logging = apiGatewayAccountLogging(this);
      this.serving = [];
      const placements = placeModels(functions, gpuModels, settings.modelStacks);
      for (const placement of placements) {
        const names = [...placement.functions.flatMap((f) => f.models), ...placement.endpointModels].map((m) => m.name);
        const nested = new ModelStack(this, placement.id, {
          ...serving,
          functions: placement.functions,
          endpointModels: placement.endpointModels,
          topic: this.monitoring.topic,
          apiKey,
          webAclArn: webAcl?.attrArn,
          cloudWatchRole: false,
          // CloudFormation allows 1024 bytes of stack description; aws-cdk-lib checks 512 characters.
          description: describeModels('ModelShip models: ', names, 512),
          dashboardTitle: `# ModelShip ${placement.id}\nPer model: API traffic, errors and latency; the function behind it; model load and inference time. Alarms go to the stack's SNS topic.`,
        });
        // Stages log to CloudWatch only once the account's role is set.
        nested.node.addDependency(logging);
        this.serving.push(nested.serving);
        const url = { value: nested.serving.api.api.url, description: describeModels('Base URL of the inference API of ', names, 1024) };
        // Each nested stack outputs its API's URL; the main stack repeats them while CloudFormation's
        // 200 outputs per template leave room.
        new CfnOutput(nested, 'ApiUrl', url);
        if (placements.length <= MAIN_STACK_URL_OUTPUTS) new CfnOutput(this, `ApiUrl${placement.id}`, url);
      }
      if (apiKey !== undefined) new CfnOutput(this, 'ApiKeyId', { value: apiKey.keyId, description: 'aws apigateway get-api-key --include-value --api-key <id>' });
    }
    // CloudFormation refuses a stack of more than 500 resources; say which setting fixes it, before
    // aws-cdk-lib's own error (which names the stack only) at synthesis.
    const stacks: Stack[] = [this, ...this.serving.map((s) => Stack.of(s.api))].filter((stack, i, all) => all.indexOf(stack) === i);
    for (const stack of stacks) {
      stack.node.addValidation({
        validate: () => {
          const resources = stack.node.findAll().filter((c) => CfnResource.isCfnResource(c) && Stack.of(c) === stack).length;
          if (resources <= RESOURCES_PER_STACK) return [];
          const models = this.models.length;
          const suggested = 2 ** Math.ceil(Math.log2(Math.max(2, models / 3)));
          return [
            stack === this && settings.modelStacks > 0
              ? `the main stack would hold ${resources} resources, past CloudFormation's ${RESOURCES_PER_STACK}: its ${this.serving.length} nested stacks, and what stays in it per model (data capture subscriptions and drift alarms of models that capture); lower modelship:modelStacks (now ${settings.modelStacks}) if its stacks have room, or deploy the models as two applications (two model repositories)`
              : settings.modelStacks === 0
              ? `the stack would hold ${resources} resources for ${models} models, past CloudFormation's ${RESOURCES_PER_STACK}: spread the models over nested stacks with -c modelship:modelStacks=${suggested} (in cdk.json to keep it; about one per 3 models, room to grow)`
              : stack.node.id.startsWith('Group')
                ? `function group ${stack.node.id.slice('Group'.length)} would hold ${resources} resources in its nested stack, past CloudFormation's ${RESOURCES_PER_STACK}: split it into groups of at most about 15 models (functionGroup in their config.json)`
                : `nested stack ${stack.node.id} would hold ${resources} resources, past CloudFormation's ${RESOURCES_PER_STACK}: raise modelship:modelStacks (now ${settings.modelStacks}; for example ${Math.max(suggested, settings.modelStacks * 2)}), which moves models between stacks (their resources are replaced on the next deploy)`,
          ];
        },
      });
    }
    this.functions = this.serving.flatMap((s) => s.functions);
    this.endpoints = this.serving.flatMap((s) => s.endpoints);
    this.deliveries = this.serving.flatMap((s) => s.deliveries);

    // Batch prediction runs on the inference image, so it exists where Lambda models do.
    this.batch =
      lambdaModels.length === 0
        ? undefined
        : new BatchScoring(this, 'Batch', { store: this.store, models: lambdaModels, imageDirectory, architecture: settings.architecture, alarmTopic: this.monitoring.topic, logRetentionDays: settings.logRetentionDays });

    // Data capture and drift exist only for models that turn capture on (off by default).
    if (captured.length > 0) {
      this.capture = new DataCapture(this, 'DataCapture', {
        store: this.store,
        functions: this.functions.filter((fn) => fn.models.some((m) => captured.some((c) => c.name === m.name))),
        retentionDays: settings.captureRetentionDays,
        logRetentionDays: settings.logRetentionDays,
        logEncryptionKey: this.logKey,
      });
    }
    if (watched.length > 0) {
      this.drift = new DriftDetection(this, 'Drift', {
        store: this.store,
        models: watched,
        imageDirectory,
        architecture: settings.architecture,
        alarmTopic: this.monitoring.topic,
        scheduleMinutes: settings.driftScheduleMinutes,
        logRetentionDays: settings.logRetentionDays,
      });
      for (const model of watched) this.monitoring.addDriftWidgets(model.name, this.drift.alarms.get(model.name)!, model.config.drift.psiThreshold, this.drift.period);
    }

    if (this.api !== undefined) new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the inference API' });
    new CfnOutput(this, 'ModelBucketName', { value: this.store.bucket.bucketName, description: 'The model store' });
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl(), description: 'The CloudWatch dashboard' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'Alarms notify this topic: subscribe on-call here' });
    if (this.api?.apiKey !== undefined) {
      new CfnOutput(this, 'ApiKeyId', { value: this.api.apiKey.keyId, description: 'aws apigateway get-api-key --include-value --api-key <id>' });
    }
  }
}
