import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { SAMPLE_MODELS } from '../helpers.ts';
import { buildStack, repositoryWith } from './stack-fixture.ts';

describe('InferenceMonitoring', () => {
  const { template } = buildStack();
  // The model alarms; batch prediction adds its own dead-letter alarm beside them.
  const alarms = () => (Object.entries(template.findResources('AWS::CloudWatch::Alarm')) as [string, any][]).filter(([id]) => !id.startsWith('Batch')).map(([, a]) => a);

  it('has five alarms per model, each notifying the topic on alarm and on recovery', () => {
    assert.equal(alarms().length, 5 * SAMPLE_MODELS.length);
    for (const alarm of alarms()) {
      assert.equal(alarm.Properties.AlarmActions.length, 1);
      assert.match(alarm.Properties.AlarmActions[0].Ref, /^MonitoringAlarmTopic/);
      assert.match(alarm.Properties.OKActions[0].Ref, /^MonitoringAlarmTopic/);
    }
  });

  it('says in every alarm what it means and what to check first', () => {
    for (const alarm of alarms()) {
      const description = JSON.stringify(alarm.Properties.AlarmDescription);
      assert.match(description, /Check first:/, description);
    }
  });

  it('names the API stage in alarm dimensions instead of referencing it, so a deployment gate closes no dependency cycle', () => {
    // CodeDeploy shifts the live alias, which sits behind the stage; an alarm gating that shift must not depend on the stage.
    const stageIds = Object.keys(template.findResources('AWS::ApiGateway::Stage'));
    assert.equal(stageIds.length, 1);
    for (const alarm of alarms()) assert.ok(!JSON.stringify(alarm).includes(`"${stageIds[0]}"`), JSON.stringify(alarm.Properties.Metrics ?? alarm.Properties.Dimensions));
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Latency', Dimensions: Match.arrayWith([{ Name: 'Stage', Value: 'prod' }]) });
  });

  it('alarms on p99 latency over the latency objective in the model config', () => {
    const dir = repositoryWith({ fast: { latencyObjectiveMs: 42 } });
    buildStack({ 'modelship:modelsDir': dir }).template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Latency',
      Namespace: 'AWS/ApiGateway',
      ExtendedStatistic: 'p99',
      Threshold: 42,
      Dimensions: Match.arrayWith([{ Name: 'Resource', Value: '/v2/models/fast/infer' }]),
    });
  });

  it('alarms on the 5XX rate, function errors, throttles and model load failures', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: Match.arrayWith([Match.objectLike({ Expression: '100 * errors / MAX([requests, 1])' })]), Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Throttles', Namespace: 'AWS/Lambda' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ModelLoadFailures',
      Namespace: 'ModelShip',
      Dimensions: Match.arrayWith([{ Name: 'Model', Value: 'iris_forest' }, { Name: 'service', Value: 'modelship' }]),
    });
  });

  it('sends alarms through a KMS-encrypted, TLS-only topic that CloudWatch may publish to', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) },
    });
  });

  it('subscribes the alarm email from context, and none by default', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    buildStack({ 'modelship:alarmEmail': 'oncall@example.com' }).template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('graphs API, function and model metrics for every model on one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const metric of ['\\"Count\\"', '4XXError', '5XXError', 'IntegrationLatency', 'Invocations', 'Throttles', 'Duration', 'ConcurrentExecutions', 'ColdStart', 'InitDuration', 'ModelLoadTime', 'InferenceTime']) {
      assert.ok(body.includes(metric), `dashboard lacks ${metric}`);
    }
    for (const stat of ['p50', 'p90', 'p99']) assert.ok(body.includes(stat));
    for (const name of SAMPLE_MODELS) assert.ok(body.includes(`/v2/models/${name}/infer`));
  });
});
