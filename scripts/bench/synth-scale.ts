/**
 * One synthesis of a large generated repository, for npm run bench part k (a process of its own,
 * so its time and peak memory are its own). Synthesizes as `cdk synth` does (CDK's built-in
 * CloudFormation validation on), with placeholder image contexts (no Docker) and no bundling, then
 * prints one JSON line: seconds, peak RSS, stacks, and each quota's highest use.
 *   node scripts/bench/synth-scale.ts <models> <modelStacks>
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ModelShipStack } from '../../lib/modelship-stack.ts';
import { writeLargeRepository } from '../../test/lib/large-repository.ts';
import { fakeImageDirectory } from '../../test/lib/stack-fixture.ts';

/** Quotas a deploy meets, with their default values. */
const QUOTAS = {
  'CloudFormation resources per stack': 500,
  'CloudFormation template size (bytes, from S3)': 1_000_000,
  'CloudFormation parameters per template': 200,
  'CloudFormation outputs per template': 200,
  'API Gateway resources per REST API': 300,
  'Lambda environment (bytes)': 4096,
  // Account-wide, per region (the repository alone; other stacks in the account count too).
  'IAM roles per account': 1000,
  'CodeDeploy applications per account': 1000,
  'CodeDeploy custom deployment configurations per account (not adjustable)': 50,
  'API Gateway regional REST APIs per account': 600,
  'CloudFormation stacks per account (nested included)': 2000,
} as const;
type Quota = keyof typeof QUOTAS;

const models = Number(process.argv[2] ?? 1000);
const modelStacks = Number(process.argv[3] ?? 0);
const dir = mkdtempSync(join(tmpdir(), `bench-scale-${models}-`));
writeLargeRepository(dir, { models, textModels: false });
const outdir = mkdtempSync(join(tmpdir(), 'bench-scale-out-'));

const started = performance.now();
let error: string | undefined;
try {
  const app = new App({ outdir, context: { 'modelship:modelsDir': dir, 'modelship:modelStacks': modelStacks, 'aws:cdk:bundling-stacks': [] } });
  new ModelShipStack(app, 'ModelShip', { imageDirectory: fakeImageDirectory(), sageMakerImageDirectory: fakeImageDirectory() });
  app.synth();
} catch (e) {
  error = (e as Error).message.split('\n').slice(0, 4).join(' ').replace(/\s+/g, ' ');
}
const seconds = (performance.now() - started) / 1000;

const highest = new Map<Quota, { value: number; where: string }>();
const record = (quota: Quota, value: number, where: string) => {
  if (value > (highest.get(quota)?.value ?? -1)) highest.set(quota, { value, where });
};
const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
const account = new Map<string, number>();
for (const file of templates) {
  const template = JSON.parse(readFileSync(join(outdir, file), 'utf8')) as { Resources: Record<string, { Type: string; Properties?: any }>; Parameters?: object; Outputs?: object };
  const resources = Object.values(template.Resources);
  record('CloudFormation resources per stack', resources.length, file);
  record('CloudFormation template size (bytes, from S3)', statSync(join(outdir, file)).size, file);
  record('CloudFormation parameters per template', Object.keys(template.Parameters ?? {}).length, file);
  record('CloudFormation outputs per template', Object.keys(template.Outputs ?? {}).length, file);
  record('API Gateway resources per REST API', resources.filter((r) => r.Type === 'AWS::ApiGateway::Resource').length, file);
  for (const r of resources) account.set(r.Type, (account.get(r.Type) ?? 0) + 1);
  for (const fn of resources.filter((r) => r.Type === 'AWS::Lambda::Function')) {
    const variables = (fn.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
    // A token (the bucket's name) counted at a bucket name's longest, 63.
    record('Lambda environment (bytes)', Object.entries(variables).reduce((sum, [k, v]) => sum + k.length + (typeof v === 'string' ? Buffer.byteLength(v) : 63), 0), file);
  }
}
record('IAM roles per account', account.get('AWS::IAM::Role') ?? 0, 'all stacks');
record('CodeDeploy applications per account', account.get('AWS::CodeDeploy::Application') ?? 0, 'all stacks');
record('CodeDeploy custom deployment configurations per account (not adjustable)', account.get('AWS::CodeDeploy::DeploymentConfig') ?? 0, 'all stacks');
record('API Gateway regional REST APIs per account', account.get('AWS::ApiGateway::RestApi') ?? 0, 'all stacks');
record('CloudFormation stacks per account (nested included)', templates.length, 'all stacks');
const quotas = Object.entries(QUOTAS).map(([quota, limit]) => ({ quota, limit, ...(highest.get(quota as Quota) ?? { value: 0, where: '' }), share: (highest.get(quota as Quota)?.value ?? 0) / limit }));
console.log(JSON.stringify({ models, modelStacks, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, stacks: templates.length, error, quotas }));
