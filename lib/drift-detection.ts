/**
 * DriftDetection: on a schedule, a function compares each captured model's recent inputs with its
 * training baseline (baseline.json beside model.onnx) and publishes DriftPSI and DriftKS per feature
 * and DriftPSIMax per model; an alarm per model fires when DriftPSIMax passes the model's
 * drift.psiThreshold. The job runs from the inference image (CMD drift.handler).
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { DriftTarget } from '../lambda/jobs/drift-job.ts';
import { MetricName, METRICS_SERVICE } from '../lambda/observability/metrics.ts';
import { CAPTURE_ROOT } from '../lambda/core/capture-layout.ts';
import { acknowledgeFunction } from './check-acknowledgements.ts';
import { createDeadLetterQueue } from './dead-letter-queue.ts';
import { createFunctionRole } from './function-role.ts';
import type { ImageArchitecture } from './image-context.ts';
import { modelMetric } from './inference-function.ts';
import type { DiscoveredModel } from './model-discovery.ts';
import type { ModelStore } from './model-store.ts';


/** EventBridge's limit on a target's input, and on a rule's targets. */
const EVENT_INPUT_CHARS = 8192;
const TARGETS_PER_RULE = 5;

export interface DriftDetectionProps {
  readonly store: ModelStore;
  /** Models whose captures are checked: Lambda models with capture on and a baseline.json in some version; SageMaker models with data capture and a baseline for their live version. */
  readonly models: readonly DiscoveredModel[];
  /** The inference image's build context (it holds drift.mjs). */
  readonly imageDirectory: string;
  /** @default 'x86_64' */
  readonly architecture?: ImageArchitecture;
  readonly alarmTopic: sns.ITopic;
  /** Minutes between runs. @default 60 */
  readonly scheduleMinutes?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
}

export class DriftDetection extends Construct {
  readonly function: lambda.DockerImageFunction;
  readonly rule: events.Rule;
  /** The drift alarm of each model. */
  readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;
  /** Fires when the job itself fails: drift would go unseen. */
  readonly jobFailureAlarm: cloudwatch.Alarm;
  readonly period: Duration;

  constructor(scope: Construct, id: string, props: DriftDetectionProps) {
    super(scope, id);
    const { store } = props;
    this.period = Duration.minutes(props.scheduleMinutes ?? 60);
    const { role, logGroup } = createFunctionRole(this, {
      roleId: 'Role',
      logsId: 'Logs',
      description: 'ModelShip drift job',
      logRetentionDays: props.logRetentionDays,
      containerImage: true,
    });
    // Read baselines (and list versions) in the repository; read and list captures. Nothing else.
    const readable = [store.bucket.arnForObjects(`${store.prefix}*/baseline.json`), store.bucket.arnForObjects(`${CAPTURE_ROOT}*`)];
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: readable }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [store.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${store.prefix}*`, `${CAPTURE_ROOT}*`] } } }));
    store.encryptionKey?.grantDecrypt(role);
    Validations.of(role).acknowledge({ id: store.objectsFinding(`${store.prefix}*/baseline.json`), reason: 'The job reads the baseline.json of every version of the models it checks; versions are folders named at deploy time.' });
    Validations.of(role).acknowledge({ id: store.objectsFinding(`${CAPTURE_ROOT}*`), reason: 'The job reads capture files, which Firehose names by model, version, date and time.' });

    const failures = createDeadLetterQueue(this, 'FailedRuns', 'the drift job (failed asynchronous invocations) and its EventBridge schedule');
    Validations.of(failures).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the drift job and its schedule.' });
    Validations.of(failures).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: 'This queue is itself a dead-letter queue; the job failure alarm covers it.' });
    this.function = new lambda.DockerImageFunction(this, 'Function', {
      description: 'ModelShip drift job: PSI and KS of captured inputs against training baselines',
      code: lambda.DockerImageCode.fromImageAsset(props.imageDirectory, { cmd: ['drift.handler'] }),
      architecture: props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      role,
      memorySize: 1024,
      timeout: Duration.minutes(10),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: { MODEL_BUCKET: store.bucket.bucketName, MODEL_PREFIX: store.prefix, POWERTOOLS_SERVICE_NAME: METRICS_SERVICE },
    });
    this.function.configureAsyncInvoke({ retryAttempts: 2, onFailure: new destinations.SqsDestination(failures) });
    (this.function.node.defaultChild as lambda.CfnFunction).deadLetterConfig = { targetArn: failures.queueArn };
    failures.grantSendMessages(this.function);
    acknowledgeFunction(this.function);

    const driftTargets: DriftTarget[] = props.models.map((m) => ({
      model: m.name,
      psiThreshold: m.config.drift.psiThreshold,
      windowHours: m.config.drift.windowHours,
      minRows: m.config.drift.minRows,
      ...(m.config.target === 'sagemaker' ? { sageMakerVersion: m.liveVersion } : {}),
    }));
    // EventBridge takes at most 8,192 characters of input per target and 5 targets per rule: the
    // models are split into runs that fit, five to a rule (about 80 models per target).
    const runs: DriftTarget[][] = [[]];
    for (const target of driftTargets) {
      const run = runs[runs.length - 1];
      if (run.length > 0 && JSON.stringify({ models: [...run, target] }).length > EVENT_INPUT_CHARS) runs.push([target]);
      else run.push(target);
    }
    const rules: events.Rule[] = [];
    for (let first = 0; first < runs.length; first += TARGETS_PER_RULE) {
      rules.push(new events.Rule(this, rules.length === 0 ? 'Schedule' : `Schedule${rules.length + 1}`, {
        description: `ModelShip drift job, every ${this.period.toMinutes()} minutes`,
        schedule: events.Schedule.rate(this.period),
        targets: runs.slice(first, first + TARGETS_PER_RULE).map((run) => new targets.LambdaFunction(this.function, { event: events.RuleTargetInput.fromObject({ models: run }), retryAttempts: 2, deadLetterQueue: failures })),
      }));
    }
    this.rule = rules[0];

    const notify = new actions.SnsAction(props.alarmTopic);
    const alarms = new Map<string, cloudwatch.Alarm>();
    for (const model of props.models) {
      const { psiThreshold, windowHours } = model.config.drift;
      const alarm = driftPsiMax(model.name, this.period).createAlarm(this, `${model.name.replace(/[^A-Za-z0-9]/g, '')}Drift`, {
        alarmDescription: `${model.name}: the inputs of the last ${windowHours} h drifted from the training data: a feature's PSI is above ${psiThreshold} (drift.psiThreshold). Predictions may be wrong without any error. Check first: the dashboard's drift widget for which feature (DriftPSI by Feature) and the job's log line "input drift"; compare with upstream data changes; run \`modelship drift\` on a capture file under s3://<bucket>/${CAPTURE_ROOT}${model.name}/; retrain or fix the feed.`,
        threshold: psiThreshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
      alarms.set(model.name, alarm);
    }
    this.alarms = alarms;

    this.jobFailureAlarm = new cloudwatch.MathExpression({
      expression: 'errors + failed',
      usingMetrics: {
        errors: this.function.metricErrors({ period: this.period, statistic: 'Sum' }),
        failed: failures.metricApproximateNumberOfMessagesVisible({ period: this.period, statistic: 'Maximum' }),
      },
      period: this.period,
    }).createAlarm(this, 'JobFailures', {
      alarmDescription: `The drift job failed (errors, or runs in its dead-letter queue): input drift is not being checked. Check first: the job's logs (${logGroup.logGroupName}) for the error, e.g. S3 access or a malformed baseline.json.`,
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.jobFailureAlarm.addAlarmAction(notify);
  }
}

/** The drift alarm's metric: the largest PSI of any feature and version of the model in a run. */
export function driftPsiMax(model: string, period: Duration): cloudwatch.Metric {
  return modelMetric(MetricName.driftPsiMax, model, { statistic: 'Maximum', period });
}
