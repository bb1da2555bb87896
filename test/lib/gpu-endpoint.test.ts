import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { hasLocalNvme } from '../../lib/gpu-endpoint.ts';
import { ModelShipSageMakerChecks } from '../../lib/nag-packs.ts';
import { buildStack, repositoryWith } from './stack-fixture.ts';

describe('GpuEndpoint (SageMaker targets)', () => {
  const dir = repositoryWith({
    cpu: undefined,
    vision: { target: 'sagemaker', latencyObjectiveMs: 80, sagemaker: { instanceType: 'ml.g6.xlarge', minInstanceCount: 1, maxInstanceCount: 4, scaleOn: 'gpu', dataCapturePercent: 10 } },
    tabular: { target: 'sagemaker', sagemaker: { instanceType: 'ml.m5.xlarge', maxInstanceCount: 3 } },
    burst: { target: 'sagemaker-serverless', sagemakerServerless: { memorySizeMb: 4096, maxConcurrency: 10, provisionedConcurrency: 2 } },
  });
  const { stack, template } = buildStack({ 'modelship:modelsDir': dir, 'modelship:storeEncryption': 'kms' });

  it('creates a SageMaker model from the image asset and the model prefix, uncompressed', () => {
    template.resourceCountIs('AWS::SageMaker::Model', 3);
    template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: Match.objectLike({
        Mode: 'SingleModel',
        Image: Match.anyValue(),
        ModelDataSource: { S3DataSource: { S3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^ModelStore') }, '/models/vision/']] }, S3DataType: 'S3Prefix', CompressionType: 'None' } },
        Environment: Match.objectLike({ MODEL_NAME: 'vision', MODEL_VERSION: '1', USE_GPU: 'true', PUBLISH_METRICS: 'cloudwatch' }),
      }),
    });
  });

  it('gives the container the hashes of the model file and config it was deployed with', () => {
    const models = Object.values(template.findResources('AWS::SageMaker::Model')) as { Properties: { PrimaryContainer: { Environment: Record<string, string> } } }[];
    const vision = models.map((m) => m.Properties.PrimaryContainer.Environment).find((e) => e.MODEL_NAME === 'vision')!;
    const hashes = JSON.parse(vision.MODEL_SHA256S) as Record<string, string>;
    assert.deepEqual(Object.keys(hashes).sort(), ['vision/1', 'vision/1/files', 'vision/config.json']);
    assert.ok(Object.values(hashes).every((h) => /^[0-9a-f]{64}$/.test(h)));
  });

  it('throws naming the model and the fix when its versions\' hashes pass SageMaker\'s 1024 characters per environment value', () => {
    // GIVEN a SageMaker model with 12 versions (the pin leaves none out, and would take about 1,300 characters)
    const dir = repositoryWith({ many: { target: 'sagemaker' } });
    for (let v = 2; v <= 12; v++) cpSync(join(dir, 'many', '1'), join(dir, 'many', String(v)), { recursive: true });
    // THEN synth stops rather than drop versions from the pin
    assert.throws(() => buildStack({ 'modelship:modelsDir': dir }), /model many: the hashes of its 12 versions take \d+ characters, past the 1024 SageMaker allows/);
  });

  it('runs a real-time endpoint on the GPU instance type, with data capture into the model store', () => {
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g6.xlarge', InitialInstanceCount: 1, VariantName: 'AllTraffic' })],
      DataCaptureConfig: Match.objectLike({ EnableCapture: true, InitialSamplingPercentage: 10, DestinationS3Uri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['/captures/vision/'])] }) }),
      KmsKeyId: Match.absent(), // g6 has local NVMe, encrypted in hardware; SageMaker refuses a key there
    });
  });

  it('encrypts the endpoint volume with a KMS key where SageMaker allows one', () => {
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.m5.xlarge' })],
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Endpointtabular.*Key'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ ServerlessConfig: { MemorySizeInMB: 4096, MaxConcurrency: 10, ProvisionedConcurrency: 2 } })],
      KmsKeyId: Match.anyValue(),
    });
    assert.equal(hasLocalNvme('ml.g5.xlarge'), true);
    assert.equal(hasLocalNvme('ml.m5d.large'), true);
    assert.equal(hasLocalNvme('ml.m5.large'), false);
  });

  it('autoscales real-time endpoints between min and max, on GPU utilization or invocations', () => {
    template.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 2);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { ServiceNamespace: 'sagemaker', ScalableDimension: 'sagemaker:variant:DesiredInstanceCount', MinCapacity: 1, MaxCapacity: 4 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 70, CustomizedMetricSpecification: Match.objectLike({ MetricName: 'GPUUtilization', Namespace: '/aws/sagemaker/Endpoints' }) }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 1000, PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' } }),
    });
  });

  it('gives the execution role only its image, its model prefix and its capture prefix', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('Endpointvision') && id.includes('ExecutionRole'));
    const statements = policies.flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement);
    const text = JSON.stringify(statements);
    assert.match(text, /\/models\/vision\/\*/);
    assert.match(text, /\/captures\/vision\/\*/);
    assert.doesNotMatch(text, /models\/tabular|models\/burst|"s3:\*"|"Action":"\*"/);
    const put = statements.find((s: any) => s.Action === 'cloudwatch:PutMetricData');
    assert.deepEqual(put.Condition, { StringEquals: { 'cloudwatch:namespace': ['ModelShip', '/aws/sagemaker/Endpoints'] } });
  });

  it('routes the API to a proxy function that may invoke only its endpoint', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Environment: { Variables: { ENDPOINT_NAME: Match.anyValue(), MODEL_NAME: 'vision' } } });
    const proxyPolicies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('Endpointvision') && id.includes('ProxyRole'));
    const invoke = proxyPolicies.flatMap(([, p]: [string, any]) => p.Properties.PolicyDocument.Statement).find((s: any) => s.Action === 'sagemaker:InvokeEndpoint');
    assert.match(invoke.Resource.Ref, /^Endpointvision.*Endpoint/);
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'vision' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'vision:predict' });
  });

  it('graphs and alarms on the endpoint metrics', () => {
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const metric of ['ModelLatency', 'OverheadLatency', 'Invocation4XXErrors', 'Invocation5XXErrors', 'GPUUtilization', 'GPUMemoryUtilization', 'CPUUtilization', 'MemoryUtilization']) {
      assert.ok(body.includes(metric), `dashboard lacks ${metric}`);
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelLatency', Namespace: 'AWS/SageMaker', Threshold: 80_000, ExtendedStatistic: 'p99' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Invocation5XXErrors', AlarmActions: [Match.anyValue()] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'GPUMemoryUtilization', Threshold: 90 });
  });

  it('is cdk-nag clean, the SageMaker endpoint KMS rule included', () => {
    const found = [new AwsSolutionsChecks(), new ServerlessChecks(), new ModelShipSageMakerChecks()].flatMap((pack) => pack.validateScope(stack).violations.map((v) => v.ruleName));
    assert.deepEqual(found, []);
  });

  it('flags an endpoint config without a key when nobody acknowledged why', () => {
    const unchecked = buildStack({ 'modelship:modelsDir': repositoryWith({ t: { target: 'sagemaker', sagemaker: { instanceType: 'ml.m5.xlarge' } } }) });
    const config = unchecked.stack.endpoints[0].endpointConfig;
    config.kmsKeyId = undefined;
    const found = new ModelShipSageMakerChecks().validateScope(unchecked.stack).violations.map((v) => v.ruleName);
    assert.deepEqual(found, ['ModelShipSageMaker-SageMakerEndpointConfigurationKMSKeyConfigured']);
  });
});
