/**
 * The local server with AUTH=iam accepts what AWS's own signers sign (botocore, curl --aws-sigv4,
 * the aws4 npm package) and refuses, with API Gateway's 403 answers, the same requests with one byte
 * of the body, a signed header, the date, the region or the service changed; an unsigned request
 * does nothing at all.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import aws4 from 'aws4';
import type { LocalStack } from '../../../../lambda/entry/local-stack.ts';
import { ROOT, spawnServer, startTestLocalServer, TempRepository } from '../../../helpers.ts';

const CREDENTIALS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local/secret+key/for/tests' };
const PYTHON = join(ROOT, '.python', 'bin', 'python');
const BODY = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] });
const MISMATCH = /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\. Consult the service documentation for details\.\n\nThe Canonical String for this request should have been\n'POST\n/;

interface Signed {
  readonly url: string;
  readonly method: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Signs requests with botocore (one Python process for all of them). */
async function botocoreSign(requests: { url: string; method: string; headers: Record<string, string>; body: string; region?: string; service?: string; timestamp?: string }[]): Promise<Signed[]> {
  assert.ok(existsSync(PYTHON), 'the Python environment is missing: run node scripts/ensure-python.ts (npm test does)');
  const specs = requests.map((r) => ({ method: r.method, url: r.url, headers: r.headers, body_base64: Buffer.from(r.body).toString('base64'), region: r.region ?? 'us-east-1', service: r.service ?? 'execute-api', access_key: CREDENTIALS.accessKeyId, secret_key: CREDENTIALS.secretAccessKey, timestamp: r.timestamp }));
  const child = execFile(PYTHON, [join(ROOT, 'test', 'fixtures', 'sigv4', 'botocore_sign.py')], { maxBuffer: 1 << 20 });
  child.stdin!.end(JSON.stringify(specs));
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, err);
  return (JSON.parse(out) as Record<string, string>[]).map((headers, i) => ({ url: requests[i].url, method: requests[i].method, headers, body: Buffer.from(requests[i].body) }));
}

const send = async (request: Signed) => {
  const response = await fetch(request.url, { method: request.method, headers: request.headers, body: request.method === 'GET' ? undefined : request.body });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), requestId: response.headers.get('x-amzn-requestid'), json: (await response.json()) as { message?: string; outputs?: unknown } };
};

const changeHeader = (request: Signed, name: string, change: (value: string) => string): Signed => ({
  ...request,
  headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, k.toLowerCase() === name ? change(v) : v])),
});

describe('local server, AUTH=iam', () => {
  let repo: TempRepository;
  let local: LocalStack;
  let infer: string;
  before(async () => {
    repo = new TempRepository('iam-').sample('iris_forest');
    local = await startTestLocalServer(repo.dir, { iam: { credentials: CREDENTIALS } });
    infer = `${local.url}/v2/models/iris_forest/infer`;
  });
  after(() => local?.close());

  it('refuses an unsigned request as API Gateway does, and does nothing with it', async () => {
    const answer = await send({ url: infer, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: Buffer.from(BODY) });
    assert.deepEqual([answer.status, answer.errorType, answer.json], [403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' }]);
    assert.match(answer.requestId ?? '', /^[\w-]{36}$/);
    // Nothing ran: the console's statistics (read signed) count no request...
    const [stats, signed] = await botocoreSign([
      { url: `${local.url}/console/api/stats`, method: 'GET', headers: {}, body: '' },
      { url: infer, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: BODY },
    ]);
    assert.equal((await fetch(stats.url)).status, 403, 'the console data needs a signature too');
    assert.equal((await fetch(stats.url, { headers: stats.headers })).status, 200);
    // (the statistics' current second is still filling: read them as of two seconds on)
    const requests = () => local.runtime.stats.snapshot(120, Date.now() + 2000).lastMinute.requests;
    assert.equal(requests(), 0);
    // ...where a signed request is counted.
    assert.equal((await send(signed)).status, 200);
    assert.equal(requests(), 1);
  });

  it('accepts botocore, and refuses its request with a byte of body, a signed header, the date, the region or the service changed', async () => {
    const base = { url: infer, method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Trace': 'abc' }, body: BODY };
    const [good, otherRegion, otherService, old] = await botocoreSign([
      base,
      { ...base, region: 'eu-west-1' },
      { ...base, service: 'lambda' },
      { ...base, timestamp: new Date(Date.now() - 16 * 60_000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '') },
    ]);
    assert.match(good.headers.Authorization, /SignedHeaders=content-type;host;x-amz-date;x-trace,/);
    const accepted = await send(good);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.json));
    assert.ok(Array.isArray(accepted.json.outputs));

    const body = Buffer.from(good.body);
    body[body.length - 3] ^= 1;
    const refusals = [
      ['body byte', await send({ ...good, body })],
      ['signed header', await send(changeHeader(good, 'x-trace', () => 'abd'))],
      ['date', await send(changeHeader(good, 'x-amz-date', (v) => v.replace(/\d\dZ$/, (s) => `${String((Number(s.slice(0, 2)) + 1) % 60).padStart(2, '0')}Z`)))],
    ] as const;
    for (const [what, answer] of refusals) {
      assert.equal(answer.status, 403, what);
      assert.equal(answer.errorType, 'InvalidSignatureException', what);
      assert.match(answer.json.message ?? '', MISMATCH, what);
    }
    const region = await send(otherRegion);
    assert.deepEqual([region.status, region.json.message], [403, "Credential should be scoped to a valid region, not 'eu-west-1'. "]);
    const service = await send(otherService);
    assert.deepEqual([service.status, service.json.message], [403, "Credential should be scoped to correct service: 'execute-api'. "]);
    const expired = await send(old);
    assert.equal(expired.status, 403);
    assert.match(expired.json.message ?? '', /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
  });

  it('accepts curl --aws-sigv4, and refuses it signed for another region', async () => {
    if (spawnSync('curl', ['--version']).status !== 0) assert.fail('curl is missing');
    const curl = async (region: string, extra: string[] = []) => {
      const { stdout } = await promisify(execFile)('curl', ['-s', '-w', '\n%{http_code}', '--aws-sigv4', `aws:amz:${region}:execute-api`, '--user', `${CREDENTIALS.accessKeyId}:${CREDENTIALS.secretAccessKey}`, '-H', 'Content-Type: application/json', '--data-binary', BODY, ...extra, infer]);
      const lines = stdout.split('\n');
      return { status: Number(lines.pop()), json: JSON.parse(lines.join('\n')) as { message?: string; outputs?: unknown } };
    };
    const ok = await curl('us-east-1');
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.ok(Array.isArray(ok.json.outputs));
    const wrong = await curl('us-west-2');
    assert.deepEqual([wrong.status, wrong.json.message], [403, "Credential should be scoped to a valid region, not 'us-west-2'. "]);
  });

  it('accepts the aws4 npm package, and refuses its request with another body', async () => {
    const url = new URL(infer);
    const options = aws4.sign({ host: url.host, path: url.pathname, method: 'POST', service: 'execute-api', region: 'us-east-1', headers: { 'Content-Type': 'application/json' }, body: BODY }, CREDENTIALS);
    const headers = Object.fromEntries(Object.entries(options.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'host' && k.toLowerCase() !== 'content-length').map(([k, v]) => [k, String(v)]));
    const ok = await send({ url: infer, method: 'POST', headers, body: Buffer.from(BODY) });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    const changed = await send({ url: infer, method: 'POST', headers, body: Buffer.from(BODY.replace('5.1', '5.2')) });
    assert.match(changed.json.message ?? '', MISMATCH);
  });

  it('refuses the wrong secret key and an unknown access key', async () => {
    const url = new URL(infer);
    const sign = (credentials: typeof CREDENTIALS) => Object.fromEntries(Object.entries(aws4.sign({ host: url.host, path: url.pathname, method: 'POST', service: 'execute-api', region: 'us-east-1', headers: { 'Content-Type': 'application/json' }, body: BODY }, credentials).headers ?? {}).filter(([k]) => !/^(host|content-length)$/i.test(k)).map(([k, v]) => [k, String(v)]));
    const wrongSecret = await send({ url: infer, method: 'POST', headers: sign({ ...CREDENTIALS, secretAccessKey: 'other' }), body: Buffer.from(BODY) });
    assert.match(wrongSecret.json.message ?? '', MISMATCH);
    const unknownKey = await send({ url: infer, method: 'POST', headers: sign({ ...CREDENTIALS, accessKeyId: 'AKIDOTHER' }), body: Buffer.from(BODY) });
    assert.deepEqual([unknownKey.status, unknownKey.errorType, unknownKey.json.message], [403, 'UnrecognizedClientException', 'The security token included in the request is invalid.']);
  });
});

describe('npm start with AUTH=iam', () => {
  it('reads the credentials and region from the environment, and names what is missing', async () => {
    const repo = new TempRepository('iam-env-').sample('iris_forest');
    const { child, url } = await spawnServer('serve.ts', { MODEL_DIR: repo.dir, LOCAL_DATA_DIR: join(repo.dir, '.local'), AUTH: 'iam', LOCAL_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, LOCAL_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, LOCAL_SESSION_TOKEN: 'session-token', AWS_REGION: 'eu-west-1' });
    try {
      const target = new URL(`${url}/v2/models/iris_forest/ready`);
      const signed = (region: string, token?: string) =>
        Object.fromEntries(Object.entries(aws4.sign({ host: target.host, path: target.pathname, service: 'execute-api', region }, { ...CREDENTIALS, sessionToken: token }).headers ?? {}).filter(([k]) => k.toLowerCase() !== 'host').map(([k, v]) => [k, String(v)]));
      assert.equal((await fetch(target, { headers: signed('eu-west-1', 'session-token') })).status, 200);
      assert.deepEqual(await (await fetch(target, { headers: signed('eu-west-1') })).json(), { message: 'The security token included in the request is invalid.' });
      assert.deepEqual(await (await fetch(target, { headers: signed('us-east-1', 'session-token') })).json(), { message: "Credential should be scoped to a valid region, not 'us-east-1'. " });
      assert.equal((await fetch(target)).status, 403);
    } finally {
      child.kill('SIGTERM');
    }
    const missing = spawn(process.execPath, [join(ROOT, 'bin', 'serve.ts')], { cwd: ROOT, env: { ...process.env, PORT: '0', MODEL_DIR: repo.dir, AUTH: 'iam', LOCAL_ACCESS_KEY_ID: 'x' } });
    let stderr = '';
    missing.stderr.on('data', (c) => (stderr += c));
    assert.equal(await new Promise((resolve) => missing.once('exit', resolve)), 1);
    assert.match(stderr, /^modelship: AUTH=iam needs LOCAL_ACCESS_KEY_ID and LOCAL_SECRET_ACCESS_KEY/m);
  });
});
