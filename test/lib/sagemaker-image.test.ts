import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validate } from 'dockerfile-utils';
import { copyOnnxRuntime, onnxRuntimeVersion, stageSageMakerImageContext } from '../../lib/image-context.ts';
import { assertClose, goldenRequest, readGolden, ROOT, SAMPLES_DIR } from '../helpers.ts';

/** Starts a server process and resolves with its URL once it prints one. */
function startServer(args: string[], cwd: string, env: Record<string, string | undefined>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, args, { cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s:\n${output}`)), 20_000);
    child.stdout!.on('data', () => {
      const match = /on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

const stop = (child: ChildProcess) => new Promise<number | null>((resolve) => { child.on('exit', resolve); child.kill('SIGTERM'); });

describe('SageMaker image build context', () => {
  let dir: string;
  before(() => {
    dir = stageSageMakerImageContext(mkdtempSync(join(tmpdir(), 'modelship-sm-'))).directory;
  });

  it('holds the bundled container server and package.json pinning onnxruntime-node, which the Dockerfile installs with CUDA', () => {
    assert.deepEqual(readdirSync(dir).sort(), ['Dockerfile', 'index.mjs', 'package.json']);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.dependencies, { 'onnxruntime-node': onnxRuntimeVersion(), sharp: JSON.parse(readFileSync(join(ROOT, 'node_modules', 'sharp', 'package.json'), 'utf8')).version }, 'sharp too: the image installs its own platform binaries');
    assert.deepEqual(pkg.allowScripts, { 'onnxruntime-node': true }, 'npm runs the install script that fetches the CUDA provider');
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^RUN ONNXRUNTIME_NODE_INSTALL=cuda12 npm install /m);
    assert.match(dockerfile, /^FROM nvidia\/cuda:12\.\S+-cudnn-runtime-ubuntu24\.04$/m);
    assert.deepEqual(validate(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  });

  it('serves /ping and /invocations from /opt/ml/model-style data in a clean Node 24 process, falling back to CPU', async () => {
    // What the Dockerfile's install step yields, minus the CUDA provider (absent here, as on a CPU host).
    copyOnnxRuntime(dir, 'x86_64');
    const model = mkdtempSync(join(tmpdir(), 'opt-ml-model-'));
    cpSync(join(SAMPLES_DIR, 'breast_cancer_classifier'), model, { recursive: true });
    const { child, url, output } = await startServer([join(dir, 'index.mjs'), 'serve'], dir, {
      PATH: process.env.PATH, MODEL_DIR: model, MODEL_NAME: 'breast_cancer_classifier', USE_GPU: 'true', SAGEMAKER_BIND_TO_PORT: '0', HOST: '127.0.0.1',
    });
    try {
      const ping = await fetch(`${url}/ping`);
      assert.equal(ping.status, 200);
      const metadata = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'X-Amzn-SageMaker-Custom-Attributes': 'path=/v2/models/breast_cancer_classifier;method=GET' } });
      assert.equal(((await metadata.json()) as { parameters: { execution_provider: string } }).parameters.execution_provider, 'cpu');
      assert.match(output(), /GPU unavailable, running on CPU/);
      const golden = readGolden('breast_cancer_classifier');
      const response = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(goldenRequest(golden)) });
      const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };
      assertClose(body.outputs[1].data, golden.outputs[1].data, golden.tolerance, 'probabilities');
    } finally {
      assert.equal(await stop(child), 0);
    }
  });
});

describe('npm run start:sagemaker', () => {
  let server: { child: ChildProcess; url: string; output: () => string };
  before(async () => {
    server = await startServer([join(ROOT, 'bin', 'serve-sagemaker.ts')], ROOT, { ...process.env, PORT: '0', HOST: '127.0.0.1', MODEL_DIR: SAMPLES_DIR, MODEL_NAME: 'digits_mlp' });
  });
  after(() => stop(server.child));

  it('honours PORT, MODEL_DIR and MODEL_NAME', async () => {
    assert.match(server.output(), /model digits_mlp from directory .*models/);
    const golden = readGolden('digits_mlp');
    const response = await fetch(`${server.url}/invocations`, { method: 'POST', body: JSON.stringify(goldenRequest(golden, 4)) });
    const body = (await response.json()) as { outputs: { data: number[] }[] };
    assert.deepEqual(body.outputs[0].data, golden.outputs[0].data.slice(0, 4));
  });
});
