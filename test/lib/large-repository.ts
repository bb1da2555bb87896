/**
 * A large model repository built from the samples (models/), for the scale tests, the IaC
 * checkers and the bench: by default 200 models, of which 150 have a Lambda function each, 40
 * share functions in groups of 10, and 10 run on SageMaker (GPU endpoints and Serverless). Some
 * have several versions (pinned, A/B, shadow), some capture (with drift), delivery strategies and
 * golden gates vary, so the templates exercise every path the stack has. Deterministic: the same
 * options write the same files.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SAMPLES_DIR = join(import.meta.dirname, '..', '..', 'models');

/** Small tabular samples: most of the repository (a few kB to a few hundred kB each). */
const TABULAR = ['iris_forest', 'diabetes_regressor', 'breast_cancer_classifier', 'digits_mlp'] as const;
/** The image sample (side file preprocessor_config.json, under 1 MB). */
const IMAGE = 'text_orientation';
/** The text samples (tokenizer side files, 15 MB each): copied once each unless textModels is false. */
const TEXT = ['debian_sections', 'debian_embeddings'] as const;

export interface LargeRepositoryOptions {
  /** Models in all; split 75% separate Lambda, 20% in function groups of 10, 5% SageMaker. @default 200 */
  readonly models?: number;
  /** Include one copy of each 15 MB text sample (tokenizer side files). @default true */
  readonly textModels?: boolean;
}

export type LargeRepositoryKind = 'lambda' | 'group' | 'sagemaker' | 'sagemaker-serverless';

export interface LargeRepositoryModel {
  readonly name: string;
  /** The sample it was copied from. */
  readonly sample: string;
  readonly kind: LargeRepositoryKind;
  /** The functionGroup, for kind "group". */
  readonly group?: string;
  readonly versions: readonly number[];
  readonly config: Record<string, unknown>;
}

export interface LargeRepository {
  readonly dir: string;
  readonly models: readonly LargeRepositoryModel[];
}

/** The task-appropriate golden gate of a tabular sample (below its measured evaluation). */
const GATES: Record<string, Record<string, unknown>> = {
  iris_forest: { metric: 'accuracy', min: 0.8 },
  diabetes_regressor: { metric: 'r2', min: 0.3 },
  breast_cancer_classifier: { metric: 'f1', min: 0.9 },
  digits_mlp: { metric: 'accuracy', min: 0.9 },
};

function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from).sort()) {
    const source = join(from, entry);
    if (statSync(source).isDirectory()) copyTree(source, join(to, entry));
    else copyFileSync(source, join(to, entry));
  }
}

/** Copies version 1 of a sample as the given versions of a model, and writes its config.json (the sample's own fields, then these). */
function writeModel(dir: string, model: LargeRepositoryModel): void {
  const sampleDir = join(SAMPLES_DIR, model.sample);
  if (!existsSync(join(sampleDir, '1', 'model.onnx')) && !existsSync(join(sampleDir, '1', 'onnx', 'model.onnx'))) {
    throw new Error(`sample ${model.sample} has no model.onnx: run npm run samples first`);
  }
  for (const version of model.versions) copyTree(join(sampleDir, '1'), join(dir, model.name, String(version)));
  const sampleConfig = join(sampleDir, 'config.json');
  const base = existsSync(sampleConfig) ? JSON.parse(readFileSync(sampleConfig, 'utf8')) : {};
  writeFileSync(join(dir, model.name, 'config.json'), `${JSON.stringify({ ...base, ...model.config }, null, 1)}\n`);
}

/** The plan of a repository of `count` models: names, kinds, samples, versions and configs. */
export function planLargeRepository(options: LargeRepositoryOptions = {}): LargeRepositoryModel[] {
  const count = options.models ?? 200;
  if (!Number.isInteger(count) || count < 20) throw new Error(`a large repository needs at least 20 models, got ${count}`);
  const sageMakerCount = Math.max(2, Math.round(count * 0.05));
  const groupCount = Math.max(10, Math.round((count * 0.2) / 10) * 10);
  const lambdaCount = count - sageMakerCount - groupCount;
  const textSamples = options.textModels === false ? [] : [...TEXT];
  const models: LargeRepositoryModel[] = [];
  const pad = (i: number) => String(i).padStart(String(count).length, '0');

  // Separate Lambda models: mostly tabular, a few images and (once each) the text samples.
  for (let i = 0; i < lambdaCount; i++) {
    const n = models.length + 1;
    const sample = i < textSamples.length ? textSamples[i] : i % 25 === 7 ? IMAGE : TABULAR[i % TABULAR.length];
    const tabular = (TABULAR as readonly string[]).includes(sample);
    const config: Record<string, unknown> = {};
    let versions = [1];
    // Every 5th model has versions 1-3, the live one pinned to 2; every 10th of those an A/B split,
    // others a shadow candidate.
    if (tabular && i % 5 === 1) {
      versions = [1, 2, 3];
      config.versionPolicy = { pinned: 2 };
      if (i % 10 === 1) config.abTest = { weights: { '2': 90, '3': 10 } };
      else config.shadow = { version: 3, percent: 20 };
    } else if (tabular && i % 5 === 3) {
      versions = [1, 2];
    }
    // Capture (and so drift, the samples carry baseline.json) on every 8th model.
    if (i % 8 === 2) config.capture = { percent: 10 };
    // Delivery strategies vary; tabular models gate on their metric.
    if (i % 6 === 4) config.deployment = { strategy: 'linear', percent: 20, intervalMinutes: 2 };
    if (i % 6 === 5) config.deployment = { strategy: 'allAtOnce' };
    if (tabular && i % 4 === 0) config.goldenGate = GATES[sample];
    if (i % 30 === 11) config.reservedConcurrency = 5;
    if (i % 50 === 13) config.provisionedConcurrency = 1;
    if (i % 9 === 4) config.memorySizeMb = 1024;
    models.push({ name: `m${pad(n)}-${sample.replace(/_/g, '-')}`, sample, kind: 'lambda', versions, config });
  }

  // Function groups of 10: long names, so a description listing them all would pass Lambda's 256 characters.
  for (let i = 0; i < groupCount; i++) {
    const n = models.length + 1;
    const group = `group${Math.floor(i / 10) + 1}`;
    const sample = i % 10 === 9 ? IMAGE : TABULAR[i % TABULAR.length];
    const config: Record<string, unknown> = { functionGroup: group };
    let versions = [1];
    if (i % 10 === 3) versions = [1, 2];
    if (i % 10 === 6) {
      versions = [1, 2, 3];
      config.versionPolicy = { pinned: 1 };
    }
    if (i % 20 === 5) config.capture = { percent: 5 };
    models.push({ name: `m${pad(n)}-${group}-${sample.replace(/_/g, '-')}`, sample, kind: 'group', group, versions, config });
  }

  // SageMaker: GPU endpoints (instance types with and without local NVMe, data capture, GPU scaling) and Serverless.
  const instanceTypes = ['ml.g5.xlarge', 'ml.g6.xlarge', 'ml.g4dn.xlarge'];
  for (let i = 0; i < sageMakerCount; i++) {
    const n = models.length + 1;
    const sample = TABULAR[i % TABULAR.length];
    const gpu = i % 2 === 0;
    const config: Record<string, unknown> = gpu
      ? {
          target: 'sagemaker',
          sagemaker: {
            instanceType: instanceTypes[(i / 2) % instanceTypes.length],
            ...(i % 4 === 0 ? { dataCapturePercent: 20 } : {}),
            ...(i % 6 === 2 ? { scaleOn: 'gpu', maxInstanceCount: 4 } : {}),
          },
        }
      : { target: 'sagemaker-serverless', sagemakerServerless: { memorySizeMb: 2048, ...(i % 4 === 1 ? { provisionedConcurrency: 1 } : {}) } };
    const versions = i % 3 === 1 ? [1, 2] : [1];
    models.push({ name: `m${pad(n)}-${gpu ? 'gpu' : 'serverless'}-${sample.replace(/_/g, '-')}`, sample, kind: gpu ? 'sagemaker' : 'sagemaker-serverless', versions, config });
  }
  return models;
}

/** Writes the repository into `dir` (created when missing; it should be empty) and returns its plan. */
export function writeLargeRepository(dir: string, options: LargeRepositoryOptions = {}): LargeRepository {
  mkdirSync(dir, { recursive: true });
  const models = planLargeRepository(options);
  for (const model of models) writeModel(dir, model);
  return { dir, models };
}
