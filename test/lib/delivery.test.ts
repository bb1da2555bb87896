import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SAMPLE_MODELS } from '../helpers.ts';
import { buildStack, repositoryWith } from './stack-fixture.ts';

describe('ModelDelivery (CodeDeploy)', () => {
  const { template } = buildStack();

  it('creates a CodeDeploy Lambda application and a deployment group per model function', () => {
    template.hasResourceProperties('AWS::CodeDeploy::Application', { ComputePlatform: 'Lambda' });
    template.resourceCountIs('AWS::CodeDeploy::DeploymentGroup', SAMPLE_MODELS.length);
  });

  it('shifts traffic as a 10% canary for 5 minutes by default', () => {
    template.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', {
      ComputePlatform: 'Lambda',
      TrafficRoutingConfig: { Type: 'TimeBasedCanary', TimeBasedCanary: { CanaryInterval: 5, CanaryPercentage: 10 } },
    });
  });

  it("rolls back on failure, on stop and when the model's alarms fire", () => {
    const groups = Object.values(template.findResources('AWS::CodeDeploy::DeploymentGroup')) as any[];
    for (const group of groups) {
      assert.deepEqual(group.Properties.AutoRollbackConfiguration.Events.sort(), ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST']);
      assert.equal(group.Properties.AlarmConfiguration.Enabled, true);
      assert.equal(group.Properties.AlarmConfiguration.Alarms.length, 5, 'the five alarms of the model');
    }
  });

  it('lets CodeDeploy update the live alias, with the pre-traffic hook before any traffic', () => {
    template.hasResource('AWS::Lambda::Alias', {
      Properties: { Name: 'live' },
      UpdatePolicy: { CodeDeployLambdaAliasUpdate: { ApplicationName: Match.anyValue(), DeploymentGroupName: Match.anyValue(), BeforeAllowTrafficHook: Match.anyValue() } },
    });
  });

  it('points the hook at the version being deployed and the golden checks of its model', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: {
        Variables: Match.objectLike({
          TARGET_FUNCTION: { Ref: Match.stringLikeRegexp('^Modelirisforest.*CurrentVersion') },
          CHECKS: '[{"model":"iris_forest","version":1}]',
        }),
      },
    });
  });

  it('takes linear shifting and a metric threshold from the model config', () => {
    const dir = repositoryWith({ m: { deployment: { strategy: 'linear', percent: 25, intervalMinutes: 2 }, goldenGate: { metric: 'accuracy', min: 0.9 } } });
    const { template: t } = buildStack({ 'modelship:modelsDir': dir });
    t.hasResourceProperties('AWS::CodeDeploy::DeploymentConfig', { TrafficRoutingConfig: { Type: 'TimeBasedLinear', TimeBasedLinear: { LinearInterval: 2, LinearPercentage: 25 } } });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CHECKS: '[{"model":"m","version":1,"threshold":{"metric":"accuracy","min":0.9}}]' }) } });
  });

  it('lets a shadowed model function invoke its own versions, and no other function', () => {
    const dir = repositoryWith({ s: { shadow: { version: 1 } }, plain: undefined });
    const { stack, template: t } = buildStack({ 'modelship:modelsDir': dir });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Models'), 'Arn'] }, ':*']] } }] },
    });
    const shadowPolicies = Object.keys(t.findResources('AWS::IAM::Policy')).filter((id) => id.includes('ShadowInvoke'));
    assert.equal(shadowPolicies.length, 1, 'only the shadowed model gets one');
    assert.deepEqual([new AwsSolutionsChecks()].flatMap((p) => p.validateScope(stack).violations.map((v) => v.ruleName)), []);
  });

  it('lets the hook invoke only the new version and read only its model', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ModelirisforestDeliveryHookRole'));
    const text = JSON.stringify(policies.map(([, p]) => p));
    assert.match(text, /lambda:InvokeFunction/);
    assert.match(text, /CurrentVersion/);
    assert.match(text, /\/models\/iris_forest\/\*/);
    assert.doesNotMatch(text, /digits_mlp|breast_cancer|diabetes/);
  });
});
