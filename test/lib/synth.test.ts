import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers.ts';

const exec = promisify(execFile);

/** Runs the CDK CLI as a user would, with no AWS credentials and no Docker daemon. */
async function synth(extra: string[] = []) {
  const out = mkdtempSync(join(tmpdir(), 'modelship-cdkout-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('CDK_')));
  const { stdout, stderr } = await exec(process.execPath, [join(ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--output', out, ...extra], {
    cwd: ROOT,
    env: { ...env, AWS_EC2_METADATA_DISABLED: 'true', DOCKER_HOST: 'unix:///nonexistent.sock' },
    timeout: 120_000,
  });
  const template = JSON.parse(readFileSync(join(out, 'ModelShip.template.json'), 'utf8'));
  const report = join(out, 'validation-report.json');
  const violations = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')).pluginReports.flatMap((p: any) => p.violations) : [];
  return { out, template, violations, log: `${stdout}\n${stderr}` };
}

describe('cdk synth', () => {
  it('bundles the SageMaker proxy without onnxruntime and stays cdk-nag clean with a SageMaker model', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'modelship-mixed-'));
    cpSync(join(ROOT, 'models', 'iris_forest'), join(repo, 'iris_forest'), { recursive: true });
    cpSync(join(ROOT, 'models', 'digits_mlp'), join(repo, 'vision'), { recursive: true });
    writeFileSync(join(repo, 'vision', 'config.json'), JSON.stringify({ target: 'sagemaker', sagemaker: { instanceType: 'ml.g5.xlarge' } }));
    const { template, violations, log } = await synth(['-c', `modelship:modelsDir=${repo}`]);
    assert.deepEqual(violations, []);
    const types = Object.values(template.Resources).map((r: any) => r.Type);
    assert.ok(types.includes('AWS::SageMaker::Endpoint'), log);
    assert.match(log, /index\.mjs\s+\d+(\.\d+)?kb/, 'the proxy bundle is a few kB: no onnxruntime in it');
  });

  it('synthesizes offline with no AWS credentials and no Docker, cdk-nag passing', async () => {
    const { out, template, violations, log } = await synth();
    assert.deepEqual(violations, []);
    assert.ok(Object.values(template.Resources).some((r: any) => r.Type === 'AWS::ApiGateway::RestApi'), log);
    // Environment-agnostic: no account or region baked in.
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.artifacts.ModelShip.environment, 'aws://unknown-account/unknown-region');
  });
});
