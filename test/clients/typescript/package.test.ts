/**
 * @modelship/client as a package: built with its own tsconfig (ESM + .d.ts), imported by name under
 * Node 20 (Debian's /usr/bin/node where present, else this Node) with credentials from the AWS SDK's
 * default chain (the environment), bundled for browsers by esbuild with no Node built-in left, and
 * that bundle run in Chromium: it signs with Web Crypto and the local server (AUTH=iam) accepts it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
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

  it('runs in Chromium: signs with Web Crypto, and the local server with AUTH=iam accepts it', async () => {
    const bundle = await build({ entryPoints: [join(PACKAGE, 'dist', 'index.js')], bundle: true, platform: 'browser', format: 'iife', globalName: 'ModelShip', write: false, logLevel: 'silent' });
    const page = `<!doctype html><meta charset="utf-8"><script>${bundle.outputFiles[0].text.replaceAll('</script', '<\\/script')}</script>`;
    // The page's own origin: its page, and every other path passed on to the local server as it came
    // (the Host header too, which the signature covers), so the browser calls the API same-origin.
    const upstreamUrl = new URL(local.url);
    const front: Server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(page);
        return;
      }
      const upstream = httpRequest({ host: upstreamUrl.hostname, port: upstreamUrl.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const tab = await browser.newPage();
      await tab.goto(origin);
      const result = await tab.evaluate(async ({ url, credentials }) => {
        const { ModelShipClient } = (globalThis as unknown as { ModelShip: typeof import('../../../clients/typescript/src/index.ts') }).ModelShip;
        const client = new ModelShipClient({ url, region: 'us-east-1', credentials });
        const answer = await client.model('iris_forest').infer({ inputs: { features: { data: new Float32Array([5.1, 3.5, 1.4, 0.2]), shape: [1, 4] } } });
        const refused = await new ModelShipClient({ url, region: 'us-east-1', credentials: { ...credentials, secretAccessKey: 'wrong' } }).live().catch((e: { status: number; errorType: string }) => [e.status, e.errorType]);
        return { live: await client.live(), label: answer.byName.label.data[0].toString(), probabilities: Array.from(answer.byName.probabilities.data as Float32Array), refused, hasNodeBuffer: 'Buffer' in globalThis };
      }, { url: origin, credentials: CREDENTIALS });
      assert.deepEqual(result, { live: true, label: '0', probabilities: [1.0000001192092896, 0, 0], refused: [403, 'InvalidSignatureException'], hasNodeBuffer: false });
    } finally {
      await browser.close();
      front.closeAllConnections();
      front.close();
    }
  });
});
