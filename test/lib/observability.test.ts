import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { CAPTURE_FILTER_PATTERN } from '../../lambda/observability/capture-sink.ts';
import { ModelShipSageMakerChecks } from '../../lib/nag-packs.ts';
import { buildStack, repositoryWith } from './stack-fixture.ts';

const IRIS = { task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] };

/** iris (capture on, baseline), flowers (capture on, no baseline), plain (capture off). */
function captureStack(context: Record<string, unknown> = {}) {
  const repo = repositoryWith({ iris: { ...IRIS, capture: { percent: 10 }, drift: { psiThreshold: 0.25, windowHours: 12 } } }, { baseline: true });
  const other = repositoryWith({ flowers: { ...IRIS, capture: { percent: 5 } }, plain: IRIS });
  // One repository: the other two models beside iris.
  for (const name of ['flowers', 'plain']) cpSync(`${other}/${name}`, `${repo}/${name}`, { recursive: true });
  return buildStack({ 'modelship:modelsDir': repo, ...context });
}

interface Widget {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: { label: string; value: number }[] }; alarms?: unknown[] };
}

/** The dashboard's widgets: the body with CloudFormation references replaced by placeholders, parsed. */
function dashboardWidgets(template: ReturnType<typeof buildStack>['template']): Widget[] {
  const body = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody;
  const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : 'REF')).join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

const widget = (widgets: Widget[], title: string): Widget | undefined => widgets.find((w) => w.properties.title === title);
/** The search expressions a widget graphs. */
const expressions = (w: Widget | undefined): string[] => (w?.properties.metrics ?? []).flatMap((m) => m.filter((x): x is { expression: string } => typeof x === 'object' && x !== null && 'expression' in x).map((x) => x.expression));
const dashboardBody = (template: ReturnType<typeof buildStack>['template']): string => JSON.stringify(dashboardWidgets(template));

describe('observability: dashboard widgets with the defaults', () => {
  const { template } = buildStack();

  it('graphs the predicted class distribution of classifiers and the mean prediction of regressors, per version', () => {
    const widgets = dashboardWidgets(template);
    assert.deepEqual(expressions(widget(widgets, 'iris_forest: predicted classes (rows per 5 min, by version)')), [`SEARCH('{ModelShip,Class,Model,Version,service} MetricName="PredictedClass" Model="iris_forest"', 'Sum', 300)`]);
    assert.deepEqual(expressions(widget(widgets, 'diabetes_regressor: mean prediction (by version)')), [`SEARCH('{ModelShip,Model,Version,service} MetricName="PredictionMean" Model="diabetes_regressor"', 'Average', 300)`]);
    assert.equal(widget(widgets, 'diabetes_regressor: predicted classes (rows per 5 min, by version)'), undefined, 'a regressor has no classes');
    const traffic = widget(widgets, 'iris_forest: request and response bytes; bad requests by reason');
    assert.deepEqual(expressions(traffic), [`SEARCH('{ModelShip,Model,Reason,service} MetricName="BadRequests" Model="iris_forest"', 'Sum', 60)`]);
    assert.deepEqual(traffic!.properties.metrics!.slice(0, 2).map((m) => m.slice(0, 6)), [
      ['ModelShip', 'RequestBytes', 'Model', 'iris_forest', 'service', 'modelship'],
      ['ModelShip', 'ResponseBytes', 'Model', 'iris_forest', 'service', 'modelship'],
    ]);
  });

  it('creates no capture stream, drift job or drift alarm while capture is off (the default)', () => {
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    template.resourceCountIs('AWS::Logs::SubscriptionFilter', 0);
    assert.equal(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DriftPSIMax' } })).length, 0);
    assert.doesNotMatch(dashboardBody(template), /DriftPSI/);
  });
});

describe('observability: data capture and drift detection', () => {
  const { stack, template } = captureStack();

  it('delivers capture lines through Firehose into captures/<model>/<version>/<date>/, partitioned from each record', () => {
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'captures/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/!{timestamp:yyyy-MM-dd}/',
        ErrorOutputPrefix: 'capture-errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/',
        DynamicPartitioningConfiguration: Match.objectLike({ Enabled: true }),
        FileExtension: '.jsonl',
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [
            Match.objectLike({ Type: 'Decompression' }),
            Match.objectLike({ Type: 'CloudWatchLogProcessing', Parameters: [{ ParameterName: 'DataMessageExtraction', ParameterValue: 'true' }] }),
            Match.objectLike({ Type: 'MetadataExtraction', Parameters: Match.arrayWith([{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{model: .model, version: (.version|tostring)}' }]) }),
            Match.objectLike({ Type: 'AppendDelimiterToRecord' }),
          ],
        },
      }),
    });
  });

  it('subscribes only the functions of captured models, only to capture lines', () => {
    const filters = template.findResources('AWS::Logs::SubscriptionFilter');
    assert.equal(Object.keys(filters).length, 2, 'iris and flowers; plain has capture off');
    for (const filter of Object.values(filters)) assert.equal(filter.Properties.FilterPattern, CAPTURE_FILTER_PATTERN);
    const plainLogGroup = stack.resolve(stack.functions.find((fn) => fn.models[0].name === 'plain')!.logGroup.logGroupName);
    assert.ok(!Object.values(filters).some((f) => JSON.stringify(f.Properties.LogGroupName) === JSON.stringify(plainLogGroup)));
  });

  it('lets Firehose write under captures/ and capture-errors/ only, and expires captures', () => {
    const role = stack.capture!.role;
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.resolve(role.roleName).Ref }] } });
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const puts = statements.filter((s) => [s.Action].flat().includes('s3:PutObject'));
    assert.equal(puts.length, 1);
    assert.match(JSON.stringify(puts[0].Resource), /\/captures\/\*.*\/capture-errors\/\*/);
    assert.ok(!statements.some((s) => [s.Action].flat().some((a) => /s3:(Delete|GetObject)/.test(a))), 'no reads or deletes of models');
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'ExpireCaptures', Prefix: 'captures/', ExpirationInDays: 90 })]) } });
    // Listing, too, only under its own prefixes.
    const lists = statements.filter((s) => [s.Action].flat().includes('s3:ListBucket')) as { Condition?: unknown }[];
    assert.equal(lists.length, 1);
    assert.deepEqual(lists[0].Condition, { StringLike: { 's3:prefix': ['captures/*', 'capture-errors/*'] } });
  });

  it('lets CloudWatch Logs use the Firehose role only for the captured functions\' log groups', () => {
    const trust = (template.findResources('AWS::IAM::Role') as Record<string, { Properties: { AssumeRolePolicyDocument: { Statement: { Principal: { Service?: string }; Condition?: { StringLike?: Record<string, unknown> } }[] } } }>);
    const logsRoles = Object.values(trust).flatMap((r) => r.Properties.AssumeRolePolicyDocument.Statement).filter((st) => st.Principal.Service === 'logs.amazonaws.com');
    assert.equal(logsRoles.length, 1);
    const sources = stack.resolve(logsRoles[0].Condition!.StringLike!['aws:SourceArn']) as unknown[];
    const captured = stack.functions.filter((fn) => ['iris', 'flowers'].includes(fn.models[0].name)).map((fn) => stack.resolve(fn.logGroup.logGroupArn));
    assert.deepEqual(sources, captured);
    assert.doesNotMatch(JSON.stringify(sources), /log-group:\*/);
  });

  it('encrypts the log groups that carry captures with a rotated customer managed key, with modelship:logEncryption=kms', () => {
    assert.equal(stack.logKey, undefined, 'off by default');
    const { stack: keyed, template: built } = captureStack({ 'modelship:logEncryption': 'kms' });
    built.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, Description: Match.stringLikeRegexp('captured') });
    const keyRef = { 'Fn::GetAtt': [keyed.resolve((keyed.logKey!.node.defaultChild as import('aws-cdk-lib').CfnResource).logicalId), 'Arn'] };
    const encrypted = (fn: { logGroup: import('aws-cdk-lib/aws-logs').LogGroup }) => {
      const id = keyed.resolve((fn.logGroup.node.defaultChild as import('aws-cdk-lib').CfnResource).logicalId);
      return built.toJSON().Resources[id].Properties.KmsKeyId;
    };
    for (const fn of keyed.functions) assert.deepEqual(encrypted(fn), fn.models[0].name === 'plain' ? undefined : keyRef, fn.models[0].name);
    built.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: keyRef, RetentionInDays: 30 });
    built.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } }, Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } } })]) },
    });
  });

  it('runs the drift job on a schedule for models with a baseline, with their thresholds', () => {
    const rules = template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(1 hour)' } });
    assert.equal(Object.keys(rules).length, 1);
    const [target] = Object.values(rules)[0].Properties.Targets;
    assert.deepEqual(JSON.parse(target.Input), { models: [{ model: 'iris', psiThreshold: 0.25, windowHours: 12, minRows: 100 }] }, 'flowers has no baseline, plain no capture');
    assert.ok(target.DeadLetterConfig !== undefined && target.RetryPolicy !== undefined);
    template.hasResourceProperties('AWS::Lambda::Function', { ImageConfig: { Command: ['drift.handler'] }, TracingConfig: { Mode: 'Active' } });
  });

  it('alarms on DriftPSIMax past the model\'s threshold, to the alarm topic, and on a failing job', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DriftPSIMax' } });
    assert.equal(Object.keys(alarms).length, 1);
    const [alarm] = Object.values(alarms);
    assert.equal(alarm.Properties.Threshold, 0.25);
    assert.equal(alarm.Properties.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(alarm.Properties.Statistic, 'Maximum');
    assert.equal(alarm.Properties.Period, 3600);
    assert.equal(alarm.Properties.TreatMissingData, 'notBreaching');
    assert.deepEqual(alarm.Properties.Dimensions, [{ Name: 'Model', Value: 'iris' }, { Name: 'service', Value: 'modelship' }]);
    assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: stack.resolve(stack.monitoring.topic.topicArn).Ref }]);
    assert.match(alarm.Properties.AlarmDescription, /Check first/);
    const jobAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => JSON.stringify(a.Properties.AlarmDescription).includes('drift is not being checked'));
    assert.equal(jobAlarms.length, 1);
    const metrics = JSON.stringify(jobAlarms[0].Properties.Metrics);
    assert.ok(metrics.includes('"Errors"') && metrics.includes('ApproximateNumberOfMessagesVisible'), 'errors and dead-lettered runs');
  });

  it('adds drift widgets with the threshold line to the dashboard', () => {
    const widgets = dashboardWidgets(template);
    const psi = widget(widgets, 'iris: input drift, PSI by feature and version');
    assert.deepEqual(expressions(psi), [`SEARCH('{ModelShip,Feature,Model,Version,service} MetricName="DriftPSI" Model="iris"', 'Maximum', 3600)`]);
    assert.deepEqual(psi!.properties.annotations!.horizontal!.map((a) => [a.label, a.value]), [['drift alarm threshold', 0.25]]);
    assert.deepEqual(expressions(widget(widgets, 'iris: input drift, Kolmogorov-Smirnov by feature and version')), [`SEARCH('{ModelShip,Feature,Model,Version,service} MetricName="DriftKS" Model="iris"', 'Maximum', 3600)`]);
    assert.equal(widget(widgets, 'iris: drift alarm')!.properties.alarms!.length, 1);
    assert.equal(widget(widgets, 'flowers: input drift, PSI by feature and version'), undefined, 'no baseline, no drift widget');
  });

  it('checks SageMaker endpoints with data capture against their live version\'s baseline', () => {
    const repo = repositoryWith({ vision: { ...IRIS, target: 'sagemaker', sagemaker: { dataCapturePercent: 20 } }, lambdaModel: IRIS }, { baseline: true });
    const { template: built } = buildStack({ 'modelship:modelsDir': repo });
    const [rule] = Object.values(built.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(1 hour)' } }));
    assert.deepEqual(JSON.parse(rule.Properties.Targets[0].Input), { models: [{ model: 'vision', psiThreshold: 0.2, windowHours: 24, minRows: 100, sageMakerVersion: 1 }] });
    built.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    const widgets = dashboardWidgets(built);
    assert.deepEqual(expressions(widget(widgets, 'vision: request and response bytes; bad requests by reason')), [`SEARCH('{ModelShip,Model,Reason,service} MetricName="BadRequests" Model="vision"', 'Sum', 60)`], 'the proxy publishes them');
    assert.ok(widget(widgets, 'vision: input drift, PSI by feature and version') !== undefined);
  });

  it('takes the schedule from context', () => {
    const { template: hourly } = captureStack({ 'modelship:driftScheduleMinutes': 15 });
    assert.equal(Object.keys(hourly.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(15 minutes)' } })).length, 1);
  });

  it('leaves nothing unacknowledged by cdk-nag, with an S3- or a KMS-encrypted store', () => {
    for (const context of [{}, { 'modelship:storeEncryption': 'kms' }, { 'modelship:logEncryption': 'kms' }]) {
      const { app, stack: built } = captureStack(context);
      // CloudFormation's own validation at synth found nothing either.
      const report = join(app.outdir, 'validation-report.json');
      assert.deepEqual(existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')).pluginReports.flatMap((p: { violations: unknown[] }) => p.violations) : [], []);
      const found = [new AwsSolutionsChecks(), new ServerlessChecks(), new ModelShipSageMakerChecks()].flatMap((pack) =>
        pack.validateScope(built).violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`),
      );
      assert.deepEqual(found, [], JSON.stringify(context));
    }
  });
});
