/**
 * @modelship/client as a package: built with its own tsconfig (ESM + .d.ts), imported by name under
 * Node 20 (Debian's /usr/bin/node where present, else this Node) with credentials from the AWS SDK's
 * default chain (the environment), and bundled for browsers by esbuild with no Node built-in left.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import type { LocalStack } from '../../../lambda/entry/local-stack.ts';
import { ROOT, startTestLocalServer, TempRepository } from '../../helpers.ts';

const PACKAGE = join(ROOT, 'clients', 'typescript');
const CREDENTIALS = { accessKeyId: 'AKIDPACKAGE', secretAccessKey: 'package/secret' };

describe('@modelship/client package', () => {
  let local: LocalStack;
  before(async () => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(PACKAGE, 'tsconfig.build.json')], { stdio: 'inherit' });
    local = await startTestLocalServer(new TempRepository('package-').sample('iris_forest').dir, { iam: { credentials: CREDENTIALS } });
  });
  after(() => local?.close());

  it('builds ESM with type declarations', () => {
    for (const file of ['index.js', 'index.d.ts', 'client.js', 'transport.js', 'tensors.js']) assert.ok(existsSync(join(PACKAGE, 'dist', file)), file);
    assert.match(readFileSync(join(PACKAGE, 'dist', 'index.d.ts'), 'utf8'), /ModelShipClient/);
  });

  it('runs under Node 20+, signing with credentials from the default provider chain', async () => {
    const node = existsSync('/usr/bin/node') && Number(spawnSync('/usr/bin/node', ['-p', 'process.versions.node.split(".")[0]']).stdout?.toString()) >= 20 ? '/usr/bin/node' : process.execPath;
    const script = `
      import { ModelShipClient } from '@modelship/client';
      const client = new ModelShipClient({ url: process.env.URL });
      const answer = await client.model('iris_forest').infer({ inputs: { features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } } });
      console.log(JSON.stringify({ node: process.versions.node, label: answer.byName.label.data[0].toString() }));`;
    const env = { PATH: process.env.PATH, HOME: join(ROOT, '.python'), URL: local.url, AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' };
    // Not execFileSync: the server answering it runs in this process.
    const { stdout: out } = await promisify(execFile)(node, ['--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8' });
    const result = JSON.parse(out) as { node: string; label: string };
    assert.equal(result.label, '0');
    assert.ok(Number(result.node.split('.')[0]) >= 20, result.node);
  });

  it('bundles for browsers without Node built-ins', async () => {
    const bundle = await build({ entryPoints: [join(PACKAGE, 'dist', 'index.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    const text = bundle.outputFiles[0].text;
    assert.doesNotMatch(text, /from ["']node:|require\(["'](node:)?(fs|crypto|http|os|path)["']\)/);
    assert.match(text, /crypto\.subtle|subtle/, 'hashes with Web Crypto');
  });
});
