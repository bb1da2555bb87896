/**
 * InferenceMonitoring: one CloudWatch dashboard for the stack and the alarms that page on-call,
 * per model, through an encrypted SNS topic.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { createDeadLetterQueue } from './dead-letter-queue.ts';
import { createKey } from './keys.ts';
import type { GpuEndpoint } from './gpu-endpoint.ts';
import type { InferenceApi } from './inference-api.ts';
import { modelMetric, type InferenceFunction } from './inference-function.ts';
import { MetricName, METRICS_NAMESPACE } from '../lambda/observability/metrics.ts';
import type { ModelConfig } from '../lambda/core/config.ts';

export interface InferenceMonitoringProps {
  /** The API in front of the functions and endpoints. @default - none: no functions or endpoints either (a stack's alarm topic and dashboard alone) */
  readonly api?: InferenceApi;
  readonly functions: readonly InferenceFunction[];
  /** Models served by SageMaker. @default none */
  readonly endpoints?: readonly GpuEndpoint[];
  /** An address subscribed to the alarm topic. @default - no subscription; subscribe on-call's tooling to the topic */
  readonly alarmEmail?: string;
  /** The alarm topic to notify, shared with another stack's monitoring. @default - a topic of its own, with its key */
  readonly topic?: sns.ITopic;
  /** The dashboard's opening text. @default - the stack's overview */
  readonly title?: string;
  /** Share of infer requests answered 5XX, in percent, above which the alarm fires. @default 1 */
  readonly serverErrorRatePercent?: number;
}

/** The alarms of one model. */
export interface ModelAlarms {
  readonly serverErrorRate: cloudwatch.Alarm;
  readonly latency: cloudwatch.Alarm;
  readonly functionErrors: cloudwatch.Alarm;
  readonly throttles: cloudwatch.Alarm;
  readonly loadFailures: cloudwatch.Alarm;
}

export class InferenceMonitoring extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly topic: sns.ITopic;
  /** The alarm topic's key, when this monitoring created the topic. */
  readonly topicKey?: kms.Key;
  /** Alarms per model name (Lambda models). */
  readonly alarms: ReadonlyMap<string, ModelAlarms>;
  /** Alarms per model name (SageMaker models). */
  readonly endpointAlarms: ReadonlyMap<string, Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: InferenceMonitoringProps) {
    super(scope, id);
    const api = props.api!;
    if ((props.functions.length > 0 || (props.endpoints ?? []).length > 0) && props.api === undefined) throw new Error('InferenceMonitoring needs the api of its functions and endpoints');
    if (props.topic !== undefined) this.topic = props.topic;
    else ({ topic: this.topic, key: this.topicKey } = this.createTopic(props.alarmEmail));
    const notify = new actions.SnsAction(this.topic);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(new cloudwatch.TextWidget({
      markdown: props.title ?? '# ModelShip\nPer model: API traffic, errors and latency; the function behind it; model load and inference time from the function\'s own metrics. Alarms go to the SNS topic in the stack outputs; each alarm\'s description says what to check first.',
      width: 24,
      height: 2,
    }));

    const alarms = new Map<string, ModelAlarms>();
    const threshold = props.serverErrorRatePercent ?? 1;
    for (const fn of props.functions) {
      const alias = fn.alias;
      for (const model of fn.models) {
        const name = model.name;
        const id = (suffix: string) => `${name.replace(/[^A-Za-z0-9]/g, '')}${suffix}`;
        const objective = model.config.latencyObjectiveMs;
        const errorRate = new cloudwatch.MathExpression({
          expression: '100 * errors / MAX([requests, 1])',
          usingMetrics: { errors: api.metricModelServerErrors(name), requests: api.metricModelRequests(name) },
          label: `${name} 5XX %`,
          period: Duration.minutes(1),
        });
        const modelAlarms: ModelAlarms = {
          serverErrorRate: errorRate.createAlarm(this, id('ServerErrorRate'), {
            alarmDescription: `${name}: over ${threshold}% of infer requests answered 5XX for 3 of 5 minutes. Callers are failing. Check first: the function's logs (${fn.logGroup.logGroupName}) for "model load failed" or "unhandled error"; then ModelLoadFailures and Throttles on the dashboard.`,
            threshold,
            evaluationPeriods: 5,
            datapointsToAlarm: 3,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
          latency: api.metricModelLatency(name).createAlarm(this, id('Latency'), {
            alarmDescription: `${name}: p99 latency of infer requests above its objective of ${objective} ms (latencyObjectiveMs in its config.json) for 3 of 5 minutes. Check first: InferenceTime (the model itself) against IntegrationLatency (the function) and cold starts on the dashboard; raise memory or provisioned concurrency if cold starts or CPU dominate.`,
            threshold: objective,
            evaluationPeriods: 5,
            datapointsToAlarm: 3,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
          functionErrors: alias.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }).createAlarm(this, id('FunctionErrors'), {
            alarmDescription: `${name}: the function failed invocations (crash, timeout or out of memory) in 2 of 3 minutes. Check first: the function's logs (${fn.logGroup.logGroupName}) for "Task timed out" or "Runtime exited"; then Duration against the timeout and memory.`,
            threshold: 0,
            evaluationPeriods: 3,
            datapointsToAlarm: 2,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
          throttles: alias.metricThrottles({ period: Duration.minutes(1), statistic: 'Sum' }).createAlarm(this, id('Throttles'), {
            alarmDescription: `${name}: Lambda throttled invocations in 2 of 3 minutes; callers get 5XX. Check first: ConcurrentExecutions against the reserved concurrency (reservedConcurrency in config.json) and the account limit.`,
            threshold: 0,
            evaluationPeriods: 3,
            datapointsToAlarm: 2,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
          loadFailures: fn.metricModelLoadFailures(name, { period: Duration.minutes(1) }).createAlarm(this, id('LoadFailures'), {
            alarmDescription: `${name}: the model failed to load (requests get 503). Check first: the function's logs (${fn.logGroup.logGroupName}) for "model load failed" with the cause: a corrupt or missing model.onnx (or native model file, or its conversion.json) in the model store, a file changed after deploy, or the store unreachable.`,
            threshold: 0,
            evaluationPeriods: 1,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        };
        for (const alarm of Object.values(modelAlarms)) {
          alarm.addAlarmAction(notify);
          alarm.addOkAction(notify);
        }
        alarms.set(name, modelAlarms);
        this.addModelWidgets(name, fn, api, modelAlarms, objective);
        this.dashboard.addWidgets(...this.predictionWidgets(name, model.config));
      }
    }
    this.alarms = alarms;
    this.endpointAlarms = new Map((props.endpoints ?? []).map((endpoint) => [endpoint.model.name, this.addEndpoint(endpoint, api, notify)]));
  }

  /** The alarm topic, encrypted with a key of its own that CloudWatch may use, and the e-mail subscription. */
  private createTopic(alarmEmail: string | undefined): { topic: sns.Topic; key: kms.Key } {
    const topicKey = createKey(this, 'TopicKey', { description: 'ModelShip alarm topic' });
    // CloudWatch must be able to use the key to publish alarms to the encrypted topic.
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'ModelShip alarms', masterKey: topicKey, enforceSSL: true });
    if (alarmEmail !== undefined) {
      // Notifications that cannot be delivered are kept for two weeks rather than lost.
      const undelivered = createDeadLetterQueue(this, 'UndeliveredAlarms', 'the alarm e-mail subscription (an SNS redrive policy)');
      topic.addSubscription(new subscriptions.EmailSubscription(alarmEmail, { deadLetterQueue: undelivered }));
      const dlq = 'This queue is itself the dead-letter queue of the alarm e-mail subscription (an SNS redrive policy, which cdk-nag does not recognise as such)';
      Validations.of(undelivered).acknowledge({ id: 'AwsSolutions-SQS3', reason: `${dlq}.` });
      Validations.of(undelivered).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason: `${dlq}; a queue behind it would only move the same messages again.` });
    }
    return { topic, key: topicKey };
  }

  private addEndpoint(endpoint: GpuEndpoint, api: InferenceApi, notify: actions.SnsAction): Record<string, cloudwatch.Alarm> {
    const name = endpoint.model.name;
    const id = (suffix: string) => `${name.replace(/[^A-Za-z0-9]/g, '')}${suffix}`;
    const objectiveMs = endpoint.model.config.latencyObjectiveMs;
    const logs = `/aws/sagemaker/Endpoints/<endpoint> (and the proxy's ${endpoint.proxyLogGroup.logGroupName})`;
    const common = { evaluationPeriods: 5, datapointsToAlarm: 3, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
    const alarms: Record<string, cloudwatch.Alarm> = {
      modelLatency: endpoint.metricModelLatency().createAlarm(this, id('ModelLatency'), {
        ...common,
        alarmDescription: `${name} (SageMaker): p99 ModelLatency above its objective of ${objectiveMs} ms for 3 of 5 minutes. Check first: GPUUtilization and instance count (autoscaling at its max?), then OverheadLatency; for serverless, cold starts (ModelSetupTime).`,
        threshold: objectiveMs * 1000, // ModelLatency is in microseconds
      }),
      serverErrors: endpoint.metricInvocation5XXErrors().createAlarm(this, id('Endpoint5XX'), {
        ...common,
        alarmDescription: `${name} (SageMaker): the endpoint answered 5XX in 3 of 5 minutes. Check first: the endpoint logs ${logs} for "model load failed" or "unexpected error"; then MemoryUtilization.`,
        threshold: 0,
      }),
      memory: endpoint.metricMemoryUtilization().createAlarm(this, id('EndpointMemory'), {
        ...common,
        alarmDescription: `${name} (SageMaker): instance memory above 90% for 3 of 5 minutes; the container risks being killed. Check first: request batch sizes and MAX_CONCURRENCY; choose a larger instance type or serverless memory size.`,
        threshold: 90,
      }),
      proxyErrors: endpoint.alias.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }).createAlarm(this, id('ProxyErrors'), {
        ...common,
        alarmDescription: `${name} (SageMaker): the API's proxy function failed invocations. Check first: its logs (${endpoint.proxyLogGroup.logGroupName}) for timeouts or "cannot be reached" (endpoint not InService).`,
        threshold: 0,
      }),
    };
    if (!endpoint.serverless) {
      alarms.gpuMemory = endpoint.metricGpuMemoryUtilization().createAlarm(this, id('GpuMemory'), {
        ...common,
        alarmDescription: `${name} (SageMaker): GPU memory above 90% for 3 of 5 minutes; larger batches will fail. Check first: request batch sizes against maxBatchSize; choose an instance with more GPU memory.`,
        threshold: 90,
      });
    }
    for (const alarm of Object.values(alarms)) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
    const percentiles = (metric: (p: cloudwatch.MetricOptions) => cloudwatch.Metric, label: string) =>
      ['p50', 'p99'].map((statistic) => metric({ statistic, label: `${label} ${statistic} (µs)` }));
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${name} (SageMaker ${endpoint.serverless ? 'Serverless' : 'GPU endpoint'})`, width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: invocations and errors`,
        left: [endpoint.metricInvocations({ label: 'invocations' }), api.metricModelRequests(name, { label: 'API requests' })],
        right: [endpoint.metricInvocation4XXErrors({ label: '4XX' }), endpoint.metricInvocation5XXErrors({ label: '5XX' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: model and overhead latency (µs)`,
        left: [...percentiles((p) => endpoint.metricModelLatency(p), 'model'), ...percentiles((p) => endpoint.metricOverheadLatency(p), 'overhead')],
        leftAnnotations: [{ value: objectiveMs * 1000, label: 'latency objective' }],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: GPU and GPU memory utilization (%)`,
        left: [endpoint.metricGpuUtilization({ label: 'GPU' })],
        right: [endpoint.metricGpuMemoryUtilization({ label: 'GPU memory' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: CPU and memory utilization (%)`,
        left: [endpoint.metricCpuUtilization({ label: 'CPU' })],
        right: [endpoint.metricMemoryUtilization({ label: 'memory' })],
        width: 6,
      }),
    );
    this.dashboard.addWidgets(this.trafficWidget(name, 12), new cloudwatch.AlarmStatusWidget({ title: `${name}: alarms`, alarms: Object.values(alarms), width: 12, height: 6 }));
    return alarms;
  }

  private addModelWidgets(name: string, fn: InferenceFunction, api: InferenceApi, alarms: ModelAlarms, objectiveMs: number): void {
    const alias = fn.alias;
    const percentiles = (metric: (props: cloudwatch.MetricOptions) => cloudwatch.Metric, label: string) =>
      ['p50', 'p90', 'p99'].map((statistic) => metric({ statistic, label: `${label} ${statistic}` }));
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${name}`, width: 24, height: 1 }));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: API requests and errors`,
        left: [api.metricModelRequests(name, { label: 'requests' })],
        right: [api.metricModelClientErrors(name, { label: '4XX' }), api.metricModelServerErrors(name, { label: '5XX' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: API latency (ms)`,
        left: [...percentiles((p) => api.metricModelLatency(name, p), 'latency'), ...percentiles((p) => api.metricModelIntegrationLatency(name, p), 'integration')],
        leftAnnotations: [{ value: objectiveMs, label: 'latency objective' }],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: `${name}: alarms`, alarms: Object.values(alarms), width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: function invocations, errors, throttles`,
        left: [alias.metricInvocations({ statistic: 'Sum' })],
        right: [alias.metricErrors({ statistic: 'Sum' }), alias.metricThrottles({ statistic: 'Sum' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: function duration (ms) and concurrency`,
        left: [alias.metricDuration({ statistic: 'p50', label: 'duration p50' }), alias.metricDuration({ statistic: 'p99', label: 'duration p99' })],
        right: [alias.metric('ConcurrentExecutions', { statistic: 'Maximum', label: 'concurrent executions' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: cold starts and init duration (ms)`,
        left: [fn.metricColdStarts({ label: 'cold starts' })],
        right: [fn.metricInitDuration({ label: 'init p99' })],
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: model load and inference time (ms)`,
        left: [fn.metricModelLoadTime(name, { label: 'model load (max)' }), ...['p50', 'p99'].map((statistic) => fn.metricInferenceTime(name, { statistic, label: `inference ${statistic}` }))],
        right: [fn.metricModelLoadFailures(name, { label: 'load failures' })],
        width: 6,
      }),
    );
  }

  /**
   * What the model answers, per version (so an A/B split or a canary shows side by side): the
   * predicted class distribution of classifiers, the mean prediction of regressors. Search
   * expressions find every version and class that published, with no list kept at synth.
   */
  private predictionWidgets(name: string, config: ModelConfig): cloudwatch.IWidget[] {
    const widgets: cloudwatch.IWidget[] = [];
    const period = Duration.minutes(5);
    if (config.task !== 'regression') {
      widgets.push(new cloudwatch.GraphWidget({
        title: `${name}: predicted classes (rows per 5 min, by version)`,
        left: [new cloudwatch.SearchExpression({ expression: search(['Class', 'Model', 'Version', 'service'], MetricName.predictedClass, name, 'Sum', period), label: '', period })],
        stacked: true,
        width: config.task === 'classification' ? 12 : 8,
      }));
    }
    if (config.task !== 'classification') {
      widgets.push(new cloudwatch.GraphWidget({
        title: `${name}: mean prediction (by version)`,
        left: [new cloudwatch.SearchExpression({ expression: search(['Model', 'Version', 'service'], MetricName.predictionMean, name, 'Average', period), label: '', period })],
        width: config.task === 'regression' ? 12 : 8,
      }));
    }
    widgets.push(this.trafficWidget(name, config.task === undefined || config.task === 'other' ? 8 : 12));
    return widgets;
  }

  /** Request and response sizes, and bad requests by reason (the API function publishes them for every target). */
  private trafficWidget(name: string, width: number): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({
      title: `${name}: request and response bytes; bad requests by reason`,
      left: [
        modelMetric(MetricName.requestBytes, name, { statistic: 'p99', label: 'request bytes p99', period: Duration.minutes(1) }),
        modelMetric(MetricName.responseBytes, name, { statistic: 'p99', label: 'response bytes p99', period: Duration.minutes(1) }),
      ],
      right: [new cloudwatch.SearchExpression({ expression: search(['Model', 'Reason', 'service'], MetricName.badRequests, name, 'Sum', Duration.minutes(1)), label: '', period: Duration.minutes(1) })],
      width,
    });
  }

  /**
   * Drift of a model's inputs: PSI and KS per feature and version as the scheduled job published
   * them, the alarm's threshold, and the alarm.
   */
  addDriftWidgets(name: string, alarm: cloudwatch.Alarm, psiThreshold: number, period: Duration): void {
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: input drift, PSI by feature and version`,
        left: [new cloudwatch.SearchExpression({ expression: search(['Feature', 'Model', 'Version', 'service'], MetricName.driftPsi, name, 'Maximum', period), label: '', period })],
        leftAnnotations: [{ value: psiThreshold, label: 'drift alarm threshold', color: '#d62728' }],
        width: 10,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: input drift, Kolmogorov-Smirnov by feature and version`,
        left: [new cloudwatch.SearchExpression({ expression: search(['Feature', 'Model', 'Version', 'service'], MetricName.driftKs, name, 'Maximum', period), label: '', period })],
        width: 10,
      }),
      new cloudwatch.AlarmStatusWidget({ title: `${name}: drift alarm`, alarms: [alarm], width: 4 }),
    );
  }

  /** The dashboard's console URL. */
  dashboardUrl(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}

/** A CloudWatch search over ModelShip metrics of one model, by the given dimension schema. */
function search(dimensions: readonly string[], metricName: string, model: string, statistic: string, period: Duration): string {
  return `SEARCH('{${METRICS_NAMESPACE},${dimensions.join(',')}} MetricName="${metricName}" Model="${model}"', '${statistic}', ${period.toSeconds()})`;
}
