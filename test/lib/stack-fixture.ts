/** Builds ModelShip stacks for template assertions, without staging the real image each time. */
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { NATIVE_SAMPLES, ROOT, SAMPLE_MODELS, SAMPLES_DIR, TempRepository } from '../helpers.ts';

let fakeImage: string | undefined;

/** A build context with only the Dockerfile: enough for the asset, no bundling. */
export function fakeImageDirectory(): string {
  if (fakeImage === undefined) {
    fakeImage = mkdtempSync(join(tmpdir(), 'modelship-image-'));
    cpSync(join(ROOT, 'lambda', 'Dockerfile'), join(fakeImage, 'Dockerfile'));
  }
  return fakeImage;
}

let onnxSamples: string | undefined;

/**
 * The samples without the two native tree ones. With CORS on, each model brings ~60 resources (an
 * OPTIONS method beside every route) and all nine samples pass CloudFormation's 500 per stack (past
 * which a repository sets modelship:modelStacks); the tests of every option at once use these seven.
 */
export function onnxSamplesDirectory(): string {
  if (onnxSamples === undefined) {
    const repo = new TempRepository('onnx-samples-');
    for (const name of SAMPLE_MODELS.filter((m) => !NATIVE_SAMPLES.includes(m))) repo.sample(name);
    onnxSamples = repo.dir;
  }
  return onnxSamples;
}

export interface Built {
  readonly app: App;
  readonly stack: ModelShipStack;
  readonly template: Template;
}

export function buildStack(context: Record<string, unknown> = {}): Built {
  // Bundling (the SageMaker proxy's esbuild run) is skipped: these tests assert the template only.
  const app = new App({ context: { 'modelship:modelsDir': SAMPLES_DIR, 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new ModelShipStack(app, 'TestStack', { imageDirectory: fakeImageDirectory(), sageMakerImageDirectory: fakeImageDirectory() });
  return { app, stack, template: Template.fromStack(stack) };
}

/** A model repository in a temp dir: the iris sample under each name, with the given configs (and its baseline.json when asked). */
export function repositoryWith(models: Record<string, Record<string, unknown> | undefined>, options: { baseline?: boolean } = {}): string {
  const repo = new TempRepository('models-');
  for (const [name, config] of Object.entries(models)) {
    repo.file(`${name}/1/model.onnx`, readFileSync(join(SAMPLES_DIR, 'iris_forest', '1', 'model.onnx')));
    if (options.baseline === true) repo.file(`${name}/1/baseline.json`, readFileSync(join(SAMPLES_DIR, 'iris_forest', '1', 'baseline.json')));
    if (config !== undefined) repo.config(name, config);
  }
  return repo.dir;
}
