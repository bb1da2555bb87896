import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../helpers.ts';

const exec = promisify(execFile);

describe('cdk synth', () => {
  it('synthesizes offline with no AWS credentials and no Docker, cdk-nag passing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'modelship-cdkout-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('CDK_')));
    const { stdout, stderr } = await exec(process.execPath, [join(ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--output', out], {
      cwd: ROOT,
      env: { ...env, AWS_EC2_METADATA_DISABLED: 'true', DOCKER_HOST: 'unix:///nonexistent.sock' },
      timeout: 120_000,
    });
    const template = JSON.parse(readFileSync(join(out, 'ModelShip.template.json'), 'utf8'));
    assert.ok(Object.values(template.Resources).some((r: any) => r.Type === 'AWS::ApiGateway::RestApi'), `${stdout}\n${stderr}`);
    // Environment-agnostic: no account or region baked in.
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.artifacts.ModelShip.environment, 'aws://unknown-account/unknown-region');
    const report = join(out, 'validation-report.json');
    if (existsSync(report)) {
      const violations = JSON.parse(readFileSync(report, 'utf8')).pluginReports.flatMap((p: any) => p.violations);
      assert.deepEqual(violations, []);
    }
  });
});
