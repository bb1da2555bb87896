import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../lambda/core/routes.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_MODELS, SAMPLES_DIR } from '../helpers.ts';
import { buildStack, onnxSamplesDirectory } from './stack-fixture.ts';

/** The samples that are text models (a tokenizer.json beside model.onnx): the ones with an OpenAI/Cohere-compatible base URL. */
const TEXT_SAMPLES = SAMPLE_MODELS.filter((m) => existsSync(join(SAMPLES_DIR, m, '1', 'tokenizer.json')));

describe('InferenceApi', () => {
  const { template } = buildStack();

  it('is a regional REST API', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] }, BinaryMediaTypes: ['application/octet-stream', 'image/jpeg', 'image/png', 'image/webp', 'application/x-image'] });
  });

  it('requires IAM (SigV4) on every method by default', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')) as any[];
    assert.ok(methods.length > 0);
    for (const method of methods) assert.equal(method.Properties.AuthorizationType, 'AWS_IAM', `${method.Properties.HttpMethod} is not IAM-authenticated`);
  });

  it('routes v2 infer, metadata, readiness, versions and :predict of every model to its live alias', () => {
    for (const name of SAMPLE_MODELS) {
      template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: name });
      template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: `${name}:predict` });
    }
    for (const part of ['v2', 'health', 'live', 'ready', 'models', 'infer', 'versions', '{version}', '{versionPredict}']) {
      template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: part });
    }
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      Integration: Match.objectLike({ Type: 'AWS_PROXY', Uri: { 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^Modeliris.*Live') }])] } }),
    });
  });

  it('validates inference bodies against the protocol schema before invoking', () => {
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true });
    template.hasResourceProperties('AWS::ApiGateway::Model', { ContentType: 'application/json', Schema: Match.objectLike({ required: ['inputs'] }) });
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', RequestValidatorId: Match.anyValue(), RequestModels: { 'application/json': Match.anyValue() } });
    // The task shapes pass it: a text pair or a question as the one input ("inputs" an object), or a list of pairs.
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      Schema: Match.objectLike({ title: 'InferenceRequest', properties: Match.objectLike({ inputs: Match.objectLike({ type: ['array', 'string', 'object'], items: { anyOf: Match.arrayWith([Match.objectLike({ type: 'object', required: ['text', 'text_pair'] }), Match.objectLike({ type: 'object', required: ['question', 'context'] })]) } }) }) }),
    });
  });

  it('throttles the stage, logs access and execution without payloads, and traces', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ LoggingLevel: 'INFO', DataTraceEnabled: false, MetricsEnabled: true, ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })],
    });
  });

  it('answers its own errors in the {"error": ...} shape', () => {
    for (const type of ['BAD_REQUEST_BODY', 'DEFAULT_4XX', 'DEFAULT_5XX', 'THROTTLED', 'MISSING_AUTHENTICATION_TOKEN']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('^\\{"error": ') },
      });
    }
  });

  it('has CORS off unless origins are configured', () => {
    assert.equal(Object.keys(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } })).length, 0);
    const cors = buildStack({ 'modelship:corsOrigins': 'https://app.example.com', 'modelship:modelsDir': onnxSamplesDirectory() }).template;
    cors.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'OPTIONS' });
    cors.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ CORS_ORIGINS: 'https://app.example.com' }) } });
  });

  it('requires API keys under a throttled usage plan with a quota in apiKey mode', () => {
    const { template: t } = buildStack({ 'modelship:authMode': 'apiKey', 'modelship:apiKeyQuotaPerDay': 5000 });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 100, BurstLimit: 200 }, Quota: { Limit: 5000, Period: 'DAY' } });
    t.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    const methods = Object.values(t.findResources('AWS::ApiGateway::Method')) as any[];
    for (const method of methods) assert.equal(method.Properties.ApiKeyRequired, true);
    // The OpenAI clients' routes: the x-api-key default header lets them in; their "Authorization: Bearer" is not checked (no authorizer).
    for (const part of ['embeddings', 'rerank']) {
      const resources = Object.keys(t.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: part } }));
      assert.ok(resources.length > 0, part);
      for (const id of resources) t.hasResourceProperties('AWS::ApiGateway::Method', { ResourceId: { Ref: id }, ApiKeyRequired: true, AuthorizationType: 'NONE' });
    }
    t.hasOutput('ApiKeyId', {});
  });

  it('attaches a WAF web ACL with a rate-based rule and AWS\'s known-bad-inputs rules when waf is on', () => {
    const { template: t } = buildStack({ 'modelship:waf': true, 'modelship:wafRateLimit': 500 });
    t.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      Rules: [
        Match.objectLike({ Statement: { RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP' } }, Action: { Block: {} } }),
        Match.objectLike({ Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' } }, OverrideAction: { None: {} } }),
      ],
    });
    t.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
  });

  it('outputs the API URL, the bucket name and the dashboard URL', () => {
    template.hasOutput('ApiUrl', {});
    template.hasOutput('ModelBucketName', {});
    template.hasOutput('DashboardUrl', {});
  });
});

/** Every resource of the synthesized API by its full path, with its methods. */
function apiRoutes(template: import('aws-cdk-lib/assertions').Template): Map<string, Set<string>> {
  const resources = template.findResources('AWS::ApiGateway::Resource') as Record<string, { Properties: { PathPart: string; ParentId: { Ref?: string } } }>;
  const pathOf = (id: string): string => {
    const { PathPart, ParentId } = resources[id].Properties;
    return `${ParentId.Ref !== undefined ? pathOf(ParentId.Ref) : ''}/${PathPart}`;
  };
  const routes = new Map<string, Set<string>>();
  for (const method of Object.values(template.findResources('AWS::ApiGateway::Method')) as { Properties: { HttpMethod: string; ResourceId: { Ref?: string } } }[]) {
    const path = method.Properties.ResourceId.Ref === undefined ? '/' : pathOf(method.Properties.ResourceId.Ref);
    if (!routes.has(path)) routes.set(path, new Set());
    routes.get(path)!.add(method.Properties.HttpMethod);
  }
  return routes;
}

describe('InferenceApi routes', () => {
  const { template } = buildStack();
  const routes = apiRoutes(template);

  it('has a method for every route the core answers, for every model', () => {
    const missing: string[] = [];
    for (const route of ROUTES.filter((r) => r.onApiGateway !== false)) {
      for (const model of route.template.startsWith('/openai/') ? TEXT_SAMPLES : SAMPLE_MODELS) {
        // The API captures a versioned :predict segment ("2:predict") as {versionPredict}.
        const path = route.template.replace('{name}', model).replace('{version}:predict', '{versionPredict}');
        for (const method of route.methods) if (!routes.get(path)?.has(method)) missing.push(`${method} ${path}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('serves each route that names its model in the body under every text model\'s own base URL, /openai/{name}/v1', () => {
    const bodyRouted = ROUTES.filter((r) => r.onApiGateway === false);
    assert.ok(bodyRouted.length > 0);
    assert.ok(TEXT_SAMPLES.includes('debian_embeddings'), 'the text samples are fetched (npm run samples)');
    for (const route of bodyRouted) {
      assert.ok(!routes.has(route.template), `${route.template} cannot reach the model's function on a REST API`);
      // The core answers the same route under the per-model prefix, and the API declares it for every model.
      assert.ok(ROUTES.some((r) => r.template === `/openai/{name}${route.template}`), route.template);
      for (const model of TEXT_SAMPLES) for (const method of route.methods) assert.ok(routes.get(`/openai/${model}${route.template}`)?.has(method), `${method} /openai/${model}${route.template}`);
    }
    // Tabular and image models have no such base URL: each costs 10 API resources, and a stack holds 500.
    assert.ok(!routes.has('/openai/iris_forest/v1/embeddings'));
  });

  it('validates embeddings and rerank bodies as OpenAI\'s and Cohere\'s APIs define them before invoking', () => {
    const schemas = Object.values(template.findResources('AWS::ApiGateway::Model')).map((m) => (m as { Properties: { Schema: { title: string; required: string[]; properties: Record<string, { enum?: string[]; maxItems?: number }> } } }).Properties.Schema);
    const embeddings = schemas.find((m) => m.title === 'EmbeddingsRequest')!;
    assert.deepEqual(embeddings.required, ['model', 'input']);
    assert.deepEqual(embeddings.properties.encoding_format.enum, ['float', 'base64']);
    const rerank = schemas.find((m) => m.title === 'RerankRequest')!;
    assert.deepEqual(rerank.required, ['model', 'query', 'documents']);
    assert.equal(rerank.properties.documents.maxItems, 1000);
    for (const part of ['embeddings', 'rerank']) {
      const resources = template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: part } });
      assert.equal(Object.keys(resources).length, TEXT_SAMPLES.length, part);
      for (const id of Object.keys(resources)) template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: id }, RequestValidatorId: Match.anyValue(), RequestModels: { 'application/json': Match.anyValue() } });
    }
  });

  it('serves GET /v2 (server metadata) and the health routes', () => {
    for (const path of ['/v2', '/v2/health/live', '/v2/health/ready']) assert.ok(routes.get(path)?.has('GET'), path);
  });

  it('validates feedback bodies before invoking', () => {
    const feedback = Object.values(template.findResources('AWS::ApiGateway::Model')).find((m) => (m as { Properties: { Schema: { title: string } } }).Properties.Schema.title === 'FeedbackRequest') as { Properties: { Schema: { required: string[] } } };
    assert.deepEqual(feedback.Properties.Schema.required, ['model_version']);
    const resources = template.findResources('AWS::ApiGateway::Resource', { Properties: { PathPart: 'feedback' } });
    assert.equal(Object.keys(resources).length, SAMPLE_MODELS.length);
    for (const id of Object.keys(resources)) {
      template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'POST', ResourceId: { Ref: id }, RequestValidatorId: Match.anyValue(), RequestModels: { 'application/json': Match.anyValue() } });
    }
  });
});
