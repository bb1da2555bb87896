/**
 * The deploy checkers AWS publishes (cfn-lint, cfn-guard with Control Tower's proactive controls,
 * checkov), each run once over every template of the configuration matrix (scripts/iac/matrix.ts):
 * nothing may be left that is neither fixed nor acknowledged with its reason. A copy of a template
 * with planted defects shows that each tool is awake.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { matrixEntries, synthesizeMatrix, type SynthesizedMatrix } from '../../scripts/iac/matrix.ts';
import { ensureIacTools, formatFinding, runCfnGuard, runCfnLint, runCheckov, type Finding } from '../../scripts/iac/tools.ts';
import { ROOT } from '../helpers.ts';

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, unknown> }>;
}

const PLANTED = 'Planted.template.json';
const BAD_INSTANCE_TYPE = 'ml.g5.huge';

/** The hardened template with three defects: an instance type SageMaker has not, and the model store unencrypted and public-read. */
function plantDefects(template: Template): { template: Template; endpointConfig: string; bucket: string } {
  const copy = structuredClone(template);
  const find = (type: string, test: (id: string, r: Template['Resources'][string]) => boolean) => {
    const found = Object.entries(copy.Resources).find(([id, r]) => r.Type === type && test(id, r));
    assert.ok(found, `no ${type} to plant a defect in`);
    return found;
  };
  const [endpointConfig, config] = find('AWS::SageMaker::EndpointConfig', (_, r) => r.Properties?.ProductionVariants?.[0]?.InstanceType !== undefined);
  config.Properties!.ProductionVariants[0].InstanceType = BAD_INSTANCE_TYPE;
  const [bucket, store] = find('AWS::S3::Bucket', (id, r) => id.startsWith('ModelStore') && r.Properties?.VersioningConfiguration !== undefined && !id.startsWith('ModelStoreAccessLogs'));
  delete store.Properties!.BucketEncryption;
  delete store.Properties!.PublicAccessBlockConfiguration;
  store.Properties!.AccessControl = 'PublicRead';
  return { template: copy, endpointConfig, bucket };
}

const at = (findings: Finding[], template: string) => findings.filter((f) => f.template === template);
const has = (findings: Finding[], rule: string | RegExp, resource: string) => findings.some((f) => (typeof rule === 'string' ? f.rule === rule : rule.test(f.rule)) && f.resource === resource);

describe('deploy checkers over the configuration matrix', { timeout: 600_000 }, () => {
  let matrix: SynthesizedMatrix;
  let lint: Finding[];
  let checkov: Finding[];
  let guardPlanted: Finding[];
  let guardClean: Finding[];
  let planted: ReturnType<typeof plantDefects>;

  before(async () => {
    const py = ensureIacTools();
    // The 200-model repository's 60-odd templates repeat a few resource shapes: the checkers run over
    // the ones that hold every shape (npm run lint:iac runs over all of them).
    matrix = synthesizeMatrix(matrixEntries(), { cover: true });
    // The planted copy runs in the same cfn-lint and checkov runs as the matrix.
    const hardened = JSON.parse(readFileSync(join(matrix.templatesDir, 'Hardened.template.json'), 'utf8')) as Template;
    planted = plantDefects(hardened);
    writeFileSync(join(matrix.templatesDir, PLANTED), JSON.stringify(planted.template, null, 1));
    const templates = [...matrix.templates, PLANTED].map((t) => join(matrix.templatesDir, t));
    [lint, checkov] = await Promise.all([runCfnLint(py, templates), runCheckov(py, matrix.templatesDir)]);
    // cfn-guard ran over the matrix inside the synth; outside an app no acknowledgement applies, so the copy is compared with its original.
    const guard = runCfnGuard([join(matrix.templatesDir, 'Hardened.template.json'), join(matrix.templatesDir, PLANTED)]);
    guardPlanted = at(guard, PLANTED);
    guardClean = at(guard, 'Hardened.template.json');
  });

  it('synthesizes every configuration: each target, delivery, capture and drift, batch, the hardened options, 200 models', () => {
    assert.deepEqual(matrix.templates.filter((t) => !t.includes('.nested.')), ['Hardened.template.json', 'Large.template.json', 'Samples.template.json', 'Targets.template.json']);
    assert.ok(matrix.templates.some((t) => t.startsWith('Large') && t.endsWith('.nested.template.json')), 'a model stack of the 200-model repository is checked');
    const types = (name: string) => new Set(Object.values((JSON.parse(readFileSync(join(matrix.templatesDir, name), 'utf8')) as Template).Resources).map((r) => r.Type));
    const targets = types('Targets.template.json');
    for (const type of ['AWS::SageMaker::Endpoint', 'AWS::CodeDeploy::DeploymentGroup', 'AWS::KinesisFirehose::DeliveryStream', 'AWS::Lambda::EventSourceMapping', 'AWS::Events::Rule']) assert.ok(targets.has(type), `Targets has no ${type}`);
    const hardened = types('Hardened.template.json');
    for (const type of ['AWS::WAFv2::WebACL', 'AWS::ApiGateway::ApiKey', 'AWS::KMS::Key']) assert.ok(hardened.has(type), `Hardened has no ${type}`);
  });

  it('cfn-lint reports no error and no warning', () => {
    const findings = lint.filter((f) => f.template !== PLANTED);
    assert.deepEqual(findings.map(formatFinding), []);
  });

  it('cfn-guard (Control Tower proactive controls) reports nothing unacknowledged', () => {
    assert.deepEqual(matrix.guard.map(formatFinding), []);
  });

  it('checkov reports no failed check that is not skipped with a reason', () => {
    const findings = checkov.filter((f) => f.template !== PLANTED);
    assert.deepEqual(findings.map(formatFinding), []);
  });

  it('each tool catches the defects planted in a copy of a template', () => {
    const { endpointConfig, bucket } = planted;
    // cfn-lint: an instance type outside CloudFormation's schema for SageMaker.
    const lintPlanted = at(lint, PLANTED);
    assert.ok(lintPlanted.some((f) => f.rule.startsWith('E') && f.resource === endpointConfig && f.message.includes(BAD_INSTANCE_TYPE)), lintPlanted.map(formatFinding).join('\n'));
    // checkov: a public-read ACL and no public access block (the original's skips do not cover them).
    const checkovPlanted = at(checkov, PLANTED);
    for (const rule of ['CKV_AWS_20', 'CKV_AWS_53']) assert.ok(has(checkovPlanted, rule, bucket), `${rule}: ${checkovPlanted.map(formatFinding).join('\n')}`);
    // cfn-guard: the KMS encryption and the ACL are gone, which the original passed.
    for (const rule of ['s3_bucket_default_encryption_kms_check', 's3_bucket_acl_prohibited_check', 's3_bucket_level_public_access_prohibited_check']) {
      assert.ok(has(guardPlanted, rule, bucket), `${rule}: ${guardPlanted.map(formatFinding).join('\n')}`);
      assert.ok(!has(guardClean, rule, bucket), `${rule} already fails on the original`);
    }
  });

  it('gives every acknowledgement a reason, and the README lists each one', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(matrix.acknowledgements.length > 0);
    for (const a of matrix.acknowledgements) {
      assert.ok(a.reason.length >= 40, `${a.tool} ${a.rule}: the reason "${a.reason}" says too little`);
      assert.ok(readme.includes(`\`${a.rule}\``), `the README does not list the ${a.tool} acknowledgement of ${a.rule} (${a.reason})`);
    }
  });
});
