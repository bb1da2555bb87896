import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { assertClose, call, goldenRequest, readGolden, ROOT, SAMPLE_MODELS, SAMPLES_DIR, TABULAR_SAMPLES, startTestLocalServer, startTestS3, TempRepository } from '../../../helpers.ts';

const exec = promisify(execFile);

describe('local server over HTTP', () => {
  let server: LocalStack;
  before(async () => {
    server = await startTestLocalServer(SAMPLES_DIR, { maxBodyBytes: 8 * 1024 * 1024 });
  });
  after(() => server.close());

  for (const name of TABULAR_SAMPLES) {
    it(`${name}: v2 infer gives the golden answers`, async () => {
      const golden = readGolden(name);
      const { status, json, headers } = await call(`${server.url}/v2/models/${name}/infer`, 'POST', JSON.stringify(goldenRequest(golden)));
      assert.equal(status, 200);
      assert.equal(headers.get('x-model-version'), '1');
      for (const expected of golden.outputs) {
        assertClose(json.outputs.find((o: { name: string }) => o.name === expected.name).data, expected.data, golden.tolerance, `${name}.${expected.name}`);
      }
    });

    it(`${name}: :predict rows give the golden answers`, async () => {
      const golden = readGolden(name);
      const input = golden.inputs[0];
      const rowSize = input.shape.slice(1).reduce((a, b) => a * b, 1);
      const rowDims = input.shape.slice(1);
      const nest = (flat: number[], dims: number[]): unknown =>
        dims.length <= 1 ? flat : Array.from({ length: dims[0] }, (_, i) => nest(flat.slice((i * flat.length) / dims[0], ((i + 1) * flat.length) / dims[0]), dims.slice(1)));
      const instances = Array.from({ length: 5 }, (_, r) => nest(input.data.slice(r * rowSize, (r + 1) * rowSize), rowDims));
      const { status, json } = await call(`${server.url}/v1/models/${name}/versions/1:predict`, 'POST', JSON.stringify({ instances }));
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.predictions.length, 5);
      const labels = readGolden(name).outputs.find((o) => o.name === 'label');
      if (labels === undefined) {
        assertClose(json.predictions.flat(), golden.outputs[0].data.slice(0, 5), golden.tolerance, name);
      } else {
        const config = (await call(`${server.url}/v2/models/${name}`, 'GET')).json.parameters.labels as string[];
        assert.deepEqual(json.predictions.map((p: { label: string }) => p.label), labels.data.slice(0, 5).map((i) => config[i]));
      }
    });
  }

  it('answers health, server metadata, model metadata and readiness', async () => {
    assert.deepEqual((await call(`${server.url}/v2/health/live`, 'GET')).json, { live: true });
    assert.deepEqual((await call(`${server.url}/v2/health/ready`, 'GET')).json, { ready: true });
    assert.equal((await call(`${server.url}/v2`, 'GET')).json.name, 'modelship');
    const metadata = (await call(`${server.url}/v2/models/breast_cancer_classifier/versions/1`, 'GET')).json;
    assert.deepEqual(metadata.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }]);
    assert.deepEqual(metadata.versions, ['1']);
    assert.deepEqual((await call(`${server.url}/v2/models/iris_forest/ready`, 'GET')).json, { name: 'iris_forest', version: '1', ready: true });
  });

  // Every bad-input class, by status and message, over real HTTP.
  const infer = (body: unknown) => JSON.stringify(body);
  const features = (extra: Record<string, unknown>) => infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2], ...extra }] });
  const cases: [string, string, string, string | undefined, number, RegExp][] = [
    ['body not JSON', 'POST', '/v2/models/iris_forest/infer', '{"inputs":', 400, /^request body is not valid JSON: /],
    ['inputs missing', 'POST', '/v2/models/iris_forest/infer', '{}', 400, /^request has no "inputs" list$/],
    ['inputs not a list', 'POST', '/v2/models/iris_forest/infer', '{"inputs": 3}', 400, /^"inputs" must be a list of tensors, got 3$/],
    ['unknown input', 'POST', '/v2/models/iris_forest/infer', features({ name: 'petals' }), 400, /^unknown input "petals" for model "iris_forest"; it expects: features$/],
    ['missing input', 'POST', '/v2/models/iris_forest/infer', '{"inputs": []}', 400, /^missing input "features" for model "iris_forest"/],
    ['wrong datatype', 'POST', '/v2/models/iris_forest/infer', features({ datatype: 'INT32' }), 400, /^input "features" has datatype INT32 but model "iris_forest" expects FP32$/],
    ['wrong rank', 'POST', '/v2/models/iris_forest/infer', features({ shape: [4] }), 400, /^input "features" has shape \[4\] \(rank 1\) but model "iris_forest" expects rank 2: \[-1,4\]$/],
    ['fixed dimension differs', 'POST', '/v2/models/iris_forest/infer', features({ shape: [2, 2] }), 400, /^input "features" dimension 1 is 2 but model "iris_forest" expects 4/],
    ['data length not the shape product', 'POST', '/v2/models/iris_forest/infer', features({ shape: [2, 4] }), 400, /^input "features" has 4 values but shape \[2,4\] needs 8$/],
    ['non-numeric value', 'POST', '/v2/models/iris_forest/infer', features({ data: [5.1, 'x', 1.4, 0.2] }), 400, /^input "features" value at index 1 is "x", not a number \(FP32\)$/],
    ['out-of-range value', 'POST', '/v2/models/iris_forest/infer', features({ data: [5.1, 1e40, 1.4, 0.2] }), 400, /^input "features" value at index 1 is 1e\+40, out of range for FP32/],
    ['negative shape', 'POST', '/v2/models/iris_forest/infer', features({ shape: [-1, 4] }), 400, /^input "features" shape \[-1,4\] is invalid/],
    ['batch over maxBatchSize', 'POST', '/v2/models/iris_forest/infer', features({ shape: [2000, 4], data: new Array(8000).fill(1) }), 400, /^input "features" batch size 2000 is over model "iris_forest"'s maxBatchSize 1024/],
    ['unknown model', 'POST', '/v2/models/resnet/infer', features({}), 404, /^model "resnet" not found; available: /],
    ['unknown version', 'POST', '/v2/models/iris_forest/versions/4/infer', features({}), 404, /^model "iris_forest" has no version 4; available: 1$/],
    ['unknown route', 'GET', '/v3/models', undefined, 404, /^no route for GET \/v3\/models/],
    ['wrong method', 'PUT', '/v2/models/iris_forest/infer', features({}), 405, /^method PUT is not allowed on \/v2\/models\/iris_forest\/infer; allowed: POST$/],
    [':predict without instances', 'POST', '/v1/models/iris_forest:predict', '{"rows": []}', 400, /^"instances" must be a non-empty list of rows$/],
    [':predict ragged rows', 'POST', '/v1/models/iris_forest:predict', '{"instances": [[1,2,3,4],[1,2,3]]}', 400, /^instances\[1\] has shape \[3\] but instances\[0\] has \[4\]/],
    [':predict wrong row width', 'POST', '/v1/models/iris_forest:predict', '{"instances": [[1,2,3]]}', 400, /^input "features" dimension 1 is 3 but model "iris_forest" expects 4/],
  ];
  for (const [what, method, path, body, status, message] of cases) {
    it(`answers ${status} for ${what}`, async () => {
      const response = await call(`${server.url}${path}`, method, body);
      assert.equal(response.status, status, JSON.stringify(response.json));
      assert.match(response.json.error, message);
    });
  }

  it('answers a CSV line sent as text/plain to a tensor model with what the model takes and an example body, which works as given', async () => {
    for (const [name, path] of [['iris_forest', '/v2/models/iris_forest/infer'], ['iris_forest', '/v1/models/iris_forest:predict'], ['digits_mlp', '/v2/models/digits_mlp/infer'], ['digits_mlp', '/v1/models/digits_mlp:predict']]) {
      const refused = await call(`${server.url}${path}`, 'POST', '5.1,3.5,1.4,0.2', { 'Content-Type': 'text/plain' });
      assert.equal(refused.status, 400, path);
      assert.match(refused.json.error, new RegExp(`^request body is not valid JSON: .*; model "${name}" takes (v2 JSON tensors \\(inputs: \\w+ FP32 \\[-1,[\\d,]+\\]\\)|a JSON object \\{"instances": \\[row, \\.\\.\\.\\]\\}, each row .*); for example \\{`), path);
      const example = /; for example (\{.*\})(; a CSV file goes to batch prediction \(modelship batch\))?$/.exec(refused.json.error)![1];
      const answered = await call(`${server.url}${path}`, 'POST', example);
      assert.equal(answered.status, 200, `${path}: the example ${example} answered ${answered.text}`);
    }
  });

  it('answers 413 naming the limit for a body over the server limit, before reading it all', async () => {
    const response = await call(`${server.url}/v2/models/iris_forest/infer`, 'POST', 'x'.repeat(9 * 1024 * 1024));
    assert.equal(response.status, 413);
    assert.match(response.json.error, /over the server's 8388608-byte limit/);
  });

  it('answers 413 for a body over the model limit of 6 MiB', async () => {
    const response = await call(`${server.url}/v2/models/iris_forest/infer`, 'POST', JSON.stringify({ inputs: [], pad: 'x'.repeat(7 * 1024 * 1024) }));
    assert.equal(response.status, 413);
    assert.match(response.json.error, /over the 6291456-byte limit of model "iris_forest"/);
  });
});

/** Starts `npm start`'s entry point and waits for its curl line. */
function startServe(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; curl: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'serve.ts')], { cwd: ROOT, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no curl line within 20 s:\n${output}`)), 20_000);
    child.stdout!.on('data', () => {
      const line = output.split('\n').find((l) => l.trim().startsWith('curl '));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve({ child, output: () => output, curl: line.trim() });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
}

/** The processes under `pid`, from /proc (Linux). */
function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fields after the command's closing parenthesis: state, then the parent's id.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended while we read.
    }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) if (ppid === parent) (found.push(child), walk(child));
  };
  walk(pid);
  return found;
}

/** Whether a process is running (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const exitCode = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

describe('npm start (bin/serve.ts)', () => {
  it('lists the models, prints a curl line that works as printed, and exits cleanly on SIGTERM', async () => {
    const { child, output, curl } = await startServe({});
    try {
      for (const name of SAMPLE_MODELS) assert.match(output(), new RegExp(`${name}\\s+live v1`));
      const { stdout } = await exec('sh', ['-c', curl]);
      const response = JSON.parse(stdout);
      assert.equal(response.model_name, 'iris_forest');
      assert.deepEqual(response.outputs[0].data, [0]);
    } finally {
      const exited = exitCode(child);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('shows a model that cannot be served as FAILING with the reason, never as live', async () => {
    const repo = new TempRepository('banner-').sample('iris_forest').sample('iris_forest', 'pinned_away').config('pinned_away', { versionPolicy: { pinned: 5 } });
    const { child, output } = await startServe({ MODEL_DIR: repo.dir, LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'banner-data-')) });
    try {
      assert.match(output(), /\n {2}iris_forest\s+live v1 \(versions 1\)\n/);
      assert.match(output(), /\n {2}pinned_away\s+FAILING \(versions 1\): pinned_away\/config\.json pins version 5, which is not in the store \(have 1\)\n/);
      assert.doesNotMatch(output(), /live v-/);
    } finally {
      const exited = exitCode(child);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('with API_KEY set, prints a curl line that carries the key and works as printed', async () => {
    const { child, curl } = await startServe({ API_KEY: "it's-a-key", MODEL_NAMES: 'iris_forest' });
    try {
      const { stdout } = await exec('sh', ['-c', `${curl} -w '\\n%{http_code}'`]);
      assert.match(stdout, /\n200$/, stdout);
      assert.equal(JSON.parse(stdout.slice(0, stdout.lastIndexOf('\n'))).model_name, 'iris_forest');
    } finally {
      const exited = exitCode(child);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  it('prints a curl line that works for a text model, and one naming an image for an image model', async () => {
    const text = await startServe({ MODEL_NAMES: 'debian_sections' });
    try {
      const { stdout } = await exec('sh', ['-c', text.curl]);
      assert.equal((JSON.parse(stdout) as { label: string }[]).length, 6, stdout);
    } finally {
      const exited = exitCode(text.child);
      text.child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    const image = await startServe({ MODEL_NAMES: 'text_orientation' });
    try {
      assert.match(image.curl, /--data-binary @image\.jpg -H 'Content-Type: image\/jpeg'/);
    } finally {
      const exited = exitCode(image.child);
      image.child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });

  for (const [script, urlLine, health] of [['start', /^Console: (http:\/\/[\d.:]+)\//m, '/v2/health/live'], ['start:sagemaker', / on (http:\/\/[\d.:]+) \(GET/, '/ping']] as const) {
    it(`stops the server when a process manager sends SIGTERM to the npm process running \`npm run ${script}\``, { timeout: 120_000 }, async () => {
      // npm runs the script through sh: the server is npm's grandchild unless the script execs it, and must not outlive npm.
      const env = { PORT: '0', LOCAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'npm-start-')), MODEL_NAMES: 'iris_forest', MODEL_NAME: 'iris_forest', HOST: '127.0.0.1' };
      const npm = spawn('npm', ['run', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      npm.stdout!.on('data', (chunk) => (output += chunk));
      npm.stderr!.on('data', (chunk) => (output += chunk));
      const descendants = new Set<number>();
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`npm run ${script} printed no URL within 90 s:\n${output}`)), 90_000);
          npm.stdout!.on('data', () => {
            const match = urlLine.exec(output);
            if (match) {
              clearTimeout(timer);
              resolve(match[1]);
            }
          });
        });
        assert.equal((await call(`${url}${health}`, 'GET')).status, 200);
        for (const pid of descendantsOf(npm.pid!)) descendants.add(pid);
        const exited = exitCode(npm);
        npm.kill('SIGTERM');
        await exited;
        // Everything npm started is gone within a few seconds, and the port with it.
        const deadline = Date.now() + 5000;
        while ([...descendants].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual([...descendants].filter(alive), [], `still running after npm exited:\n${output}`);
        await assert.rejects(fetch(`${url}${health}`));
      } finally {
        for (const pid of descendants.size > 0 ? descendants : descendantsOf(npm.pid!)) if (alive(pid)) process.kill(pid, 'SIGKILL');
        if (npm.exitCode === null) npm.kill('SIGKILL');
      }
    });
  }

  it('serves from an S3-compatible store given S3_ENDPOINT and MODEL_BUCKET', async () => {
    const s3 = await startTestS3();
    await s3.upload(SAMPLES_DIR, 'prod/');
    const { child, output } = await startServe({
      S3_ENDPOINT: s3.endpoint,
      MODEL_BUCKET: 'models',
      MODEL_PREFIX: 'prod/',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
    });
    try {
      assert.match(output(), /from s3:\/\/models\/prod\//);
      const url = /on (http:\/\/[\d.:]+)/.exec(output())![1];
      const golden = readGolden('digits_mlp');
      const { json } = await call(`${url}/v2/models/digits_mlp/infer`, 'POST', JSON.stringify(goldenRequest(golden, 3)));
      assert.deepEqual(json.outputs[0].data, golden.outputs[0].data.slice(0, 3));
    } finally {
      const exited = exitCode(child);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      await s3.close();
    }
  });

  it('exits with an error line when the configuration is wrong', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'serve.ts')], { cwd: ROOT, env: { ...process.env, PORT: 'eighty' } });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    assert.equal(await exitCode(child), 1);
    assert.match(stderr, /^modelship: PORT must be a port number, got "eighty"/m);
  });
});
