/**
 * @modelship/client signs exactly as botocore does: for fixed requests, time and credentials, its
 * headers equal those botocore wrote in test/fixtures/sigv4/botocore-signatures.json (made by the
 * committed make_signature_fixture.py, so this test needs no Python).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelShipClient } from '../../../clients/typescript/src/index.ts';
import { regionOfUrl } from '../../../clients/typescript/src/transport.ts';
import { ROOT } from '../../helpers.ts';

interface Fixture {
  base: string;
  timestamp: string;
  region: string;
  access_key: string;
  secret_key: string;
  cases: { name: string; method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body_base64: string; token: string | null; signed: Record<string, string> }[];
}

const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'sigv4', 'botocore-signatures.json'), 'utf8')) as Fixture;
const at = new Date(Date.UTC(2026, 11, 6, 12, 0, 0));

describe('@modelship/client signatures', () => {
  it('reads the region from an execute-api URL', () => {
    assert.equal(regionOfUrl(fixture.base), 'eu-west-1');
    assert.equal(regionOfUrl('https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod'), 'cn-north-1');
    assert.equal(regionOfUrl('http://127.0.0.1:8080'), undefined);
  });

  for (const c of fixture.cases) {
    it(`equal botocore's: ${c.name}`, async () => {
      // No region given: it comes from the URL, as for a deployed API.
      const client = new ModelShipClient({ url: fixture.base, credentials: { accessKeyId: fixture.access_key, secretAccessKey: fixture.secret_key, sessionToken: c.token ?? undefined } });
      const body = c.body_base64 === '' ? undefined : new Uint8Array(Buffer.from(c.body_base64, 'base64'));
      const headers = await client.transport.sign({ method: c.method, path: c.path, headers: c.headers, body: c.method === 'GET' ? undefined : body, idempotent: true }, at);
      const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
      assert.deepEqual(lower(headers), lower(c.signed));
    });
  }
});
