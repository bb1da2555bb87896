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

  it("shifts traffic as a 10% canary for 5 minutes by default, with CodeDeploy's predefined configuration", () => {
    const groups = Object.values(template.findResources('AWS::CodeDeploy::DeploymentGroup')) as { Properties: { DeploymentConfigName: string } }[];
    assert.deepEqual([...new Set(groups.map((g) => g.Properties.DeploymentConfigName))], ['CodeDeployDefault.LambdaCanary10Percent5Minutes']);
    // An account holds at most 50 custom deployment configurations: the samples need none.
    template.resourceCountIs('AWS::CodeDeploy::DeploymentConfig', 0);
  });

  it('shares one custom configuration among the models that ask for the same shifting', () => {
    const linear = { deployment: { strategy: 'linear', percent: 25, intervalMinutes: 2 } };
    const dir = repositoryWith({ a: linear, b: linear, c: { deployment: { strategy: 'canary', percent: 20, intervalMinutes: 7 } }, d: { deployment: { strategy: 'linear', percent: 10, intervalMinutes: 3 } } });
    const { template: t } = buildStack({ 'modelship:modelsDir': dir });
    t.resourceCountIs('AWS::CodeDeploy::DeploymentConfig', 2);
    const groups = Object.values(t.findResources('AWS::CodeDeploy::DeploymentGroup')) as { Properties: { DeploymentConfigName: unknown } }[];
    assert.equal(groups.filter((g) => JSON.stringify(g.Properties.DeploymentConfigName) === '"CodeDeployDefault.LambdaLinear10PercentEvery3Minutes"').length, 1);
    assert.equal(new Set(groups.map((g) => JSON.stringify(g.Properties.DeploymentConfigName))).size, 3);
  });

  it('throws naming the quota when the models ask for more than 50 custom shiftings', () => {
    const dir = repositoryWith(Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`m${i}`, { deployment: { strategy: 'canary', percent: 1 + (i % 99), intervalMinutes: 1 + Math.floor(i / 99) } }])));
    assert.throws(() => buildStack({ 'modelship:modelsDir': dir, 'modelship:modelStacks': 16 }), /ask for 51 different traffic shiftings .* past the 50 custom deployment configurations CodeDeploy allows per account/);
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
