import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { doctorForProject, probeDocker, type DoctorFinding } from '../../cli/doctor.ts';
import { ROOT, SAMPLES_DIR } from '../helpers.ts';
import { repositoryWith } from '../lib/stack-fixture.ts';

const exec = promisify(execFile);
const DOCKER = { available: true, detail: 'docker 27.0.0' };
const IRIS = { task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] };
const only = (findings: DoctorFinding[], check: string) => findings.filter((f) => f.check === check);

describe('modelship doctor', () => {
  it('fails when the Docker daemon does not answer, naming the fix, and exits 1', async () => {
    const repo = repositoryWith({ iris: IRIS });
    // The real docker CLI (or none) pointed at a socket nobody serves.
    const run = exec(process.execPath, [join(ROOT, 'bin', 'cli.ts'), 'doctor', '--models-dir', repo], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, cwd: ROOT });
    const error = await run.then(() => undefined, (e: { code: number; stdout: string }) => e);
    assert.ok(error !== undefined, 'doctor exits non-zero');
    assert.equal(error.code, 1);
    assert.match(error.stdout, /^FAIL docker: Docker is needed to build the Lambda function image at deploy/m);
    assert.match(error.stdout, /fix: install Docker .* start its daemon/);
    assert.match(error.stdout, /1 problem\(s\) would break the deploy/);
  });

  it('says a CDK_DOCKER that is not installed is not installed', () => {
    const docker = probeDocker({ ...process.env, CDK_DOCKER: '/nonexistent/docker' });
    assert.deepEqual(docker, { available: false, detail: '/nonexistent/docker is not installed (ENOENT)' });
    const [finding] = only(doctorForProject({ modelsDir: repositoryWith({ iris: IRIS }), docker }), 'docker');
    assert.equal(finding.level, 'error');
    assert.match(finding.message, /and \/nonexistent\/docker is not installed/);
  });

  it('passes the samples with Docker present: memory, concurrency and sharp fit', () => {
    const findings = doctorForProject({ modelsDir: SAMPLES_DIR, docker: DOCKER });
    assert.deepEqual(findings.filter((f) => f.level !== 'ok'), []);
    const samples = readdirSync(SAMPLES_DIR).filter((f) => statSync(join(SAMPLES_DIR, f)).isDirectory());
    assert.match(only(findings, 'memory')[0].message, new RegExp(`each of ${samples.length} function\\(s\\) has the memory its models need`));
  });

  it('fails a function whose memory is below what its models need, with the memorySizeMb that fits', () => {
    const [memory] = only(doctorForProject({ modelsDir: repositoryWith({ tiny: { ...IRIS, memorySizeMb: 128 } }), docker: DOCKER }), 'memory');
    assert.equal(memory.level, 'error');
    assert.match(memory.message, /model tiny: 1 MB of model files \(tiny 1\) need about 258 MB of memory; the function has 128 MB/);
    assert.equal(memory.fix, 'set "memorySizeMb": 320 in the config.json of models/tiny');
  });

  it('fails a model too large for any Lambda function, pointing at SageMaker', () => {
    const repo = repositoryWith({ huge: IRIS });
    // ONNX keeps large weights in an external data file beside the model; a sparse 6 GB one here.
    writeFileSync(join(repo, 'huge', '1', 'model.onnx.data'), '');
    truncateSync(join(repo, 'huge', '1', 'model.onnx.data'), 6 * 1024 ** 3);
    const [memory] = only(doctorForProject({ modelsDir: repo, docker: DOCKER }), 'memory');
    assert.equal(memory.level, 'error');
    assert.match(memory.message, /model huge: 6145 MB of model files .* over Lambda's 10240 MB/);
    assert.match(memory.fix!, /"target": "sagemaker" in models\/huge\/config.json/);
  });

  it('counts every version a function serves (A/B arms and shadow), and a group as one function', () => {
    const repo = repositoryWith({ a: { ...IRIS, functionGroup: 'g', memorySizeMb: 256 }, b: { ...IRIS, functionGroup: 'g', memorySizeMb: 256 } });
    cpSync(join(repo, 'a', '1'), join(repo, 'a', '2'), { recursive: true });
    writeFileSync(join(repo, 'a', 'config.json'), JSON.stringify({ ...IRIS, functionGroup: 'g', memorySizeMb: 256, abTest: { weights: { 1: 50, 2: 50 } } }));
    const [memory] = only(doctorForProject({ modelsDir: repo, docker: DOCKER }), 'memory');
    assert.equal(memory.level, 'error');
    assert.match(memory.message, /function group g \(a, b\): 1 MB of model files \(a 1\+2, b 1\) need about 258 MB of memory; the function has 256 MB/);
  });

  it('states the concurrency the repository reserves against the account default, failing past what can be reserved', () => {
    const ok = only(doctorForProject({ modelsDir: repositoryWith({ a: { ...IRIS, reservedConcurrency: 50, provisionedConcurrency: 5 } }), docker: DOCKER }), 'concurrency');
    assert.equal(ok[0].level, 'ok');
    assert.match(ok[0].message, /needs 50 reserved and 5 provisioned concurrent executions \(55 in all\); AWS's default quota is 1000 per Region, of which 900 can be set aside/);
    const [over] = only(doctorForProject({ modelsDir: repositoryWith({ a: { ...IRIS, reservedConcurrency: 600 }, b: { ...IRIS, reservedConcurrency: 400 } }), docker: DOCKER }), 'concurrency');
    assert.equal(over.level, 'error');
    assert.match(over.fix!, /"Concurrent executions" quota .* of at least 1100/);
  });

  it('names the SageMaker instances and Serverless concurrency the repository needs, to check against the quotas', () => {
    const repo = repositoryWith({
      v1: { ...IRIS, target: 'sagemaker', sagemaker: { instanceType: 'ml.g5.xlarge', maxInstanceCount: 3 } },
      v2: { ...IRIS, target: 'sagemaker', sagemaker: { instanceType: 'ml.g5.xlarge' } },
      s: { ...IRIS, target: 'sagemaker-serverless', sagemakerServerless: { maxConcurrency: 150 } },
      t: { ...IRIS, target: 'sagemaker-serverless', sagemakerServerless: { maxConcurrency: 100 } },
    });
    const sagemaker = only(doctorForProject({ modelsDir: repo, docker: DOCKER }), 'sagemaker');
    assert.equal(sagemaker.length, 2);
    assert.match(sagemaker[0].message, /needs up to 5 × ml\.g5\.xlarge for endpoint usage/);
    assert.match(sagemaker[0].fix!, /"ml\.g5\.xlarge for endpoint usage" and request at least 5/);
    assert.equal(sagemaker[1].level, 'error', 'a total Serverless concurrency of 250 is over the documented default of 200');
    assert.match(sagemaker[1].message, /2 Serverless endpoint\(s\) with a total maxConcurrency of 250/);
  });

  it('fails arm64 with an image model when sharp has no arm64 packages here, naming the install line', () => {
    const repo = repositoryWith({ iris: IRIS });
    cpSync(join(SAMPLES_DIR, 'text_orientation'), join(repo, 'text_orientation'), { recursive: true });
    const [sharp] = only(doctorForProject({ modelsDir: repo, docker: DOCKER, context: ['modelship:architecture=arm64'] }), 'sharp');
    // npm installs sharp's native packages for this machine only (x64 here and in CI).
    assert.equal(sharp.level, 'error');
    assert.match(sharp.message, /image models \(text_orientation\) on arm64 need sharp's native packages/);
    assert.match(sharp.fix!, /npm install --no-save --os=linux --cpu=arm64 .*@img\/sharp-linux-arm64/);
    const [x64] = only(doctorForProject({ modelsDir: repo, docker: DOCKER }), 'sharp');
    assert.equal(x64.level, 'ok');
  });

  it('refuses a -c that is not key=value', () => {
    assert.throws(() => doctorForProject({ context: ['modelship:architecture'], docker: DOCKER }), /-c takes key=value \(as cdk deploy -c does\), got "modelship:architecture"/);
  });
});
