/**
 * The SigV4 verifier against the AWS Signature Version 4 test suite (botocore's copy, see
 * test/fixtures/aws4_testsuite/ORIGIN.md): every signed request verifies; the refusal of a request
 * with a wrong signature shows exactly the suite's canonical request and string to sign; and every
 * request changed after signing (a byte of the body, a signed header, the path, the date) is refused.
 * API Gateway's other checks (scope, skew, keys, malformed headers) have their own cases.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SigV4Verifier, type ReceivedRequest } from '../../../../lambda/adapters/local/sigv4.ts';
import { ROOT } from '../../../helpers.ts';

const SUITE = join(ROOT, 'test', 'fixtures', 'aws4_testsuite');
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SIGNED_AT = new Date(Date.UTC(2015, 7, 30, 12, 36, 0));

interface Vector {
  readonly name: string;
  readonly request: ReceivedRequest;
  readonly creq: string;
  readonly sts: string;
  readonly token?: string;
}

/** A .req file: the request line (whose target may hold spaces), header lines (continuation lines folded in), the body. */
function parseRequest(text: string): Omit<ReceivedRequest, 'headers'> & { headers: [string, string][] } {
  const [head, ...rest] = text.split('\n\n');
  const [requestLine, ...lines] = head.split('\n');
  const method = requestLine.slice(0, requestLine.indexOf(' '));
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(' '));
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (/^\s/.test(line)) headers[headers.length - 1][1] += `\n${line}`;
    else headers.push([line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]);
  }
  return { method, target, headers, body: rest.length > 0 ? Buffer.from(rest.join('\n\n')) : undefined };
}

function vectors(dir = SUITE, prefix = ''): Vector[] {
  const out: Vector[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (!statSync(path).isDirectory()) continue;
    const file = (ext: string) => join(path, `${entry}${ext}`);
    let exists = true;
    try {
      statSync(file('.req'));
    } catch {
      exists = false;
    }
    if (!exists) {
      out.push(...vectors(path, `${prefix}${entry}/`));
      continue;
    }
    // The signed request with its Authorization from .authz (see ORIGIN.md).
    const parsed = parseRequest(readFileSync(file('.sreq'), 'utf8'));
    const headers = parsed.headers.filter(([name]) => name.toLowerCase() !== 'authorization');
    headers.push(['Authorization', readFileSync(file('.authz'), 'utf8').trim()]);
    const token = headers.find(([name]) => name.toLowerCase() === 'x-amz-security-token')?.[1];
    out.push({ name: `${prefix}${entry}`, request: { ...parsed, headers }, creq: readFileSync(file('.creq'), 'utf8').replace(/\r/g, ''), sts: readFileSync(file('.sts'), 'utf8').replace(/\r/g, ''), token });
  }
  return out;
}

const suiteVerifier = (token?: string) => new SigV4Verifier({ credentials: { ...CREDENTIALS, sessionToken: token }, region: 'us-east-1', service: 'service' });
const withHeader = (request: ReceivedRequest, name: string, change: (value: string) => string): ReceivedRequest => ({
  ...request,
  headers: request.headers.map(([n, v]) => [n, n.toLowerCase() === name ? change(v) : v] as const),
});
const MISMATCH = /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\. Consult the service documentation for details\./;

const VECTORS = vectors();

describe('SigV4 verifier, AWS test suite', () => {
  it('finds every case of the suite', () => assert.equal(VECTORS.length, 34));

  for (const vector of VECTORS) {
    it(`${vector.name}: verifies, and refuses it changed`, async () => {
      const verifier = suiteVerifier(vector.token);
      assert.equal(await verifier.verify(vector.request, SIGNED_AT), undefined);

      // A wrong signature: refused, the message showing the suite's canonical request and string to sign.
      const wrong = withHeader(vector.request, 'authorization', (v) => v.replace(/Signature=(.)/, (_, c: string) => `Signature=${c === '0' ? '1' : '0'}`));
      const refusal = await verifier.verify(wrong, SIGNED_AT);
      assert.equal(refusal?.errorType, 'InvalidSignatureException');
      assert.match(refusal!.message, MISMATCH);
      assert.ok(refusal!.message.includes(`The Canonical String for this request should have been\n'${vector.creq}'\n`), refusal!.message);
      assert.ok(refusal!.message.includes(`The String-to-Sign should have been\n'${vector.sts}'\n`), refusal!.message);

      // Changed after signing: the path, each signed header's value, the date by one second, a body byte.
      const changed: [string, ReceivedRequest][] = [['path', { ...vector.request, target: vector.request.target.replace(/^[^?]*/, (path) => `${path}x`) }]];
      const signed = /SignedHeaders=([^,]+)/.exec(vector.request.headers.find(([n]) => n === 'Authorization')![1])![1].split(';');
      for (const name of signed.filter((n) => n !== 'x-amz-date')) changed.push([`header ${name}`, withHeader(vector.request, name, (v) => `${v}x`)]);
      changed.push(['date', withHeader(vector.request, 'x-amz-date', (v) => v.replace(/00Z$/, '01Z'))]);
      if (vector.request.body !== undefined) {
        const body = Buffer.from(vector.request.body);
        body[0] ^= 1;
        changed.push(['body', { ...vector.request, body }]);
      }
      for (const [what, request] of changed) {
        const refused = await verifier.verify(request, SIGNED_AT);
        if (what === 'header x-amz-security-token') assert.equal(refused?.message, 'The security token included in the request is invalid.', what);
        else assert.match(refused?.message ?? 'accepted', MISMATCH, what);
      }
    });
  }
});

describe('SigV4 verifier, API Gateway checks', () => {
  const vanilla = VECTORS.find((v) => v.name === 'get-vanilla')!.request;
  const verifier = suiteVerifier();
  const refusal = (request: ReceivedRequest, now = SIGNED_AT) => verifier.verify(request, now);

  it('answers Missing Authentication Token to an unsigned request', async () => {
    assert.deepEqual(await refusal({ ...vanilla, headers: vanilla.headers.filter(([n]) => n !== 'Authorization') }), { statusCode: 403, errorType: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it('refuses a signature older or newer than 15 minutes, naming the times', async () => {
    assert.equal((await refusal(vanilla, new Date(SIGNED_AT.getTime() + 15 * 60_000)))?.message, undefined);
    assert.equal((await refusal(vanilla, new Date(SIGNED_AT.getTime() + 15 * 60_000 + 1000)))?.message, 'Signature expired: 20150830T123600Z is now earlier than 20150830T123600Z (20150830T125101Z - 15 min.)'.replace('is now earlier than 20150830T123600Z', 'is now earlier than 20150830T123601Z'));
    assert.equal((await refusal(vanilla, new Date(SIGNED_AT.getTime() - 16 * 60_000)))?.message, 'Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T122000Z + 15 min.)');
  });

  it('refuses another region, service, terminator or scope date, as API Gateway words it', async () => {
    const scoped = (from: string, to: string) => withHeader(vanilla, 'authorization', (v) => v.replace(from, to));
    assert.equal((await refusal(scoped('/us-east-1/', '/eu-west-1/')))?.message, "Credential should be scoped to a valid region, not 'eu-west-1'. ");
    assert.equal((await refusal(scoped('/service/', '/execute-api/')))?.message, "Credential should be scoped to correct service: 'service'. ");
    assert.equal((await refusal(scoped('/aws4_request', '/aws4_reqest')))?.message, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'. ");
    assert.equal((await refusal(scoped('/20150830/', '/20150831/')))?.message, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
  });

  it('refuses another access key, and a session token it does not expect or that differs', async () => {
    const invalid = { statusCode: 403, errorType: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    assert.deepEqual(await refusal(withHeader(vanilla, 'authorization', (v) => v.replace('AKIDEXAMPLE', 'AKIDEXAMPLF'))), invalid);
    assert.deepEqual(await refusal({ ...vanilla, headers: [...vanilla.headers, ['X-Amz-Security-Token', 'abc']] }), invalid);
    const sts = VECTORS.find((v) => v.name === 'post-sts-token/post-sts-header-before')!;
    assert.deepEqual(await suiteVerifier(`${sts.token}x`).verify(sts.request, SIGNED_AT), invalid);
    assert.deepEqual(await suiteVerifier(sts.token).verify({ ...sts.request, headers: sts.request.headers.filter(([n]) => n !== 'X-Amz-Security-Token') }, SIGNED_AT), invalid);
  });

  it('refuses a malformed Authorization header, a missing or malformed date, an unsigned host', async () => {
    const auth = (value: string) => withHeader(vanilla, 'authorization', () => value);
    assert.match((await refusal(auth('Bearer abc')))!.message, /^Invalid key=value pair \(missing equal-sign\) in Authorization header \(hashed with SHA-256 and encoded with Base64\): '[A-Za-z0-9+/=]{44}'\.$/);
    assert.equal((await refusal(auth('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request')))?.message, "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request");
    assert.match((await refusal({ ...vanilla, headers: vanilla.headers.filter(([n]) => n !== 'X-Amz-Date') }))!.message, /^Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header\./);
    assert.match((await refusal(withHeader(vanilla, 'x-amz-date', () => '2015-08-30T12:36:00Z')))!.message, /^Date must be in ISO-8601 'basic format'/);
    assert.equal((await refusal(withHeader(vanilla, 'authorization', (v) => v.replace('SignedHeaders=host;', 'SignedHeaders='))))?.message, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    for (const result of [await refusal(auth('Bearer abc')), await refusal(withHeader(vanilla, 'x-amz-date', () => 'x'))]) assert.equal(result?.errorType, 'IncompleteSignatureException');
  });

  it('refuses an X-Amz-Content-SHA256 that is not the body hash, even when signed', async () => {
    const post = VECTORS.find((v) => v.name === 'post-x-www-form-urlencoded')!.request;
    const declared = { ...post, headers: [...post.headers, ['X-Amz-Content-SHA256', '0'.repeat(64)]] as [string, string][] };
    assert.match((await suiteVerifier().verify(declared, SIGNED_AT))!.message, MISMATCH);
  });
});
