/**
 * The ModelShip stack: the model store, one inference function per model (or per shared group),
 * the API in front of them, and the dashboard and alarms, composed from ./models and cdk.json
 * context.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { BatchScoring } from './batch.ts';
import { DataCapture } from './data-capture.ts';
import { DriftDetection } from './drift-detection.ts';
import { ModelDelivery } from './delivery.ts';
import { GpuEndpoint } from './gpu-endpoint.ts';
import { hasSharpBinaries, PROJECT_ROOT, sharpInstallLine, stageImageContext, stageSageMakerImageContext } from './image-context.ts';
import { InferenceApi } from './inference-api.ts';
import { InferenceFunction } from './inference-function.ts';
import { capturedLogsKey } from './log-encryption.ts';
import { discoverModels, stageModels, type DiscoveredModel } from './model-discovery.ts';
import { ModelStore } from './model-store.ts';
import { InferenceMonitoring } from './monitoring.ts';
import { readSettings, type ModelShipSettings } from './settings.ts';

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
  readonly api: InferenceApi;
  readonly monitoring: InferenceMonitoring;
  readonly deliveries: ModelDelivery[];
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
    const imageModels = lambdaModels.filter((m) => m.config.task === 'image-classification' || m.versions.some((v) => existsSync(join(modelsDir, m.name, String(v), 'preprocessor_config.json'))));
    if (props.imageDirectory === undefined && imageModels.length > 0 && !hasSharpBinaries(settings.architecture)) {
      throw new Error(`image models (${imageModels.map((m) => m.name).join(', ')}) on ${settings.architecture} need sharp's native packages for that architecture, which npm did not install here (it installs this machine's own). Add them with: ${sharpInstallLine(settings.architecture)}`);
    }
    // The inference image also runs batch jobs and the drift job.
    const imageDirectory =
      lambdaModels.length === 0 && watched.length === 0 ? '' : props.imageDirectory ?? stageImageContext({ outDir: join(PROJECT_ROOT, 'build', `image-${settings.architecture}`), architecture: settings.architecture }).directory;

    // One function per Lambda model, except models that name a shared functionGroup.
    const groups = new Map<string, DiscoveredModel[]>();
    for (const model of this.models.filter((m) => m.config.target === 'lambda')) {
      const key = model.config.functionGroup ?? `model:${model.name}`;
      groups.set(key, [...(groups.get(key) ?? []), model]);
    }
    // Logs that carry captured payloads may get a key of their own (modelship:logEncryption=kms).
    this.logKey = captured.length > 0 && settings.logEncryption === 'kms' ? capturedLogsKey(this) : undefined;
    const carriesCaptures = (models: readonly DiscoveredModel[]) => models.some((m) => captured.includes(m));
    this.functions = [...groups.entries()].map(([key, models]) => {
      const id = key.startsWith('model:') ? `Model-${models[0].name}` : `Group-${key}`;
      return new InferenceFunction(this, id, {
        models,
        store: this.store,
        imageDirectory,
        architecture: settings.architecture,
        logRetentionDays: settings.logRetentionDays,
        corsOrigins: settings.corsOrigins,
        logEncryptionKey: carriesCaptures(models) ? this.logKey : undefined,
      });
    });

    // Models whose config targets SageMaker get an endpoint and a proxy function instead.
    const gpuModels = this.models.filter((m) => m.config.target !== 'lambda');
    const sageMakerImage =
      gpuModels.length === 0 ? undefined : (props.sageMakerImageDirectory ?? stageSageMakerImageContext(join(PROJECT_ROOT, 'build', 'image-sagemaker')).directory);
    this.endpoints = gpuModels.map(
      (model) => new GpuEndpoint(this, `Endpoint-${model.name}`, { model, store: this.store, imageDirectory: sageMakerImage!, logRetentionDays: settings.logRetentionDays }),
    );

    this.api = new InferenceApi(this, 'Api', {
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
    });

    this.monitoring = new InferenceMonitoring(this, 'Monitoring', {
      api: this.api,
      functions: this.functions,
      endpoints: this.endpoints,
      alarmEmail: settings.alarmEmail,
    });

    // Each model function ships new versions through CodeDeploy, gated and watched by its alarms.
    this.deliveries = this.functions.map((fn) => {
      const alarms = fn.models.flatMap((m) => Object.values(this.monitoring.alarms.get(m.name) ?? {}));
      return new ModelDelivery(fn, 'Delivery', { fn, store: this.store, alarms, logRetentionDays: settings.logRetentionDays });
    });

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

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the inference API' });
    new CfnOutput(this, 'ModelBucketName', { value: this.store.bucket.bucketName, description: 'The model store' });
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl(), description: 'The CloudWatch dashboard' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'Alarms notify this topic: subscribe on-call here' });
    if (this.api.apiKey !== undefined) {
      new CfnOutput(this, 'ApiKeyId', { value: this.api.apiKey.keyId, description: 'aws apigateway get-api-key --include-value --api-key <id>' });
    }
  }
}
