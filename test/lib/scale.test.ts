/**
 * A repository of 200 models (test/lib/large-repository.ts) deploys within CloudFormation's, Lambda's
 * and API Gateway's limits, asserted from the synthesized templates; adding a model moves or
 * renames nothing else; synth is deterministic. The 200-model repository is synthesized once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { discoverModels, type DiscoveredModel } from '../../lib/model-discovery.ts';
import { MANIFEST_FOLDER } from '../../lib/model-store.ts';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { fakeImageDirectory, repositoryWith } from './stack-fixture.ts';
import { writeLargeRepository } from './large-repository.ts';

/** CloudFormation's quotas (per template) and Lambda's and API Gateway's defaults. */
const LIMITS = { dashboardWidgets: 500, resources: 500, templateBytes: 1_000_000, parameters: 200, outputs: 200, environmentBytes: 4096, descriptionChars: 256, apiResources: 300 };
/** The longest a bucket name (a token in the template) can be, counted for environment sizes. */
const BUCKET_NAME_CHARS = 63;

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
  Parameters?: Record<string, unknown>;
  Outputs?: Record<string, unknown>;
}

interface Synth {
  readonly outdir: string;
  /** Template file name -> template. */
  readonly templates: Map<string, Template>;
  readonly seconds: number;
}

function synthesize(modelsDir: string, modelStacks: number): Synth {
  const outdir = mkdtempSync(join(tmpdir(), 'modelship-scale-out-'));
  const started = performance.now();
  // CDK's built-in CloudFormation validation is off here (a third of the time): these tests assert
  // quotas; the IaC checkers' tests validate the templates (npm run bench, part k, times synth with it).
  const app = new App({ outdir, builtinCloudFormationValidation: false, context: { 'modelship:modelsDir': modelsDir, 'modelship:modelStacks': modelStacks, 'aws:cdk:bundling-stacks': [] } });
  new ModelShipStack(app, 'ModelShip', { imageDirectory: fakeImageDirectory(), sageMakerImageDirectory: fakeImageDirectory() });
  app.synth();
  const seconds = (performance.now() - started) / 1000;
  const templates = new Map<string, Template>();
  for (const file of readdirSync(outdir).filter((f) => f.endsWith('.template.json')).sort()) templates.set(file, JSON.parse(readFileSync(join(outdir, file), 'utf8')));
  return { outdir, templates, seconds };
}

/** Bytes of a function's environment as Lambda counts them (keys and values), a token counted at its longest. */
function environmentBytes(variables: Record<string, unknown>): number {
  return Object.entries(variables).reduce((sum, [key, value]) => sum + key.length + (typeof value === 'string' ? Buffer.byteLength(value) : BUCKET_NAME_CHARS), 0);
}

/** Every inference function (the ones serving models to the API) of every template. */
function inferenceFunctions(synth: Synth): { file: string; id: string; env: Record<string, any> }[] {
  return [...synth.templates].flatMap(([file, template]) =>
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.PRELOAD_MODELS === 'true')
      .map(([id, r]) => ({ file, id, env: r.Properties!.Environment.Variables })),
  );
}

/** A deployment manifest as the upload writes it, found among the staged assets by its path. */
function readManifest(outdir: string, path: string): Buffer {
  for (const asset of readdirSync(outdir).filter((d) => d.startsWith('asset.'))) {
    const file = join(outdir, asset, path);
    try {
      return readFileSync(file);
    } catch {
      // not in this asset
    }
  }
  throw new Error(`manifest ${path} is in no staged asset`);
}

/** The pin a model should have in full: every version's model and side-file hashes, and its config's. */
function expectedPin(model: DiscoveredModel): Record<string, string> {
  return Object.fromEntries([
    ...model.versions.flatMap((v) => [[`${model.name}/${v}`, model.sha256[v]], ...(model.filesSha256[v] === undefined ? [] : [[`${model.name}/${v}/files`, model.filesSha256[v]]])]),
    [`${model.name}/config.json`, model.configSha256],
  ]);
}

describe('a repository of 200 models', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelship-200-'));
  const repository = writeLargeRepository(dir);
  const models = discoverModels(dir);
  let synth: Synth;
  before(() => {
    synth = synthesize(dir, 32);
    const nested = synth.templates.size - 1;
    console.log(`# synthesized 200 models in ${synth.seconds.toFixed(1)} s: ${nested} nested stacks, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  });

  it('is the mix the issue asks for: 150 Lambda models, 40 in function groups, 10 on SageMaker, some with several versions', () => {
    const kinds = Object.groupBy(repository.models, (m) => m.kind);
    assert.deepEqual([kinds.lambda?.length, kinds.group?.length, (kinds.sagemaker?.length ?? 0) + (kinds['sagemaker-serverless']?.length ?? 0)], [150, 40, 10]);
    assert.ok((kinds.sagemaker?.length ?? 0) > 0 && (kinds['sagemaker-serverless']?.length ?? 0) > 0);
    assert.equal(models.length, 200);
    assert.ok(models.filter((m) => m.versions.length > 1).length >= 20);
  });

  it('keeps every stack within 500 resources, 1 MB of template, 200 parameters and 200 outputs', () => {
    assert.ok(synth.templates.size > 2, 'the models are spread over nested stacks');
    for (const [file, template] of synth.templates) {
      const size = statSync(join(synth.outdir, file)).size;
      assert.ok(Object.keys(template.Resources).length <= LIMITS.resources, `${file}: ${Object.keys(template.Resources).length} resources`);
      assert.ok(size <= LIMITS.templateBytes, `${file}: ${size} bytes`);
      assert.ok(Object.keys(template.Parameters ?? {}).length <= LIMITS.parameters, `${file}: parameters`);
      assert.ok(Object.keys(template.Outputs ?? {}).length <= LIMITS.outputs, `${file}: outputs`);
      assert.ok(Buffer.byteLength(String((template as { Description?: string }).Description ?? '')) <= 1024, `${file}: description`);
    }
  });

  it('gives every function an environment under 4 KB and a description within 256 characters', () => {
    let functions = 0;
    for (const [file, template] of synth.templates) {
      for (const [id, resource] of Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
        functions++;
        const bytes = environmentBytes(resource.Properties?.Environment?.Variables ?? {});
        assert.ok(bytes < LIMITS.environmentBytes, `${file} ${id}: environment of ${bytes} bytes`);
        const description = String(resource.Properties?.Description ?? '');
        assert.ok(description.length <= LIMITS.descriptionChars, `${file} ${id}: description of ${description.length} characters`);
      }
    }
    assert.ok(functions > 190);
  });

  it('needs no more than 50 custom CodeDeploy deployment configurations in all (an account allows 50, not adjustable)', () => {
    const configs = [...synth.templates.values()].flatMap((t) => Object.values(t.Resources).filter((r) => r.Type === 'AWS::CodeDeploy::DeploymentConfig'));
    assert.ok(configs.length <= 50, `${configs.length} custom deployment configurations`);
    // The repository's three shiftings: the default canary and all-at-once are CodeDeploy's own; linear 20% every 2 minutes is one custom configuration.
    assert.equal(configs.length, 1);
  });

  it('gives every EventBridge rule at most 5 targets of at most 8,192 characters of input', () => {
    for (const [file, template] of synth.templates) {
      for (const rule of Object.values(template.Resources).filter((r) => r.Type === 'AWS::Events::Rule')) {
        const targets = (rule.Properties!.Targets ?? []) as { Input?: string }[];
        assert.ok(targets.length <= 5, file);
        for (const target of targets) assert.ok((target.Input ?? '').length <= 8192, `${file}: input of ${(target.Input ?? '').length} characters`);
      }
    }
  });

  it('keeps every REST API within 300 resources', () => {
    let apis = 0;
    for (const [file, template] of synth.templates) {
      const types = Object.values(template.Resources).map((r) => r.Type);
      const count = (type: string) => types.filter((t) => t === type).length;
      // One API per template: its resources are the template's.
      assert.ok(count('AWS::ApiGateway::RestApi') <= 1, file);
      apis += count('AWS::ApiGateway::RestApi');
      assert.ok(count('AWS::ApiGateway::Resource') <= LIMITS.apiResources, `${file}: ${count('AWS::ApiGateway::Resource')} API resources`);
    }
    assert.equal(apis, synth.templates.size - 1, 'every nested stack has its API, the main stack none');
  });

  it('keeps every dashboard within 500 widgets', () => {
    // A dashboard body is a Fn::Join of text and tokens (names known at deploy), each inside a JSON string.
    const body = (value: unknown): string => (typeof value === 'string' ? value : (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'token')).join(''));
    let dashboards = 0;
    for (const [file, template] of synth.templates) {
      for (const dashboard of Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard')) {
        const widgets = JSON.parse(body(dashboard.Properties!.DashboardBody)).widgets.length;
        assert.ok(widgets <= LIMITS.dashboardWidgets, `${file}: ${widgets} widgets`);
        dashboards++;
      }
    }
    assert.equal(dashboards, synth.templates.size, 'a dashboard per stack');
  });

  it('routes every model in exactly one API', () => {
    const routed = [...synth.templates.values()].flatMap((t) => Object.values(t.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Resource' && String(r.Properties?.PathPart).endsWith(':predict')).map((r) => String(r.Properties!.PathPart).replace(/:predict$/, '')));
    assert.deepEqual(routed.sort(), models.map((m) => m.name).sort());
  });

  it('pins every deployed version of every model in what its function reads: the environment, or a manifest whose sha256 the environment holds', () => {
    const byName = new Map(models.map((m) => [m.name, m]));
    const served = new Set<string>();
    let manifests = 0;
    for (const { file, id, env } of inferenceFunctions(synth)) {
      let pin: Record<string, string>;
      if (env.MODEL_MANIFEST !== undefined) {
        assert.ok(String(env.MODEL_MANIFEST).startsWith(MANIFEST_FOLDER));
        const bytes = readManifest(synth.outdir, env.MODEL_MANIFEST);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), env.MODEL_MANIFEST_SHA256, `${file} ${id}: manifest hash`);
        pin = JSON.parse(bytes.toString('utf8'));
        manifests++;
      } else pin = JSON.parse(env.MODEL_SHA256S);
      for (const name of String(env.MODEL_NAMES).split(',')) {
        served.add(name);
        const model = byName.get(name)!;
        const expected = expectedPin(model);
        for (const [key, hash] of Object.entries(expected)) assert.equal(pin[key], hash, `${file} ${id}: ${key}`);
      }
    }
    assert.ok(manifests >= 4, 'the function groups of ten models read their pin from a manifest');
    // SageMaker containers carry their model's pin in the environment, every version in it.
    for (const template of synth.templates.values()) {
      for (const resource of Object.values(template.Resources).filter((r) => r.Type === 'AWS::SageMaker::Model')) {
        const env = resource.Properties!.PrimaryContainer.Environment;
        assert.deepEqual(JSON.parse(env.MODEL_SHA256S), expectedPin(byName.get(env.MODEL_NAME)!), env.MODEL_NAME);
        served.add(env.MODEL_NAME);
      }
    }
    assert.deepEqual([...served].sort(), models.map((m) => m.name).sort());
  });
});

describe('model stacks', () => {
  /**
   * Logical ids of every resource, by the stack template that holds them; but an API's deployment,
   * a snapshot of its routes named by their hash, which API Gateway replaces to publish any route
   * change (the stage, its URL and every other resource stay).
   */
  const layout = (synth: Synth) => new Map([...synth.templates].map(([file, t]) => [file, new Set(Object.entries(t.Resources).filter(([, r]) => r.Type !== 'AWS::ApiGateway::Deployment').map(([id]) => id))]));

  it('leave every model where it was, under the same logical ids, when a model is added', () => {
    // GIVEN a repository of 20 models over 8 nested stacks, and the same with one more model
    const before = mkdtempSync(join(tmpdir(), 'modelship-20-'));
    writeLargeRepository(before, { models: 20, textModels: false });
    const after = mkdtempSync(join(tmpdir(), 'modelship-21-'));
    cpSync(before, after, { recursive: true });
    cpSync(join(before, readdirSync(before).sort()[0]), join(after, 'a-model-added-later'), { recursive: true });
    // WHEN both are synthesized
    const first = layout(synthesize(before, 8));
    const second = layout(synthesize(after, 8));
    // THEN every resource of the first is in the same template of the second, under the same id
    const moved: string[] = [];
    for (const [file, ids] of first) {
      const now = second.get(file);
      for (const id of ids) if (!now?.has(id)) moved.push(`${file} ${id}`);
    }
    assert.deepEqual(moved, []);
    const added = [...second].flatMap(([file, ids]) => [...ids].filter((id) => !first.get(file)?.has(id)));
    assert.ok(added.some((id) => /amodeladdedlater/i.test(id)), 'the new model has resources of its own');
  });

  it('throws naming modelship:modelStacks when the main stack would pass 500 resources', () => {
    // GIVEN twelve models in the main stack (about 45 resources each)
    const dir = repositoryWith(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`iris${i}`, undefined])));
    // THEN synth stops, saying which setting spreads them
    assert.throws(() => synthesize(dir, 0), /the stack would hold \d+ resources for 12 models, past CloudFormation's 500: spread the models over nested stacks with -c modelship:modelStacks=4/);
  });

  it('synthesize byte-identical templates and asset hashes twice from the same repository', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-det-'));
    writeLargeRepository(dir, { models: 20, textModels: false });
    const [a, b] = [synthesize(dir, 8), synthesize(dir, 8)];
    const files = (s: Synth) => readdirSync(s.outdir).filter((f) => f.endsWith('.template.json') || f.endsWith('.assets.json')).sort();
    assert.deepEqual(files(a), files(b));
    for (const file of files(a)) assert.equal(readFileSync(join(a.outdir, file), 'utf8'), readFileSync(join(b.outdir, file), 'utf8'), file);
    const assets = (s: Synth) => readdirSync(s.outdir).filter((f) => f.startsWith('asset.')).sort();
    assert.deepEqual(assets(a), assets(b));
  });
});
