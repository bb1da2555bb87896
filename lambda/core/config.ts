/**
 * Per-model settings: models/<name>/config.json. Read by the runtime (labels, limits, version policy)
 * and by the CDK app (memory, concurrency, objectives), from this one schema.
 */
// zod/mini, not the classic build: the same validator without the method chains, 15 KB bundled
// instead of 450 KB, which the Lambda function parsed and evaluated at every cold start (about
// 35 ms, measured by npm run bench's cold start part). Its messages come from the English locale.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

/**
 * Tasks of image and text models, whose preprocessing and answers the server does: Hugging Face's
 * pipeline names, one module each in lambda/core/tasks/ (registry.ts; a test checks the two agree).
 */
export const TASKS = [
  'image-classification',
  'text-classification',
  'feature-extraction',
  'sentence-similarity',
  'token-classification',
  'zero-shot-classification',
  'question-answering',
  'object-detection',
  'image-feature-extraction',
  'zero-shot-image-classification',
] as const;
export type Task = (typeof TASKS)[number];

/** Lambda's synchronous invocation payload limit, each way. */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const int = (min?: number, max?: number) => z.int().check(...(min === undefined ? [] : [z.minimum(min)]), ...(max === undefined ? [] : [z.maximum(max)]));
const number = (min?: number, max?: number) => z.number().check(...(min === undefined ? [] : [z.minimum(min)]), ...(max === undefined ? [] : [z.maximum(max)]));
const positiveInt = () => z.int().check(z.positive());
const positive = () => z.number().check(z.positive());
const name = () => z.string().check(z.minLength(1));

/** SageMaker real-time endpoint settings (target "sagemaker"). */
export const sageMakerConfigSchema = z
  .strictObject({
    /** Instance type; a GPU type such as ml.g5.xlarge or ml.g6.xlarge. */
    instanceType: z._default(z.string().check(z.regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/)), 'ml.g5.xlarge'),
    /** Instances at creation. */
    initialInstanceCount: z._default(int(1), 1),
    /** Autoscaling floor. */
    minInstanceCount: z._default(int(1), 1),
    /** Autoscaling ceiling. */
    maxInstanceCount: z._default(int(1), 2),
    /** Scale on invocations per instance or on GPU utilization. */
    scaleOn: z._default(z.enum(['invocations', 'gpu']), 'invocations'),
    /** Invocations per instance per minute to hold. */
    targetInvocationsPerInstance: z._default(int(1), 1000),
    /** GPU utilization to hold. */
    targetGpuUtilizationPercent: z._default(number(1, 100), 70),
    /** Share of requests and responses captured to the model store; default off. */
    dataCapturePercent: z.optional(int(1, 100)),
    /** Requests in flight per worker; default 32. */
    maxConcurrency: z.optional(int(1)),
  })
  .check((ctx) => {
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
  /** Memory, 1024 to 6144 in steps of 1024. */
  memorySizeMb: z._default(z.union([z.literal(1024), z.literal(2048), z.literal(3072), z.literal(4096), z.literal(5120), z.literal(6144)]), 3072),
  /** Concurrent invocations. */
  maxConcurrency: z._default(int(1, 200), 5),
  /** Provisioned concurrency; default none. */
  provisionedConcurrency: z.optional(int(1, 200)),
});

export const modelConfigSchema = z
  .strictObject({
    /** What the model does, shown in metadata and the console. */
    description: z.optional(z.string().check(z.maxLength(1024))),
    /**
     * Drives per-task metrics and :predict output; for image and text models, the preprocessing and
     * answers (default: inferred from a Hugging Face export's config.json).
     */
    task: z.optional(z.enum(['classification', 'regression', 'other', ...TASKS])),
    /** Labels answered by image and text classifiers (default 5 for images, all for texts; a request's top_k wins). */
    topK: z.optional(positiveInt()),
    /** Classifiers: what turns the model's output into scores (default: softmax, or sigmoid for a multi-label problem_type; "none" when it outputs probabilities). */
    functionToApply: z.optional(z.enum(['softmax', 'sigmoid', 'none'])),
    /** Embeddings: how token embeddings become one (texts: default 1_Pooling/config.json, else mean; images: "cls" or "mean", default the architecture's, see image-feature-extraction). */
    pooling: z.optional(z.enum(['mean', 'cls', 'max'])),
    /** Text embeddings: L2-normalize them (default: a Normalize module in modules.json). */
    normalize: z.optional(z.boolean()),
    /**
     * Text embeddings trained Matryoshka-style: the sizes the OpenAI-compatible /v1/embeddings
     * "dimensions" may cut them to (then L2-normalized again). @default - none: "dimensions" refused unless it is the full size
     */
    matryoshkaDimensions: z.optional(z.array(positiveInt()).check(z.minLength(1))),
    /** zero-shot-image-classification with two towers (model.onnx the vision tower, text_model.onnx the text tower): exp(logit_scale), which neither tower holds (100 for OpenAI's CLIP). */
    logitScale: z.optional(positive()),
    /** The same for SigLIP's towers: logit_bias, added after the scale. */
    logitBias: z.optional(z.number()),
    /** Tokens per text (default: the export's max_position_embeddings or the tokenizer's model_max_length, at most 512). */
    maxLength: z.optional(positiveInt()),
    /** A text over maxLength: "truncate" it and say so in the answer, or "reject" it with 400. */
    truncation: z._default(z.enum(['truncate', 'reject']), 'truncate'),
    /** The model's input and output names, when they are not the usual ones (pixel_values or its only input; input_ids, attention_mask, token_type_ids; its first output). */
    inputNames: z.optional(z.strictObject({ image: z.optional(name()), inputIds: z.optional(name()), attentionMask: z.optional(name()), tokenTypeIds: z.optional(name()) })),
    outputName: z.optional(name()),
    /** Image preprocessing for models without a preprocessor_config.json, and the pixel limit. */
    image: z.optional(
      z.strictObject({
        width: z.optional(positiveInt()),
        height: z.optional(positiveInt()),
        /** Per-channel mean and standard deviation, applied after rescaling to 0..1. */
        mean: z.optional(z.array(z.number()).check(z.length(3))),
        std: z.optional(z.array(positive()).check(z.length(3))),
        /** Channels first (NCHW, the default) or last (NHWC). */
        layout: z.optional(z.enum(['nchw', 'nhwc'])),
        /** Images with more pixels are refused with 400 before they are decoded (decompression bombs). */
        maxPixels: z._default(positiveInt(), 40_000_000),
      }),
    ),
    /** zero-shot-classification: candidate labels one request may send (each is one more pair to run); default 32. */
    maxCandidateLabels: z.optional(int(1, 1000)),
    /** Class names, index i naming class i. */
    labels: z.optional(z.array(name()).check(z.minLength(2))),
    /** Output holding class indices; default the output named "label". */
    labelOutput: z.optional(name()),
    /** Names of the input features, in order. */
    featureNames: z.optional(z.array(name())),
    /** Which version the plain routes serve: "latest" or {"pinned": N}. */
    versionPolicy: z._default(z.union([z.literal('latest'), z.strictObject({ pinned: positiveInt() })]), 'latest'),
    /** Largest first dimension accepted; default unlimited. */
    maxBatchSize: z.optional(positiveInt()),
    /** Request body limit; default 6 MiB (the Lambda payload limit). */
    maxRequestBytes: z.optional(positiveInt()),
    /** p99 latency objective; the latency alarm fires above it. */
    latencyObjectiveMs: z._default(positive(), 500),
    /** Lambda memory; default 2048. */
    memorySizeMb: z.optional(int(128, 10240)),
    /** Lambda timeout; default 30. */
    timeoutSeconds: z.optional(int(1, 900)),
    /** Lambda /tmp size; default 512. */
    ephemeralStorageMb: z.optional(int(512, 10240)),
    /** Lambda reserved concurrency; default none. */
    reservedConcurrency: z.optional(int(1)),
    /** Provisioned concurrency on the live alias; default none. */
    provisionedConcurrency: z.optional(int(1)),
    /**
     * Lambda SnapStart on the function's published versions: init (models downloaded, checked,
     * loaded and warmed) runs once at publication and new environments resume from its snapshot.
     * @default - the stack's modelship:snapStart (false)
     */
    snapStart: z.optional(z.boolean()),
    /** Where the model runs: Lambda (CPU), a SageMaker GPU endpoint, or SageMaker Serverless. */
    target: z._default(z.enum(['lambda', 'sagemaker', 'sagemaker-serverless']), 'lambda'),
    /** Settings for target "sagemaker". */
    sagemaker: z.optional(sageMakerConfigSchema),
    /** Settings for target "sagemaker-serverless". */
    sagemakerServerless: z.optional(sageMakerServerlessConfigSchema),
    /** Models naming the same group share one function; default a function of its own. */
    functionGroup: z.optional(z.string().check(z.regex(/^[A-Za-z0-9]{1,32}$/))),
    /** Traffic shifting of new versions; rolls back when the model's alarms fire. */
    deployment: z._default(
      z.strictObject({
        /** How CodeDeploy shifts traffic to a new version. */
        strategy: z._default(z.enum(['canary', 'linear', 'allAtOnce']), 'canary'),
        /** Share shifted first (canary) or per step (linear). */
        percent: z._default(int(1, 99), 10),
        /** Minutes before the rest (canary) or between steps (linear). */
        intervalMinutes: z._default(int(1, 60), 5),
      }),
      { strategy: 'canary', percent: 10, intervalMinutes: 5 },
    ),
    /** Evaluation threshold the pre-traffic hook enforces, beside golden outputs within tolerance. */
    goldenGate: z.optional(
      z.strictObject({
        /** Metric recomputed on the golden rows before traffic shifts. */
        metric: z.enum(['accuracy', 'precision', 'recall', 'f1', 'logLoss', 'rmse', 'mae', 'r2']),
        /** Fail the deployment below this. */
        min: z.optional(z.number()),
        /** Fail the deployment above this. */
        max: z.optional(z.number()),
      }),
    ),
    /** Split plain-route traffic between versions by weight (version -> weight for the plain routes). */
    abTest: z.optional(z.strictObject({ weights: z.record(z.string().check(z.regex(/^[1-9]\d*$/)), positive()) })),
    /** Shadow a candidate version: compare its answers with the live ones, off the request path. */
    shadow: z.optional(
      z.strictObject({
        /** Candidate version that receives a copy of live requests. */
        version: positiveInt(),
        /** Share of live requests copied. */
        percent: z._default(number(0, 100), 100),
      }),
    ),
    /** Data capture: sampled requests and answers as JSON Lines under captures/<model>/<version>/<date>/ in the model store; default off. */
    capture: z.optional(
      z.strictObject({
        /** Share of requests captured with their answers, 0 to 100. */
        percent: number(0, 100),
        /** Larger records are skipped (and counted): a CloudWatch Logs event holds at most 256 KiB. */
        maxRecordBytes: z._default(int(1024, 240 * 1024), 200 * 1024),
        /** Image models: capture each image as its sha256 and size ("hash"), or also as the decoded input tensor the model saw ("tensor", within maxRecordBytes). */
        images: z._default(z.enum(['hash', 'tensor']), 'hash'),
      }),
    ),
    /**
     * Dynamic batching on the long-running servers (local, SageMaker container), in Triton's terms:
     * requests arriving within maxQueueDelayMicroseconds are run together, up to maxBatchSize rows.
     * Off by default; Lambda never batches (one request per instance at a time).
     */
    dynamicBatching: z.optional(
      z.strictObject({
        maxBatchSize: z._default(int(1, 4096), 32),
        maxQueueDelayMicroseconds: z._default(int(0, 1_000_000), 2000),
        /** Run at once when the queue holds exactly one of these row counts. */
        preferredBatchSizes: z.optional(z.array(int(1, 4096))),
      }),
    ),
    /** Drift of captured inputs against baseline.json; needs capture. */
    drift: z._default(
      z.strictObject({
        /** The drift alarm fires when a feature's PSI passes this (0.1 moderate, 0.2 significant shift). */
        psiThreshold: z._default(positive(), 0.2),
        /** Hours of captures the scheduled drift job compares with the baseline. */
        windowHours: z._default(int(1, 168), 24),
        /** Fewer captured rows than this in the window: no drift figures (too noisy). */
        minRows: z._default(int(1), 100),
      }),
      { psiThreshold: 0.2, windowHours: 24, minRows: 100 },
    ),
  })
  .check((ctx) => {
    const { target, sagemaker, sagemakerServerless, functionGroup } = ctx.value;
    if (sagemaker !== undefined && target !== 'sagemaker') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['sagemaker'], message: `is set but target is "${target}"; set "target": "sagemaker"` });
    if (sagemakerServerless !== undefined && target !== 'sagemaker-serverless') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['sagemakerServerless'], message: `is set but target is "${target}"; set "target": "sagemaker-serverless"` });
    if (functionGroup !== undefined && target !== 'lambda') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['functionGroup'], message: 'applies to Lambda models only' });
    if (ctx.value.snapStart === true && target !== 'lambda') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['snapStart'], message: 'applies to Lambda models only (SnapStart is a Lambda feature); remove it or set "target": "lambda"' });
    if (ctx.value.capture !== undefined && target !== 'lambda') ctx.issues.push({ code: 'custom', input: ctx.value, path: ['capture'], message: 'applies to Lambda models; SageMaker endpoints capture with sagemaker.dataCapturePercent' });
    const weights = ctx.value.abTest?.weights;
    if (weights !== undefined && Object.keys(weights).length < 2) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['abTest', 'weights'], message: 'needs at least two versions' });
    const batching = ctx.value.dynamicBatching;
    if (batching?.preferredBatchSizes?.some((size) => size > batching.maxBatchSize)) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['dynamicBatching', 'preferredBatchSizes'], message: `must not exceed maxBatchSize (${batching.maxBatchSize})` });
    const { min, max } = ctx.value.goldenGate ?? {};
    if (ctx.value.goldenGate !== undefined && min === undefined && max === undefined) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['goldenGate'], message: 'needs "min" or "max"' });
    if (min !== undefined && max !== undefined && min > max) ctx.issues.push({ code: 'custom', input: ctx.value, path: ['goldenGate', 'max'], message: `must be at least min (${min})` });
  });

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type SageMakerConfig = z.infer<typeof sageMakerConfigSchema>;
export type SageMakerServerlessConfig = z.infer<typeof sageMakerServerlessConfigSchema>;

export const DEFAULT_MODEL_CONFIG: ModelConfig = z.parse(modelConfigSchema, {});

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
  const result = z.safeParse(modelConfigSchema, raw);
  if (!result.success) {
    throw new ModelConfigError(`${file}: ${schemaProblems(result.error)}`);
  }
  return result.data;
}

/** A schema failure as one line naming every offending field, e.g. `field "maxBatchSize": expected number, received string`. */
export function schemaProblems(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? `field "${issue.path.join('.')}"` : 'top level';
      const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.map((k) => `"${k}"`).join(', ')})` : '';
      return `${field}: ${issue.message}${keys}`;
    })
    .join('; ');
}
