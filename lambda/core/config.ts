/**
 * Per-model settings: models/<name>/config.json. Read by the runtime (labels, limits, version policy)
 * and by the CDK app (memory, concurrency, objectives), from this one schema.
 */
import { z } from 'zod';

/** Lambda's synchronous invocation payload limit, each way. */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** SageMaker real-time endpoint settings (target "sagemaker"). */
export const sageMakerConfigSchema = z.strictObject({
  instanceType: z.string().regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/).default('ml.g5.xlarge').describe('Instance type; a GPU type such as ml.g5.xlarge or ml.g6.xlarge.'),
  initialInstanceCount: z.number().int().min(1).default(1).describe('Instances at creation.'),
  minInstanceCount: z.number().int().min(1).default(1).describe('Autoscaling floor.'),
  maxInstanceCount: z.number().int().min(1).default(2).describe('Autoscaling ceiling.'),
  scaleOn: z.enum(['invocations', 'gpu']).default('invocations').describe('Scale on invocations per instance or on GPU utilization.'),
  targetInvocationsPerInstance: z.number().int().min(1).default(1000).describe('Invocations per instance per minute to hold.'),
  targetGpuUtilizationPercent: z.number().min(1).max(100).default(70).describe('GPU utilization to hold.'),
  dataCapturePercent: z.number().int().min(1).max(100).optional().describe('Share of requests and responses captured to the model store; default off.'),
  maxConcurrency: z.number().int().min(1).optional().describe('Requests in flight per worker; default 32.'),
}).check((ctx) => {
  const { minInstanceCount, maxInstanceCount, initialInstanceCount } = ctx.value;
  if (minInstanceCount > maxInstanceCount) {
    ctx.issues.push({ code: 'custom', input: ctx.value, path: ['maxInstanceCount'], message: `must be at least minInstanceCount (${minInstanceCount}), got ${maxInstanceCount}` });
  }
  if (initialInstanceCount < minInstanceCount || initialInstanceCount > maxInstanceCount) {
    ctx.issues.push({ code: 'custom', input: ctx.value, path: ['initialInstanceCount'], message: `must be between minInstanceCount and maxInstanceCount, got ${initialInstanceCount}` });
  }
});

/** SageMaker Serverless settings (target "sagemaker-serverless"). */
export const sageMakerServerlessConfigSchema = z.strictObject({
  memorySizeMb: z.union([z.literal(1024), z.literal(2048), z.literal(3072), z.literal(4096), z.literal(5120), z.literal(6144)]).default(3072).describe('Memory, 1024 to 6144 in steps of 1024.'),
  maxConcurrency: z.number().int().min(1).max(200).default(5).describe('Concurrent invocations.'),
  provisionedConcurrency: z.number().int().min(1).max(200).optional().describe('Provisioned concurrency; default none.'),
});

export const modelConfigSchema = z
  .strictObject({
  description: z.string().max(1024).optional().describe('What the model does, shown in metadata and the console.'),
  task: z.enum(['classification', 'regression', 'other']).optional().describe('Drives per-task metrics and :predict output.'),
  labels: z.array(z.string().min(1)).min(2).optional().describe('Class names, index i naming class i.'),
  labelOutput: z.string().min(1).optional().describe('Output holding class indices; default the output named "label".'),
  featureNames: z.array(z.string().min(1)).optional().describe('Names of the input features, in order.'),
  versionPolicy: z
    .union([z.literal('latest'), z.strictObject({ pinned: z.number().int().positive() })])
    .default('latest')
    .describe('Which version the plain routes serve: "latest" or {"pinned": N}.'),
  maxBatchSize: z.number().int().positive().optional().describe('Largest first dimension accepted; default unlimited.'),
  maxRequestBytes: z.number().int().positive().optional().describe('Request body limit; default 6 MiB (the Lambda payload limit).'),
  latencyObjectiveMs: z.number().positive().default(500).describe('p99 latency objective; the latency alarm fires above it.'),
  memorySizeMb: z.number().int().min(128).max(10240).optional().describe('Lambda memory; default 2048.'),
  timeoutSeconds: z.number().int().min(1).max(900).optional().describe('Lambda timeout; default 30.'),
  ephemeralStorageMb: z.number().int().min(512).max(10240).optional().describe('Lambda /tmp size; default 512.'),
  reservedConcurrency: z.number().int().min(1).optional().describe('Lambda reserved concurrency; default none.'),
  provisionedConcurrency: z.number().int().min(1).optional().describe('Provisioned concurrency on the live alias; default none.'),
  target: z.enum(['lambda', 'sagemaker', 'sagemaker-serverless']).default('lambda').describe('Where the model runs: Lambda (CPU), a SageMaker GPU endpoint, or SageMaker Serverless.'),
  sagemaker: sageMakerConfigSchema.optional().describe('Settings for target "sagemaker".'),
  sagemakerServerless: sageMakerServerlessConfigSchema.optional().describe('Settings for target "sagemaker-serverless".'),
  functionGroup: z.string().regex(/^[A-Za-z0-9]{1,32}$/).optional().describe('Models naming the same group share one function; default a function of its own.'),
  deployment: z
    .strictObject({
      strategy: z.enum(['canary', 'linear', 'allAtOnce']).default('canary').describe('How CodeDeploy shifts traffic to a new version.'),
      percent: z.number().int().min(1).max(99).default(10).describe('Share shifted first (canary) or per step (linear).'),
      intervalMinutes: z.number().int().min(1).max(60).default(5).describe('Minutes before the rest (canary) or between steps (linear).'),
    })
    .default({ strategy: 'canary', percent: 10, intervalMinutes: 5 })
    .describe('Traffic shifting of new versions; rolls back when the model\'s alarms fire.'),
  goldenGate: z
    .strictObject({
      metric: z.enum(['accuracy', 'precision', 'recall', 'f1', 'logLoss', 'rmse', 'mae', 'r2']).describe('Metric recomputed on the golden rows before traffic shifts.'),
      min: z.number().optional().describe('Fail the deployment below this.'),
      max: z.number().optional().describe('Fail the deployment above this.'),
    })
    .optional()
    .describe('Evaluation threshold the pre-traffic hook enforces, beside golden outputs within tolerance.'),
  abTest: z
    .strictObject({
      weights: z.record(z.string().regex(/^[1-9]\d*$/), z.number().positive()).describe('Version -> weight for the plain routes.'),
    })
    .optional()
    .describe('Split plain-route traffic between versions by weight.'),
  shadow: z
    .strictObject({
      version: z.number().int().positive().describe('Candidate version that receives a copy of live requests.'),
      percent: z.number().min(0).max(100).default(100).describe('Share of live requests copied.'),
    })
    .optional()
    .describe('Shadow a candidate version: compare its answers with the live ones, off the request path.'),
  capture: z
    .strictObject({
      percent: z.number().min(0).max(100).describe('Share of requests captured with their answers, 0 to 100.'),
      maxRecordBytes: z.number().int().min(1024).max(240 * 1024).default(200 * 1024).describe('Larger records are skipped (and counted): a CloudWatch Logs event holds at most 256 KiB.'),
    })
    .optional()
    .describe('Data capture: sampled requests and answers as JSON Lines under captures/<model>/<version>/<date>/ in the model store; default off.'),
  drift: z
    .strictObject({
      psiThreshold: z.number().positive().default(0.2).describe('The drift alarm fires when a feature\'s PSI passes this (0.1 moderate, 0.2 significant shift).'),
      windowHours: z.number().int().min(1).max(168).default(24).describe('Hours of captures the scheduled drift job compares with the baseline.'),
      minRows: z.number().int().min(1).default(100).describe('Fewer captured rows than this in the window: no drift figures (too noisy).'),
    })
    .default({ psiThreshold: 0.2, windowHours: 24, minRows: 100 })
    .describe('Drift of captured inputs against baseline.json; needs capture.'),
  })
  .check((ctx) => {
    const { target, sagemaker, sagemakerServerless, functionGroup } = ctx.value;
    if (sagemaker !== undefined && target !== 'sagemaker') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['sagemaker'], message: `is set but target is "${target}"; set "target": "sagemaker"` });
    if (sagemakerServerless !== undefined && target !== 'sagemaker-serverless') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['sagemakerServerless'], message: `is set but target is "${target}"; set "target": "sagemaker-serverless"` });
    if (functionGroup !== undefined && target !== 'lambda') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['functionGroup'], message: 'applies to Lambda models only' });
    if (ctx.value.capture !== undefined && target !== 'lambda') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['capture'], message: 'applies to Lambda models; SageMaker endpoints capture with sagemaker.dataCapturePercent' });
    const weights = ctx.value.abTest?.weights;
    if (weights !== undefined && Object.keys(weights).length < 2) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['abTest', 'weights'], message: 'needs at least two versions' });
    const { min, max } = ctx.value.goldenGate ?? {};
    if (ctx.value.goldenGate !== undefined && min === undefined && max === undefined) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['goldenGate'], message: 'needs "min" or "max"' });
    if (min !== undefined && max !== undefined && min > max) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['goldenGate', 'max'], message: `must be at least min (${min})` });
  });

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type SageMakerConfig = z.infer<typeof sageMakerConfigSchema>;
export type SageMakerServerlessConfig = z.infer<typeof sageMakerServerlessConfigSchema>;

export const DEFAULT_MODEL_CONFIG: ModelConfig = modelConfigSchema.parse({});

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

/**
 * Validates a config.json's text. Errors name the file and every offending field, e.g.
 * `models/iris/config.json: field "maxBatchSize": expected number, received string`.
 */
export function parseModelConfig(text: string | undefined, file: string): ModelConfig {
  if (text === undefined) return DEFAULT_MODEL_CONFIG;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelConfigError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  const result = modelConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const field = issue.path.length > 0 ? `field "${issue.path.join('.')}"` : 'top level';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.map((k) => `"${k}"`).join(', ')})` : '';
      return `${field}: ${issue.message}${keys}`;
    });
    throw new ModelConfigError(`${file}: ${problems.join('; ')}`);
  }
  return result.data;
}
