/**
 * The configuration matrix the deploy checkers (cfn-lint, cfn-guard, checkov) run over: one CDK app
 * holding one ModelShip stack per configuration, synthesized once, with cdk.json's feature flags
 * (so the templates are those `cdk deploy` sends) and without Docker (the image build contexts are
 * stand-ins; the templates reference the same asset shapes).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { ControlTowerGuardChecks, GUARD_PLUGIN_NAME } from '../../lib/guard-checks.ts';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { readSettings } from '../../lib/settings.ts';
import { SAMPLES_DIR, TempRepository } from '../../test/helpers.ts';
import { writeLargeRepository } from '../../test/lib/large-repository.ts';
import { fakeImageDirectory } from '../../test/lib/stack-fixture.ts';
import { guardFindingsFromReport, type Finding, type Tool } from './tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface MatrixEntry {
  /** The stack name, and the template's file name (<name>.template.json). */
  readonly name: string;
  /** What the configuration covers. */
  readonly covers: string;
  /** Context beside cdk.json's (modelship:* settings). */
  readonly context: Record<string, unknown>;
}

/** The stack name of the 200-model repository (and the prefix of its nested stacks' templates). */
const LARGE = 'Large';

const IRIS = { task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] };

/**
 * Every target and model-level feature in one repository: Lambda (alone, in a function group, with
 * versions under A/B and shadow, SnapStart, capture with drift, each delivery strategy, concurrency settings),
 * a SageMaker GPU endpoint with data capture and GPU scaling, and SageMaker Serverless.
 */
export function writeTargetsRepository(): string {
  const repo = new TempRepository('iac-targets-');
  const iris = (name: string, config: Record<string, unknown>, versions = 1) => {
    for (let v = 1; v <= versions; v++) repo.copy(join(SAMPLES_DIR, 'iris_forest', '1'), `${name}/${v}`);
    repo.config(name, { ...IRIS, ...config });
  };
  iris('watched', { capture: { percent: 10 }, drift: { psiThreshold: 0.25 }, goldenGate: { metric: 'accuracy', min: 0.9 } });
  iris('linear', { deployment: { strategy: 'linear', percent: 25, intervalMinutes: 2 }, reservedConcurrency: 5, provisionedConcurrency: 1, versionPolicy: { pinned: 1 }, shadow: { version: 2, percent: 20 } }, 2);
  iris('versioned', { versionPolicy: { pinned: 1 }, abTest: { weights: { 1: 90, 2: 10 } }, deployment: { strategy: 'allAtOnce' }, snapStart: true }, 2);
  iris('grouped_a', { functionGroup: 'small', capture: { percent: 5 } });
  iris('grouped_b', { functionGroup: 'small' });
  iris('vision', { target: 'sagemaker', sagemaker: { instanceType: 'ml.g5.xlarge', maxInstanceCount: 3, scaleOn: 'gpu', dataCapturePercent: 20 } });
  iris('burst', { target: 'sagemaker-serverless', sagemakerServerless: { memorySizeMb: 4096, maxConcurrency: 10, provisionedConcurrency: 1 } });
  return repo.dir;
}

/** The hardened options, all at once: KMS for the store and the capture logs, WAF, arm64, API keys, CORS, an alarm email. */
const HARDENED = {
  'modelship:storeEncryption': 'kms',
  'modelship:logEncryption': 'kms',
  'modelship:waf': true,
  'modelship:architecture': 'arm64',
  'modelship:authMode': 'apiKey',
  'modelship:corsOrigins': 'https://app.example.com',
  'modelship:alarmEmail': 'oncall@example.com',
};

/** The matrix: the samples with the defaults, every target with the defaults and hardened, and the 200-model repository. */
export function matrixEntries(options: { large?: boolean } = {}): MatrixEntry[] {
  const targets = writeTargetsRepository();
  const entries: MatrixEntry[] = [
    { name: 'Samples', covers: 'the samples, cdk.json defaults', context: { 'modelship:modelsDir': SAMPLES_DIR } },
    { name: 'Targets', covers: 'Lambda, SageMaker GPU and Serverless; groups, versions, A/B, shadow, capture and drift, delivery strategies, batch; defaults', context: { 'modelship:modelsDir': targets } },
    { name: 'Hardened', covers: 'the same models with storeEncryption=kms, logEncryption=kms, WAF, arm64, authMode=apiKey, CORS, alarm email', context: { 'modelship:modelsDir': targets, ...HARDENED } },
  ];
  if (options.large ?? true) {
    const dir = mkdtempSync(join(tmpdir(), 'modelship-iac-large-'));
    writeLargeRepository(dir);
    entries.push({ name: LARGE, covers: 'the 200-model repository (test/lib/large-repository.ts) in 64 model stacks', context: { 'modelship:modelsDir': dir, 'modelship:modelStacks': 64 } });
  }
  return entries;
}

/** cdk.json's context: the feature flags and defaults `cdk synth` runs with. */
export function projectContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

export interface SynthesizedMatrix {
  /** The cloud assembly. */
  readonly assemblyDir: string;
  /** A folder holding only the templates the checkers run over (nested stacks' too). */
  readonly templatesDir: string;
  /** Their file names: every template, or with `cover`, the large repository's covering ones and all others. */
  readonly templates: string[];
  /** cfn-guard's findings that no acknowledgement covers (it ran inside the synth). */
  readonly guard: Finding[];
  /** Every acknowledged finding and skipped check in the templates, once per tool, rule and reason. */
  readonly acknowledgements: Acknowledgement[];
}

export interface Acknowledgement {
  readonly tool: Tool;
  readonly rule: string;
  readonly reason: string;
}

/** The acknowledgements in an app (cfn-guard's, at the constructs), its templates (checkov's skips) and .cfnlintrc.yaml (cfn-lint's). */
function collectAcknowledgements(app: App, templates: readonly string[]): Acknowledgement[] {
  const found = new Map<string, Acknowledgement>();
  const add = (a: Acknowledgement) => found.set(`${a.tool} ${a.rule} ${a.reason}`, a);
  const prefix = `${GUARD_PLUGIN_NAME}::`;
  for (const construct of app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) if (id.startsWith(prefix)) add({ tool: 'cfn-guard', rule: id.slice(prefix.length), reason });
    }
  }
  for (const file of templates) {
    const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources?: Record<string, { Metadata?: { checkov?: { skip?: { id: string; comment: string }[] } } }> };
    for (const resource of Object.values(template.Resources ?? {})) for (const skip of resource.Metadata?.checkov?.skip ?? []) add({ tool: 'checkov', rule: skip.id, reason: skip.comment });
  }
  for (const ignored of cfnLintIgnores()) add({ tool: 'cfn-lint', ...ignored });
  return [...found.values()].sort((a, b) => `${a.tool} ${a.rule}`.localeCompare(`${b.tool} ${b.rule}`));
}

/** The rules .cfnlintrc.yaml ignores, each with the comment line above it (its reason). */
export function cfnLintIgnores(): { rule: string; reason: string }[] {
  const text = readFileSync(join(ROOT, '.cfnlintrc.yaml'), 'utf8');
  return [...text.matchAll(/^\s*#\s*([EWI]\d+):\s*(.+)\n\s*-\s*\1\s*$/gm)].map((m) => ({ rule: m[1], reason: m[2].trim() }));
}

/**
 * Synthesizes every entry into one cloud assembly, with the cfn-guard Control Tower checks as a
 * policy-validation plugin, so the acknowledgements next to the constructs apply. The findings
 * left are returned rather than thrown, to be reported beside the other checkers'.
 */
export function synthesizeMatrix(entries: readonly MatrixEntry[], options: { readonly cover?: boolean; readonly outDir?: string } = {}): SynthesizedMatrix {
  const outDir = options.outDir ?? mkdtempSync(join(tmpdir(), 'modelship-iac-'));
  const assemblyDir = join(outDir, 'cdk.out');
  const base = { ...projectContext(), 'aws:cdk:bundling-stacks': [] };
  // CDK's own CloudFormation validation is off: the three checkers are the validation here.
  const app = new App({ outdir: assemblyDir, context: base, builtinCloudFormationValidation: false });
  const image = fakeImageDirectory();
  for (const entry of entries) {
    const settings = readSettings(new App({ context: { ...base, ...entry.context } }).node);
    new ModelShipStack(app, entry.name, { settings, imageDirectory: image, sageMakerImageDirectory: image });
  }
  const select = (paths: readonly string[]) => (options.cover ? checkedTemplates(paths) : [...paths]);
  Validations.of(app).addPlugins(new ControlTowerGuardChecks({ selectTemplates: select }));
  const report = join(assemblyDir, 'validation-report.json');
  try {
    app.synth();
  } catch (error) {
    // A policy violation fails the synth after the assembly and the report are written.
    if (!existsSync(report) || !/Validation failed/i.test(String(error))) throw error;
  }
  const templatesDir = join(outDir, 'templates');
  mkdirSync(templatesDir, { recursive: true });
  const all = readdirSync(assemblyDir).filter((f) => f.endsWith('.template.json')).sort();
  const templates = select(all.map((f) => join(assemblyDir, f))).map((p) => basename(p)).sort();
  for (const file of templates) cpSync(join(assemblyDir, file), join(templatesDir, file));
  return { assemblyDir, templatesDir, templates, guard: guardFindingsFromReport(report), acknowledgements: collectAcknowledgements(app, templates.map((t) => join(templatesDir, t))) };
}

/** A template's resources by shape: type, and the property and metadata keys at every depth (values left out). */
function shapes(file: string): Set<string> {
  const template = JSON.parse(readFileSync(file, 'utf8')) as { Resources?: Record<string, { Type: string }> };
  const keys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.length === 0 ? [] : [keys(value[0])];
    if (value === null || typeof value !== 'object') return typeof value;
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, keys((value as Record<string, unknown>)[k])]));
  };
  return new Set(Object.values(template.Resources ?? {}).map((r) => JSON.stringify(keys(r))));
}

/** Every template but the large repository's, and of those the covering ones. */
function checkedTemplates(paths: readonly string[]): string[] {
  const large = paths.filter((p) => basename(p).startsWith(LARGE));
  return [...paths.filter((p) => !basename(p).startsWith(LARGE)), ...coveringTemplates(large)].sort();
}

/**
 * The fewest templates (chosen greedily) that hold every resource shape found in all of them. The
 * model stacks of a large repository repeat the same few shapes with other names and values; the
 * property checks see the same thing in each, so these stand for the rest (npm run lint:iac runs
 * them all).
 */
export function coveringTemplates(templates: readonly string[]): string[] {
  const byTemplate = new Map(templates.map((t) => [t, shapes(t)]));
  const missing = new Set([...byTemplate.values()].flatMap((s) => [...s]));
  const chosen: string[] = [];
  while (missing.size > 0) {
    let best = '';
    let gain = 0;
    for (const [t, s] of byTemplate) {
      const g = [...s].filter((x) => missing.has(x)).length;
      if (g > gain) [best, gain] = [t, g];
    }
    chosen.push(best);
    for (const x of byTemplate.get(best)!) missing.delete(x);
  }
  return chosen.sort();
}
