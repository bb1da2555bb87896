/**
 * InferenceApi: an API Gateway REST API with the Open Inference Protocol (v2) routes, the
 * TF Serving :predict route and the OpenAI/Cohere-compatible routes for every model, each
 * integrated with its function's live alias. A REST API cannot route on a body's "model", so the
 * compatible routes live under each model's own base URL, /openai/{name}/v1, served by the model's
 * own function (the OpenAI client's base_url); a router function in front would add a second
 * invocation (and its cold start) to every request.
 * Authenticated by default (IAM / SigV4), throttled, access- and execution-logged, traced, with
 * request validation and errors in the protocol's {"error": ...} shape.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { acknowledgeGuard, acknowledgeLogGroup, skipCheckov } from './check-acknowledgements.ts';
import type { ServedModel } from './inference-function.ts';

/** What the API routes a model to: a function's live alias (an InferenceFunction, or a GpuEndpoint's proxy). */
export interface ApiBackend {
  readonly models: readonly ServedModel[];
  readonly alias: lambda.Alias;
}
import type { AuthMode } from './settings.ts';

export interface InferenceApiProps {
  /** The backends to route to; each serves the models it names. */
  readonly backends: readonly ApiBackend[];
  /** 'iam' (SigV4) or 'apiKey' (x-api-key header, usage plan). @default 'iam' */
  readonly authMode?: AuthMode;
  /** @default 'prod' */
  readonly stageName?: string;
  /** Steady-state requests per second across the stage. @default 100 */
  readonly throttleRateLimit?: number;
  /** @default 200 */
  readonly throttleBurstLimit?: number;
  /** Requests per day per API key, in apiKey mode. @default 100000 */
  readonly apiKeyQuotaPerDay?: number;
  /** Origins allowed by CORS. @default - CORS off */
  readonly corsOrigins?: string[];
  /** Attach a WAF web ACL with a rate-based rule. @default false */
  readonly waf?: boolean;
  /** Requests per 5 minutes per client IP before WAF blocks it. @default 2000 */
  readonly wafRateLimit?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /** Create the account's CloudWatch role for API Gateway logging here; false when another stack sets it (the API then depends on it being set). @default true */
  readonly cloudWatchRole?: boolean;
  /** In apiKey mode, the key callers present, shared with other APIs. @default - a key of its own */
  readonly apiKey?: apigw.IApiKey;
  /** With waf, the web ACL to associate, shared with other APIs. @default - a web ACL of its own */
  readonly webAclArn?: string;
}

/** A REGIONAL web ACL with one rule: block an IP past `limit` requests in 5 minutes. */
export function rateLimitWebAcl(scope: Construct, id: string, limit: number): wafv2.CfnWebACL {
  return new wafv2.CfnWebACL(scope, id, {
    scope: 'REGIONAL',
    defaultAction: { allow: {} },
    visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'ModelShipWebAcl', sampledRequestsEnabled: true },
    rules: [
      {
        name: 'RateLimitPerIp',
        priority: 0,
        action: { block: {} },
        statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP' } },
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'ModelShipRateLimit', sampledRequestsEnabled: true },
      },
      {
        // AWS's rule group against request patterns of known exploits (Log4j's JNDI lookups among them).
        name: 'KnownBadInputs',
        priority: 1,
        overrideAction: { none: {} },
        statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesKnownBadInputsRuleSet' } },
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'ModelShipKnownBadInputs', sampledRequestsEnabled: true },
      },
    ],
  });
}

/** The JSON schema API Gateway checks a v2 inference body against before invoking a function. */
const INFER_REQUEST_SCHEMA: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'InferenceRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['inputs'],
  properties: {
    id: { type: apigw.JsonSchemaType.STRING },
    parameters: { type: apigw.JsonSchemaType.OBJECT },
    // v2 tensors, or (image and text models) the Hugging Face task shape: a text or base64 image, or a
    // list of them; an object for the tasks whose input is one ({"text", "text_pair"}, {"question",
    // "context"}, {"source_sentence", "sentences"}), or a list of text pairs or questions.
    inputs: {
      type: [apigw.JsonSchemaType.ARRAY, apigw.JsonSchemaType.STRING, apigw.JsonSchemaType.OBJECT],
      items: {
        anyOf: [
          {
            type: apigw.JsonSchemaType.OBJECT,
            required: ['name', 'shape', 'datatype', 'data'],
            properties: {
              name: { type: apigw.JsonSchemaType.STRING },
              shape: { type: apigw.JsonSchemaType.ARRAY, items: { type: apigw.JsonSchemaType.INTEGER, minimum: 0 } },
              datatype: { type: apigw.JsonSchemaType.STRING },
            },
          },
          { type: apigw.JsonSchemaType.STRING },
          { type: apigw.JsonSchemaType.OBJECT, required: ['text', 'text_pair'], properties: { text: { type: apigw.JsonSchemaType.STRING }, text_pair: { type: apigw.JsonSchemaType.STRING } } },
          { type: apigw.JsonSchemaType.OBJECT, required: ['question', 'context'] },
        ],
      },
    },
    outputs: { type: apigw.JsonSchemaType.ARRAY, items: { type: apigw.JsonSchemaType.OBJECT, required: ['name'] } },
  },
};

const PREDICT_REQUEST_SCHEMA: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'PredictRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['instances'],
  properties: { instances: { type: apigw.JsonSchemaType.ARRAY, minItems: 1 } },
};

/** The JSON schema of a feedback body: the version that answered, and an outcome or a label with the prediction. */
const FEEDBACK_REQUEST_SCHEMA: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'FeedbackRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['model_version'],
  properties: {
    model_version: { type: [apigw.JsonSchemaType.STRING, apigw.JsonSchemaType.INTEGER] },
    id: { type: apigw.JsonSchemaType.STRING },
    outcome: { type: [apigw.JsonSchemaType.INTEGER, apigw.JsonSchemaType.BOOLEAN] },
  },
};

/** OpenAI's embeddings request (its API reference, CreateEmbeddingRequest), checked before invoking. */
const EMBEDDINGS_REQUEST_SCHEMA: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'EmbeddingsRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['model', 'input'],
  properties: {
    model: { type: apigw.JsonSchemaType.STRING, minLength: 1 },
    input: { type: [apigw.JsonSchemaType.STRING, apigw.JsonSchemaType.ARRAY], minLength: 1, minItems: 1, maxItems: 2048 },
    encoding_format: { type: apigw.JsonSchemaType.STRING, enum: ['float', 'base64'] },
    dimensions: { type: apigw.JsonSchemaType.INTEGER, minimum: 1 },
    user: { type: apigw.JsonSchemaType.STRING },
  },
};

/** Cohere's and Jina's rerank request, checked before invoking: documents as texts or {"text"} objects. */
const RERANK_REQUEST_SCHEMA: apigw.JsonSchema = {
  schema: apigw.JsonSchemaVersion.DRAFT4,
  title: 'RerankRequest',
  type: apigw.JsonSchemaType.OBJECT,
  required: ['model', 'query', 'documents'],
  properties: {
    model: { type: apigw.JsonSchemaType.STRING, minLength: 1 },
    query: { type: apigw.JsonSchemaType.STRING, minLength: 1 },
    documents: {
      type: apigw.JsonSchemaType.ARRAY,
      minItems: 1,
      maxItems: 1000,
      items: { anyOf: [{ type: apigw.JsonSchemaType.STRING }, { type: apigw.JsonSchemaType.OBJECT, required: ['text'], properties: { text: { type: apigw.JsonSchemaType.STRING } } }] },
    },
    top_n: { type: apigw.JsonSchemaType.INTEGER, minimum: 1 },
    return_documents: { type: apigw.JsonSchemaType.BOOLEAN },
  },
};

export const API_KEY_DESCRIPTION = 'ModelShip API key; read its value with aws apigateway get-api-key --include-value';

/** The account-level role API Gateway writes execution logs with (aws-cdk-lib's cloudWatchRole), acknowledged. */
export function acknowledgeCloudWatchRole(scope: Construct): void {
  Validations.of(scope).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason: 'The account-level role API Gateway needs to write execution logs; AWS documents this managed policy for it.',
  });
}

/**
 * API Gateway's account-level logging role, set once for APIs in other (nested) stacks, as
 * RestApi's cloudWatchRole does for one API: several APIs each setting it would fight over it.
 */
export function apiGatewayAccountLogging(scope: Construct): apigw.CfnAccount {
  const role = new iam.Role(scope, 'ApiGatewayCloudWatchRole', {
    assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
  });
  acknowledgeCloudWatchRole(role);
  const account = new apigw.CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
  account.node.addDependency(role);
  return account;
}

export class InferenceApi extends Construct {
  readonly api: apigw.RestApi;
  readonly accessLogGroup: logs.LogGroup;
  readonly apiKey?: apigw.IApiKey;
  readonly usagePlan?: apigw.UsagePlan;
  readonly webAcl?: wafv2.CfnWebACL;
  readonly authMode: AuthMode;
  /** The API stage's name. */
  readonly stageName: string;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    if (props.backends.length === 0) throw new Error('InferenceApi needs at least one backend');
    this.authMode = props.authMode ?? 'iam';
    this.stageName = props.stageName ?? 'prod';
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetentionDays ?? 30 });
    acknowledgeLogGroup(this.accessLogGroup);

    this.api = new apigw.RestApi(this, 'Resource', {
      description: 'ModelShip inference API (Open Inference Protocol v2 and :predict)',
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      cloudWatchRole: props.cloudWatchRole ?? true,
      // Binary tensors, and images sent as themselves (text/plain stays text).
      binaryMediaTypes: ['application/octet-stream', 'image/jpeg', 'image/png', 'image/webp', 'application/x-image'],
      deployOptions: {
        stageName: this.stageName,
        throttlingRateLimit: props.throttleRateLimit ?? 100,
        throttlingBurstLimit: props.throttleBurstLimit ?? 200,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.INFO,
        // Request and response bodies are model inputs and outputs: never written to logs.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
      },
      defaultCorsPreflightOptions: props.corsOrigins !== undefined ? { allowOrigins: props.corsOrigins, allowMethods: ['GET', 'POST'] } : undefined,
      defaultMethodOptions:
        this.authMode === 'iam' ? { authorizationType: apigw.AuthorizationType.IAM } : { apiKeyRequired: true, authorizationType: apigw.AuthorizationType.NONE },
    });

    if (props.cloudWatchRole ?? true) acknowledgeCloudWatchRole(this.api);
    acknowledgeGuard(
      this.api,
      'lambda_function_public_access_prohibited_check',
      "The integrations' invoke permissions admit only API Gateway, and only from this REST API: SourceArn is the API's execute-api ARN (partition, region, account, API id), which CloudFormation joins with Fn::Join; the control reads a SourceArn only as a plain string or a direct reference.",
    );
    skipCheckov(
      this.api.deploymentStage,
      'CKV_AWS_120',
      'No stage cache: inference requests are POSTs whose bodies are the inputs, which API Gateway does not key its cache on, so a cache would answer one input with another\'s prediction; the metadata GETs are cheap. A cache cluster also bills by the hour.',
    );
    this.addGatewayResponses();
    const validator = this.api.addRequestValidator('BodyValidator', { validateRequestBody: true, validateRequestParameters: true });
    const inferModel = this.api.addModel('InferenceRequest', { contentType: 'application/json', schema: INFER_REQUEST_SCHEMA });
    const predictModel = this.api.addModel('PredictRequest', { contentType: 'application/json', schema: PREDICT_REQUEST_SCHEMA });
    const feedbackModel = this.api.addModel('FeedbackRequest', { contentType: 'application/json', schema: FEEDBACK_REQUEST_SCHEMA });
    const embeddingsModel = this.api.addModel('EmbeddingsRequest', { contentType: 'application/json', schema: EMBEDDINGS_REQUEST_SCHEMA });
    const rerankModel = this.api.addModel('RerankRequest', { contentType: 'application/json', schema: RERANK_REQUEST_SCHEMA });
    const validated = (model: apigw.IModel): apigw.MethodOptions => ({ requestValidator: validator, requestModels: { 'application/json': model } });

    // Server-wide routes go to the first backend: any one answers them the same way.
    // One invoke permission per function for the whole API, not two per method: a model's ten
    // routes otherwise cost it twenty AWS::Lambda::Permission resources, and seven models passed
    // CloudFormation's 500 resources per stack. The API routes only a function's own models to it.
    const integrationOf = (alias: lambda.IFunction) => new apigw.LambdaIntegration(alias, { scopePermissionToMethod: false });
    const first = integrationOf(props.backends[0].alias);
    const v2 = this.api.root.addResource('v2');
    v2.addMethod('GET', first);
    const health = v2.addResource('health');
    health.addResource('live').addMethod('GET', first);
    health.addResource('ready').addMethod('GET', first);
    const v2models = v2.addResource('models');
    const v1models = this.api.root.addResource('v1').addResource('models');
    const openai = this.api.root.addResource('openai');

    for (const backend of props.backends) {
      const integration = backend === props.backends[0] ? first : integrationOf(backend.alias);
      for (const model of backend.models) {
        // Literal model names, so each model reaches its own function and has its own metrics.
        const base = v2models.addResource(model.name);
        base.addMethod('GET', integration);
        base.addResource('ready').addMethod('GET', integration);
        base.addResource('infer').addMethod('POST', integration, validated(inferModel));
        // A/B outcomes for the versions that answered (ab-report --cloudwatch reads their metrics).
        base.addResource('feedback').addMethod('POST', integration, validated(feedbackModel));
        const version = base.addResource('versions').addResource('{version}');
        version.addMethod('GET', integration);
        version.addResource('ready').addMethod('GET', integration);
        version.addResource('infer').addMethod('POST', integration, validated(inferModel));
        v1models.addResource(`${model.name}:predict`).addMethod('POST', integration, validated(predictModel));
        // {version} here captures "2:predict"; the function parses it.
        const v1model = v1models.addResource(model.name);
        v1model.addMethod('GET', integration);
        v1model.addResource('versions').addResource('{versionPredict}').addMethod('POST', integration, validated(predictModel));
        // A text model's OpenAI/Cohere-compatible base URL (the body's "model" must be this model), and
        // an image embedding model's (/v1/embeddings with image items); no other model gets one: each
        // costs up to 10 API resources, and a stack holds 500.
        if (!model.takesText && !model.embedsImages) continue;
        const compatible = openai.addResource(model.name).addResource('v1');
        compatible.addResource('embeddings').addMethod('POST', integration, validated(embeddingsModel));
        if (model.takesText) compatible.addResource('rerank').addMethod('POST', integration, validated(rerankModel));
        const listed = compatible.addResource('models');
        listed.addMethod('GET', integration);
        listed.addResource('{model}').addMethod('GET', integration);
      }
    }

    if (this.authMode === 'apiKey') {
      this.usagePlan = this.api.addUsagePlan('UsagePlan', {
        throttle: { rateLimit: props.throttleRateLimit ?? 100, burstLimit: props.throttleBurstLimit ?? 200 },
        quota: { limit: props.apiKeyQuotaPerDay ?? 100_000, period: apigw.Period.DAY },
        apiStages: [{ stage: this.api.deploymentStage }],
      });
      this.apiKey = props.apiKey ?? this.api.addApiKey('ApiKey', { description: API_KEY_DESCRIPTION });
      this.usagePlan.addApiKey(this.apiKey);
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'authMode apiKey was chosen explicitly: callers present an API key under a usage plan instead of SigV4.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are services that sign with IAM (SigV4) by default, or use API keys; there are no end-user Cognito identities.',
    });

    if (props.waf) {
      if (props.webAclArn === undefined) this.webAcl = rateLimitWebAcl(this, 'WebAcl', props.wafRateLimit ?? 2000);
      new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: props.webAclArn ?? this.webAcl!.attrArn });
    } else {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'WAF is an opt-in (context modelship:waf=true) for its cost; stage throttling and authentication are always on.',
      });
    }
  }

  /** API Gateway's own answers (auth, validation, throttling) in the protocol's {"error": ...} shape. */
  private addGatewayResponses(): void {
    const body = (message: string) => ({ 'application/json': `{"error": "${message}"}` });
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: body('request body does not match the protocol: $context.error.validationErrorString'),
    });
    this.api.addGatewayResponse('Default4xx', { type: apigw.ResponseType.DEFAULT_4XX, templates: body('$context.error.message') });
    this.api.addGatewayResponse('Default5xx', { type: apigw.ResponseType.DEFAULT_5XX, templates: body('$context.error.message') });
    this.api.addGatewayResponse('Throttled', { type: apigw.ResponseType.THROTTLED, statusCode: '429', templates: body('too many requests: the stage or usage plan limit was reached; retry with backoff') });
    this.api.addGatewayResponse('MissingAuth', {
      type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '403',
      templates: body('no such route or method, or the request is not signed (SigV4) / has no x-api-key: $context.error.message'),
    });
  }

  /** An API Gateway metric for one route (detailed metrics are on). */
  metricForRoute(metricName: string, resourcePath: string, method: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName,
      // The stage by its name, not a reference to the stage: an alarm on this metric gates the
      // functions' CodeDeploy deployments, and the alias a deployment shifts is behind the stage, so
      // a reference would close a dependency cycle (Alias → DeploymentGroup → Alarm → Stage → Alias)
      // that CloudFormation rejects (cfn-lint E3004).
      dimensionsMap: { ApiName: this.api.restApiName, Stage: this.stageName, Resource: resourcePath, Method: method },
      period: Duration.minutes(1),
      ...props,
    });
  }

  /** Requests to a model's infer route. @default Sum per minute */
  metricModelRequests(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricForRoute('Count', `/v2/models/${model}/infer`, 'POST', { statistic: 'Sum', ...props });
  }

  /** 4XX answers on a model's infer route. @default Sum per minute */
  metricModelClientErrors(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricForRoute('4XXError', `/v2/models/${model}/infer`, 'POST', { statistic: 'Sum', ...props });
  }

  /** 5XX answers on a model's infer route. @default Sum per minute */
  metricModelServerErrors(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricForRoute('5XXError', `/v2/models/${model}/infer`, 'POST', { statistic: 'Sum', ...props });
  }

  /** End-to-end latency of a model's infer route. @default p99 per minute */
  metricModelLatency(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricForRoute('Latency', `/v2/models/${model}/infer`, 'POST', { statistic: 'p99', ...props });
  }

  /** Time in the function behind a model's infer route. @default p99 per minute */
  metricModelIntegrationLatency(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricForRoute('IntegrationLatency', `/v2/models/${model}/infer`, 'POST', { statistic: 'p99', ...props });
  }
}
